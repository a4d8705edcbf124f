"""The four study reports and the README's generated summary, and the check that both are current.

Each study package may have a ``docs`` module with ``DOC_PATH``, ``render(root) -> str`` (the study's
report from the committed metrics) and optionally ``summary(root) -> str`` (its paragraph in the README,
between ``<!-- summary:start -->`` and ``<!-- summary:end -->``). :data:`STUDY_DOCS` holds those that
exist; :func:`stale_docs` names every committed file that differs from its render
(``tests/unit/site/test_docs_fresh.py`` runs it, so CI fails on a stale report);
``scripts/update_readme.py`` writes the README's summary.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from ..markdown import splice_block

STUDIES = ("spacetime", "familiarity", "causal", "karel")
README = Path("README.md")
SUMMARY_BLOCK = "summary"


def _doc_module(study: str) -> ModuleType | None:
    name = f"worldprobe.{study}.docs"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as missing:
        if missing.name == name:  # the study has no report yet; a failing import inside one is an error
            return None
        raise


STUDY_DOCS: dict[str, ModuleType] = {s: m for s in STUDIES if (m := _doc_module(s)) is not None}


def summary_markdown(root: Path = Path(".")) -> str:
    """Each study's paragraph, in :data:`STUDIES` order; a study without ``summary`` is left out."""
    return "\n\n".join(m.summary(root) for m in STUDY_DOCS.values() if hasattr(m, "summary")) + "\n"


def readme_with_summary(root: Path = Path(".")) -> str:
    return splice_block((root / README).read_text(), SUMMARY_BLOCK, summary_markdown(root))


def stale_docs(root: Path = Path(".")) -> list[str]:
    """The committed reports (and the README) that differ from what the metrics under ``root`` render."""
    stale = [str(m.DOC_PATH) for m in STUDY_DOCS.values()
             if not (root / m.DOC_PATH).is_file() or (root / m.DOC_PATH).read_text() != m.render(root)]
    if (root / README).read_text() != readme_with_summary(root):
        stale.append(str(README))
    return stale
