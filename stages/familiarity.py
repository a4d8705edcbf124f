"""Stage familiarity: does the model know each entity? Few-shot question, known / unknown labels.

Usage: python stages/familiarity.py <dataset>
Reads data/entities/<dataset>.parquet and the model; writes data/familiarity/<dataset>.parquet (one row
per labelled entity) and metrics/familiarity/<dataset>.json (see worldprobe.familiarity.labels).
"""

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in the activations stage: a shared machine


from worldprobe.familiarity.labels import label_entities, summarize
from worldprobe.lm.models import load_model  # noqa: E402
from worldprobe.lm.readout import FewShotReadout  # noqa: E402
from worldprobe.records import read_entities, write_labels
from worldprobe.stage import dataset_and_params
from worldprobe.threads import set_torch_threads


def main() -> None:
    dataset, params = dataset_and_params(__doc__)
    cfg = params.familiarity
    table, info = read_entities(Path("data/entities") / f"{dataset}.parquet")
    set_torch_threads(cfg.threads)
    model = load_model(params.model)
    labels = label_entities(
        lambda prefix, question: FewShotReadout(model, prefix, question, batch_size=cfg.batch_size),
        table, dataset, info.kind, info.groups[0] if info.groups else None, cfg, params.seed,
        label_all=params.data.datasets[dataset].familiarity != "all",
    )
    write_labels(Path("data/familiarity") / f"{dataset}.parquet", labels.table)
    summary = summarize(labels, dataset, info.kind, cfg)
    summary.save(Path("metrics/familiarity") / f"{dataset}.json")
    print(f"{dataset}: {summary.n_labelled} labelled in {summary.seconds:.0f} s; known {summary.fraction_known:.3f} "
          f"(test {summary.fraction_known_test:.3f}, constant-answer chance {summary.chance_known:.3f}); "
          f"{summary.n_unreadable} unreadable")


if __name__ == "__main__":
    main()
