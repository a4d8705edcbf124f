"""NYC Open Data "Points of Interest" (Socrata, dataset rxuy-2muj): the ``nyc`` dataset.

Socrata pages with ``$limit``/``$offset``; ``$order=:id`` makes the pages stable, as its docs ask.
The point comes as GeoJSON (``the_geom``); borough and facility-type codes get the names the
snapshot carries, from the dataset's data dictionary.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..config import LiveConfig
from .http import HttpClient, JsonlCache, SourceError
from .snapshot import LIVE_COLUMNS, raw_table

BOROUGHS = {"1": "Manhattan", "2": "Bronx", "3": "Brooklyn", "4": "Queens", "5": "Staten Island",
            "8": "New Jersey"}
FACILITY_TYPES = {
    "1": "Residential", "2": "Education Facility", "3": "Cultural Facility", "4": "Recreational Facility",
    "5": "Social Services", "6": "Transportation Facility", "7": "Commercial",
    "8": "Government Facility (non public safety)", "9": "Religious Institution", "10": "Health Services",
    "11": "Public Safety", "12": "Water", "13": "Miscellaneous",
}


def _record(row: dict) -> dict[str, str | None]:
    if "b7sc" in row:  # the data dictionary's B7SC (street code) is the snapshot's b7_sc
        row = {**row, "b7_sc": row["b7sc"]}
    record = {c: row[c] for c in LIVE_COLUMNS["nyc"] if c in row}
    geometry = row.get("the_geom") or {}
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if isinstance(coordinates, list) and len(coordinates) == 2:  # GeoJSON: longitude first
        record["longitude"], record["latitude"] = coordinates
    record["borough_name"] = BOROUGHS.get(str(row.get("borough")))
    record["facility_t_name"] = FACILITY_TYPES.get(str(row.get("facility_t")))
    return record


def points_of_interest(live: LiveConfig) -> pd.DataFrame:
    client = HttpClient(live)
    cache = JsonlCache(Path(live.cache_dir) / "socrata.jsonl")
    rows: list[dict] = []
    while True:  # offset advances by rows received, so a server-side cap below page_size is harmless
        key = f"{live.nyc_poi_url} offset={len(rows)} limit={live.page_size}"
        if key not in cache:
            page = client.get_json(
                live.nyc_poi_url, params={"$limit": live.page_size, "$offset": len(rows), "$order": ":id"}
            )
            if not isinstance(page, list):
                raise SourceError(f"{live.nyc_poi_url} did not answer with a JSON list of rows: {str(page)[:200]!r}")
            cache.put(key, page)
        page = cache.get(key)
        if not page:
            break
        rows.extend(page)
    if not rows:
        raise SourceError(f"{live.nyc_poi_url} returned no points of interest")
    return raw_table([_record(r) for r in rows], LIVE_COLUMNS["nyc"])
