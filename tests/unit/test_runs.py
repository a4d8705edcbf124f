import numpy as np
import pytest

from tests.fixtures.probe_data import probe_data, write_store
from worldprobe.records import StoreError
from worldprobe.runs import load_runs


def test_load_runs_drops_and_reports_entities_without_activations(tmp_path):
    data = probe_data(60)
    acts = np.random.default_rng(0).normal(size=(2, 60, 4)).astype("float32")
    write_store(tmp_path / "tiny" / "main", data.ids, acts)
    write_store(tmp_path / "tiny" / "empty", data.ids[::-1][:58], acts[:, ::-1][:, :58], prompt="empty")
    kept, runs, report = load_runs(tmp_path, data)
    assert report.n_dropped == 2 and report.by_store == {"tiny/empty": 2}
    assert sorted(report.examples) == ["e0", "e1"]
    assert len(kept.ids) == 58 and [r.prompt for r in runs] == ["empty", "main"]
    for run in runs:  # rows aligned to the table whatever the store's order
        np.testing.assert_array_equal(run.layer(1), acts[1, 2:])
    write_store(tmp_path / "other" / "main", np.r_[data.ids, ["stranger"]], np.zeros((2, 61, 4), "float32"))
    with pytest.raises(StoreError, match="1 stored ids are not in the entity table"):
        load_runs(tmp_path, data)
    with pytest.raises(StoreError, match="no activation stores"):
        load_runs(tmp_path / "nothing", data)
