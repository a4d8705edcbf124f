"""The offline snapshot (``data.snapshot_dir``): the raw files the live sources would bring back.

Values are kept exactly as shipped: every column is read as text and only an empty cell is missing.
Pantheon's malformed birth years (``530s``, ``1237?``, ``Unknown``) and Namibia's country code ``NA``
must reach the build stage unchanged, where they are parsed and any rejection is counted; pandas'
default NA list would silently turn ``NA``/``null``/``None`` into missing values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..registry import DATASETS

# dataset -> (file name, field separator)
SNAPSHOT_FILES: dict[str, tuple[str, str]] = {name: (d.snapshot_file, d.snapshot_sep) for name, d in DATASETS.items()}


# The raw table's columns per dataset: the snapshot file's header.
RAW_COLUMNS: dict[str, list[str]] = {
    "world": ["name", "entity_subtype", "country", "latitude", "longitude", "has_thumbnail", "page_views",
              "entity_type", "total_area", "population", "is_test"],
    "us": ["name", "latitude", "longitude", "state_id", "state_name", "county_fips", "population", "density",
           "timezone", "entity_type", "entity_subtype", "page_views", "is_test"],
    "nyc": ["name", "source", "complexid", "saftype", "pri_add", "modified", "faci_dom", "facility_t", "b7_sc",
            "placeid", "bin", "sos", "segmentid", "borough", "created", "latitude", "longitude", "nad83_x",
            "nad83_y", "borough_name", "facility_t_name", "is_test"],
    "people": ["en_curid", "name", "numlangs", "birthcity", "birthstate", "countryName", "countryCode",
               "countryCode3", "LAT", "LON", "continentName", "birthyear", "gender", "occupation", "industry",
               "domain", "TotalPageViews", "L_star", "StdDevPageViews", "PageViewsEnglish", "PageViewsNonEnglish",
               "AverageViews", "HPI"],
    "art": ["title", "creator", "release_date", "length", "page_name", "page_views", "entity_type", "is_test",
            "decade"],
    "headlines": ["headline", "date"],
}


def raw_table(records: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Records from a live source as a raw table: ``columns`` in order, every value as text.

    Fields a source cannot give (``None``, or NaN from pandas) are missing; a record key outside
    ``columns`` is a bug in the source.
    """
    extra = {k for r in records for k in r} - set(columns)
    if extra:
        raise ValueError(f"fields {sorted(extra)} are not raw columns {columns}")
    text = [{c: None if _missing(r.get(c)) else str(r[c]) for c in columns} for r in records]
    return pd.DataFrame(text, columns=columns, dtype="str")


# What the live sources write: the snapshot's columns (filled as far as the source can) without
# ``is_test``, the paper's own split, which no live source has (build then draws a seeded split);
# people from Wikidata add ``deathyear``, the paper's target, which Pantheon lacks.
LIVE_COLUMNS: dict[str, list[str]] = {
    name: [c for c in columns if c != "is_test"] + (["deathyear"] if name == "people" else [])
    for name, columns in RAW_COLUMNS.items()
}


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class SnapshotError(FileNotFoundError):
    """The snapshot file of a dataset is missing; the message names the path and how to fix it."""


def snapshot_path(dataset: str, snapshot_dir: str | Path) -> Path:
    if dataset not in SNAPSHOT_FILES:
        raise ValueError(f"no snapshot for dataset {dataset!r}: snapshots exist for {', '.join(SNAPSHOT_FILES)}")
    return Path(snapshot_dir) / SNAPSHOT_FILES[dataset][0]


def read_text_table(path: str | Path, sep: str = ",") -> pd.DataFrame:
    """A CSV/TSV (gzip inferred from the suffix) with every column as text; only empty cells are missing."""
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""])


def read_snapshot(dataset: str, snapshot_dir: str | Path) -> pd.DataFrame:
    """The raw rows of a built-in dataset from the offline snapshot, all columns as text."""
    path = snapshot_path(dataset, snapshot_dir)
    if not path.is_file():
        raise SnapshotError(
            f"snapshot file for dataset {dataset!r} not found: {path}\n"
            f"  hint: set data.snapshot_dir in params.yaml to the folder holding {path.name} "
            f"(currently {snapshot_dir}), or set data.datasets.{dataset}.source: live to fetch it"
        )
    return read_text_table(path, SNAPSHOT_FILES[dataset][1])
