"""The README's results section: results.md (written by the report stage) spliced between two markers,
its links rebased from reports/ to the repository root (``scripts/update_readme.py``)."""

from __future__ import annotations

import os
import re
from pathlib import Path

RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def rebase_links(markdown: str, source_dir: str | Path, target_dir: str | Path) -> str:
    """Rewrite relative link targets written for a file in ``source_dir`` to work from ``target_dir``."""

    def rebase(match: re.Match[str]) -> str:
        target = match.group(2)
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return match.group(0)
        moved = os.path.relpath(os.path.normpath(Path(source_dir) / target), target_dir)
        return f"{match.group(1)}{Path(moved).as_posix()}{match.group(3)}"

    return _LINK.sub(rebase, markdown)


def splice_results(readme: str, results: str) -> str:
    """Put ``results`` between the results markers of ``readme``, appending the markers if absent.

    Only the marked region changes, so the rest of the README stays its authors'; splicing twice
    gives the same text.
    """
    block = f"{RESULTS_START}\n{results.strip()}\n{RESULTS_END}"
    starts, ends = readme.count(RESULTS_START), readme.count(RESULTS_END)
    if starts == ends == 0:
        return readme.rstrip("\n") + "\n\n" + block + "\n"
    if starts != 1 or ends != 1 or readme.index(RESULTS_START) > readme.index(RESULTS_END):
        raise ValueError(
            f"README: expected one {RESULTS_START} followed by one {RESULTS_END}, "
            f"found {starts} start and {ends} end marker(s)"
        )
    head, rest = readme.split(RESULTS_START)
    return head + block + rest.split(RESULTS_END, 1)[1]
