"""Stage incremental: what the probe adds to each control, and places against their block.

Usage: python stages/incremental.py <dataset>
Reads plots/probes/<dataset>/predictions.csv (the probes stage's best-layer test predictions of the
probe and every control), data/entities/<dataset>.parquet (the block's train means) and, for places,
the best layer (metrics/probes/<dataset>.json) of data/activations/<dataset> (the fixed-effects
ridge); writes metrics/incremental/<dataset>.json (worldprobe.spacetime.outputs.IncrementalMetrics).
"""

from pathlib import Path

from worldprobe.spacetime.incremental import assess
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    with compute_threads(params.probes.threads):
        metrics = assess(dataset, params)
    metrics.save(Path("metrics/incremental") / f"{dataset}.json")
    adds = "; ".join(f"{name} {d.diff:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]" for name, d in metrics.adds.items())
    print(f"{dataset}: what the probe adds to each control, ΔR² [95 % CI]: {adds}")


if __name__ == "__main__":
    main()
