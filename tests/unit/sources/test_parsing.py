"""Small pure functions of the live sources: value formats and config checks."""

import pandas as pd
import pytest

from worldprobe.config import LiveConfig
from worldprobe.sources.nyt import months
from worldprobe.sources.snapshot import raw_table
from worldprobe.sources.sparql import resource_name
from worldprobe.sources.wikidata import point, year_of


@pytest.mark.parametrize("value, year", [
    ("1809-02-12T00:00:00Z", "1809"), ("-0384-01-01T00:00:00Z", "-384"), ("0033-01-01T00:00:00Z", "33"),
    ("+2001-01-01T00:00:00Z", "2001"), ("http://www.wikidata.org/.well-known/genid/abc", "http://www.wikidata.org/.well-known/genid/abc"),
    (None, None),
])
def test_year_of_wikidata_dates(value, year):
    assert year_of(value) == year


def test_point_is_longitude_first():
    assert point("Point(-71.1167 42.3744)") == ("42.3744", "-71.1167")
    assert point("not a point") == (None, None) and point(None) == (None, None)


def test_resource_name_decodes():
    assert resource_name("http://dbpedia.org/resource/Reykjav%C3%ADk") == "Reykjavík"
    assert resource_name("http://dbpedia.org/resource/It_(novel)") == "It_(novel)"
    assert resource_name(None) is None


def test_months_cross_a_year():
    assert months("2010-11", "2011-02") == ["2010-11", "2010-12", "2011-01", "2011-02"]


def test_raw_table_is_text_with_missing_cells():
    table = raw_table([{"a": 1, "b": float("nan")}, {"a": 2.5}], ["a", "b"])
    assert table["a"].tolist() == ["1", "2.5"]
    assert table["b"].isna().all()
    assert all(pd.api.types.is_string_dtype(table[c]) for c in table.columns)


def test_raw_table_refuses_unknown_fields():
    with pytest.raises(ValueError, match="zzz"):
        raw_table([{"a": 1, "zzz": 2}], ["a"])


@pytest.mark.parametrize("bad, message", [
    ({"nyt_months": ("2010-13", "2011-01")}, "YYYY-MM"),
    ({"nyt_months": ("2012-01", "2011-01")}, "after the last"),
    ({"pageviews_start": "20230101"}, "pageviews_start"),
    ({"pageviews_end": "2022"}, "pageviews_end"),
])
def test_live_config_rejects_bad_ranges(bad, message):
    with pytest.raises(ValueError, match=message):
        LiveConfig(**bad)
