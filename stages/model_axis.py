"""Stage model_axis: `model` and every model under `models` probed on the same entities of one dataset,
each beside its controls (R² against model size).

Usage: python stages/model_axis.py <dataset>
Reads data/entities/<dataset>.parquet, data/activations/<dataset> (`model`), data/models/<name>/<dataset>
(each model of the axis) and the models' configs, tokenizers and input embeddings (models/); writes
metrics/models/<dataset>.json and plots/models/<dataset>/layers.csv (shapes: worldprobe.spacetime.outputs).
"""

from pathlib import Path

from worldprobe.io import atomic_path
from worldprobe.spacetime.model_axis import compare_models
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    with compute_threads(params.probes.threads):
        result = compare_models(dataset, params)
    result.metrics.save(Path("metrics/models") / f"{dataset}.json")
    with atomic_path(Path("plots/models") / dataset, directory=True) as out:
        result.layers.to_csv(out / "layers.csv", index=False)
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    for m in result.metrics.models:
        diff = "" if m.minus_model is None else (
            f", minus {params.model.name} {r(m.minus_model.diff)} [{r(m.minus_model.ci_low)}, {r(m.minus_model.ci_high)}]")
        print(f"{dataset}: {m.name} ({m.n_params:,} parameters) best layer {m.best_layer}/{m.n_layers - 1}: "
              f"R2 {r(m.r2)}{diff}; " + ", ".join(f"{c} {r(v.r2)}" for c, v in m.controls.items()))


if __name__ == "__main__":
    main()
