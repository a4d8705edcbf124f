"""Synthesis accuracy and traces per checkpoint -> data/karel/traces, plots/karel/{accuracy,lengths}.csv,
metrics/karel/synthesis.json."""

import pandas as pd

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.karel.evaluate import evaluate_checkpoints
from worldprobe.karel.outputs import KarelSynthesis
from worldprobe.karel.train import TrainSummary
from worldprobe.threads import compute_threads


def main() -> None:
    params = load_params()
    # the profile's threads (1 in default and smoke: decoding runs many small ops, and one thread is
    # 2.5x faster than two on a busy machine, measured)
    with compute_threads(params.karel.active.threads):
        result = evaluate_checkpoints(params.karel, params.seed, "data/karel/corpus", "data/karel/checkpoints",
                                      "data/karel/traces")
    for name, rows in (("accuracy", result.steps), ("lengths", result.by_length)):
        with atomic_path(f"plots/karel/{name}.csv") as tmp:
            pd.DataFrame([r.model_dump() for r in rows]).to_csv(tmp, index=False)
    final = result.steps[-1]
    KarelSynthesis(
        profile=params.karel.profile, final_step=final.step, final=final,
        best_accuracy_spec=max(r.accuracy_spec for r in result.steps), chance=result.chance,
        train=TrainSummary.load("data/karel/checkpoints/train.json"), n_tasks=result.n_tasks,
    ).save("metrics/karel/synthesis.json")
    print(f"karel eval: final step {final.step}: accuracy spec {final.accuracy_spec:.3f}, "
          f"all inputs {final.accuracy_all:.3f}; chance {result.chance.model_dump()}")


if __name__ == "__main__":
    main()
