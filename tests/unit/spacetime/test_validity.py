"""The headline's validity checks on synthetic data with known answers."""

import numpy as np
import pytest
from sklearn.metrics import r2_score

from tests.fixtures.probe_data import probe_data
from worldprobe.config import ProbesConfig, SplitGroup, ValidityConfig
from worldprobe.spacetime.probes import fit_linear
from worldprobe.spacetime.validity import assess, beyond_group, era_scores, group_mean_predictions, within_block
from worldprobe.stats import bootstrap

CFG = ProbesConfig()


def _places(seed=0, n_groups=20, per_group=40):
    """Places in blocks: each block is a region, places scatter within it; the split is by entity."""
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(n_groups), per_group)
    centre = rng.uniform(-50, 50, size=(n_groups, 2))
    coords = centre[block] + rng.normal(0, 15, size=(len(block), 2))
    data = probe_data(len(block), kind="place", seed=seed, groups=("block",), block=block.astype(str),
                      longitude=coords[:, 0], latitude=coords[:, 1])
    d = 32
    group_code = rng.normal(size=(n_groups, d))[block]  # the block's identity, nothing about position in it
    mix = rng.normal(size=(2, d))
    encodes_group = group_code + rng.normal(0, 0.3, size=(len(block), d))
    encodes_coords = coords @ mix / 10 + rng.normal(0, 0.3, size=(len(block), d))
    return data, block.astype(str), encodes_group, encodes_coords


def test_group_mean_predicts_each_block_by_its_train_mean():
    pred = group_mean_predictions(np.array(["a", "a", "b"]), np.array([[1.0], [3.0], [10.0]]), np.array(["b", "a", "c"]))
    np.testing.assert_allclose(pred, [[10.0], [2.0], [14 / 3]])  # unseen block "c": the overall train mean


def test_incremental_r2_is_zero_for_group_identity_and_positive_for_coordinates():
    data, blocks, group_only, coords = _places()
    w = bootstrap(None, int(data.test.sum()), 300, seed=0).weights
    fit = lambda X, d: fit_linear(X, d, CFG)  # noqa: E731
    r2_group, gain_group = beyond_group(group_only, blocks, data, fit, w)
    assert r2_group > 0.6  # blocks explain most of the position
    assert abs(gain_group.diff) < 0.01 and gain_group.ci_low < 0.005
    _, gain_coords = beyond_group(coords, blocks, data, fit, w)
    assert gain_coords.diff > 0.05 and gain_coords.ci_low > 0


def test_within_block_is_zero_for_group_identity_and_positive_for_coordinates():
    data, blocks, group_only, coords = _places()
    y = data.y[data.test]
    preds = {name: fit_linear(X, data, CFG).predict(X[data.test]) for name, X in (("group", group_only), ("coords", coords))}
    wb = within_block(y, preds, blocks[data.test], "block", min_test=2)
    assert wb.n_blocks == 20 and wb.n == len(y)
    # knowing the block orders nothing within it; its prediction noise can only cost R² there
    assert abs(wb.spearman["group"]) < 0.15 and wb.r2["group"] < 0.02
    assert wb.spearman["coords"] > 0.5 and wb.r2["coords"] > 0.3
    w = bootstrap(None, len(y), 200, seed=0).weights
    for name, above_zero in (("group", False), ("coords", True)):
        wb = within_block(y, {"probe": preds[name]}, blocks[data.test], "block", 2, w)
        assert wb.probe_spearman_ci_low < wb.spearman["probe"] < wb.probe_spearman_ci_high
        assert (wb.probe_spearman_ci_low > 0) == above_zero
    small = within_block(y, preds, blocks[data.test], "block", min_test=1000)
    assert small.n_blocks == 0 and small.spearman == {"group": None, "coords": None}


def test_era_scores_split_at_the_year():
    year = np.array([100.0, 900, 1400, 1500, 1800, 1900])
    pred = year + np.array([50.0, -50, 0, 10, -10, 0])
    eras = era_scores(year, pred, 1500)
    assert eras["before_1500"].n == 3 and eras["from_1500"].n == 3
    assert eras["before_1500"].r2 == pytest.approx(r2_score(year[:3], pred[:3]))
    assert eras["from_1500"].spearman == pytest.approx(1.0)


def test_assess_groups_intervals_and_scores_every_control():
    data, blocks, group_only, coords = _places()
    grouped = data.grouped_by(SplitGroup(column="id", own_group_values=[]))  # trivially grouped: one per entity
    cfg = ValidityConfig(split_groups={"synthetic": SplitGroup(column="id", own_group_values=[])}, n_boot=200)
    preds = {"probe": fit_linear(coords, data, CFG).predict(coords[data.test]),
             "layer0": fit_linear(group_only, data, CFG).predict(group_only[data.test])}
    v = assess(grouped, preds, coords, lambda X, d: fit_linear(X, d, CFG), cfg, "leave-one-out", seed=0)
    assert v.split_group == "id" and "clusters" in v.resampling
    assert set(v.verdicts) == {"layer0"} and v.r2_ci_low < v.r2_ci_high
    assert v.group_mean_r2 > 0.6 and v.r2_beyond_group.diff > 0.05 and v.eras is None
    assert set(v.within_block.spearman) == {"probe", "layer0"}


def test_a_split_group_column_that_straddles_the_split_is_refused():
    data, *_ = _places()
    from worldprobe.records import StoreError

    with pytest.raises(StoreError, match="straddle"):
        data.grouped_by(SplitGroup(column="block", own_group_values=[]))


def test_a_control_on_a_subsample_is_scored_within_block_on_the_rows_it_predicts():
    rng = np.random.default_rng(4)
    y = rng.normal(size=300)
    probe, control = y + rng.normal(0, 0.3, 300), y + rng.normal(0, 0.6, 300)
    partial = np.where(np.arange(300) % 3 == 0, control, np.nan)  # the control holds every third entity
    blocks = np.repeat(np.arange(10), 30).astype(str)
    within = within_block(y, {"probe": probe, "control": partial}, blocks, "block", min_test=5)
    assert within.spearman["control"] is not None and within.spearman["control"] < within.spearman["probe"]
