"""The familiarity split's intervals resample the way the split was drawn."""

import numpy as np
import pytest

from worldprobe.familiarity.probes import TestScorer, split_metrics

N_GROUPS, PER_GROUP = 20, 10


def _mae_interval(groups, y, pred):
    scorer = TestScorer.make(y, "time", groups, n_boot=500, seed=0)
    splits, _ = split_metrics(scorer, {"probe": (pred, 3)}, np.ones(len(y), bool))
    return splits[0].groups["all"].mae


def test_a_grouped_split_resamples_whole_groups():
    rng = np.random.default_rng(0)
    group_y, group_error = rng.uniform(1500, 2000, N_GROUPS), rng.exponential(30, N_GROUPS)
    codes = np.repeat(np.arange(N_GROUPS), PER_GROUP)
    groups = np.array([f"g{c:02d}" for c in codes])  # sorted names in entity order; every entity of a group identical
    y, pred = group_y[codes, None], (group_y + group_error)[codes, None]
    by_group = _mae_interval(groups, y, pred)
    # drawing 20 whole groups of equal size is drawing the 20 distinct entities: the same interval
    one_each = _mae_interval(None, group_y[:, None], (group_y + group_error)[:, None])
    assert (by_group.lo, by_group.hi) == pytest.approx((one_each.lo, one_each.hi), rel=1e-9)
    by_entity = _mae_interval(None, y, pred)  # 200 draws of entities: as if there were 200 independent errors
    assert by_group.value == by_entity.value
    assert by_group.hi - by_group.lo > 2 * (by_entity.hi - by_entity.lo)
