"""What the probe adds to a control, the block checks and the within-block comparison, on data whose answer is known."""

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.probe_data import probe_data
from worldprobe.config import ProbesConfig
from worldprobe.spacetime.incremental import adds, block_checks, cross_fitted, fixed_effects, within_block_differences
from worldprobe.spacetime.outputs import FixedEffects
from worldprobe.spacetime.validity import MISSING_BLOCK, block_labels
from worldprobe.stats import PairedDifference, Sign, bootstrap, interval_sign

N = 600


def _sign(d):
    return interval_sign(d.ci_low, d.ci_high)


@pytest.fixture
def signal():
    """A target made of two independent parts: the control sees ``a``, an informative probe sees ``a + b``."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=N), rng.normal(size=N)
    return rng, a, b, a + b + rng.normal(0, 0.3, N)


def test_a_probe_with_information_the_control_lacks_adds_to_it(signal):
    rng, a, b, y = signal
    weights, groups = bootstrap(None, N, 300, 0).weights, np.arange(N).astype(str)
    informative = adds(weights, y, a + b + rng.normal(0, 0.3, N), a + rng.normal(0, 0.3, N), groups, 10, 0)
    assert _sign(informative) is Sign.ABOVE and informative.diff > 0.3
    # a probe that is the control plus noise holds nothing new: no gain (fitting its useless coefficient costs a little)
    echo = adds(weights, y, a + rng.normal(0, 1.0, N), a, groups, 10, 0)
    assert _sign(echo) is not Sign.ABOVE and abs(echo.diff) < 0.01


def test_the_control_can_beat_the_probe_while_the_probe_still_adds(signal):
    rng, a, b, y = signal
    from worldprobe.stats import paired_r2_difference

    weights, groups = bootstrap(None, N, 300, 0).weights, np.arange(N).astype(str)
    control, probe = a + 0.5 * b, 0.2 * a + b  # each misses what the other sees
    assert _sign(paired_r2_difference(weights, y, probe, control)) is Sign.BELOW
    assert _sign(adds(weights, y, probe, control, groups, 10, 0)) is Sign.ABOVE


def test_a_control_on_a_subsample_is_scored_on_its_own_rows(signal):
    rng, a, b, y = signal
    control = a.copy()
    control[::3] = np.nan
    d = adds(bootstrap(None, N, 100, 0).weights, y, a + b, control, np.arange(N).astype(str), 5, 0)
    assert d.n == N - len(range(0, N, 3))


def test_cross_fitting_never_scores_a_group_with_a_fit_that_saw_it():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(40), 5).astype(str)
    x = rng.normal(size=(200, 1))
    y = 2 * x[:, 0] + rng.normal(0, 0.1, 200)
    before = cross_fitted(x, y, groups, 10, 0)
    moved = y.copy()
    moved[groups == "7"] += 100.0  # only fits that include group 7 change, and none predicts group 7
    after = cross_fitted(x, moved, groups, 10, 0)
    np.testing.assert_allclose(after[groups == "7"], before[groups == "7"])
    assert not np.allclose(after, before)
    with pytest.raises(ValueError, match="at least 2 split groups"):
        cross_fitted(x, y, np.zeros(200).astype(str), 10, 0)


def test_one_rule_for_blocks():
    world = block_labels(pd.Series(["United_Kingdom", "England", "UK", "Kent", None, "France", "Scotland"]), "world")
    assert world.tolist() == ["United Kingdom"] * 4 + [MISSING_BLOCK, "France", "United Kingdom"]
    nyc = block_labels(pd.Series(["Brooklyn", None, np.nan]), "nyc")
    assert nyc.tolist() == ["Brooklyn", MISSING_BLOCK, MISSING_BLOCK]


def _blocks(n_blocks: int, per_block: int, rng) -> tuple[np.ndarray, np.ndarray]:
    blocks = np.repeat([f"b{i}" for i in range(n_blocks)], per_block)
    centres = rng.normal(0, 10, (n_blocks, 2))
    return blocks, np.repeat(centres, per_block, axis=0)


def test_block_checks_see_placing_within_a_block_and_count_the_unseen():
    rng = np.random.default_rng(2)
    train_blocks, train_centres = _blocks(20, 30, rng)
    y_train = train_centres + rng.normal(0, 1, train_centres.shape)
    centre_of = dict(zip(train_blocks, train_centres))
    train_mean_of = pd.DataFrame(y_train).groupby(train_blocks).mean()

    def checks(test_blocks, knows_offsets):
        centres = np.array([centre_of.get(b, y_train.mean(0)) for b in test_blocks])
        offsets = rng.normal(0, 1, centres.shape)
        y = centres + offsets
        weights, groups = bootstrap(None, len(y), 300, 0).weights, np.arange(len(y)).astype(str)
        # the probe that knows only the block: what the oracle knows, the train mean of each block
        probe = centres + offsets if knows_offsets else train_mean_of.loc[test_blocks].to_numpy()
        fixed = FixedEffects(r2=0.5, gain=PairedDifference(diff=0.1, ci_low=0.0, ci_high=0.2), share=0.2,
                             alpha_at_grid_edge=False)  # computed from activations (test below): passed through
        return block_checks("country", train_blocks, y_train, test_blocks, y, probe, weights, groups, 10, 0, fixed)

    within = checks(np.concatenate([train_blocks[::3], ["new"] * 4]), knows_offsets=True)  # one unseen test block
    assert _sign(within.adds) is Sign.ABOVE and within.beyond_block_share > 0.8  # it knows each place's offset
    assert (within.unseen_test_blocks, within.unseen_test_entities, within.missing_block_entities) == (1, 4, 0)
    only_block = checks(train_blocks[::3], knows_offsets=False)
    assert _sign(only_block.adds) is not Sign.ABOVE and _sign(only_block.beats) is not Sign.BELOW
    assert only_block.block_read_r2 > within.block_read_r2 > 0.5  # reading the block exactly scores higher there


def test_within_block_differences_find_the_predictor_that_orders_within_blocks():
    rng = np.random.default_rng(3)
    blocks, centres = _blocks(10, 40, rng)
    offsets = rng.normal(0, 1, len(blocks))
    y = centres[:, 0] + offsets
    probe = centres[:, 0] + offsets + rng.normal(0, 0.3, len(y))
    block_only = centres[:, 0] + rng.normal(0, 0.01, len(y))
    subsample = block_only.copy()
    subsample[200:] = np.nan
    out = within_block_differences(y, probe, {"surface": block_only, "random_weights": subsample}, blocks, 5,
                                   bootstrap(None, len(y), 200, 0))
    assert _sign(out["surface"]) is Sign.ABOVE and out["surface"].diff > 0.7
    assert out["random_weights"].n == 200


def test_fixed_effects_credit_the_activations_only_with_what_the_block_does_not_explain():
    n = 800
    rng = np.random.default_rng(7)
    block = rng.choice(["a", "b", "c", "d"], n)
    offset = pd.Series(block).map({"a": 1500, "b": 1600, "c": 1700, "d": 1800}).to_numpy()
    within = rng.normal(0, 20, n)
    data = probe_data(n, seed=7, block=block, year=offset + within)
    weights = bootstrap(None, int(data.test.sum()), 300, 0).weights
    knows_block = np.column_stack([offset / 100, rng.normal(size=(n, 3))])
    none = fixed_effects(knows_block, data, block, ProbesConfig(), weights)
    assert _sign(none.gain) is Sign.NOT_ESTABLISHED and abs(none.gain.diff) < 0.005
    knows_more = np.column_stack([offset / 100, within / 20 + rng.normal(0, 0.1, n), rng.normal(size=(n, 2))])
    more = fixed_effects(knows_more, data, block, ProbesConfig(), weights)
    assert _sign(more.gain) is Sign.ABOVE and more.share > 0.8
    assert more.r2 > 0.95
