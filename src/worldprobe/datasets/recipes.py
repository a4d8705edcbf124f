"""How each dataset's raw columns become the entity table's columns.

A recipe reads a raw table (every column as the source gave it) and returns a :class:`Prepared`
frame with the standard columns ``text, entity_type, popularity``, the targets, the group columns,
optionally ``is_test`` (a given split) and ``split_key`` (rows sharing a key never straddle train
and test), and ``reason``/``detail`` for the rows that fail a check. The first failing check wins.
Checks of bad input (rejections) come before the paper's content filters (e.g. NYC buoys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..config import ColumnMapping, DatasetConfig
from . import parsing, text

Kind = Literal["place", "time"]

# Bad input: the row cannot become an entity.
REJECT_REASONS = (
    "empty_text",
    "missing_creator",
    "missing_coordinates",
    "unparseable_coordinates",
    "coordinates_out_of_range",
    "unparseable_year",
    "unparseable_date",
    "unparseable_popularity",
    "unparseable_split",
)
# Valid rows left out by a rule of the dataset or of params.yaml.
FILTER_REASONS = ("nyc_buoy", "question_headline", "short_name", "outside_year_range", "popularity_missing", "popularity_below_min")

class BuildError(ValueError):
    """The raw table or the dataset's config cannot be built; the message says what to fix."""


@dataclass(frozen=True)
class Prepared:
    frame: pd.DataFrame  # index = the raw table's index
    kind: Kind
    groups: tuple[str, ...]  # groups[0] is the block-holdout column
    target_note: str
    popularity_source: str  # which raw column gave the popularity ("none" if no column)


class _Frame:
    """Builds a prepared frame column by column, recording the first failing check of each row."""

    def __init__(self, raw: pd.DataFrame, dataset: str, required: tuple[str, ...]):
        missing = [c for c in required if c not in raw.columns]
        if missing:
            raise BuildError(
                f"raw table of {dataset!r} lacks columns {missing}; it has {list(raw.columns)} "
                "(rerun the pull stage, or fix the column mapping in params.yaml)"
            )
        self.raw = raw
        self.frame = pd.DataFrame(index=raw.index)
        self.frame["reason"] = pd.Series(None, index=raw.index, dtype=object)
        self.frame["detail"] = pd.Series("", index=raw.index, dtype=object)

    def column(self, name: str) -> pd.Series:
        return self.raw[name].astype("string").str.strip()

    def flag(self, mask: pd.Series, reason: str, detail: pd.Series | str = "") -> None:
        new = mask.fillna(False).astype(bool) & self.frame["reason"].isna()
        self.frame.loc[new, "reason"] = reason
        self.frame.loc[new, "detail"] = detail[new] if isinstance(detail, pd.Series) else detail

    def set_text(self, values: pd.Series, normalise: Callable[[str], str] | None = None) -> None:
        values = values.astype("string")
        if normalise is not None:
            values = values.map(normalise, na_action="ignore")
        values = values.map(text.squash, na_action="ignore")
        self.flag(values.isna() | values.eq(""), "empty_text")
        self.frame["text"] = values.astype(object)

    def set_place(self, latitude: str, longitude: str) -> None:
        lat, bad_lat = parsing.numbers(self.raw[latitude])
        lon, bad_lon = parsing.numbers(self.raw[longitude])
        shown = "latitude=" + self.column(latitude).fillna("") + ", longitude=" + self.column(longitude).fillna("")
        self.flag(bad_lat | bad_lon, "unparseable_coordinates", shown)
        self.flag(lat.isna() | lon.isna(), "missing_coordinates", shown)
        self.flag((lat.abs() > 90) | (lon.abs() > 180), "coordinates_out_of_range", shown)
        self.frame["longitude"], self.frame["latitude"] = lon, lat

    def set_year(self, values: pd.Series, parser: Callable, reason: str) -> None:
        years, bad = parser(values)
        self.flag(bad, reason, f"{values.name}=" + values.astype("string").fillna("<empty>"))
        self.frame["year"] = years

    def set_popularity(self, *candidates: str) -> str:
        """The first non-missing value among the candidate columns the raw table has (NaN if none).

        Returns a description of the source, e.g. ``"page_views, else population"`` or ``"none"``.
        """
        present = [c for c in candidates if c in self.raw.columns]
        popularity = pd.Series(np.nan, index=self.raw.index)
        for name in present:
            values, bad = parsing.numbers(self.raw[name])
            self.flag(bad, "unparseable_popularity", f"{name}=" + self.column(name).fillna(""))
            popularity = popularity.fillna(values)
        self.frame["popularity"] = popularity
        return ", else ".join(present) or "none"

    def set_split(self, column: str | None) -> None:
        """A given split (``is_test``-style column) when the raw table fills it; otherwise one is drawn later.

        An all-empty column counts as absent (a source without the paper's split); a partly empty one
        is bad input, rejected row by row.
        """
        if column is not None and column in self.raw.columns and not parsing.blank(self.raw[column]).all():
            is_test, bad = parsing.booleans(self.raw[column])
            self.flag(bad, "unparseable_split", f"{column}=" + self.column(column).fillna("<empty>"))
            self.frame["is_test"] = is_test

    def prepared(self, kind: Kind, groups: tuple[str, ...], target_note: str, popularity: str) -> Prepared:
        return Prepared(self.frame, kind, groups, target_note, popularity)


def _text_or_na(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip().replace("", pd.NA).astype(object)


def _world(raw: pd.DataFrame) -> Prepared:
    f = _Frame(raw, "world", ("name", "latitude", "longitude", "country", "entity_type"))
    f.set_text(raw["name"], text.world_name)
    f.set_place("latitude", "longitude")
    popularity = f.set_popularity("page_views")
    f.set_split("is_test")
    f.frame["country"] = _text_or_na(raw["country"])
    f.frame["entity_type"] = _text_or_na(raw["entity_type"])
    return f.prepared("place", ("country", "entity_type"), "", popularity)


def _us(raw: pd.DataFrame) -> Prepared:
    f = _Frame(raw, "us", ("name", "latitude", "longitude", "state_id", "entity_type"))
    names = f.column("name")
    # zip codes read as numbers lose their leading zeros ("1001" is zip "01001")
    is_zip = f.column("entity_type").eq("zip") & names.str.fullmatch(r"\d{1,5}").fillna(False)
    f.set_text(names.where(~is_zip, names.str.zfill(5)))
    f.set_place("latitude", "longitude")
    # landmarks have page views; cities, zips and counties their population; colleges neither
    popularity = f.set_popularity("page_views", "population")
    f.set_split("is_test")
    f.frame["state"] = _text_or_na(raw["state_id"])
    f.frame["entity_type"] = _text_or_na(raw["entity_type"])
    return f.prepared("place", ("state", "entity_type"), "", popularity)


def _nyc(raw: pd.DataFrame) -> Prepared:
    f = _Frame(raw, "nyc", ("name", "latitude", "longitude", "borough_name", "facility_t_name", "complexid"))
    names = f.column("name")
    f.set_text(names, text.nyc_name)
    f.set_place("latitude", "longitude")
    # the paper's filters of the raw POI data: navigation buoys, and names of 7 characters or fewer
    f.flag(names.str.contains("BUOY|BOUY", case=False, regex=True), "nyc_buoy")
    f.flag(names.str.len() <= 7, "short_name", names.fillna(""))
    popularity = f.set_popularity()  # NYC Open Data has no popularity measure
    f.set_split("is_test")
    f.frame["borough"] = _text_or_na(raw["borough_name"])
    f.frame["entity_type"] = _text_or_na(raw["facility_t_name"])
    complexes = f.column("complexid").str.replace(r"\.0$", "", regex=True)
    f.frame["complexid"] = complexes.astype(object)
    # points outside any complex (id 0 or none) are each their own group, as in the paper's split
    own = pd.Series("row-" + raw.index.astype(str), index=raw.index)
    f.frame["split_key"] = complexes.where(complexes.notna() & complexes.ne("0"), own).astype(object)
    return f.prepared("place", ("borough", "entity_type", "complexid"), "", popularity)


def _people(raw: pd.DataFrame) -> Prepared:
    f = _Frame(raw, "people", ("name",))
    f.set_text(raw["name"])
    # The paper's target is the death year; Pantheon only has birth years. A live table with any death
    # years uses them for every row (a person without one is rejected), never a per-row mixture.
    if "deathyear" in raw and not parsing.blank(raw["deathyear"]).all():
        year_column, note = "deathyear", "death year (as in the paper)"
    elif "birthyear" in raw:
        year_column, note = "birthyear", "birth year (Pantheon 1.0), not the paper's death year"
    else:
        raise BuildError(f"raw table of 'people' has neither deathyear nor birthyear; it has {list(raw.columns)}")
    f.set_year(raw[year_column], parsing.whole_years, "unparseable_year")
    popularity = f.set_popularity("TotalPageViews", "page_views")
    f.set_split("is_test")
    f.frame["century"] = np.floor(f.frame["year"] / 100).astype("Int64")
    kinds = next((c for c in ("domain", "occupation") if c in raw), None)
    f.frame["entity_type"] = f.column(kinds).str.lower().astype(object) if kinds else "person"
    return f.prepared("time", ("century", "entity_type"), note, popularity)


def _art(raw: pd.DataFrame) -> Prepared:
    f = _Frame(raw, "art", ("title", "creator", "release_date"))
    titles = f.column("title").map(text.art_title, na_action="ignore")
    creators = f.column("creator")
    # the paper drops titles of one character or less after sanitising
    f.flag(titles.isna() | (titles.str.len() <= 1), "empty_text", "title=" + f.column("title").fillna(""))
    f.flag(creators.isna() | creators.eq(""), "missing_creator")
    both = titles.notna() & creators.notna() & creators.ne("")
    combined = pd.Series(pd.NA, index=raw.index, dtype=object)
    combined[both] = [text.art_text(c, t) for c, t in zip(creators[both], titles[both])]
    f.set_text(combined)
    f.set_year(raw["release_date"], parsing.fractional_years, "unparseable_date")
    popularity = f.set_popularity("page_views")
    f.set_split("is_test")
    f.frame["decade"] = (np.floor(f.frame["year"] / 10) * 10).astype("Int64")
    f.frame["creator"] = _text_or_na(raw["creator"])
    f.frame["entity_type"] = _text_or_na(raw["entity_type"]) if "entity_type" in raw else "artwork"
    f.frame["split_key"] = f.frame["creator"]  # the paper holds out 20 % of creators
    return f.prepared("time", ("decade", "entity_type", "creator"), "release date", popularity)


def _headlines(raw: pd.DataFrame) -> Prepared:
    date_column = next((c for c in ("date", "pub_date") if c in raw), None)
    if date_column is None:
        raise BuildError(f"raw table of 'headlines' has no date or pub_date column; it has {list(raw.columns)}")
    f = _Frame(raw, "headlines", ("headline",))
    f.set_text(raw["headline"], text.headline_text)
    # the paper drops headlines that are questions: a sentence read at its period, not at a "?"
    f.flag(f.frame["text"].str.endswith("?", na=False), "question_headline")
    f.set_year(raw[date_column], parsing.fractional_years, "unparseable_date")
    popularity = f.set_popularity()
    f.set_split("is_test")
    f.frame["year_block"] = np.floor(f.frame["year"]).astype("Int64")
    f.frame["entity_type"] = "headline"
    return f.prepared("time", ("year_block",), "publication date", popularity)


def _own_file(raw: pd.DataFrame, dataset: str, config: DatasetConfig) -> Prepared:
    cols: ColumnMapping = config.columns
    targets = (cols.latitude, cols.longitude) if config.kind == "place" else (cols.date,)
    named = [cols.text, *targets, *cols.groups, cols.popularity, cols.entity_type, cols.split, cols.split_group]
    f = _Frame(raw, dataset, tuple(dict.fromkeys(c for c in named if c is not None)))
    f.set_text(raw[cols.text])
    if config.kind == "place":
        f.set_place(cols.latitude, cols.longitude)
    else:
        f.set_year(raw[cols.date], parsing.dates, "unparseable_date")
    popularity = f.set_popularity(cols.popularity) if cols.popularity else f.set_popularity()
    f.set_split(cols.split)
    reserved = {"text", "entity_type", "popularity", "split", "longitude", "latitude", "year", "id"}
    clash = reserved.intersection(cols.groups) - {cols.entity_type}
    if clash:
        raise BuildError(f"group columns {sorted(clash)} of {dataset!r} clash with entity-table columns; rename them")
    for group in cols.groups:
        f.frame[group] = _text_or_na(raw[group])
    f.frame["entity_type"] = _text_or_na(raw[cols.entity_type]) if cols.entity_type else dataset
    if cols.split_group:
        f.frame["split_key"] = _text_or_na(raw[cols.split_group])
    note = f"{cols.date} (fractional year)" if config.kind == "time" else ""
    return f.prepared(config.kind, tuple(cols.groups), note, popularity)


_RECIPES: dict[str, Callable[[pd.DataFrame], Prepared]] = {
    "world": _world, "us": _us, "nyc": _nyc, "people": _people, "art": _art, "headlines": _headlines,
}


def prepare(raw: pd.DataFrame, dataset: str, config: DatasetConfig) -> Prepared:
    """The prepared frame of a built-in dataset, or of a dataset of the user's own (``source: file``)."""
    if config.source == "file":
        return _own_file(raw, dataset, config)
    if dataset not in _RECIPES:
        raise BuildError(f"no recipe for dataset {dataset!r}: built-in datasets are {', '.join(_RECIPES)}")
    return _RECIPES[dataset](raw)
