import subprocess
import sys
from pathlib import Path

import pytest

from worldprobe.readme import RESULTS_END, RESULTS_START, rebase_links, splice_results

REPO = Path(__file__).resolve().parents[2]


def test_splice_adds_markers_once_and_is_idempotent():
    readme = "# worldprobe\n\nIntro.\n"
    once = splice_results(readme, "## Results\n\nR² 0.5\n")
    assert once.startswith(readme.rstrip("\n")) and once.count(RESULTS_START) == once.count(RESULTS_END) == 1
    assert splice_results(once, "## Results\n\nR² 0.5\n") == once
    updated = splice_results(once + "\n## After\n", "## Results\n\nR² 0.6\n")
    assert "R² 0.6" in updated and "R² 0.5" not in updated and updated.endswith("\n## After\n")


def test_splice_refuses_broken_markers():
    with pytest.raises(ValueError, match="found 1 start and 0 end"):
        splice_results(f"x\n{RESULTS_START}\ny\n", "z")


def test_links_are_rebased_from_reports_to_the_repository_root():
    text = "![map](../plots/figures/map_world.png) [paper](https://arxiv.org/abs/2310.02207) [s](#results)"
    assert rebase_links(text, "reports", ".") == (
        "![map](plots/figures/map_world.png) [paper](https://arxiv.org/abs/2310.02207) [s](#results)"
    )


def test_update_readme_script_touches_only_the_marked_region(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "results.md").write_text("## Results\n\n![years_people](../plots/figures/years_people.png)\n")
    (tmp_path / "README.md").write_text(f"# Title\n\nkeep me\n\n{RESULTS_START}\nold\n{RESULTS_END}\n\ntail\n")
    script = [sys.executable, str(REPO / "scripts" / "update_readme.py")]
    assert subprocess.run([*script, "--check"], cwd=tmp_path).returncode == 1
    subprocess.run(script, cwd=tmp_path, check=True)
    spliced = (tmp_path / "README.md").read_text()
    assert spliced.startswith("# Title\n\nkeep me\n\n") and spliced.endswith(f"{RESULTS_END}\n\ntail\n")
    assert "](plots/figures/years_people.png)" in spliced and "\nold\n" not in spliced
    # --check passes only if splicing again would change nothing: the update is idempotent
    assert subprocess.run([*script, "--check"], cwd=tmp_path).returncode == 0
