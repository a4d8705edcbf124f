"""scripts/compare_metrics.py: every leaf compared exactly; rounding-only files are told apart."""

import json
import subprocess
import sys

from tests.conftest import REPO


def _run(before, after):
    done = subprocess.run([sys.executable, str(REPO / "scripts/compare_metrics.py"), str(before), str(after)],
                          check=True, capture_output=True, text=True)
    return done.stdout


def test_reports_moved_values_and_marks_rounding(tmp_path):
    for side, values in (("a", {"r2": 0.5, "ci": [0.1, 0.9], "n": 3}), ("b", {"r2": 0.5 + 1e-16, "ci": [0.1, 0.8], "n": 3})):
        (tmp_path / side / "probes").mkdir(parents=True)
        (tmp_path / side / "probes/world.json").write_text(json.dumps(values))
        (tmp_path / side / "same.json").write_text(json.dumps({"x": [1, {"y": None}]}))
    out = _run(tmp_path / "a", tmp_path / "b")
    assert "probes/world.json: 2 of 4 values differ\n" in out
    assert "ci[1]: 0.9 -> 0.8" in out and "1 of 2 files identical" in out
    (tmp_path / "b/probes/world.json").write_text(json.dumps({"r2": 0.5 + 1e-16, "ci": [0.1, 0.9], "n": 3}))
    assert "1 of 4 values differ (all within 1e-12 relative)" in _run(tmp_path / "a", tmp_path / "b")
