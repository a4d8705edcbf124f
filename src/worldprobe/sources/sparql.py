"""SPARQL SELECT over HTTP (the SPARQL 1.1 protocol), paginated past an endpoint's row cap.

Requests go through :class:`~worldprobe.sources.http.HttpClient` rather than SPARQLWrapper so that
every endpoint shares one retry, rate-limit and User-Agent policy; the protocol itself is a GET
with ``query=`` and an ``Accept`` header, and the JSON results format is parsed here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import unquote

from ..config import LiveConfig
from .http import HttpClient, JsonlCache, SourceError

Row = dict[str, str | None]
ACCEPT = {"Accept": "application/sparql-results+json"}


class SparqlEndpoint:
    """One SPARQL endpoint; finished pages are cached under ``live.cache_dir`` so a rerun resumes."""

    def __init__(self, url: str, live: LiveConfig, cache_name: str = "sparql"):
        self.url = url
        self.live = live
        self.client = HttpClient(live)
        self.cache = JsonlCache(Path(live.cache_dir) / f"{cache_name}.jsonl")

    def select(self, query: str) -> list[Row]:
        """All rows of one SELECT, each ``{variable: lexical value or None when unbound}``."""
        key = hashlib.sha256(f"{self.url}\n{query}".encode()).hexdigest()
        if key in self.cache:
            return self.cache.get(key)
        response = self.client.get(self.url, params={"query": query}, headers=ACCEPT)
        # Virtuoso (DBpedia) answers a query that hit its time limit with HTTP 200 and a partial
        # result, flagged only by this header; a silently truncated page would lose rows
        if response.headers.get("X-SQL-State"):
            raise SourceError(
                f"{self.url} returned a partial result ({response.headers['X-SQL-State']}: "
                f"{response.headers.get('X-SQL-Message', 'time limit')}); lower live.page_size"
            )
        try:
            body = response.json()
            variables = body["head"]["vars"]
            bindings = body["results"]["bindings"]
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"{self.url} did not answer with SPARQL JSON results: {response.text[:200]!r}") from None
        rows = [{v: b[v]["value"] if v in b else None for v in variables} for b in bindings]
        self.cache.put(key, rows)
        return rows

    def select_all(self, prefixes: str, subquery: str) -> list[Row]:
        """Every row of ``subquery`` (a SELECT that must have an ORDER BY), fetched page by page.

        The ORDER BY sits in a sub-select and LIMIT/OFFSET outside it, the form Virtuoso needs to
        page beyond its sort limit. The offset advances by the rows actually received and paging
        stops only at an empty page, so an endpoint capping results below ``live.page_size`` (DBpedia
        caps at 10,000 rows) still yields everything.
        """
        if "ORDER BY" not in subquery.upper():
            raise ValueError("a paginated SPARQL query needs an ORDER BY for stable pages")
        rows: list[Row] = []
        while True:
            page = self.select(
                f"{prefixes}\nSELECT * WHERE {{\n{{ {subquery} }}\n}}\nLIMIT {self.live.page_size} OFFSET {len(rows)}"
            )
            if not page:
                return rows
            rows.extend(page)


def resource_name(uri: str | None) -> str | None:
    """``http://dbpedia.org/resource/It_(novel)`` -> ``It_(novel)``: the Wikipedia page title."""
    return None if uri is None else unquote(uri.rsplit("/", 1)[-1])
