"""``python stages/site.py`` after the report stage, in a workspace holding only the space-and-time outputs."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.conftest import REPO
from tests.fixtures.spacetime import write_workspace


def test_stage_script_writes_the_page_of_the_studies_it_finds(tmp_path, snapshot_dir):
    params = (REPO / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(params.replace("../shared/snapshot", str(snapshot_dir)))
    datasets = yaml.safe_load(params)["data"]["datasets"]
    write_workspace(tmp_path, {name: "place" if name in ("world", "us", "nyc") else "time" for name in datasets})
    subprocess.run([sys.executable, str(REPO / "stages" / "report.py")], cwd=tmp_path, check=True)
    subprocess.run([sys.executable, str(REPO / "stages" / "site.py")], cwd=tmp_path, check=True)
    page = (tmp_path / "reports/index.html").read_text()
    assert all(f'id="{chart}"' in page for chart in ("depth", "map_world", "years_people", "prompts", "pca"))
    # the other studies left no files here: their sections are left out, not drawn empty
    assert '<section id="spacetime">' in page and "<section id=\"familiarity\">" not in page and "karel_" not in page
