"""New York Times headlines from the Archive API (``/{year}/{month}.json``): the ``headlines`` dataset.

The API key comes from the environment (``NYT_API_KEY``) and is sent as the ``api-key`` query
parameter the API requires; it is never cached, logged or part of a message (see ``http.redact``).
Months are cached as they finish, so the 5-requests-a-minute limit costs a rerun nothing twice.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..config import LiveConfig
from .http import HttpClient, JsonlCache, SourceError, fetch_all
from .snapshot import LIVE_COLUMNS, raw_table

KEY_VARIABLE = "NYT_API_KEY"


def months(first: str, last: str) -> list[str]:
    """``"2010-11", "2011-02"`` -> ``["2010-11", "2010-12", "2011-01", "2011-02"]``."""
    return [p.strftime("%Y-%m") for p in pd.period_range(first, last, freq="M")]


def headlines(live: LiveConfig) -> pd.DataFrame:
    """Every article's main headline and publication day (``YYYY-MM-DD``) in ``live.nyt_months``."""
    key = os.environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise SourceError(
            f"headlines with source: live need a New York Times API key in the environment variable "
            f"{KEY_VARIABLE} (free at https://developer.nytimes.com; never put it in params.yaml)"
        )
    client = HttpClient(live, requests_per_second=1 / live.nyt_seconds_per_request if live.nyt_seconds_per_request else None)
    cache = JsonlCache(Path(live.cache_dir) / "nyt_archive.jsonl")

    def fetch(month: str) -> list[list[str | None]]:
        year, number = month.split("-")
        url = f"{live.nyt_archive_url.rstrip('/')}/{year}/{int(number)}.json"
        body = client.get_json(url, params={"api-key": key})
        try:
            docs = body["response"]["docs"]
        except (KeyError, TypeError):
            raise SourceError(f"{url}: no response.docs in the answer for {month}") from None
        return [[(d.get("headline") or {}).get("main"), (d.get("pub_date") or "")[:10] or None] for d in docs]

    by_month = fetch_all(months(*live.nyt_months), fetch, cache, what="NYT archive months")
    records = [{"headline": h, "date": d} for rows in by_month.values() for h, d in rows]
    if not records:
        raise SourceError(f"{live.nyt_archive_url} returned no articles for {live.nyt_months[0]}..{live.nyt_months[1]}")
    return raw_table(records, LIVE_COLUMNS["headlines"])
