"""Probes of facing direction on both probe sets of every checkpoint, beside baselines, controls and
text-only nulls, with the paired tests -> plots/karel/semantics.csv, plots/karel/tests.csv,
metrics/karel/probe_sets.json."""

import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.karel.content import ProbeSets, checkpoints_with_mlp, mlp_settings, probe_step, text_controls
from worldprobe.karel.traces import list_traces, load_traces
from worldprobe.threads import set_torch_threads

TRACES = "data/karel/traces"


def _one_thread() -> None:
    # one process per checkpoint on each core: small batched ops are fastest single-threaded (measured)
    set_torch_threads(1)
    threadpool_limits(1)


def main() -> None:
    params = load_params()
    karel, probing = params.karel, params.karel.active_probing
    _one_thread()
    semantics = ["original", *karel.alt_semantics]
    steps = list_traces(TRACES)
    with_mlp = checkpoints_with_mlp(steps, probing.mlp_every)
    mlp = mlp_settings(probing, karel.active.probe_hidden)
    forced = load_traces(f"{TRACES}/step_{steps[0]:06d}.npz")["teacher_forced"]
    fixed = text_controls(forced, semantics, probing, params.seed)  # the same rows at every checkpoint
    run = partial(probe_step, semantics=semantics, probing=probing, fixed=fixed, fixed_rows=forced["test"].trace,
                  seed=params.seed)
    with ProcessPoolExecutor(min(len(steps), os.cpu_count() or 1), initializer=_one_thread) as pool:
        futures = [pool.submit(run, f"{TRACES}/step_{s:06d}.npz", s, mlp=mlp if s in with_mlp else None)
                   for s in steps]
        found = [f.result() for f in tqdm(futures, desc="karel probes")]
    table = pd.DataFrame([r for f in found for r in f.rows])
    with atomic_path("plots/karel/semantics.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path("plots/karel/tests.csv") as tmp:
        pd.DataFrame([t for f in found for t in f.tests]).to_csv(tmp, index=False)
    ProbeSets(sizes={f.step: f.sizes for f in found}).save("metrics/karel/probe_sets.json")
    print(f"karel probes: {len(table)} rows over {len(steps)} checkpoints (MLPs at {with_mlp})")


if __name__ == "__main__":
    main()
