"""What every probe stage reads for one dataset: the entity table as :class:`~worldprobe.runs.ProbeData`
(with the split's groups, so that selection uses grouped folds where the split holds groups out), its
activation stores aligned to it, and the familiarity filter ``data.datasets.<name>.familiarity``."""

from __future__ import annotations

from pathlib import Path

from .config import Params
from .familiarity_probes import filter_probe_data
from .outputs import DroppedEntities
from .records import read_entities
from .runs import ProbeData, Run, load_runs


def probe_inputs(dataset: str, params: Params, root: str | Path = ".") -> tuple[ProbeData, list[Run], DroppedEntities]:
    """``data/entities/<dataset>.parquet`` and ``data/activations/<dataset>``, filtered by familiarity."""
    root = Path(root)
    data = ProbeData.from_table(*read_entities(root / "data" / "entities" / f"{dataset}.parquet"))
    data = data.grouped_by(params.validity.split_groups.get(dataset))
    data, runs, dropped = load_runs(root / "data" / "activations" / dataset, data)
    mode = params.data.datasets[dataset].familiarity  # all | known | unknown (worldprobe.familiarity)
    data, runs = filter_probe_data(data, runs, root / "data" / "familiarity" / f"{dataset}.parquet", mode)
    return data, runs, dropped
