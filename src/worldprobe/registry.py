"""The six built-in datasets of the space-and-time study, in one place: what each one is, the paper's
name for it, its main prompt, its offline snapshot file and the outline its map is drawn over.

Config validation, prompts, the snapshot reader, the report and the plots read this table; the
per-dataset code (``sources.LIVE`` fetchers, ``datasets.recipes`` parsers) is keyed by the same names
(``tests/unit/test_registry.py`` checks that every table covers exactly these datasets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    kind: Literal["place", "time"]
    title: str  # as the paper names it ("people" is its "Historical figures")
    main_prompt: str  # the paper's prefix before the entity (BOS prepended)
    snapshot_file: str  # in data.snapshot_dir
    snapshot_sep: str = ","
    outline: str = "world"  # places: the outline (in snapshot shapes/) its map is drawn over
    sentence: bool = False  # the entity is a sentence: the main prompt ends it with a period


DATASETS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in (
        BuiltinDataset("world", "place", "World places", "What are the lat/lon coordinates of ", "world_place.csv.gz"),
        BuiltinDataset("us", "place", "USA places", "What are the lat/lon coordinates of ", "us_place.csv.gz",
                       outline="us"),
        BuiltinDataset("nyc", "place", "NYC places", "Where in New York City is ", "nyc_place.csv.gz", outline="nyc"),
        BuiltinDataset("people", "time", "Historical figures", "When did ", "pantheon_1.0.tsv.gz", snapshot_sep="\t"),
        BuiltinDataset("art", "time", "Art and entertainment", "When was the release date of ", "art.csv.gz"),
        BuiltinDataset("headlines", "time", "NYT headlines", "Publication date of: ", "nyt_headlines_rwig.csv.gz",
                       sentence=True),
    )
}
