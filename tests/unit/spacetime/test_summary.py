"""The summary entry of one dataset (the report built from it: tests/unit/test_report.py)."""

from tests.fixtures.spacetime import MODEL, write_workspace
from worldprobe.spacetime.outputs import IncrementalMetrics, ProbeMetrics
from worldprobe.spacetime.summary import summarize_dataset


def test_the_headline_entry_carries_the_validity_checks_and_the_others_do_not(tmp_path):
    write_workspace(tmp_path, {"world": "place", "people": "time"})
    for name in ("world", "people"):
        probes = ProbeMetrics.load(tmp_path / "metrics" / "probes" / f"{name}.json")
        incremental = IncrementalMetrics.load(tmp_path / "metrics" / "incremental" / f"{name}.json")
        summary = summarize_dataset(probes, incremental=incremental)[MODEL]
        main, empty = summary["main"], summary["empty"]
        v = probes.validity
        assert (main.r2_ci_low, main.r2_ci_high) == (v.r2_ci_low, v.r2_ci_high)
        assert main.beats == v.verdicts and main.within_block_spearman == v.within_block.spearman
        assert main.adds == incremental.adds and main.within_block_beats == incremental.within_block_spearman
        assert (main.block is not None) == (name == "world") == (main.r2_beyond_group is not None)
        assert empty.beats is None and empty.adds is None and empty.r2_ci_low is None and empty.block is None
