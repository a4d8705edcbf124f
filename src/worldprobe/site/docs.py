"""The four study reports and the README's generated summary, and the check that both are current.

Each study package has a ``docs`` module with ``DOC_PATH``, ``render(root) -> str`` (the study's
report from the committed metrics) and ``summary(root) -> str`` (its paragraph in the README, between
``<!-- summary:start -->`` and ``<!-- summary:end -->``). The README's set-up times, between
``<!-- times:start -->`` and ``<!-- times:end -->``, come from the last ``python benchmarks/setup_times.py``
(``benchmarks/setup_times.json``). :func:`stale_docs` names every committed file that differs from its
render (``tests/unit/site/test_docs_fresh.py`` runs it, so CI fails on a stale report);
``scripts/update_readme.py`` writes the README's generated blocks.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

from ..causal import docs as causal_docs
from ..familiarity import docs as familiarity_docs
from ..karel import docs as karel_docs
from ..markdown import splice_block
from ..spacetime import docs as spacetime_docs

STUDY_DOCS: dict[str, ModuleType] = {"spacetime": spacetime_docs, "familiarity": familiarity_docs,
                                     "causal": causal_docs, "karel": karel_docs}
README = Path("README.md")
SUMMARY_BLOCK = "summary"
TIMES_BLOCK = "times"
SETUP_TIMES = Path("benchmarks/setup_times.json")


def summary_markdown(root: Path = Path(".")) -> str:
    """Each study's paragraph, in :data:`STUDY_DOCS` order."""
    return "\n\n".join(m.summary(root) for m in STUDY_DOCS.values()) + "\n"


def times_markdown(root: Path = Path(".")) -> str:
    """The set-up commands' measured wall times, from ``benchmarks/setup_times.json``."""
    if not (root / SETUP_TIMES).is_file():
        return "Not measured yet: `python benchmarks/setup_times.py` times them on a fresh clone.\n"
    t = json.loads((root / SETUP_TIMES).read_text())
    minutes = {k: f"{v / 60:.0f} min" for k, v in t["seconds"].items()}
    return (f"Measured by `python benchmarks/setup_times.py` on a fresh clone of {t['commit'][:7]} ({t['date']}; "
            f"{t['cpus']} cores of {t['cpu']}, idle; pip's download cache warm): install {minutes['install']}, "
            f"the tests {minutes['tests']} ({t['tests']}), the first look {minutes['first_look']}. The whole "
            f"default `dvc repro` takes hours on such a machine: every stage's time is in "
            f"`benchmarks/pipeline_all.log`.\n")


def generated_readme(root: Path = Path(".")) -> str:
    readme = splice_block((root / README).read_text(), SUMMARY_BLOCK, summary_markdown(root))
    return splice_block(readme, TIMES_BLOCK, times_markdown(root))


def stale_docs(root: Path = Path(".")) -> list[str]:
    """The committed reports (and the README) that differ from what the metrics under ``root`` render."""
    stale = [str(m.DOC_PATH) for m in STUDY_DOCS.values()
             if not (root / m.DOC_PATH).is_file() or (root / m.DOC_PATH).read_text() != m.render(root)]
    if (root / README).read_text() != generated_readme(root):
        stale.append(str(README))
    return stale
