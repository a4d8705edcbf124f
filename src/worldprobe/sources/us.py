"""The ``us`` dataset live: cities, zip codes and counties from simplemaps-style CSVs
(``live.us_places_url``) plus colleges from Wikidata.

simplemaps publishes its US files as downloads rather than an API, so the CSV location is the
user's to give: a URL or a local path per file (``uscities.csv``, ``uszips.csv``, ``uscounties.csv``).
Which of the three a file is follows from its columns.
"""

from __future__ import annotations

import io

import pandas as pd

from ..config import LiveConfig
from .http import HttpClient, SourceError
from .snapshot import LIVE_COLUMNS, raw_table, read_text_table
from .wikidata import colleges

# name column -> entity_type, checked in this order (uszips.csv also has a ``city`` column)
NAME_COLUMNS = (("zip", "zip"), ("county_full", "county"), ("city", "city"))
SHARED = ("state_id", "state_name", "county_fips", "population", "density", "timezone")


def _read_csv(location: str, live: LiveConfig) -> pd.DataFrame:
    if location.startswith(("http://", "https://")):
        text = HttpClient(live).get(location).text
        return read_text_table(io.StringIO(text))
    try:
        return read_text_table(location)
    except FileNotFoundError:
        raise SourceError(f"live.us_places_url: no such file {location}") from None


def places_from_csv(table: pd.DataFrame, location: str) -> list[dict[str, str | None]]:
    """Rows of one simplemaps-style CSV as ``us`` records (zip codes stay text: ``01001``)."""
    kind = next(((col, kind) for col, kind in NAME_COLUMNS if col in table.columns), None)
    missing = {"lat", "lng"} - set(table.columns)
    if kind is None or missing:
        raise SourceError(
            f"{location}: not a simplemaps-style US places CSV: needs lat, lng and one of "
            f"{', '.join(c for c, _ in NAME_COLUMNS)}; it has {', '.join(table.columns)}"
        )
    name, entity_type = kind
    shared = [c for c in SHARED if c in table.columns]
    return [
        {"name": r[name], "latitude": r["lat"], "longitude": r["lng"], "entity_type": entity_type,
         **{c: r[c] for c in shared}}
        for r in table.to_dict("records")
    ]


def us_places(live: LiveConfig) -> pd.DataFrame:
    if not live.us_places_url:
        raise SourceError(
            "us with source: live needs live.us_places_url: the URL or path of simplemaps-style CSVs of "
            "US cities, zip codes and counties (https://simplemaps.com/data/us-cities, -zips, -counties)"
        )
    locations = [live.us_places_url] if isinstance(live.us_places_url, str) else live.us_places_url
    records = [r for loc in locations for r in places_from_csv(_read_csv(loc, live), loc)]
    records += colleges(live)
    return raw_table(records, LIVE_COLUMNS["us"])
