"""Wikipedia page views per article (Wikimedia REST API), the popularity filter of world and art.

One request per article (the API has no batch form), made by ``live.workers`` threads under the
``live.requests_per_second`` limit and cached per article, so an interrupted run of hours resumes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from ..config import LiveConfig
from .http import HttpClient, JsonlCache, SourceError, fetch_all


def total_views(titles: Iterable[str], live: LiveConfig) -> dict[str, int | None]:
    """Views of each page title summed over ``[live.pageviews_start, live.pageviews_end]``.

    ``None`` for a title the API has no data for (HTTP 404: no such page, or no views recorded).
    """
    client = HttpClient(live)
    window = f"{live.pageviews_project}_{live.pageviews_agent}_{live.pageviews_start}_{live.pageviews_end}"
    cache = JsonlCache(Path(live.cache_dir) / f"pageviews_{window}.jsonl")

    def fetch(title: str) -> int | None:
        url = "/".join((
            live.pageviews_url.rstrip("/"), live.pageviews_project, "all-access", live.pageviews_agent,
            quote(title.replace(" ", "_"), safe=""), "monthly", live.pageviews_start, live.pageviews_end,
        ))
        response = client.get(url, ok_statuses=(404,))
        if response.status_code == 404:
            return None
        try:
            return sum(int(item["views"]) for item in response.json()["items"])
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"{url}: unexpected page-view response {response.text[:200]!r}") from None

    return fetch_all(titles, fetch, cache, workers=live.workers, what="page views")
