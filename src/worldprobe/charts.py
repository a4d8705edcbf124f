"""What a study contributes to the results page ``reports/index.html``: Vega-Lite charts and a short text.

Each study's ``page.py`` turns its committed metrics and plot tables into a :class:`Section`;
``worldprobe.site.page`` assembles the sections into one offline file. The records live in the core
so that a study can build its section without importing the site package above it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from .io import Output

DIGITS = 4  # inlined numbers are rounded: plenty for a chart, and the page stays small

O = TypeVar("O", bound=Output)


@dataclass(frozen=True)
class Chart:
    """One chart of the page: ``key`` is its element id; ``spec`` a Vega-Lite specification with inline data."""

    key: str
    title: str
    caption: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Section:
    """One study on the page: ``text`` is HTML built from its metrics, shown above its charts."""

    key: str
    title: str
    text: str
    charts: list[Chart] = field(default_factory=list)


@dataclass(frozen=True)
class PageInputs:
    """The committed files under ``root`` the sections read; ``datasets`` in the params' order."""

    root: Path
    datasets: Sequence[str]
    shapes_dir: Path

    def table(self, relative: str) -> pd.DataFrame | None:
        path = self.root / relative
        return pd.read_csv(path) if path.is_file() else None

    def output(self, relative: str, kind: type[O]) -> O | None:
        path = self.root / relative
        return kind.load(path) if path.is_file() else None

    def outputs(self, folder: str, kind: type[O]) -> dict[str, O]:
        """``<folder>/<dataset>.json`` of every dataset that has one, in the params' order."""
        found = {ds: self.output(f"{folder}/{ds}.json", kind) for ds in self.datasets}
        return {ds: out for ds, out in found.items() if out is not None}


def records(frame: pd.DataFrame, *, sparse: bool = False) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts, numbers rounded, missing values as null (``sparse``: left out, for a table
    that stacks rows of different kinds, where most cells of a row are missing)."""
    rounded = frame.round(DIGITS).astype(object)
    rows = rounded.where(pd.notna(rounded), None).to_dict(orient="records")
    return [{k: v for k, v in row.items() if v is not None} for row in rows] if sparse else rows


def html_table(head: Sequence[str], rows: Sequence[Sequence[str]], note: str = "") -> str:
    """A small results table (cells escaped), with an optional note under it."""
    header = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    table = f"<table class=results><thead>{header}</thead><tbody>{body}</tbody></table>"
    return table + (f"<p class=note>{html.escape(note)}</p>" if note else "")


def interval(value: float | None, lo: float | None, hi: float | None, digits: int = 3) -> str:
    """``value [lo, hi]``, or a dash where it was not measured."""
    if value is None:
        return "—"
    if lo is None or hi is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"
