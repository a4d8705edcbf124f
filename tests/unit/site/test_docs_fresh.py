"""The committed study reports (docs/*.md) and the README's summary are what the committed metrics render:
a stale one fails here, so CI fails on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO
from worldprobe.io import read_json, write_json
from worldprobe.site.docs import README, SETUP_TIMES, STUDY_DOCS, generated_readme, stale_docs
from worldprobe.spacetime.docs import AXIS_COST_LOG


@pytest.mark.parametrize("study", sorted(STUDY_DOCS))
def test_committed_doc_equals_its_render(study):
    module = STUDY_DOCS[study]
    committed = (REPO / module.DOC_PATH).read_text()
    assert committed == module.render(REPO), f"{module.DOC_PATH} is stale: rerun the {study} report stage"


def test_readme_summary_is_current():
    assert (REPO / README).read_text() == generated_readme(REPO), \
        "README.md's summary is stale: python scripts/update_readme.py"


def test_the_space_and_time_and_familiarity_reports_are_registered():
    assert {"spacetime", "familiarity"} <= set(STUDY_DOCS)


@pytest.fixture
def copy_of_repo(tmp_path):
    """What the renderers read: metrics, plots' tables, params.yaml, the committed docs and README."""
    for folder in ("metrics", "plots", "docs"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    for log in (SETUP_TIMES, AXIS_COST_LOG):
        if (REPO / log).is_file():
            (tmp_path / log).parent.mkdir(exist_ok=True)
            shutil.copy(REPO / log, tmp_path / log)
    shutil.copy(REPO / README, tmp_path / README)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


def test_a_perturbed_metric_is_flagged(copy_of_repo):
    assert stale_docs(copy_of_repo) == []
    path = copy_of_repo / "metrics/familiarity/world.json"
    labels = read_json(path)
    labels["chance_known"] += 0.01
    write_json(path, labels)
    assert stale_docs(copy_of_repo) == ["docs/familiarity.md", "README.md"]


def test_a_perturbed_verdict_is_flagged(copy_of_repo):
    path = copy_of_repo / "metrics/probes/headlines.json"
    probes = read_json(path)
    probes["validity"]["verdicts"]["surface"]["ci_low"] = 0.001  # the interval no longer includes 0
    write_json(path, probes)
    assert stale_docs(copy_of_repo) == ["docs/spacetime.md", "README.md"]


def test_a_missing_doc_is_flagged(copy_of_repo):
    (copy_of_repo / "docs/spacetime.md").unlink()
    assert "docs/spacetime.md" in stale_docs(copy_of_repo)


def test_update_readme_writes_the_summary_and_check_names_what_is_stale(copy_of_repo):
    readme = copy_of_repo / README
    current = readme.read_text()
    start, end = current.index("<!-- summary:start -->"), current.index("<!-- summary:end -->")
    readme.write_text(current[:start] + "<!-- summary:start -->\nold\n" + current[end:])
    script = [sys.executable, str(REPO / "scripts" / "update_readme.py")]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    check = subprocess.run([*script, "--check"], cwd=copy_of_repo, env=env, capture_output=True, text=True)
    assert check.returncode == 1 and "README.md is stale" in check.stderr
    subprocess.run(script, cwd=copy_of_repo, env=env, check=True, capture_output=True)
    assert readme.read_text() == current
    assert subprocess.run([*script, "--check"], cwd=copy_of_repo, env=env).returncode == 0
