"""The summary entry of one dataset (the report built from it: tests/unit/test_report.py)."""

from tests.fixtures.spacetime import MODEL, write_workspace
from worldprobe.spacetime.outputs import ProbeMetrics
from worldprobe.spacetime.summary import summarize_dataset


def test_the_headline_entry_carries_the_validity_checks_and_the_others_do_not(tmp_path):
    write_workspace(tmp_path, {"world": "place", "people": "time"})
    for name in ("world", "people"):
        probes = ProbeMetrics.load(tmp_path / "metrics" / "probes" / f"{name}.json")
        summary = summarize_dataset(probes)[MODEL]
        main, empty = summary["main"], summary["empty"]
        v = probes.validity
        assert (main.r2_ci_low, main.r2_ci_high) == (v.r2_ci_low, v.r2_ci_high)
        assert main.verdicts == v.verdicts and main.within_block_spearman == v.within_block.spearman
        assert (main.group_mean_r2 is not None) == (name == "world") == (main.r2_beyond_group is not None)
        assert empty.verdicts is None and empty.r2_ci_low is None and empty.within_block_spearman is None
