"""Stage intervene: the causal test. Edit the residual stream along probe directions; read the answer.

Usage: python stages/intervene.py <dataset>
Reads data/entities/<dataset>.parquet, models/<model>, data/activations/<dataset>/<model>{,~random_weights}/main;
writes data/directions/<dataset>/<model tag>.json (probe directions, every layer), metrics/intervention/<dataset>.json,
plots/intervention/<dataset>/<target>.csv (dose-response at the best edited layer, else the middle one) and plots/intervention/figures/<dataset>.png.
"""

import logging
from pathlib import Path

from worldprobe.causal.directions import UNITS
from worldprobe.causal.intervention import run_intervention
from worldprobe.causal.plots import dose_response_figure
from worldprobe.figures import save_figure
from worldprobe.io import atomic_path
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    dataset, params = dataset_and_params(__doc__)
    with compute_threads(params.intervention.threads):
        result = run_intervention(
            params, dataset, entities_dir=Path("data/entities"), activations_dir=Path("data/activations"),
            models_dir=Path("models"), familiarity_path=Path("data/familiarity") / f"{dataset}.parquet",
        )
    with atomic_path(Path("data/directions") / dataset, directory=True) as out:
        for tag, directions in result.directions.items():
            directions.save(out / f"{tag}.json")
    result.metrics.save(Path("metrics/intervention") / f"{dataset}.json")
    with atomic_path(Path("plots/intervention") / dataset, directory=True) as out:
        for target, table in result.dose.items():
            table.to_csv(out / f"{target}.csv", index=False)
    fig = dose_response_figure(result, UNITS)
    save_figure(fig, Path("plots/intervention/figures") / f"{dataset}.png")
    m = result.metrics
    print(f"{dataset}: {m.n_entities} entities, layers {m.layers} (best {m.best_layer}, dose-response at {m.dose_layer}), {m.runtime_s:.0f} s; baseline {m.baseline}")
    for c in m.all_entities.comparisons:
        print(f"  edit {c.edited_target} @ layer {c.layer} vs {c.versus}: {c.difference} [{c.lo}, {c.hi}] -> {c.verdict}")


if __name__ == "__main__":
    main()
