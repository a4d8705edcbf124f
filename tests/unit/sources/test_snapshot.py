import pandas as pd
import pytest

from worldprobe.sources.snapshot import RAW_COLUMNS, SnapshotError, read_snapshot

# row counts from the snapshot's README
README_ROWS = {"world": 39585, "us": 29997, "nyc": 19838, "people": 11341, "art": 31321, "headlines": 18507}


@pytest.mark.parametrize("dataset", sorted(README_ROWS))
def test_snapshot_row_counts_match_readme(snapshot_dir, dataset):
    df = read_snapshot(dataset, snapshot_dir)
    assert len(df) == README_ROWS[dataset]
    assert all(pd.api.types.is_string_dtype(df[c]) for c in df.columns)


@pytest.mark.parametrize("dataset", sorted(README_ROWS))
def test_raw_columns_are_the_snapshot_headers(snapshot_dir, dataset):
    # the live sources write these columns, so they must stay the snapshot's
    assert RAW_COLUMNS[dataset] == list(read_snapshot(dataset, snapshot_dir).columns)


def test_people_keeps_malformed_birthyears_and_namibia(snapshot_dir):
    df = read_snapshot("people", snapshot_dir)
    assert {"530s", "1237?", "Unknown"} <= set(df["birthyear"].dropna())
    # pandas' default NA list would read Namibia's ISO code as missing
    assert (df.loc[df["countryName"].str.upper() == "NAMIBIA", "countryCode"] == "NA").all()


def test_headlines_columns(snapshot_dir):
    assert list(read_snapshot("headlines", snapshot_dir).columns) == ["headline", "date"]


def test_missing_snapshot_file_names_path_and_hint(tmp_path):
    with pytest.raises(SnapshotError) as err:
        read_snapshot("world", tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "world_place.csv.gz") in msg and "data.snapshot_dir" in msg


def test_unknown_dataset_lists_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="world, us, nyc, people, art, headlines"):
        read_snapshot("moon", tmp_path)
