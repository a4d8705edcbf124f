"""parse_year: the year a generated answer states, or None (counted as unknown)."""

import pytest

from worldprobe.lm.readout import parse_year


@pytest.mark.parametrize(
    ("text", "year"),
    [
        ("1452, in Vinci", 1452.0),
        (" 384 BC.", -384.0),
        ("c. 500 B.C.", -500.0),
        ("the year 1066 AD", 1066.0),
        ("April 15, 1452", 15.0),  # the first plausible year; the few-shot format makes the year come first
        ("the 15th century", None),
        ("the 1990s", None),
        ("3000", None),
        ("", None),
        ("unknown", None),
        (None, None),
        ("12.5 million", None),
    ],
)
def test_parse_year(text, year):
    assert parse_year(text) == year
