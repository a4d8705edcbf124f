"""Stage probes: a ridge probe on every layer of every activation store of one dataset, with controls.

Usage: python stages/probes.py <dataset>
Reads data/entities/<dataset>.parquet, data/activations/<dataset>/*/*/ and the model's tokenizer and
input embeddings (models/<model.name>, for the layer-0 token-mean control); writes
metrics/probes/<dataset>.json and plots/probes/<dataset>/{layers,predictions}.csv
(shapes: worldprobe.spacetime.outputs).
"""

from pathlib import Path

from worldprobe.io import atomic_path
from worldprobe.lm.token_mean import headline_token_means
from worldprobe.spacetime.inputs import main_run, probe_inputs
from worldprobe.spacetime.probes import probe_dataset
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    data, runs, dropped = probe_inputs(dataset, params)
    with compute_threads(params.probes.threads):
        token_mean = headline_token_means(params, dataset, data.ids, data.table["text"].tolist(),
                                          main_run(runs, params.model.name).prompt)
        result = probe_dataset(data, runs, params.probes, params.validity, params.seed, params.model.name, dropped,
                               token_mean)
    result.metrics.save(Path("metrics/probes") / f"{dataset}.json")
    with atomic_path(Path("plots/probes") / dataset, directory=True) as out:
        result.layers.to_csv(out / "layers.csv", index=False)
        result.predictions.to_csv(out / "predictions.csv", index=False)
    m, run = result.metrics, result.metrics.headline
    r = lambda x: None if x is None else round(x, 3)  # noqa: E731
    v = m.validity
    print(f"{dataset}: {m.main.model_tag}/{m.main.prompt} best layer {run.best_layer} ({v.selection}): "
          f"test R2 {r(run.best.r2)} [{r(v.r2_ci_low)}, {r(v.r2_ci_high)}], prox error {r(run.best.prox_error)}; "
          + "; ".join(f"probe - {c} {r(d.diff)} [{r(d.ci_low)}, {r(d.ci_high)}]" for c, d in v.verdicts.items()))


if __name__ == "__main__":
    main()
