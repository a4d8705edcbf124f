"""The build stage's library on small raw-looking tables (text cells, duplicates, low-view rows)."""

import json

import numpy as np
import pandas as pd
import pytest

from worldprobe.config import ColumnMapping, ConfigError, DatasetConfig, parse_params
from worldprobe.datasets import BuildError, build_entities, write_build
from worldprobe.records import DataReport, read_entities
from worldprobe.sources.files import read_user_file


def raw_table(columns: str, rows: list[tuple]) -> pd.DataFrame:
    """A raw table as the sources give it: every cell text, empty cells missing."""
    return pd.DataFrame([[None if v is None else str(v) for v in row] for row in rows], columns=columns.split())


def cfg(**kw) -> DatasetConfig:
    kw.setdefault("max_entities", None)
    return DatasetConfig(**kw)


def assert_accounted(result, n_raw: int) -> None:
    """Every raw row is either in the table or in the removed rows, and the report says so."""
    r = result.report
    assert r.rows_in == n_raw
    removed = r.rejected_total + r.duplicates_removed + r.filtered_total + r.subsampled
    assert removed + r.rows_out.total == n_raw
    assert len(result.removed) == removed and len(result.table) == r.rows_out.total
    assert result.removed["raw_row"].is_unique
    by_reason = result.removed["reason"].value_counts()
    for reason, count in {**r.rejected, **r.filtered}.items():
        assert by_reason.get(reason, 0) == count
    assert by_reason.get("duplicate", 0) == r.duplicates_removed


def world_rows(n_good: int = 30) -> list[tuple]:
    """Valid world places on a grid, alternating train/test, plus named edge cases after them."""
    rows = [(f"Town {i}", "Nowhere", 10 + i, 20 + i, 10_000 + i, "populated_place", i % 5 == 0) for i in range(n_good)]
    return rows


WORLD = "name country latitude longitude page_views entity_type is_test"


def test_each_bad_input_is_rejected_with_its_reason():
    bad = [
        ("No Latitude", "X", None, "20", 9000, "structure", False),
        ("Garbled", "X", "12°N", "20", 9000, "structure", False),
        ("Too North", "X", "95", "20", 9000, "structure", False),
        ("Too West", "X", "10", "-181", 9000, "structure", False),
        ("   ", "X", "10", "20", 9000, "structure", False),
        ("Odd Views", "X", "11", "21", "lots", "structure", False),
        ("Odd Split", "X", "12", "22", 9000, "structure", "maybe"),
    ]
    raw = raw_table(WORLD, world_rows() + bad)
    result = build_entities(raw, "world", cfg(), seed=0)
    reasons = result.removed.set_index("name")["reason"].to_dict()
    assert reasons == {
        "No Latitude": "missing_coordinates",
        "Garbled": "unparseable_coordinates",
        "Too North": "coordinates_out_of_range",
        "Too West": "coordinates_out_of_range",
        "   ": "empty_text",
        "Odd Views": "unparseable_popularity",
        "Odd Split": "unparseable_split",
    }
    assert result.removed.loc[result.removed["name"] == "Garbled", "latitude"].item() == "12°N"  # raw value kept
    assert result.report.rejected["coordinates_out_of_range"] == 2
    assert len(result.table) == 30
    assert_accounted(result, len(raw))


def test_duplicates_keep_the_most_popular_and_point_to_it():
    rows = world_rows() + [
        ("Paris", "France", "48.8566", "2.3522", "900000", "populated_place", False),
        ("paris ", "France", "48.86", "2.35", "500", "populated_place", False),  # same place, fewer views
        ("Pâris", "France", "48.857", "2.352", "700", "populated_place", True),  # accent variant
        ("Paris", "United_States", "33.6609", "-95.5555", "60000", "populated_place", False),  # Paris, Texas
        ("Canyon Lake (California)", "United_States", "33.6876", "-117.269", "8000", "structure", False),
        ("Canyon Lake, California", "United_States", "33.6842", "-117.256", "9000", "populated_place", False),
    ]
    raw = raw_table(WORLD, rows)
    result = build_entities(raw, "world", cfg(), seed=0)
    dups = result.removed[result.removed["reason"] == "duplicate"]
    assert sorted(dups["name"]) == ["Canyon Lake (California)", "Pâris", "paris "]
    assert set(dups["detail"]) == {"duplicate of raw row 30", "duplicate of raw row 35"}
    paris = result.table[result.table["text"] == "Paris"]
    assert sorted(paris["popularity"]) == [60000, 900000]  # both Parises, the popular French row
    assert (result.table["text"] == "California's Canyon Lake").sum() == 1
    assert result.report.duplicates_removed == 3
    assert_accounted(result, len(raw))


def test_popularity_filter_is_strict_and_counts_missing_separately():
    rows = world_rows() + [
        ("Quiet", "X", "1", "1", "4000", "structure", False),
        ("Borderline", "X", "2", "2", "5000", "structure", False),
        ("Unviewed", "X", "3", "3", None, "structure", False),
        ("Popular", "X", "4", "4", "5001", "structure", False),
    ]
    raw = raw_table(WORLD, rows)
    result = build_entities(raw, "world", cfg(min_popularity=5000), seed=0)
    reasons = result.removed.set_index("name")["reason"].to_dict()
    assert reasons == {"Quiet": "popularity_below_min", "Borderline": "popularity_below_min",
                       "Unviewed": "popularity_missing"}
    assert "Popular" in set(result.table["text"])
    assert_accounted(result, len(raw))

    everything = build_entities(raw, "world", cfg(min_popularity=0), seed=0)
    assert len(everything.table) == len(raw)  # 0 turns the filter off: NaN popularity is kept
    assert everything.report.popularity.missing_in_output == 1


def test_given_is_test_column_is_the_split():
    raw = raw_table(WORLD, world_rows(40))
    result = build_entities(raw, "world", cfg(), seed=0)
    expected = np.where(raw["is_test"] == "True", "test", "train")
    assert result.table["split"].tolist() == expected.tolist()
    assert result.report.split_rule == "given is_test column"


def test_an_empty_is_test_column_means_a_split_is_drawn():
    raw = raw_table(WORLD, world_rows(40)).assign(is_test=None)
    result = build_entities(raw, "world", cfg(), seed=0)
    assert result.report.split_rule == "seeded random, 20% of rows"
    assert result.report.rows_out.model_dump() == {"train": 32, "test": 8, "total": 40}


def art_raw(n_creators: int = 40, works: int = 4) -> pd.DataFrame:
    rows = [
        (f"Song {c}-{w}", f"Band {c}", f"{1960 + c}-0{1 + w}-15", 10_000 + c * 10 + w, "song")
        for c in range(n_creators)
        for w in range(works)
    ]
    return raw_table("title creator release_date page_views entity_type", rows)


def test_art_without_is_test_holds_out_whole_creators():
    result = build_entities(art_raw(), "art", cfg(test_fraction=0.25), seed=3)
    table = result.table
    sides = table.groupby("creator")["split"].nunique()
    assert (sides == 1).all()
    test_creators = table.loc[table["split"] == "test", "creator"].nunique()
    assert test_creators == 10  # 25 % of 40 creators
    assert table["decade"].tolist() == [(1960 + c) // 10 * 10 for c in range(40) for _ in range(4)]
    assert table.loc[0, "text"] == "Band 0's Song 0-0"


def test_nyc_without_is_test_keeps_each_complex_on_one_side():
    rows = []
    for i in range(120):
        complex_id = 0 if i % 3 == 0 else 1000 + i // 6  # a third of the points are in no complex
        rows.append((f"PLAYGROUND NUMBER {i}", complex_id, "Brooklyn", "Recreational Facility", 40.6 + i / 1000,
                     -73.9 - i / 1000))
    raw = raw_table("name complexid borough_name facility_t_name latitude longitude", rows)
    result = build_entities(raw, "nyc", cfg(), seed=0)
    table = result.table
    in_complex = table[table["complexid"] != "0"]
    assert (in_complex.groupby("complexid")["split"].nunique() == 1).all()
    assert set(table.loc[table["complexid"] == "0", "split"]) == {"train", "test"}  # singletons spread
    assert table.loc[0, "text"] == "Playground Number 0"
    assert table["popularity"].isna().all()
    assert result.info.groups[0] == "borough"


def test_nyc_paper_filters_buoys_and_short_names():
    rows = [(f"BASKETBALL COURT {i}", 0, "Queens", "Recreational Facility", 40.7, -73.8 - i / 100) for i in range(10)]
    rows += [("GREEN BUOY 5", 0, "Queens", "Water", 40.6, -73.9), ("PIER 8", 0, "Queens", "Water", 40.65, -73.95)]
    raw = raw_table("name complexid borough_name facility_t_name latitude longitude", rows)
    result = build_entities(raw, "nyc", cfg(), seed=0)
    assert result.removed.set_index("name")["reason"].to_dict() == {"GREEN BUOY 5": "nyc_buoy", "PIER 8": "short_name"}
    assert_accounted(result, len(raw))


def test_random_split_and_subsample_are_seeded_and_stratified():
    rows = [(f"Person {i}", str(1000 + 3 * i), 5000 + i) for i in range(400)]
    raw = raw_table("name birthyear TotalPageViews", rows)
    config = cfg(max_entities=100, test_fraction=0.2)
    first = build_entities(raw, "people", config, seed=7)
    again = build_entities(raw, "people", config, seed=7)
    other = build_entities(raw, "people", config, seed=8)
    pd.testing.assert_frame_equal(first.table, again.table)
    assert first.report == again.report
    assert set(first.table["id"]) != set(other.table["id"])
    assert first.report.rows_out.model_dump() == {"train": 80, "test": 20, "total": 100}
    assert first.report.subsampled == 300
    assert_accounted(first, len(raw))


def test_ids_are_stable_when_other_rows_change():
    raw = raw_table(WORLD, world_rows(30))
    full = build_entities(raw, "world", cfg(), seed=0).table.set_index("text")["id"]
    part = build_entities(raw.iloc[10:], "world", cfg(), seed=0).table.set_index("text")["id"]
    assert full.loc[part.index].tolist() == part.tolist()
    assert full.is_unique and full.str.startswith("world-").all()


def test_people_years_bad_input_and_centuries():
    rows = [(f"Person {i}", str(1500 + i), 9000) for i in range(20)]
    rows += [("Aristotle", "-384", 9000), ("Anonymous", "530s", 9000), ("Doubtful", "1237?", 9000),
             ("Nobody", "Unknown", 9000), ("Blank", None, 9000), ("Mythic", "-3500", 9000)]
    raw = raw_table("name birthyear TotalPageViews", rows)
    result = build_entities(raw, "people", cfg(year_range=(-999, None)), seed=0)
    reasons = result.removed.set_index("name")["reason"].to_dict()
    assert reasons == {"Anonymous": "unparseable_year", "Doubtful": "unparseable_year", "Nobody": "unparseable_year",
                       "Blank": "unparseable_year", "Mythic": "outside_year_range"}
    aristotle = result.table.set_index("text").loc["Aristotle"]
    assert aristotle["year"] == -384 and aristotle["century"] == -4
    assert "birth year" in result.info.target_note
    assert_accounted(result, len(raw))


def test_people_death_year_is_the_target_when_the_source_has_it():
    rows = [(f"Person {i}", str(1500 + i), str(1560 + i), 9000) for i in range(10)] + [("Alive", "1990", None, 9000)]
    raw = raw_table("name birthyear deathyear TotalPageViews", rows)
    result = build_entities(raw, "people", cfg(), seed=0)
    assert result.table["year"].tolist() == [1560.0 + i for i in range(10)]
    assert result.removed.set_index("name")["detail"].to_dict() == {"Alive": "deathyear=<empty>"}
    assert result.info.target_note.startswith("death year")


def test_headlines_dates_period_and_year_range():
    rows = [(f"Markets Rally on Day {i}.", f"2015-03-{i + 1:02d}") for i in range(20)]
    rows += [("Too Early", "2009-12-31"), ("Last Day Counts", "2020-12-31"), ("Too Late", "2021-01-01"),
             ("Bad Date", "2016-13-01"), ("Markets Rally on Day 0", "2015-03-25"),  # same headline, same year
             ("Is the Rally Over?", "2015-04-01")]
    raw = raw_table("headline date", rows)
    result = build_entities(raw, "headlines", cfg(year_range=(2010, 2020)), seed=0)
    reasons = result.removed.set_index("headline")["reason"].to_dict()
    assert reasons == {"Too Early": "outside_year_range", "Too Late": "outside_year_range",
                       "Bad Date": "unparseable_date", "Markets Rally on Day 0": "duplicate",
                       "Is the Rally Over?": "question_headline"}
    table = result.table.set_index("text")
    assert table.loc["Markets Rally on Day 0", "year"] == pytest.approx(2015 + 59 / 365)
    assert table.loc["Last Day Counts", "year_block"] == 2020
    assert result.report.filtered["outside_year_range"] == 2
    assert result.report.filtered["question_headline"] == 1
    assert_accounted(result, len(raw))


def test_art_missing_creator_and_empty_title():
    raw = art_raw(10, 2)
    raw.loc[len(raw)] = ["Lonely", None, "1999-01-01", "9000", "song"]
    raw.loc[len(raw)] = ['"."', "Band X", "1999-01-01", "9000", "song"]
    result = build_entities(raw, "art", cfg(), seed=0)
    assert result.removed.set_index("title")["reason"].to_dict() == {"Lonely": "missing_creator", '"."': "empty_text"}


def test_us_zip_codes_keep_leading_zeros_and_popularity_falls_back_to_population():
    rows = [(f"{1001 + i}", "MA", 42 + i / 100, -72, "zip", None, 5000 + i) for i in range(10)]
    rows += [("Chesapeake Bay", "MD", 38.5, -76.2, "natural_place", "70000", None)]
    rows += [("Air University", "AL", 32.4, -86.3, "college", None, None)]
    raw = raw_table("name state_id latitude longitude entity_type page_views population", rows)
    table = build_entities(raw, "us", cfg(), seed=0).table.set_index("text")
    assert "01001" in table.index
    assert table.loc["01001", "popularity"] == 5000 and table.loc["Chesapeake Bay", "popularity"] == 70000
    assert np.isnan(table.loc["Air University", "popularity"])
    assert table.loc["01001", "state"] == "MA"


def test_a_users_own_csv_goes_through_the_build(tmp_path):
    csv = tmp_path / "castles.csv"
    lines = ["castle,lat,lon,region,visitors,kind"]
    lines += [f"Castle {i},{50 + i / 10},{5 + i / 10},Region {i % 6},{100 + i},keep" for i in range(30)]
    lines += ["Castle 0,50.0,5.0,Region 0,60,keep", "Castle Nowhere,,5.0,Region 1,1,keep",
              "Castle Low,51,6,Region 2,10,keep"]
    csv.write_text("\n".join(lines) + "\n")
    config = cfg(
        source="file", path=str(csv), kind="place", min_popularity=50,
        columns=ColumnMapping(text="castle", latitude="lat", longitude="lon", groups=["region"],
                              popularity="visitors", entity_type="kind", split_group="region"),
    )
    raw = read_user_file("castles", config)  # what the pull stage copies into data/raw
    result = build_entities(raw, "castles", config, seed=0)
    assert result.info.groups == ("region",) and result.info.kind == "place"
    assert result.removed.set_index("castle")["reason"].to_dict() == {
        "Castle 0": "duplicate", "Castle Nowhere": "missing_coordinates", "Castle Low": "popularity_below_min"}
    assert (result.table.groupby("region")["split"].nunique() == 1).all()
    assert set(result.table["entity_type"]) == {"keep"}
    assert_accounted(result, len(raw))


def test_a_users_time_dataset_and_a_missing_column(tmp_path):
    raw = raw_table("event when", [(f"Event {i}", f"19{10 + i}-06-01") for i in range(20)])
    config = cfg(source="file", path="events.csv", kind="time", columns=ColumnMapping(text="event", date="when"))
    result = build_entities(raw, "events", config, seed=0)
    assert result.table["year"].min() == pytest.approx(1910 + 151 / 365)
    assert result.report.split_rule.startswith("seeded random")
    with pytest.raises(BuildError, match=r"lacks columns \['when'\]; it has \['event', 'date'\]"):
        build_entities(raw.rename(columns={"when": "date"}), "events", config, seed=0)


def test_a_users_written_dates_are_read_and_the_rest_rejected_with_the_reason():
    rows = [(f"Event {i}", f"March {i + 1}, 19{10 + i}") for i in range(20)]
    rows += [("Event ambiguous", "03/04/2004"), ("Event yearless", "March 3")]
    raw = raw_table("event when", rows)
    config = cfg(source="file", path="events.csv", kind="time", columns=ColumnMapping(text="event", date="when"))
    result = build_entities(raw, "events", config, seed=0)
    assert result.table["year"].min() == pytest.approx(1910 + 59 / 365)  # 1 March 1910: day 60
    assert result.removed.set_index("event")["reason"].to_dict() == {
        "Event ambiguous": "unparseable_date", "Event yearless": "unparseable_date"}
    assert_accounted(result, len(raw))


def test_config_mistakes_fail_clearly():
    with pytest.raises(ValueError, match="kind: place needs columns.latitude and columns.longitude"):
        DatasetConfig(source="file", path="x.csv", kind="place", columns=ColumnMapping(text="name"))
    with pytest.raises(ValueError, match="start is after end"):
        DatasetConfig(year_range=(2020, 2010))
    with pytest.raises(BuildError, match="year_range applies to time datasets only"):
        build_entities(raw_table(WORLD, world_rows()), "world", cfg(year_range=(2010, 2020)), seed=0)
    with pytest.raises(BuildError, match="no train rows left"):
        build_entities(raw_table(WORLD, [("X", "X", "99", "0", "1", "structure", "True")] * 2), "world", cfg(), 0)


def test_repository_params_configure_the_build():
    import yaml

    from tests.conftest import REPO

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    params = parse_params(raw)
    assert params.data.datasets["headlines"].year_range == (2010, 2020)
    raw["data"]["datasets"]["art"]["dedup_decimals"] = 9
    with pytest.raises(ConfigError, match="dedup_decimals"):
        parse_params(raw)


def test_write_build_writes_table_removed_rows_and_metrics(tmp_path):
    raw = raw_table(WORLD, world_rows() + [("Nowhere", "X", None, None, "1", "structure", False)])
    result = build_entities(raw, "world", cfg(), seed=0)
    paths = write_build(result, tmp_path)
    table, info = read_entities(paths["entities"])
    assert info == result.info and len(table) == 30
    removed = pd.read_csv(paths["rejected"])
    assert removed[["raw_row", "name", "reason"]].values.tolist() == [[30, "Nowhere", "missing_coordinates"]]
    assert json.loads(paths["metrics"].read_text()) == result.report.model_dump()
    assert DataReport.load(paths["metrics"]) == result.report
