"""Stage familiarity_probes: the headline probe and its controls split by familiarity, a known-only probe
against random subsets of the same size, and a knowledge probe (KEEN) per layer.

Usage: python stages/familiarity_probes.py <dataset>
Reads data/entities, data/activations/<dataset>, data/familiarity/<dataset>.parquet and
metrics/probes/<dataset>.json (best layers); writes metrics/familiarity_probes/<dataset>.json and
plots/familiarity/<dataset>/*.csv (see worldprobe.familiarity.probes).
"""

from pathlib import Path

from worldprobe.familiarity.probes import familiarity_probes, report_tables
from worldprobe.io import atomic_path
from worldprobe.records import read_labels
from worldprobe.spacetime.generalization import best_layer_of
from worldprobe.spacetime.inputs import main_run, probe_inputs
from worldprobe.spacetime.outputs import ProbeMetrics
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    mode = params.data.datasets[dataset].familiarity
    labels = read_labels(Path("data/familiarity") / f"{dataset}.parquet")
    data, runs, _ = probe_inputs(dataset, params)
    probe_metrics = ProbeMetrics.load(Path("metrics/probes") / f"{dataset}.json")
    main = main_run(runs, params.model.name)
    rw = probe_metrics.controls.random_weights
    random_weights = None
    if rw is not None:
        run = next(r for r in runs if (r.model_tag, r.prompt) == (rw.model_tag, rw.prompt))
        # on the prompt variants' subsample, the control would meet only a fraction of the labelled sample
        random_weights = (run, rw.best_layer) if run.complete else None
    with compute_threads(params.probes.threads):
        report = familiarity_probes(data, runs, main, best_layer_of(probe_metrics, data, main), random_weights,
                                    labels, mode, params.probes, params.familiarity,
                                    params.validity, params.seed)
    report.save(Path("metrics/familiarity_probes") / f"{dataset}.json")
    with atomic_path(Path("plots/familiarity") / dataset, directory=True) as out:
        for name, frame in report_tables(report).items():
            frame.to_csv(out / f"{name}.csv", index=False)
    probe = next(s for s in report.split if s.predictor == "probe").groups
    r = lambda g: "n/a" if probe[g] is None else f"{probe[g].r2.value:.3f} [{probe[g].r2.lo:.3f}, {probe[g].r2.hi:.3f}]"  # noqa: E731
    print(f"{dataset} ({mode}): layer {report.layer}: R2 all {r('all')}, known {r('known')}, unknown {r('unknown')}")


if __name__ == "__main__":
    main()
