"""The slope of synthesis accuracy on semantic content and its interval over checkpoints."""

import numpy as np
from scipy.stats import linregress

from worldprobe.karel.analysis import _fit, moving_blocks


def test_moving_blocks_resample_runs_of_consecutive_checkpoints():
    draws = moving_blocks(25, 200, seed=0)
    assert draws.shape == (200, 25) and draws.min() >= 0 and draws.max() <= 24
    runs = draws.reshape(200, -1)[:, :24].reshape(200, 8, 3)  # blocks of round(25 ** (1/3)) = 3
    assert (np.diff(runs, axis=2) == 1).all()
    np.testing.assert_array_equal(draws, moving_blocks(25, 200, seed=0))


def test_block_intervals_cover_the_true_slope_more_often_when_accuracy_drifts_with_training():
    """Accuracy drifts with training beyond what the content explains (a random walk in its residual):
    resampling checkpoints one by one treats 25 correlated residuals as independent and covers the
    true slope (0.5) too rarely; blocks of consecutive checkpoints do better."""
    rng = np.random.default_rng(3)
    covered = {"blocks": 0, "one by one": 0}
    for sim in range(40):
        x = np.cumsum(rng.normal(size=25))
        y = 0.5 * x + np.cumsum(rng.normal(size=25))
        fit = _fit(x, y, 200, seed=sim)
        covered["blocks"] += fit.slope_low <= 0.5 <= fit.slope_high
        draws = rng.integers(0, 25, size=(200, 25))
        low, high = np.percentile([linregress(x[d], y[d]).slope for d in draws], [2.5, 97.5])
        covered["one by one"] += low <= 0.5 <= high
    assert covered["blocks"] > covered["one by one"] + 3
