"""The study reports' templates: Jinja2 with every missing name an error, and the number formats.

A study's ``doc.md.j2`` sits in its package; its ``docs.py`` fills it from the committed metrics.
``StrictUndefined`` makes a metric the template names but the context lacks fail the render instead of
printing an empty string, so a report cannot silently lose a number.
"""

from __future__ import annotations

import math

import jinja2

MINUS = "\u2212"  # typographic minus, as in the prose


def num(x: float | None, digits: int = 2, signed: bool = False) -> str:
    """``x`` rounded to ``digits`` places with a typographic minus; "n/a" for a missing value."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    return text.replace("-", MINUS)


def sig(x: float | None, figures: int = 2) -> str:
    """``x`` to ``figures`` significant digits below 1 and to 2 decimals above (no exponent), so that
    small effects (0.0023) keep their size and sign beside large ones (3.67)."""
    if x is None or x == 0:
        return num(x)
    digits = max(2, figures - 1 - math.floor(math.log10(abs(x))))
    return num(x, digits)


def offset(k: int) -> str:
    """A token offset as written in the prose: −1, 0, +1."""
    return f"{k:+d}".replace("-", MINUS) if k else "0"


def count(n: int) -> str:
    """An integer with thousands separators: 12,737."""
    return f"{n:,}"


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def interval(lo: float | None, hi: float | None, digits: int = 2) -> str:
    return f"[{num(lo, digits)}, {num(hi, digits)}]"


def sig_interval(lo: float | None, hi: float | None, figures: int = 2) -> str:
    return f"[{sig(lo, figures)}, {sig(hi, figures)}]"


def _strict(fmt):
    """A filter that refuses an undefined value with jinja's own error (StrictUndefined raises on str)."""
    def strict(*values, **options):
        for value in values:
            if isinstance(value, jinja2.Undefined):
                str(value)
        return fmt(*values, **options)
    return strict


FILTERS = {f.__name__: _strict(f) for f in (num, sig, offset, count, pct, interval, sig_interval)}


def render_template(package: str, name: str, **context) -> str:
    """Render ``name`` from ``package``'s directory; an undefined name raises ``jinja2.UndefinedError``."""
    env = jinja2.Environment(loader=jinja2.PackageLoader(package, ""), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             autoescape=False)  # markdown, not HTML
    env.filters.update(FILTERS)
    return env.get_template(name).render(**context)
