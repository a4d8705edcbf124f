"""Probes of facing direction (original and alternative semantics, directly and in parts) and
baselines per checkpoint -> plots/karel/semantics.csv, metrics/karel/semantics.json."""

import pandas as pd
from tqdm import tqdm

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.karel.analysis import checkpoints_with_mlp, summarize
from worldprobe.karel.content import mlp_settings, probe_checkpoint, probe_set_sizes
from worldprobe.karel.traces import list_traces, load_traces
from worldprobe.threads import set_torch_threads

TRACES = "data/karel/traces"


def main() -> None:
    params = load_params()
    karel, probing = params.karel, params.karel.active_probing
    set_torch_threads(1)  # small batched probe ops: one thread is ~30x faster on a busy machine (measured)
    semantics = ["original", *karel.alt_semantics]
    steps = list_traces(TRACES)
    with_mlp = checkpoints_with_mlp(steps, probing.mlp_every)
    mlp = mlp_settings(probing, karel.active.probe_hidden)
    rows, sizes = [], {}
    for step in tqdm(steps, desc="karel probes"):
        traces = load_traces(f"{TRACES}/step_{step:06d}.npz")
        sizes[step] = probe_set_sizes(traces, probing.max_train_rows)
        found = probe_checkpoint(traces, semantics, probing, mlp if step in with_mlp else None, params.seed)
        rows += [{"step": step, **r} for r in found]
    table = pd.DataFrame(rows)
    with atomic_path("plots/karel/semantics.csv") as tmp:
        table.to_csv(tmp, index=False)
    summarize(table, karel.profile, list(karel.alt_semantics), sizes).save("metrics/karel/semantics.json")
    print(f"karel probes: {len(table)} rows over {len(steps)} checkpoints (MLPs at {with_mlp})")


if __name__ == "__main__":
    main()
