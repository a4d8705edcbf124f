"""Generated markdown: a study's report rendered from its Jinja2 template (every number and verdict filled
in by the study's renderer; a name the renderer forgot fails instead of printing blank), the number
formats its prose uses, and a generated block spliced between two markers of a hand-written file (the
README's summary)."""

from __future__ import annotations

import math
from pathlib import Path

import jinja2

from .stats import Sign, interval_sign

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


def established(low: float | None, high: float | None) -> bool:
    """Whether an interval of a difference excludes 0, by the one verdict rule (for templates)."""
    return low is not None and high is not None and interval_sign(low, high) is not Sign.NOT_ESTABLISHED


def render_template(template: Path, **context: object) -> str:
    """Render ``template`` with ``context``; an undefined name raises :class:`jinja2.UndefinedError`."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template.parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # markdown, not HTML
    )
    environment.filters.update(FILTERS)
    environment.globals["established"] = established
    return environment.get_template(template.name).render(**context)


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def splice_block(text: str, name: str, block: str) -> str:
    """Put ``block`` between the ``name`` markers of ``text``, appending the markers if absent.

    Only the marked region changes, so the rest of the file stays its authors'; splicing twice gives the
    same text.
    """
    start, end = markers(name)
    spliced = f"{start}\n{block.strip()}\n{end}"
    starts, ends = text.count(start), text.count(end)
    if starts == ends == 0:
        return text.rstrip("\n") + "\n\n" + spliced + "\n"
    if starts != 1 or ends != 1 or text.index(start) > text.index(end):
        raise ValueError(f"expected one {start} followed by one {end}, found {starts} start and {ends} end marker(s)")
    head, rest = text.split(start)
    return head + spliced + rest.split(end, 1)[1]
