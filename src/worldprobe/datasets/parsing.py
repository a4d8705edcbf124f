"""Parsing raw cells (text as the sources gave it) into numbers, years and booleans.

Raw tables keep every value as the source wrote it (see :mod:`worldprobe.sources`), so parsing is
strict: a value is either understood or reported. Every parser returns the parsed values and a
boolean mask of the cells that were present but could not be understood; the caller turns that
mask into a counted rejection.
"""

from __future__ import annotations

import math
import re
from datetime import date

import numpy as np
import pandas as pd

_DATE = re.compile(r"^(-?\d{1,4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?(?:[T ][0-9:.+\-Z]*)?$")
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
    if not 1 <= year <= 9999:  # datetime.date's range; month precision needs a calendar
        return math.nan
    try:
        when = date(year, int(month), int(day) if day else 1)
    except ValueError:  # month 13, February 30, "1986-00-00", ...
        return math.nan
    start = date(year, 1, 1).toordinal()
    length = date(year + 1, 1, 1).toordinal() - start if year < 9999 else 365
    return year + (when.toordinal() - start) / length


def fractional_years(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates to fractional years (1 July 1986 -> 1986.496); ``(years, unparseable)``, blanks unparseable.

    A date is placed at the start of its day; a year-month at the start of its month; a bare year
    at the start of the year. Any time of day is ignored.
    """
    parsed = pd.Series([_fractional_year(v) for v in values], index=values.index, dtype=float)
    return parsed, parsed.isna()


def booleans(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``True``/``False`` style cells (also ``1``/``0``, ``yes``/``no``, ``test``/``train``); ``(values, bad)``."""
    text = values.astype("string").str.strip().str.lower()
    truth = text.isin(_TRUE).fillna(False).astype(bool)
    falsity = text.isin(_FALSE).fillna(False).astype(bool)
    return truth, ~(truth | falsity)
