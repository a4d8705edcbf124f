"""Benchmark: the places' proximity error by unit-vector dot products vs a haversine for every pair.

The proximity error compares every pair of test entities (world: 7,917² pairs), and every probe,
holdout, learning-curve point and familiarity split scores it, so it was the largest single cost of
the probe stages (43 % of ``probes@us``, profiled). Both arms count, for each entity, the other
entities whose prediction lies closer to its true place than its own prediction; the first with
``sklearn.metrics.pairwise.haversine_distances`` per pair (the former implementation), the second as
:func:`worldprobe.spacetime.metrics.proximity_error` now does. Arms alternate, repeats times; the counts must
be identical.

Usage: python benchmarks/proximity_error.py [--n 7917] [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics.pairwise import haversine_distances

from worldprobe.spacetime.metrics import proximity_error
from worldprobe.threads import compute_threads

CHUNK = 2048


def haversine_per_pair(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    true_r, pred_r = np.radians(y_true[:, ::-1]), np.radians(y_pred[:, ::-1])
    n, out = len(y_true), np.empty(len(y_true))
    for start in range(0, n, CHUNK):
        d = haversine_distances(true_r[start : start + CHUNK], pred_r)
        own = d[np.arange(len(d)), np.arange(start, start + len(d))]
        out[start : start + CHUNK] = (d < own[:, None]).sum(1) / (n - 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=7917, help="test entities (world's test split: 7,917)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    y_true = np.c_[rng.uniform(-180, 180, args.n), np.degrees(np.arcsin(rng.uniform(-1, 1, args.n)))]
    y_pred = y_true + rng.normal(0, 30, y_true.shape)  # a probe's error: tens of degrees
    arms = {"haversine per pair": haversine_per_pair,
            "dot products": lambda t, p: proximity_error(t, p, "place")}
    seconds, results = dict.fromkeys(arms, 0.0), {}
    with compute_threads(args.threads):
        for _ in range(args.repeats):
            for name, arm in arms.items():
                tick = time.perf_counter()
                results[name] = arm(y_true, y_pred)
                seconds[name] += time.perf_counter() - tick
    print(f"{args.n} places, {args.repeats} repeats, {args.threads} threads")
    for name in arms:
        print(f"{name:>18}: {seconds[name] / args.repeats:.3f} s per call")
    print(f"dot products / haversine per pair: {seconds['haversine per pair'] / seconds['dot products']:.1f}x")
    same = np.array_equal(results["haversine per pair"], results["dot products"])
    print(f"identical per-entity errors: {same}; mean {results['dot products'].mean():.4f}")


if __name__ == "__main__":
    main()
