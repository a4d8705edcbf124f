"""What `dvc status` sees when a module changes: editing the familiarity *analysis* (its probes and
report) must leave the space-and-time probe stages unchanged, since they read only the familiarity
labels (through the probe inputs' filter), never the analysis."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
DVC = str(Path(sys.executable).with_name("dvc"))
UPSTREAM = ("probes", "generalization", "learning_curve")
RELOCK = """
from dvc.repo import Repo
repo = Repo(".")
with repo.lock:
    for stage in repo.index.stages:
        stage.save_deps(allow_missing=True)
        stage.dump(update_pipeline=False)
"""


def changed_code(root: Path) -> dict[str, set[str]]:
    """Stage -> the code deps `dvc status` reports changed (data deps are absent in this copy: ignored)."""
    out = subprocess.run([DVC, "status", "--json"], cwd=root, check=True, capture_output=True, text=True).stdout
    changed = {}
    for stage, entries in json.loads(out or "{}").items():
        deps = {}
        for entry in entries:
            if isinstance(entry, dict):
                deps.update(entry.get("changed deps", {}))
        changed[stage] = {dep for dep in deps if dep.startswith(("src/", "stages/"))}
    return changed


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    """The pipeline's definition, lock, params and code, without any data, as a DVC repo."""
    root = tmp_path_factory.mktemp("pipeline")
    for name in ("dvc.yaml", "dvc.lock", "params.yaml"):
        shutil.copy(REPO / name, root / name)
    for name in ("src", "stages"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=root, check=True)
    # the lock as if every stage had just run on this code (DVC's own hashes), so that an edit's effect
    # is seen alone: the committed lock may lag the code (result-neutral changes are recorded later)
    subprocess.run([sys.executable, "-c", RELOCK], cwd=root, check=True, capture_output=True)
    return root


def stages_an_edit_reruns(pipeline: Path, module: str) -> set[str]:
    """The stages (``foreach`` items folded) that `dvc status` newly sees changed after an edit of ``module``."""
    before = changed_code(pipeline)
    path = pipeline / "src" / "worldprobe" / module
    original = path.read_text()
    path.write_text(original + "\n# an edit\n")
    try:
        after = changed_code(pipeline)
    finally:
        path.write_text(original)
    return {stage.split("@")[0] for stage in after if after[stage] - before.get(stage, set())}


@pytest.mark.parametrize("module, downstream", [("familiarity/probes.py", "familiarity_probes"),
                                                ("familiarity/report.py", "familiarity_report")])
def test_editing_the_familiarity_analysis_reruns_nothing_upstream(pipeline, module, downstream):
    newly = stages_an_edit_reruns(pipeline, module)
    assert downstream in newly, "the edit changed not even its own stage: the check would pass vacuously"
    assert not newly & set(UPSTREAM), sorted(newly)


def test_editing_the_probe_inputs_reruns_the_probe_stages(pipeline):
    assert set(UPSTREAM) | {"familiarity_probes"} <= stages_an_edit_reruns(pipeline, "spacetime/inputs.py")
