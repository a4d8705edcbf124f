import math

import pandas as pd
import pytest

from worldprobe.datasets import parsing


def test_whole_years_reject_pantheon_malformed_years():
    values = pd.Series(["1809", "-384", "530s", "1237?", "Unknown", None, " 1905 ", "1809.0", "1809.5"])
    years, bad = parsing.whole_years(values)
    assert bad.tolist() == [False, False, True, True, True, True, False, False, True]
    assert years[[0, 1, 6, 7]].tolist() == [1809.0, -384.0, 1905.0, 1809.0]
    assert years[bad].isna().all()


def test_fractional_years_from_dates():
    good = ["2016-07-01", "2015-01-01", "1986-09", "-44", "2020-12-31T23:59:00Z", 1999]
    values = pd.Series(good + ["2016-13-01", "soon", None])
    years, bad = parsing.fractional_years(values)
    assert years[0] == pytest.approx(2016 + 182 / 366)  # leap year: 1 July is day 183
    assert years[1] == 2015.0
    assert years[2] == pytest.approx(1986 + 243 / 365)
    assert years[3] == -44.0
    assert 2020.99 < years[4] < 2021
    assert years[5] == 1999.0
    assert bad.tolist() == [False] * 6 + [True] * 3
    assert all(math.isnan(v) for v in years[6:])


def test_numbers_tell_blank_from_unparseable():
    values, bad = parsing.numbers(pd.Series(["40.5", "", None, "north", " -73.9 "]))
    assert bad.tolist() == [False, False, False, True, False]
    assert values[[0, 4]].tolist() == [40.5, -73.9]
    assert values[[1, 2, 3]].isna().all()


def test_booleans_accept_common_spellings_and_flag_others():
    values, bad = parsing.booleans(pd.Series(["True", "false", "1", "0", True, "maybe", None]))
    assert values[:5].tolist() == [True, False, True, False, True]
    assert bad.tolist() == [False] * 5 + [True, True]


def test_dates_read_written_forms_as_their_iso_equivalent():
    written = ["March 3, 2004", "3 March 2004", "Wednesday, March 3, 2004", "Mar 3 2004", "3-Mar-2004",
               "March 3rd, 2004", "2004-03-03"]
    years, bad = parsing.dates(pd.Series(written))
    iso, _ = parsing.fractional_years(pd.Series(["2004-03-03"]))
    assert not bad.any()
    assert years.tolist() == pytest.approx([iso[0]] * len(written))
    month, bad_month = parsing.dates(pd.Series(["March 2004", "Feb 1999"]))
    assert not bad_month.any()
    assert month.tolist() == pytest.approx(parsing.fractional_years(pd.Series(["2004-03", "1999-02"]))[0].tolist())


def test_dates_keep_rejecting_ambiguous_partial_and_unknown_ones():
    rejected = ["03/04/2004", "March 3", "spring 2004", "Unknown", "February 30, 2004", "1990s", "", None]
    years, bad = parsing.dates(pd.Series(rejected, dtype=object))
    assert bad.all() and years.isna().all()


def test_dates_read_what_fractional_years_reads_alike():
    values = pd.Series(["2016-07-01", "1986-09", "-44", "2020-12-31T23:59:00Z", 1999, "2016-13-01"])
    assert parsing.dates(values)[0].equals(parsing.fractional_years(values)[0])
