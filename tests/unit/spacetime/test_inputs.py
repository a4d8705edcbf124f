import numpy as np
import pytest

from tests.fixtures.probe_data import probe_data, write_store
from worldprobe.records import StoreError
from worldprobe.spacetime.inputs import load_runs, on_covered, random_weights_run


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


def test_split_groups_keep_their_rows_together_and_ungrouped_rows_alone():
    from worldprobe.config import SplitGroup

    base = probe_data(16)
    split = np.array(["train", "train", "test", "test", "train", "test", "train", "test"] + ["train"] * 8)
    complexes = ["a", "a", "b", "b", "0", "0", None, "c"] + ["d"] * 8
    data = probe_data(16, complexid=complexes, split=split)
    grouped = data.grouped_by(SplitGroup(column="complexid", own_group_values=["0"]))
    assert grouped.split_group.tolist() == ["a", "a", "b", "b", "row:e4", "row:e5", "row:e6", "c"] + ["d"] * 8
    assert grouped.subset(grouped.test).split_group.tolist() == ["b", "b", "row:e5", "c"]
    assert grouped.groups_of(grouped.train).tolist() == ["a", "a", "row:e4", "row:e6"] + ["d"] * 8
    assert data.grouped_by(None).split_group is None and base.groups_of(base.train) is None
    with pytest.raises(StoreError, match="straddle train and test"):
        probe_data(16, complexid=["a"] * 16, split=split).grouped_by(SplitGroup(column="complexid", own_group_values=[]))
    with pytest.raises(StoreError, match="no split-group column 'creator'"):
        data.grouped_by(SplitGroup(column="creator", own_group_values=[]))



def test_a_prompt_variant_on_a_subsample_keeps_every_entity_and_reads_only_its_own(tmp_path):
    data = probe_data(60)
    acts = np.random.default_rng(1).normal(size=(2, 60, 4)).astype("float32")
    write_store(tmp_path / "tiny" / "main", data.ids, acts)
    write_store(tmp_path / "tiny~random_weights" / "main", data.ids, acts + 1, control="random_weights")
    sub = np.arange(60)[::3]  # the variant holds every third entity, in reverse store order
    write_store(tmp_path / "tiny" / "empty", data.ids[sub][::-1], acts[:, sub][:, ::-1], prompt="empty", subsample=20)
    kept, runs, report = load_runs(tmp_path, data)
    assert report.n_dropped == 0 and len(kept.ids) == 60  # a subsample store drops nothing
    main, empty = (next(r for r in runs if (r.model_tag, r.prompt) == ("tiny", p)) for p in ("main", "empty"))
    assert main.complete and not empty.complete and empty.covered.sum() == 20
    with pytest.raises(StoreError, match="holds 20 of 60 entities"):
        empty.layer(1)
    sub_data, sub_run = on_covered(kept, empty)
    np.testing.assert_array_equal(sub_data.ids, data.ids[sub])
    np.testing.assert_array_equal(sub_run.layer(1), acts[1, sub])
    same_data, same_main = on_covered(kept, main, empty.covered)  # the headline on the variant's entities
    np.testing.assert_array_equal(same_main.layer(0), acts[0, sub])
    assert on_covered(kept, main) == (kept, main)
    assert random_weights_run(runs, main).control == "random_weights"
