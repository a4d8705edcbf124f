"""The CI comparison, end to end through a real `dvc metrics diff`: a perturbed reference figure fails."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from worldprobe.reproduce import find_drifts

DVC = str(Path(sys.executable).parent / "dvc")
RUN = {"world": {"gemma-3-270m": {"main": {"best_layer": 9, "r2": 0.61, "spearman": 0.78}}}}


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    _git(tmp_path, "init", "-q")
    subprocess.run([DVC, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "dvc.yaml").write_text("metrics:\n  - metrics/summary.json\n")
    (tmp_path / "metrics").mkdir()
    return tmp_path


def _diff_against_reference(repo, reference, run):
    (repo / "metrics" / "summary.json").write_text(json.dumps(reference))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "reference")
    (repo / "metrics" / "summary.json").write_text(json.dumps(run))
    out = subprocess.run([DVC, "metrics", "diff", "--json", "--all", "HEAD"], cwd=repo, check=True, capture_output=True, text=True)
    return find_drifts(json.loads(out.stdout), {"*:*best_layer": 1}, 0.02)


def test_reproduced_run_passes(repo):
    assert _diff_against_reference(repo, RUN, RUN) == []


def test_perturbed_reference_figure_fails(repo):
    perturbed = json.loads(json.dumps(RUN))
    perturbed["world"]["gemma-3-270m"]["main"]["r2"] = 0.70
    drifts = _diff_against_reference(repo, perturbed, RUN)
    assert [(d.metric, d.old, d.new) for d in drifts] == [("world.gemma-3-270m.main.r2", 0.70, 0.61)]


def test_best_layer_moving_by_one_is_tolerated_but_not_by_two(repo):
    shifted = json.loads(json.dumps(RUN))
    shifted["world"]["gemma-3-270m"]["main"]["best_layer"] = 11
    drifts = _diff_against_reference(repo, shifted, RUN)
    assert [d.metric for d in drifts] == ["world.gemma-3-270m.main.best_layer"]
