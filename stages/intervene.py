"""Stage intervene: the causal test. Edit the residual stream along probe directions at a sweep of layers;
read the answer; ablate the probe subspace.

Usage: python stages/intervene.py <dataset>
Reads data/entities/<dataset>.parquet, models/<model>, data/activations/<dataset>/<model>/main;
writes data/directions/<dataset>/<model tag>.json (probe directions, every layer), metrics/intervention/<dataset>.json,
plots/intervention/<dataset>/<target>.csv (the edited target's own effect by layer, per direction and size) and
plots/intervention/figures/<dataset>.png.
"""

import logging
from pathlib import Path

from worldprobe.causal.intervention import run_intervention, sweep_table
from worldprobe.causal.plots import sweep_figure
from worldprobe.figures import save_figure
from worldprobe.io import atomic_path
from worldprobe.stage import dataset_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    dataset, params = dataset_and_params(__doc__)
    with compute_threads(params.intervention.threads):
        result = run_intervention(params, dataset, entities_dir=Path("data/entities"),
                                  activations_dir=Path("data/activations"), models_dir=Path("models"))
    m = result.metrics
    with atomic_path(Path("data/directions") / dataset, directory=True) as out:
        for tag, directions in result.directions.items():
            directions.save(out / f"{tag}.json")
    m.save(Path("metrics/intervention") / f"{dataset}.json")
    with atomic_path(Path("plots/intervention") / dataset, directory=True) as out:
        for target in dict.fromkeys(e.edited_target for e in m.effects):
            sweep_table(m, target).to_csv(out / f"{target}.csv", index=False)
    save_figure(sweep_figure(m), Path("plots/intervention/figures") / f"{dataset}.png")
    print(f"{dataset}: {m.n_entities} entities, layers {m.layers}, {m.readings} readings, {m.runtime_s:.0f} s; "
          f"baseline {m.baseline}")
    for c in m.comparisons:
        if c.subset == "all":
            print(f"  edit {c.edited_target} @ layer {c.layer}, ratio {c.ratio} vs {c.versus}: "
                  f"{c.difference:.4g} [{c.lo:.4g}, {c.hi:.4g}] -> {c.sign}")


if __name__ == "__main__":
    main()
