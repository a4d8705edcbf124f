"""Stage learning_curve: the probe, the surface control and the random-weights control trained on the
same nested seeded subsamples of the train split (learning_curve.sizes), scored on the same test split.

Usage: python stages/learning_curve.py <dataset>
Reads data/entities/<dataset>.parquet and data/activations/<dataset>; writes
metrics/learning_curve/<dataset>.json and plots/learning_curve/<dataset>.csv (shapes: worldprobe.spacetime.outputs).
"""

from pathlib import Path

from worldprobe.io import atomic_path
from worldprobe.spacetime.inputs import probe_inputs
from worldprobe.spacetime.learning_curve import curve_table, learning_curve
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    data, runs, _ = probe_inputs(dataset, params)
    with compute_threads(params.probes.threads):
        curve = learning_curve(data, runs, params.probes, params.learning_curve, params.seed, params.model.name)
    curve.save(Path("metrics/learning_curve") / f"{dataset}.json")
    with atomic_path(Path("plots/learning_curve") / f"{dataset}.csv") as tmp:
        curve_table(curve).to_csv(tmp, index=False)
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    for p in curve.points:
        print(f"{dataset}: n={p.n_train}: probe {r(p.r2)} (layer {p.best_layer}), surface {r(p.surface_r2)}, "
              f"random weights {r(p.random_weights_r2)}")
    for control, c in curve.crossings.items():
        print(f"{dataset}: vs {control}: diff at full n {r(c.diff_at_full_n)}, stays above from n={c.stays_above_from}")


if __name__ == "__main__":
    main()
