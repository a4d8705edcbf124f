"""Generated markdown: a study's report rendered from its Jinja2 template (every number and verdict filled
in by the study's renderer; a name the renderer forgot fails instead of printing blank), and a generated
block spliced between two markers of a hand-written file (the README's summary)."""

from __future__ import annotations

from pathlib import Path

import jinja2


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
