"""The familiarity split's intervals resample the way the split was drawn; the knowledge probe's answer prior."""

import numpy as np
import pandas as pd
import pytest

from worldprobe.familiarity.probes import TestScorer, answer_class, answer_prior, split_metrics

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


def test_answer_prior_is_the_train_rate_of_known_per_gold_answer_shrunk_towards_the_overall_rate():
    labels = pd.DataFrame({"gold": ["US", "US", "US", "France", "France", "Peru", "US", "Chad"]})
    known = np.array([True, True, False, False, False, True, True, False])
    train = np.array([True] * 6 + [False] * 2)
    overall = 3 / 6
    prior = answer_prior(answer_class(labels, "place"), known, train)
    assert prior[0] == pytest.approx((2 + overall) / 4)  # US: 2 of 3 known, one pseudo-entity at the overall rate
    assert prior[3] == pytest.approx((0 + overall) / 3)
    assert prior[6] == prior[0] and prior[7] == pytest.approx(overall)  # Chad: no train entity


def test_time_answers_are_classed_by_decade():
    years = pd.DataFrame({"gold": ["1987", "1981", "1990", None]})
    assert answer_class(years, "time").tolist()[:3] == ["1980", "1980", "1990"]
    assert pd.isna(answer_class(years, "time").iloc[3])
