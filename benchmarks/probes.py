"""Benchmark: ridge probes on every layer of one (model, dataset, prompt) vs sklearn RidgeCV on one layer.

The target: probing all layers of a store (our RidgeLOO fit + test metrics per layer, read from the
memory-mapped store) takes no longer than ``sklearn.linear_model.RidgeCV(alphas,
alpha_per_target=True)`` fitting a *single* layer, times the number of layers. Both run here, side by
side, under the same thread limit, on the same data.

Usage:
    python benchmarks/probes.py                       # synthetic store of the pipeline's size
    python benchmarks/probes.py --n 5000 --d 640 --layers 19 --threads 1
    python benchmarks/probes.py --dataset world --store data/activations/world/gemma-3-270m/main
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import RidgeCV

from worldprobe.config import ProbesConfig
from worldprobe.estimators import alpha_grid
from worldprobe.records import ActivationMeta, ActivationWriter, EntityTableInfo, read_entities
from worldprobe.spacetime.inputs import ProbeData, load_runs
from worldprobe.spacetime.probes import probe_run
from worldprobe.threads import compute_threads


def synthetic(root: Path, n: int, d: int, layers: int, seed: int = 0) -> tuple[ProbeData, Path]:
    """Places with a noisy linear code of the coordinates in every layer (signal grows with depth)."""
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({
        "id": [f"e{i}" for i in range(n)], "text": "x", "entity_type": "city", "popularity": 1.0,
        "split": np.where(rng.random(n) < 0.8, "train", "test"),
        "longitude": rng.uniform(-180, 180, n), "latitude": rng.uniform(-60, 70, n),
    })
    data = ProbeData.from_table(table, EntityTableInfo("bench", "place"))
    code = ((data.y - data.y.mean(0)) / data.y.std(0)) @ rng.normal(size=(2, d))
    store = root / "bench" / "main"
    scale, depth = rng.uniform(0.1, 10, size=d), np.arange(layers)[:, None, None] / layers
    with ActivationWriter(store, data.ids, layers, d) as writer:
        for rows in np.array_split(np.arange(n), 10):
            acts = rng.normal(size=(layers, len(rows), d)) * scale + code[rows] * depth
            writer.write(rows, acts.astype("float32"))
        writer.close(ActivationMeta("bench", "-", None, "bench", "main", "{text}", layers, d, n, "float32"))
    return data, root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="entities (synthetic)")
    parser.add_argument("--d", type=int, default=640, help="d_model (synthetic; gemma-3-270m: 640)")
    parser.add_argument("--layers", type=int, default=19, help="stored layers (synthetic; gemma-3-270m: 19)")
    parser.add_argument("--threads", type=int, default=ProbesConfig().threads, help="BLAS/torch threads, both arms")
    parser.add_argument("--dataset", help="with --store: probe a real entity table data/entities/<dataset>.parquet")
    parser.add_argument("--store", type=Path, help="a real activation store <dataset>/<model>/<prompt>")
    args = parser.parse_args()
    cfg = ProbesConfig(threads=args.threads)

    with tempfile.TemporaryDirectory() as tmp, compute_threads(cfg.threads):
        if args.store:
            data = ProbeData.from_table(*read_entities(Path("data/entities") / f"{args.dataset}.parquet"))
            data, runs, _ = load_runs(args.store.parent.parent, data)
            run = next(r for r in runs if r.store.path == args.store)
        else:
            data, root = synthetic(Path(tmp), args.n, args.d, args.layers)
            data, (run,), _ = load_runs(root, data)
        n_layers = run.n_layers
        print(f"{n_layers} layers, {int(data.train.sum())} train x {run.store.meta.d_model} features, "
              f"{len(data.targets)} targets, {len(alpha_grid(cfg.alphas))} alphas, threads={cfg.threads}")

        start = time.perf_counter()
        record, _ = probe_run(run, data, cfg)
        ours = time.perf_counter() - start

        layer = record.best_layer
        X = run.layer(layer).astype(np.float64)  # RidgeCV gets the same standardised inputs, prepared untimed
        mean, std = X[data.train].mean(0), X[data.train].std(0)
        Xs = (X[data.train] - mean) / np.where(std == 0, 1, std)
        y = data.y[data.train]
        ys = (y - y.mean(0)) / y.std(0)
        start = time.perf_counter()
        ref = RidgeCV(alphas=alpha_grid(cfg.alphas), alpha_per_target=True).fit(Xs, ys)
        sklearn_one = time.perf_counter() - start

    same = np.array_equal(ref.alpha_, [record.layers[layer].alpha[t] for t in data.targets])
    budget = sklearn_one * n_layers
    print(f"worldprobe RidgeLOO, all {n_layers} layers (fit + test metrics): {ours:8.2f} s")
    print(f"sklearn RidgeCV, one layer (fit only):                {sklearn_one:8.2f} s  x {n_layers} = {budget:.2f} s")
    print(f"ratio ours / (sklearn x layers): {ours / budget:.3f}   (target <= 1)")
    print(f"same alphas chosen at layer {layer}: {same}")


if __name__ == "__main__":
    main()
