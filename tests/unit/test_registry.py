"""Every table keyed by dataset covers exactly the registry's built-in datasets."""

import pytest

from worldprobe.datasets.recipes import _RECIPES
from worldprobe.lm.prompts import MAIN_PREFIXES
from worldprobe.registry import DATASETS
from worldprobe.sources import LIVE
from worldprobe.sources.snapshot import RAW_COLUMNS, SNAPSHOT_FILES
from worldprobe.spacetime.report import PAPER_DATA, PAPER_HOLDOUT_70B, PAPER_MLP_R2_70B, PAPER_R2, PAPER_SWAPPED_LAT_LON


@pytest.mark.parametrize("table", [_RECIPES, LIVE, RAW_COLUMNS, SNAPSHOT_FILES, MAIN_PREFIXES, PAPER_MLP_R2_70B,
                                   PAPER_HOLDOUT_70B, *PAPER_R2.values()])
def test_per_dataset_tables_cover_the_registry(table):
    assert list(table) == list(DATASETS)


def test_deviations_name_only_registered_datasets():
    assert set(PAPER_DATA) | set(PAPER_SWAPPED_LAT_LON) <= set(DATASETS)


def test_time_and_place_kinds_match_the_records():
    from worldprobe.records import EntityTableInfo

    for d in DATASETS.values():
        assert EntityTableInfo(d.name, d.kind).targets == (("longitude", "latitude") if d.kind == "place" else ("year",))
