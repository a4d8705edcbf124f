"""Train the Karel LM from scratch; checkpoints -> data/karel/checkpoints, loss curve -> plots/karel/loss.csv.

Resumable: rerun after a kill and it continues from the last checkpoint in data/karel/checkpoints.partial.
"""

from worldprobe.config import load_params
from worldprobe.karel.train import train
from worldprobe.threads import compute_threads


def main() -> None:
    params = load_params()
    with compute_threads(params.karel.active.threads):
        summary = train(params.karel.active, params.seed, "data/karel/corpus", "data/karel/checkpoints",
                        "plots/karel/loss.csv", device=params.karel.device)
    print(f"karel train ({params.karel.profile}): {summary}")


if __name__ == "__main__":
    main()
