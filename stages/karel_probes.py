"""Probes of facing direction (original and alternative semantics) and baselines per checkpoint
-> plots/karel/semantics.csv, metrics/karel/semantics.json."""

import pandas as pd
import torch
from tqdm import tqdm

from worldprobe.config import load_params
from worldprobe.io import atomic_path, write_json
from worldprobe.karel.analysis import summarize
from worldprobe.karel.probes import PROBE_KINDS, ProbeSettings, probe_checkpoint
from worldprobe.karel.traces import load_traces
from worldprobe.karel.train import list_checkpoints

if __name__ == "__main__":
    params = load_params()
    karel = params.karel
    torch.set_num_threads(1)  # small batched probe ops: one thread is ~30x faster on a busy machine (measured)
    semantics = ["original", *karel.alt_semantics]
    settings = ProbeSettings(hidden=karel.active.probe_hidden)
    rows = []
    for step in tqdm(list_checkpoints("data/karel/checkpoints"), desc="karel probes"):
        traces = load_traces(f"data/karel/traces/step_{step:06d}.npz")
        rows += [{"step": step, **r} for r in probe_checkpoint(traces, semantics, PROBE_KINDS, settings, params.seed)]
    table = pd.DataFrame(rows)
    with atomic_path("plots/karel/semantics.csv") as tmp:
        table.to_csv(tmp, index=False)
    summary = summarize(table, list(karel.alt_semantics))
    write_json("metrics/karel/semantics.json", summary)
    print(f"karel probes: {len(table)} rows over {table['step'].nunique()} checkpoints")
