"""Stage activations: residual-stream activations of every entity of one dataset, every layer.

Usage: python stages/activations.py <dataset> [--model <name>]
Writes data/activations/<dataset>/<model tag>[~<control>]/<prompt>/ (see worldprobe.records); with
--model, a model of the model axis (models.<name>): data/models/<name>/<dataset>/..., main prompts only,
on the axis's seeded subsample (models.<name>.max_entities).
"""

import logging
import os

# Sleeping (not spinning) OpenMP workers: on a shared machine, spinning threads wait for a time slice
# at every small op; measured on 2 busy cores, 2-thread extraction went from 11 to 48 entities/s.
# Must be set before torch loads its OpenMP runtime; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from worldprobe.lm.activations import axis_dir, dataset_activations
from worldprobe.stage import dataset_model_and_params
from worldprobe.threads import compute_threads


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    dataset, params, axis = dataset_model_and_params(__doc__)
    with compute_threads(params.activations.threads):
        if axis is None:
            metas = dataset_activations(params, dataset)
        else:
            metas = dataset_activations(params, dataset, out_dir=axis_dir(axis.name), max_entities=axis.max_entities)
    for meta in metas:
        print(f"{meta.dataset} {meta.model}{'~' + meta.control if meta.control else ''} {meta.prompt}: "
              f"{meta.n_entities} entities, {meta.extra['n_rejected']} rejected")


if __name__ == "__main__":
    main()
