"""Parsing raw cells (text as the sources gave it) into numbers, years and booleans.

Raw tables keep every value as the source wrote it (see :mod:`worldprobe.sources`), so parsing is
strict: a value is either understood or reported. Every parser returns the parsed values and a
boolean mask of the cells that were present but could not be understood; the caller turns that
mask into a counted rejection.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime

import dateutil.parser
import numpy as np
import pandas as pd

_DATE = re.compile(r"^(-?\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ][0-9:.+\-Z]*)?$")
# a written date names its month in letters; an all-digit date other than ISO ("03/04/2004") is ambiguous
_MONTH_IN_LETTERS = re.compile(r"[^\W\d_]{3,}")
# a written date is parsed against two default dates: a field that follows the default was not written
_DEFAULTS = (datetime(1, 1, 1), datetime(2, 2, 2))
_TRUE = frozenset({"true", "1", "yes", "y", "t", "test"})
_FALSE = frozenset({"false", "0", "no", "n", "f", "train"})


def blank(values: pd.Series) -> pd.Series:
    """Missing or whitespace-only cells."""
    return values.isna() | values.astype("string").str.strip().eq("").fillna(True)


def numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Floats; returns ``(parsed, unparseable)``, where blank cells are NaN but not unparseable."""
    text = values.astype("string").str.strip()
    parsed = pd.to_numeric(text, errors="coerce").astype(float)
    return parsed, parsed.isna() & ~blank(values)


def whole_years(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integer years (``-384``, ``1809``, ``1809.0``); ``530s``, ``1237?``, ``Unknown`` and blanks fail.

    Returns ``(years as float, unparseable)``; unlike :func:`numbers`, a blank cell counts as
    unparseable because a person without a year cannot be placed in time.
    """
    parsed, _ = numbers(values)
    ok = np.isfinite(parsed) & (parsed == np.floor(parsed))
    return parsed.where(ok), ~ok


def _fractional_year(cell: object) -> float:
    """``YYYY[-MM[-DD]][THH:MM...]`` or a bare (possibly negative) year -> a fractional year; NaN if not."""
    if cell is None or (isinstance(cell, float) and math.isnan(cell)) or cell is pd.NA:
        return math.nan
    if isinstance(cell, (int, float, np.integer, np.floating)):
        return float(cell) if float(cell) == math.floor(float(cell)) else math.nan
    match = _DATE.match(str(cell).strip())
    if not match:
        return math.nan
    year, month, day = int(match.group(1)), match.group(2), match.group(3)
    if month is None:
        return float(year)
    return _calendar_year(year, int(month), int(day) if day else 1)


def _calendar_year(year: int, month: int, day: int) -> float:
    """The fractional year at the start of ``day``; NaN for a date the calendar lacks."""
    if not 1 <= year <= 9999:  # datetime.date's range; month precision needs a calendar
        return math.nan
    try:
        when = date(year, month, day)
    except ValueError:  # month 13, February 30, "1986-00-00", ...
        return math.nan
    start = date(year, 1, 1).toordinal()
    length = date(year + 1, 1, 1).toordinal() - start if year < 9999 else 365
    return year + (when.toordinal() - start) / length


def _written_date(cell: object) -> float:
    """``March 3, 2004``, ``3 March 2004``, ``Wed, Mar 3 2004``, ``March 2004`` -> a fractional year; NaN when
    the month is not in letters, the year or month is missing (``March 3``) or dateutil cannot read it."""
    if not isinstance(cell, str) or not _MONTH_IN_LETTERS.search(cell):
        return math.nan
    try:
        first, second = (dateutil.parser.parse(cell, default=default) for default in _DEFAULTS)
    except (ValueError, OverflowError):  # "Unknown", "spring 2004", "March 45, 2004", ...
        return math.nan
    if first.year != second.year or first.month != second.month:
        return math.nan
    return _calendar_year(first.year, first.month, first.day if first.day == second.day else 1)


def fractional_years(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates to fractional years (1 July 1986 -> 1986.496); ``(years, unparseable)``, blanks unparseable.

    A date is placed at the start of its day; a year-month at the start of its month; a bare year
    at the start of the year. Any time of day is ignored.
    """
    parsed = pd.Series([_fractional_year(v) for v in values], index=values.index, dtype=float)
    return parsed, parsed.isna()


def dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """What :func:`fractional_years` reads, and dates written out with the month in letters (``March 3,
    2004``, ``3 Mar 2004``, ``March 2004``: the start of the month); ``(years, unparseable)``.

    For a dataset of one's own; the built-in datasets keep :func:`fractional_years`. Still unparseable:
    all-digit dates other than ISO (``03/04/2004`` reads as March or April), a date without its year or
    month (``March 3``), a season, a range, blanks.
    """
    parsed, bad = fractional_years(values)
    written = pd.Series([_written_date(v) for v in values[bad]], index=values[bad].index, dtype=float)
    parsed.loc[written.index] = written
    return parsed, parsed.isna()


def booleans(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``True``/``False`` style cells (also ``1``/``0``, ``yes``/``no``, ``test``/``train``); ``(values, bad)``."""
    text = values.astype("string").str.strip().str.lower()
    truth = text.isin(_TRUE).fillna(False).astype(bool)
    falsity = text.isin(_FALSE).fillna(False).astype(bool)
    return truth, ~(truth | falsity)
