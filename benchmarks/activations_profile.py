"""Profile: where the time of one activations stage goes (``python stages/activations.py <dataset>``).

Runs the stage's own code, :func:`worldprobe.lm.activations.dataset_activations` with params.yaml (the
local backend), its stores going to a temporary directory, and times for each model and prompt it extracts:

* tokenisation (``tokenize_prompts``);
* the forward passes: from the base model's forward pre-hook to the last block's forward hook;
* the rest of each batch ``LastTokenExtractor.run`` yields: building the padded batch, copying the
  prefix's key/value cache, adding and removing the hooks, unwinding the early stop;
* the copy to numpy in ``write_activations`` (its time less the batches and the writer's);
* ``ActivationWriter.write`` (rows into the memmaps) and ``close`` (flush to disk);

and the token counts that set the forward's cost: the shared prefix (computed once), own tokens per
entity, padded / real own-token slots. Forward GFLOP/s counts as benchmarks/activations.py does,
against its float32 peak. Left over: loading the models and the entity table.

Usage: python benchmarks/activations_profile.py [world] [--n N] [--batch-size B]
           [--models-dir models] [--entities-dir data/entities]
``--n``: a seeded sample of N entities (a quick look); ``--batch-size``: instead of params.yaml's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the stage sets it (see benchmarks/activations.py)

import numpy as np
import torch
from activations import batch_flops, matmul_peak_gflops  # benchmarks/activations.py

from worldprobe.config import load_params
from worldprobe.lm import activations as extraction
from worldprobe.lm.activations import LastTokenExtractor, shared_prefix_length, tokenize_prompts, write_activations
from worldprobe.lm.models import model_tag
from worldprobe.records import ActivationWriter, read_entities, write_entities
from worldprobe.threads import compute_threads


@dataclass
class Run:
    """One store of the stage: a model and a prompt."""

    tokenise: float = 0.0
    total: float = 0.0  # write_activations
    batches: float = 0.0  # the extractor's run(), forward included
    forward: float = 0.0
    write: float = 0.0
    close: float = 0.0
    entities: int = 0
    prefix: int = 0
    own_tokens: int = 0
    slots: int = 0  # own-token positions computed, padding included
    flops: float = 0.0

    @property
    def run_rest(self) -> float:
        return self.batches - self.forward

    @property
    def to_numpy(self) -> float:
        return self.total - self.batches - self.write - self.close


PARTS = ("tokenise", "forward", "run_rest", "to_numpy", "write", "close")
runs: list[Run] = []


def add(field: str, seconds: float) -> None:
    """Count ``seconds`` to the run in progress."""
    setattr(runs[-1], field, getattr(runs[-1], field) + seconds)


def timed(func, field: str):
    def wrapper(*args, **kwargs):
        tick = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            add(field, time.perf_counter() - tick)

    return wrapper


def tokenize_new_run(*args, **kwargs):
    runs.append(Run())  # the stage tokenises once per store, just before extracting it
    return timed(tokenize_prompts, "tokenise")(*args, **kwargs)


class TimedWriter(ActivationWriter):
    write = timed(ActivationWriter.write, "write")
    close = timed(ActivationWriter.close, "close")


class ProfiledExtractor(LastTokenExtractor):
    def __init__(self, loaded, layers=None):
        super().__init__(loaded, layers)
        # registered before run()'s own hooks, so they fire first; the forward stops after the last block
        self.base.register_forward_pre_hook(lambda *_: setattr(self, "_tick", time.perf_counter()))
        self.blocks[-1].register_forward_hook(lambda *_: add("forward", time.perf_counter() - self._tick))

    def run(self, tokens, batch_size=32, **kwargs):
        run, lengths = runs[-1], np.array([len(t) for t in tokens])
        run.entities, run.prefix = len(tokens), shared_prefix_length(tokens)  # run()'s default prefix
        run.own_tokens = int(lengths.sum()) - run.prefix * len(tokens)
        tick = time.perf_counter()
        for rows, acts in super().run(tokens, batch_size, **kwargs):
            run.batches += time.perf_counter() - tick
            run.slots += len(rows) * (int(lengths[rows].max()) - run.prefix)
            run.flops += batch_flops(self.loaded.model.config, lengths[rows], run.prefix)
            yield rows, acts
            tick = time.perf_counter()  # the consumer's time (copy, writes) is not the extractor's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", nargs="?", default="world")
    parser.add_argument("--n", type=int, help="a seeded sample of this many entities (default: all)")
    parser.add_argument("--batch-size", type=int, help="default: params.yaml activations.batch_size")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--entities-dir", default="data/entities")
    args = parser.parse_args()
    params = load_params()
    if args.batch_size:
        params = params.model_copy(update={"activations": params.activations.model_copy(update={"batch_size": args.batch_size})})

    with tempfile.TemporaryDirectory(prefix="worldprobe-profile-") as tmp:
        entities_dir = Path(args.entities_dir)
        if args.n:
            table, info = read_entities(entities_dir / f"{args.dataset}.parquet")
            entities_dir = Path(tmp) / "entities"
            write_entities(entities_dir / f"{args.dataset}.parquet", table.sample(min(args.n, len(table)), random_state=0), info)
        with compute_threads(params.activations.threads), mock.patch.multiple(
            extraction,
            tokenize_prompts=tokenize_new_run,
            write_activations=timed(write_activations, "total"),
            ActivationWriter=TimedWriter,
            LastTokenExtractor=ProfiledExtractor,
        ):
            peak = matmul_peak_gflops(torch.float32)
            tick = time.perf_counter()
            metas = extraction.dataset_activations(params, args.dataset, entities_dir, args.models_dir, Path(tmp) / "activations")
            stage_seconds = time.perf_counter() - tick

    a = params.activations
    print(f"activations@{args.dataset}: {params.model.name} {params.model.dtype}, batch {a.batch_size}, {a.threads} threads, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; float32 matmul peak {peak:.1f} GFLOP/s; seconds:")
    print(f"{'store':>32} {'entities':>8} {'prefix':>6} {'own/ent':>7} {'pad/real':>8} | {'tokenise':>8} {'forward':>8} "
          f"{'run_rest':>8} {'to_numpy':>8} {'write':>6} {'close':>6} | {'ent/s':>6} {'fwd GFLOP/s':>15}")
    for meta, r in zip(metas, runs):
        rate = r.flops / r.forward / 1e9
        print(f"{model_tag(meta.model, meta.control) + '/' + meta.prompt:>32} {r.entities:8d} {r.prefix:6d} {r.own_tokens / r.entities:7.2f} {r.slots / r.own_tokens:8.3f} | "
              f"{r.tokenise:8.1f} {r.forward:8.1f} {r.run_rest:8.1f} {r.to_numpy:8.1f} {r.write:6.1f} {r.close:6.1f} | "
              f"{r.entities / (r.tokenise + r.total):6.1f} {rate:7.1f} ({rate / peak:4.0%})")
    parts = {part: sum(getattr(r, part) for r in runs) for part in PARTS}
    parts["loading"] = stage_seconds - sum(parts.values())
    print(f"stage {stage_seconds:.1f} s: " + ", ".join(f"{k} {v:.1f} s ({v / stage_seconds:.0%})" for k, v in parts.items()))


if __name__ == "__main__":
    main()
