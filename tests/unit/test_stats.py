"""The project's statistics (worldprobe.stats) on synthetic data with known answers."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import r2_score

from worldprobe.stats import (
    Sign,
    best_layer,
    bootstrap,
    bootstrap_mean,
    interval_sign,
    paired_mean_difference,
    paired_mean_r2_difference,
    paired_r2_difference,
    percentile_interval,
    r2,
    spearman,
    spearman_columns,
    weighted_r2,
)


@pytest.mark.parametrize("targets", [1, 2])
def test_r2_is_sklearns_mean_over_targets(targets):
    rng = np.random.default_rng(0)
    y = rng.normal(size=(80, targets))
    pred = y + rng.normal(0, 0.7, size=y.shape)
    assert r2(y, pred) == pytest.approx(r2_score(y, pred), rel=1e-12)
    assert r2(y, pred) == np.mean([r2(y[:, j], pred[:, j]) for j in range(targets)])  # exactly the per-target mean


def test_r2_of_constant_truth_is_undefined():
    assert np.isnan(r2(np.full(10, 3.0), np.arange(10.0)))
    assert np.isnan(r2(np.column_stack([np.arange(10.0), np.full(10, 3.0)]), np.zeros((10, 2))))


def test_spearman_is_scipys_mean_over_targets_and_undefined_for_a_constant_prediction():
    rng = np.random.default_rng(1)
    y, pred = rng.normal(size=(60, 2)), rng.normal(size=(60, 2))
    expected = np.mean([spearmanr(y[:, j], pred[:, j]).statistic for j in range(2)])
    assert spearman(y, pred) == pytest.approx(expected, rel=1e-12)
    assert np.isnan(spearman(y[:, 0], np.ones(60)))


def test_spearman_columns_equals_scipy():
    rng = np.random.default_rng(1)
    A, y = rng.normal(size=(40, 5)), rng.normal(size=40)
    A[:, 1] = np.round(A[:, 1])  # ties
    expected = [spearmanr(A[:, j], y).statistic for j in range(5)]
    np.testing.assert_allclose(spearman_columns(A, y), expected, rtol=1e-12)


def test_best_layer_is_the_first_highest_train_score_and_never_a_nan():
    assert best_layer([0.1, 0.5, 0.5, 0.2]) == 1
    assert best_layer([np.nan, 0.3, 0.4]) == 2


def test_weighted_r2_is_r2_of_the_resampled_entities():
    rng = np.random.default_rng(0)
    y, pred = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    resamples = bootstrap(None, 50, 30, seed=4)
    expected = [r2_score(y[rows], pred[rows]) for rows in resamples.rows()]  # sklearn: uniform average over targets
    np.testing.assert_allclose(weighted_r2(resamples.weights, y, pred), expected, rtol=1e-10)


def test_cluster_bootstrap_draws_whole_groups():
    groups = np.repeat(np.arange(10), 5)
    resamples = bootstrap(groups, 50, 200, seed=1)
    w = resamples.weights
    assert w.shape == (200, 50) and (w.sum(1) == 50).all()  # 10 groups of 5 drawn each time
    assert (w.reshape(200, 10, 5) == w.reshape(200, 10, 5)[:, :, :1]).all()  # a group's members move together
    for rows, weights in zip(resamples.rows(), w):  # the rows: every drawn group's members, as often as drawn
        assert len(rows) == 50 and (np.bincount(rows, minlength=50) == weights).all()
        assert all(len(set(groups[chunk])) == 1 for chunk in rows.reshape(10, 5))
    entity = bootstrap(None, 50, 200, seed=1).weights
    assert not (entity.reshape(200, 10, 5) == entity.reshape(200, 10, 5)[:, :, :1]).all()


def test_entity_resamples_are_the_draws_of_the_seeded_generator():
    rows = bootstrap(None, 40, 25, seed=3).rows()
    np.testing.assert_array_equal(np.stack(rows), np.random.default_rng(3).integers(0, 40, size=(25, 40)))


def test_cluster_interval_is_wider_when_errors_are_shared_within_groups():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(40), 10)
    y = rng.normal(size=400)
    pred = y + rng.normal(0, 0.6, 40)[groups] + rng.normal(0, 0.2, 400)  # each group shares one error
    width = {}
    for name, g in (("entities", None), ("groups", groups)):
        low, high = percentile_interval(weighted_r2(bootstrap(g, 400, 500, seed=0).weights, y, pred))
        width[name] = high - low
    assert width["groups"] > 2 * width["entities"]


def test_percentile_interval_is_the_central_95_percent_of_the_finite_values():
    samples = np.r_[np.arange(1001.0), np.nan, np.inf]
    assert percentile_interval(samples) == (25.0, 975.0)
    assert all(np.isnan(percentile_interval(np.array([np.nan]))))


@pytest.mark.parametrize("groups", [None, np.repeat(np.arange(60), 5)])
def test_paired_difference_of_identical_predictors_is_exactly_zero(groups):
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    w = bootstrap(groups, 300, 500, seed=0).weights
    same = y + rng.normal(0, 0.5, 300)
    identical = paired_r2_difference(w, y, same, same)
    assert identical.diff == identical.ci_low == identical.ci_high == 0
    twin = y + rng.normal(0, 0.5, 300)  # as good, different errors
    d = paired_r2_difference(w, y, same, twin)
    assert d.ci_low < 0 < d.ci_high
    sharper = y + rng.normal(0, 0.2, 300)
    better = paired_r2_difference(w, y, sharper, same)
    assert better.ci_low > 0 and better.diff == pytest.approx(r2_score(y, sharper) - r2_score(y, same))


def test_paired_difference_uses_the_entities_both_predict():
    rng = np.random.default_rng(4)
    y = rng.normal(size=300)
    w = bootstrap(None, 300, 300, seed=0).weights
    probe, control = y + rng.normal(0, 0.3, 300), y + rng.normal(0, 0.6, 300)
    partial = np.where(np.arange(300) % 3 == 0, control, np.nan)  # the control holds every third entity
    d = paired_r2_difference(w, y, probe, partial)
    rows = np.arange(300) % 3 == 0
    assert d.n == 100 and d.diff == pytest.approx(r2_score(y[rows], probe[rows]) - r2_score(y[rows], control[rows]))
    assert d.ci_low > 0
    assert paired_r2_difference(w, y, probe, control).n == 300


def test_bootstrap_mean_covers_the_mean_and_shrinks_with_more_entities():
    rng = np.random.default_rng(0)
    small = bootstrap_mean(rng.normal(1, 1, 20), 1000, 0)
    large = bootstrap_mean(rng.normal(1, 1, 2000), 1000, 0)
    assert small[1] < small[0] < small[2] and large[1] < large[0] < large[2]
    assert large[2] - large[1] < (small[2] - small[1]) / 3
    assert np.isnan(bootstrap_mean(np.array([1.0]), 100, 0)[1])
    assert bootstrap_mean(np.array([1.0, np.nan, 3.0]), 100, 0)[0] == 2.0  # non-finite values dropped


@pytest.mark.parametrize(("low", "high", "sign"), [(0.01, 0.2, Sign.ABOVE), (-0.3, -0.1, Sign.BELOW),
                                                    (-0.1, 0.1, Sign.NOT_ESTABLISHED), (0.0, 0.1, Sign.NOT_ESTABLISHED),
                                                    (np.nan, np.nan, Sign.NOT_ESTABLISHED)])
def test_verdict_rule_reads_where_the_interval_lies(low, high, sign):
    assert interval_sign(low, high) is sign


def test_resample_rows_keep_a_groups_members_in_table_order():
    groups = pd.Series(["b", "a", "b", "c", "a"]).to_numpy()
    resamples = bootstrap(groups, 5, 3, seed=0)
    members = {g: np.flatnonzero(groups == g) for g in "abc"}
    for draw, rows in zip(resamples.draws, resamples.rows()):
        np.testing.assert_array_equal(rows, np.concatenate([members["abc"[g]] for g in draw]))


def test_paired_mean_r2_difference_averages_the_seeds_and_reduces_to_the_pair():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(200, 2))
    preds = [y + rng.normal(scale=s, size=y.shape) for s in (0.3, 0.5)]
    other = y + rng.normal(scale=1.0, size=y.shape)
    w = bootstrap(None, 200, 300, 0).weights
    single, pair = paired_mean_r2_difference(w, y, [preds[0]], [other]), paired_r2_difference(w, y, preds[0], other)
    assert single == pair
    both = paired_mean_r2_difference(w, y, preds, [other])
    assert both.diff == pytest.approx(np.mean([r2(y, p) for p in preds]) - r2(y, other))
    assert both.ci_low < both.diff < both.ci_high and both.ci_low > 0
    errors, others = rng.random(200), rng.random(200) + 0.5
    d = paired_mean_difference(w, errors, others)
    assert d.diff == pytest.approx(errors.mean() - others.mean()) and d.ci_high < 0 and d.n == 200
