"""Raw table -> entity table: reject bad rows, filter, drop duplicates, split, subsample, and account.

Every raw row ends in exactly one place: the entity table, or the removed-rows table with a
``reason`` (a rejection of bad input, ``duplicate``, a filter, or ``subsampled``). The report
counts each reason, and ``rows_in`` equals the sum of all removals plus ``rows_out``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit

from ..config import DatasetConfig
from ..io import atomic_path
from ..records import DataReport, EntityTableInfo, PopularityReport, RowsOut, write_entities
from ..sampling import derived_seed, subsample
from . import text
from .recipes import FILTER_REASONS, REJECT_REASONS, BuildError, Prepared, prepare


@dataclass(frozen=True)
class BuildResult:
    table: pd.DataFrame  # the entity table, in raw-row order
    info: EntityTableInfo
    removed: pd.DataFrame  # removed raw rows with their raw values, ``raw_row``, ``reason`` and ``detail``
    report: DataReport  # counts for metrics/data/<dataset>.json


def _entity_ids(dataset: str, frame: pd.DataFrame, kind: str) -> pd.Series:
    """Stable ids: a hash of the entity string and its exact target, so a re-pull keeps them.

    Unique after deduplication, which removes rows agreeing on the (folded) string and rounded target.
    """
    targets = ("longitude", "latitude") if kind == "place" else ("year",)
    keys = frame["text"].astype(str)
    for t in targets:
        keys = keys + "|" + frame[t].map(repr)
    return dataset + "-" + keys.map(lambda k: hashlib.sha1(k.encode()).hexdigest()[:12])


def _dedup_key(frame: pd.DataFrame, kind: str, decimals: int) -> pd.Series:
    names = frame["text"].map(text.fold)
    if kind == "place":
        # + 0.0 turns -0.0 into 0.0 so that both print alike
        lat = (frame["latitude"].round(decimals) + 0.0).map(repr)
        lon = (frame["longitude"].round(decimals) + 0.0).map(repr)
        return names + "|" + lat + "|" + lon
    return names + "|" + np.floor(frame["year"]).astype(int).astype(str)


def _mark_duplicates(frame: pd.DataFrame, ok: pd.Series, kind: str, decimals: int) -> None:
    """Among valid rows, keep the most popular of each (name, rounded target); mark the others."""
    valid = frame[ok]
    keys = _dedup_key(valid, kind, decimals)
    order = valid.sort_values("popularity", ascending=False, na_position="last", kind="stable").index
    keys = keys.loc[order]
    dup = keys.duplicated(keep="first")
    if dup.any():
        kept = keys[~dup]
        kept_row = pd.Series(kept.index, index=kept.values)
        frame.loc[dup[dup].index, "reason"] = "duplicate"
        frame.loc[dup[dup].index, "detail"] = "duplicate of raw row " + keys[dup].map(kept_row).astype(str)


def _mark_filters(frame: pd.DataFrame, kind: str, config: DatasetConfig) -> None:
    """The year range (time datasets) and the popularity threshold, on rows not yet removed."""
    if config.year_range is not None:
        if kind != "time":
            raise BuildError("year_range applies to time datasets only; remove it from this place dataset")
        start, end = config.year_range
        years = np.floor(frame["year"])
        inside = years.between(-np.inf if start is None else start, np.inf if end is None else end)
        outside = frame["reason"].isna() & ~inside
        frame.loc[outside, "reason"] = "outside_year_range"
        frame.loc[outside, "detail"] = "year=" + frame.loc[outside, "year"].round(3).astype(str)
    if config.min_popularity > 0:
        ok = frame["reason"].isna()
        missing = ok & frame["popularity"].isna()
        low = ok & (frame["popularity"] <= config.min_popularity)
        frame.loc[missing, "reason"] = "popularity_missing"
        frame.loc[low, "reason"] = "popularity_below_min"
        frame.loc[low, "detail"] = "popularity=" + frame.loc[low, "popularity"].astype(str)


def _split(frame: pd.DataFrame, config: DatasetConfig, seed: int) -> tuple[pd.Series, str]:
    """``train``/``test`` per kept row: the given ``is_test`` if any, else a seeded (grouped) split."""
    if "is_test" in frame:
        return frame["is_test"].map({True: "test", False: "train"}), "given is_test column"
    if len(frame) < 2:
        raise BuildError(f"only {len(frame)} row(s) left after filtering: too few to split into train and test")
    positions = np.arange(len(frame))
    if "split_key" in frame:
        groups = frame["split_key"].astype(str).to_numpy()
        if len(set(groups)) < 2:
            raise BuildError("all rows share one split group: cannot hold any group out for test")
        splitter = GroupShuffleSplit(n_splits=1, test_size=config.test_fraction, random_state=seed)
        _, test = next(splitter.split(positions, groups=groups))
        rule = f"seeded random, {config.test_fraction:.0%} of groups held out together"
    else:
        splitter = ShuffleSplit(n_splits=1, test_size=config.test_fraction, random_state=seed)
        _, test = next(splitter.split(positions))
        rule = f"seeded random, {config.test_fraction:.0%} of rows"
    split = np.full(len(frame), "train", dtype=object)
    split[test] = "test"
    return pd.Series(split, index=frame.index), rule


def build_entities(raw: pd.DataFrame, dataset: str, config: DatasetConfig, seed: int) -> BuildResult:
    """Build one dataset's entity table from its raw table (see the module docstring)."""
    raw = raw.reset_index(drop=True)
    clash = {"raw_row", "reason", "detail"}.intersection(raw.columns)
    if clash:
        raise BuildError(
            f"raw table of {dataset!r} has columns {sorted(clash)}, reserved for the removed-rows file; rename them"
        )
    prepared: Prepared = prepare(raw, dataset, config)
    frame, kind = prepared.frame, prepared.kind
    undeclared = set(frame["reason"].dropna()) - set(REJECT_REASONS) - set(FILTER_REASONS)
    assert not undeclared, f"recipe of {dataset} used reasons {undeclared} that the report does not count"

    # filters first, so that "duplicates" counts only rows that would otherwise have been kept (the
    # kept set is the same either way: duplicates share a calendar year, and the most popular is kept)
    _mark_filters(frame, kind, config)
    _mark_duplicates(frame, frame["reason"].isna(), kind, config.dedup_decimals)
    kept = frame[frame["reason"].isna()]
    split, split_rule = _split(kept, config, derived_seed(seed, dataset, "split"))
    dropped = subsample(split, config.max_entities, derived_seed(seed, dataset, "subsample"))
    frame.loc[dropped, "reason"] = "subsampled"
    kept = frame[frame["reason"].isna()].copy()
    kept["split"] = split.loc[kept.index]
    for side in ("train", "test"):
        if not (kept["split"] == side).any():
            raise BuildError(f"{dataset}: no {side} rows left (rows in: {len(raw)}); see data/rejected/{dataset}.csv")

    kept["id"] = _entity_ids(dataset, kept, kind)
    info = EntityTableInfo(dataset, kind, prepared.groups, prepared.target_note)
    table = kept[list(info.columns)].reset_index(drop=True)
    for group in info.groups:
        if isinstance(table[group].dtype, pd.Int64Dtype):  # derived blocks (century, decade, year)
            table[group] = table[group].astype("int64")

    gone = frame["reason"].notna()
    removed = raw[gone].copy()
    removed.insert(0, "raw_row", removed.index)
    removed["reason"] = frame.loc[gone, "reason"]
    removed["detail"] = frame.loc[gone, "detail"]
    report = _report(dataset, config, prepared, frame, table, split_rule)
    return BuildResult(table, info, removed.reset_index(drop=True), report)


def _report(dataset: str, config: DatasetConfig, prepared: Prepared, frame: pd.DataFrame,
            table: pd.DataFrame, split_rule: str) -> DataReport:
    counts = {reason: int(count) for reason, count in frame["reason"].value_counts().items()}
    rejected = {r: counts.get(r, 0) for r in REJECT_REASONS}
    filtered = {r: counts.get(r, 0) for r in FILTER_REASONS}
    out = {s: int((table["split"] == s).sum()) for s in ("train", "test")}
    return DataReport(
        dataset=dataset,
        kind=prepared.kind,
        target=prepared.target_note or ("longitude, latitude (degrees)" if prepared.kind == "place" else "year"),
        rows_in=len(frame),
        rejected=rejected,
        rejected_total=sum(rejected.values()),
        duplicates_removed=counts.get("duplicate", 0),
        filtered=filtered,
        filtered_total=sum(filtered.values()),
        subsampled=counts.get("subsampled", 0),
        rows_out=RowsOut(**out, total=len(table)),
        split_rule=split_rule,
        popularity=PopularityReport(
            source=prepared.popularity_source,
            min_popularity=config.min_popularity,
            missing_in_output=int(table["popularity"].isna().sum()),
        ),
        groups=list(prepared.groups),
    )


def read_raw(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise BuildError(f"{path}: no raw table (run the pull stage first: dvc repro pull@{path.stem})")
    return pd.read_parquet(path)


def write_build(result: BuildResult, root: str | Path = ".") -> dict[str, Path]:
    """Write the entity table, the removed rows and the report under ``root``, each atomically."""
    root, name = Path(root), result.info.dataset
    paths = {
        "entities": root / "data" / "entities" / f"{name}.parquet",
        "rejected": root / "data" / "rejected" / f"{name}.csv",
        "metrics": root / "metrics" / "data" / f"{name}.json",
    }
    write_entities(paths["entities"], result.table, result.info)
    with atomic_path(paths["rejected"]) as tmp:
        result.removed.to_csv(tmp, index=False)
    result.report.save(paths["metrics"])
    return paths
