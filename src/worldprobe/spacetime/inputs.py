"""What every probe stage reads for one dataset: the entity table as arrays (:class:`ProbeData`, with
the split's groups, so that selection uses grouped folds where the split holds groups out), the
activation stores aligned to it (:class:`Run`, :func:`load_runs`), with the headline run, and the
familiarity filter ``data.datasets.<name>.familiarity`` (:func:`probe_inputs`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Params, SplitGroup
from ..records import (
    PLACE_TARGETS,
    ActivationStore,
    DroppedEntities,
    EntityTableInfo,
    StoreError,
    known_flags,
    read_entities,
    read_labels,
)

MIN_TRAIN = 10  # fewer train entities left by the familiarity filter: too few to probe
ON_SUBSAMPLE = "@subsample"  # run key of the headline refitted on the prompt variants' subsample


@dataclass
class ProbeData:
    """The entity table as arrays: targets ``y`` (n x t), train/test masks, ids as strings, and
    ``split_group``: the group each row's split keeps together (``None``: the split is by entity)."""

    info: EntityTableInfo
    table: pd.DataFrame
    ids: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    split_group: np.ndarray | None = None

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def targets(self) -> tuple[str, ...]:
        return self.info.targets

    @classmethod
    def from_table(cls, table: pd.DataFrame, info: EntityTableInfo) -> ProbeData:
        assert PLACE_TARGETS == ("longitude", "latitude")  # proximity_error relies on this order
        missing = [c for c in ("id", "text", "split", *info.targets) if c not in table.columns]
        if missing:
            raise StoreError(f"entity table {info.dataset} lacks columns {missing}")
        y = np.array(table[list(info.targets)], dtype=np.float64)
        bad = ~np.isfinite(y).all(1)
        if bad.any():
            raise StoreError(
                f"entity table {info.dataset}: {int(bad.sum())} rows have a missing or non-finite target "
                f"(ids {table['id'][bad].astype(str).tolist()[:5]}...); the build stage should have rejected them"
            )
        train, test = (table["split"] == "train").to_numpy(), (table["split"] == "test").to_numpy()
        if train.sum() < 10 or test.sum() < 2:
            raise StoreError(f"entity table {info.dataset}: {train.sum()} train / {test.sum()} test rows is too few")
        return cls(info, table.reset_index(drop=True), table["id"].astype(str).to_numpy(), y, train, test)

    def subset(self, keep: np.ndarray) -> ProbeData:
        return ProbeData(self.info, self.table[keep].reset_index(drop=True), self.ids[keep], self.y[keep],
                         self.train[keep], self.test[keep], None if self.split_group is None else self.split_group[keep])

    def grouped_by(self, cfg: SplitGroup | None) -> ProbeData:
        """The same data with ``split_group`` from ``cfg.column`` (``None``: split by entity). Rows whose value
        is missing or in ``cfg.own_group_values`` are each their own group. Refuses a column whose groups
        straddle train and test: the split was not drawn by it."""
        if cfg is None:
            return ProbeData(self.info, self.table, self.ids, self.y, self.train, self.test, None)
        if cfg.column not in self.table.columns:
            raise StoreError(f"entity table {self.info.dataset} has no split-group column {cfg.column!r}")
        values = self.table[cfg.column].astype("string")
        alone = values.isna() | values.isin(cfg.own_group_values)
        groups = values.where(~alone, "row:" + pd.Series(self.ids, index=values.index)).astype(str).to_numpy()
        straddling = np.intersect1d(groups[self.train], groups[self.test])
        if len(straddling):
            raise StoreError(f"entity table {self.info.dataset}: {len(straddling)} {cfg.column} group(s) straddle train "
                             f"and test (e.g. {straddling[:3].tolist()}): the split is not grouped by {cfg.column}")
        return ProbeData(self.info, self.table, self.ids, self.y, self.train, self.test, groups)

    def groups_of(self, rows: np.ndarray) -> np.ndarray | None:
        """Split groups of the masked rows, or ``None`` where the split is by entity."""
        return None if self.split_group is None else self.split_group[rows]


@dataclass
class Run:
    """One activation store: a (model, prompt) pair of a dataset, with rows aligned to the entity table."""

    model_tag: str
    prompt: str
    store: ActivationStore
    rows: np.ndarray = field(repr=False)  # store row of each entity-table row; -1: not in a subsample store

    @property
    def control(self) -> str | None:
        return self.store.meta.control

    @property
    def n_layers(self) -> int:
        return self.store.n_layers

    @property
    def covered(self) -> np.ndarray:
        """Entity-table rows this store holds (all but for a prompt variant run on a subsample)."""
        return self.rows >= 0

    @property
    def complete(self) -> bool:
        return bool(self.covered.all())

    def layer(self, index: int) -> np.ndarray:
        if not self.complete:
            raise StoreError(f"{self.store.path} holds {int(self.covered.sum())} of {len(self.rows)} entities: "
                             "read it through on_covered(data, run)")
        return np.asarray(self.store.layer(index))[self.rows]


def on_covered(data: ProbeData, run: Run, covered: np.ndarray | None = None) -> tuple[ProbeData, Run]:
    """The data and the run restricted to the entities ``covered`` (default: those the run holds)."""
    keep = run.covered if covered is None else covered
    if keep.all():
        return data, run
    return data.subset(keep), Run(run.model_tag, run.prompt, run.store, run.rows[keep])


def random_weights_run(runs: list[Run], main: Run) -> Run | None:
    """The random-weights control compared with the headline: its run of the main prompt where there is
    one, else its first run (``None`` where the control was not run). It may hold only the prompt
    variants' subsample (``activations.variant_entities``)."""
    random = [r for r in runs if r.control == "random_weights"]
    return next((r for r in random if r.prompt == main.prompt), random[0]) if random else None


def load_runs(directory: str | Path, data: ProbeData) -> tuple[ProbeData, list[Run], DroppedEntities]:
    """Every complete store ``<directory>/<model_tag>/<prompt>/meta.json``, aligned to the entity table.

    The activations stage may reject an entity (blank text, no tokens); such entities are dropped from
    *every* run, so that all runs and controls are scored on the same entities, and are reported
    (count per store and a few ids) rather than silently lost. A store of a prompt variant drawn on a
    subsample (``meta.subsample``) holds only its entities: its rows elsewhere are -1 (:func:`on_covered`).
    """
    directory = Path(directory)
    stores = [(m.parent.parent.name, m.parent.name, ActivationStore(m.parent)) for m in sorted(directory.glob("*/*/meta.json"))]
    if not stores:
        raise StoreError(f"{directory}: no activation stores (<model>/<prompt>/meta.json); run the activations stage")
    keep = np.ones(len(data.ids), dtype=bool)
    missing = {}
    for tag, prompt, store in stores:
        index = pd.Index(store.ids.astype(str))
        if not index.is_unique:
            raise StoreError(f"{store.path}: duplicate entity ids")
        present = index.isin(data.ids).sum()
        if present < len(index):
            raise StoreError(f"{store.path}: {len(index) - present} stored ids are not in the entity table (stale store); rerun activations")
        has = np.asarray(pd.Index(data.ids).isin(index))
        if store.meta.subsample is not None:
            continue
        if not has.all():
            missing[f"{tag}/{prompt}"] = int((~has).sum())
        keep &= has
    report = DroppedEntities(n_dropped=int((~keep).sum()), by_store=missing, examples=data.ids[~keep][:10].tolist())
    if report.n_dropped:
        print(f"warning: {report.n_dropped} entities lack activations in some store and are left out: {missing}", file=sys.stderr)
        data = data.subset(keep)
    runs = [Run(tag, prompt, store, pd.Index(store.ids.astype(str)).get_indexer(data.ids)) for tag, prompt, store in stores]
    return data, runs, report


def main_run(runs: list[Run], model_name: str | None = None) -> Run:
    """The real model's ``main``-prompt run (the headline probe), or its first prompt if there is no ``main``."""
    real = [r for r in runs if r.control is None]
    if not real:
        raise StoreError("no activation store of the real model (all stores are controls)")
    tags = sorted({r.model_tag for r in real})
    if len(tags) > 1:
        named = [t for t in tags if model_name in (t, *(r.store.meta.model for r in real if r.model_tag == t))]
        if len(named) != 1:
            raise StoreError(f"several real models {tags}; cannot tell which is params model.name={model_name!r}")
        tags = named
    mine = [r for r in real if r.model_tag == tags[0]]
    return next((r for r in mine if r.prompt == "main"), mine[0])


def filter_probe_data(data: ProbeData, runs: list[Run], labels_path: str | Path,
                      mode: str) -> tuple[ProbeData, list[Run]]:
    """Keep the entities ``mode`` selects, in the data and in every run aligned to it (``load_runs``):
    ``all`` (unchanged; the labels are not read), ``known`` or ``unknown`` (labelled entities only:
    with a filter the familiarity stage labels the whole train split)."""
    if mode == "all":
        return data, runs
    labelled, known = known_flags(data.ids, read_labels(labels_path))
    keep = labelled & (known == (mode == "known"))
    if keep[data.train].sum() < MIN_TRAIN or keep[data.test].sum() < 2:
        raise ValueError(f"familiarity: {mode} leaves {keep[data.train].sum()} train / {keep[data.test].sum()} "
                         "test entities, too few to probe")
    print(f"familiarity: {mode}: {keep.sum()} of {len(keep)} entities kept", file=sys.stderr)
    return data.subset(keep), [Run(r.model_tag, r.prompt, r.store, r.rows[keep]) for r in runs]


def probe_inputs(dataset: str, params: Params, root: str | Path = ".") -> tuple[ProbeData, list[Run], DroppedEntities]:
    """``data/entities/<dataset>.parquet`` and ``data/activations/<dataset>``, filtered by familiarity."""
    root = Path(root)
    data = ProbeData.from_table(*read_entities(root / "data" / "entities" / f"{dataset}.parquet"))
    data = data.grouped_by(params.validity.split_groups.get(dataset))
    data, runs, dropped = load_runs(root / "data" / "activations" / dataset, data)
    mode = params.data.datasets[dataset].familiarity  # all | known | unknown (worldprobe.familiarity.labels)
    data, runs = filter_probe_data(data, runs, root / "data" / "familiarity" / f"{dataset}.parquet", mode)
    return data, runs, dropped
