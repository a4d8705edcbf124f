"""Where raw entity rows come from: the offline snapshot, a user's own file, or the live services.

:func:`fetch_raw` returns a dataset's raw table with the columns of its snapshot file
(:data:`~worldprobe.sources.snapshot.RAW_COLUMNS`); a live source writes the same columns as far as
it can fill them, without the paper's ``is_test`` split and, for people, with ``deathyear``
(:data:`~worldprobe.sources.snapshot.LIVE_COLUMNS`). Values are kept as the source gave them, as
text; the ``build`` stage parses, validates and rejects. A user's own file keeps its own columns.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..config import ConfigError, LiveConfig, Params
from . import dbpedia, nyc, nyt, us, wikidata
from .files import read_user_file
from .http import SourceError
from .snapshot import read_snapshot

LIVE: dict[str, Callable[[LiveConfig], pd.DataFrame]] = {
    "world": dbpedia.world_places,
    "us": us.us_places,
    "nyc": nyc.points_of_interest,
    "people": wikidata.people,
    "art": dbpedia.art,
    "headlines": nyt.headlines,
}

__all__ = ["LIVE", "SourceError", "fetch_raw"]


def fetch_raw(name: str, params: Params) -> pd.DataFrame:
    """The raw table of dataset ``name`` from the source its config names."""
    if name not in params.data.datasets:
        raise ConfigError(f"no dataset {name!r} in params.yaml data.datasets: configured are {', '.join(params.data.datasets)}")
    dataset = params.data.datasets[name]
    if dataset.source == "snapshot":
        return read_snapshot(name, params.data.snapshot_dir)
    if dataset.source == "file":
        return read_user_file(name, dataset)
    return LIVE[name](params.live)
