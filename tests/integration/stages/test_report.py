"""``python stages/report.py`` in a workspace holding the probes and generalization stages' outputs."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from tests.conftest import REPO
from tests.fixtures.spacetime import write_workspace


def test_stage_script_writes_every_output(tmp_path, snapshot_dir):
    params = (REPO / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(params.replace("../shared/snapshot", str(snapshot_dir)))
    datasets = yaml.safe_load(params)["data"]["datasets"]
    write_workspace(tmp_path, {name: "place" if name in ("world", "us", "nyc") else "time" for name in datasets})
    subprocess.run([sys.executable, str(REPO / "stages" / "report.py")], cwd=tmp_path, check=True)
    figures = sorted(p.name for p in (tmp_path / "plots/figures").iterdir())
    assert figures == ["map_nyc.png", "map_us.png", "map_world.png", "r2_by_depth.png",
                       "years_art.png", "years_headlines.png", "years_people.png"]
    assert all((tmp_path / "plots/figures" / f).stat().st_size > 10_000 for f in figures)
    assert json.loads((tmp_path / "metrics/spacetime/summary.json").read_text()).keys() == set(datasets)
    series = sorted(str(p.relative_to(tmp_path / "plots/spacetime")) for p in (tmp_path / "plots/spacetime").rglob("*.csv"))
    assert series == sorted([f"{d}/depth.csv" for d in datasets] + ["holdout.csv", "pca.csv", "probe_kinds.csv", "prompts.csv"])
    assert not (tmp_path / "reports/index.html").exists()  # the site stage writes the page
    doc = (tmp_path / "docs/spacetime.md").read_text()
    assert all(f"(../plots/figures/{f})" in doc for f in figures)
    assert all(f"| {title} | 1,510 |" in doc for title in ("World places", "Historical figures"))  # metrics/data
