"""The bootstrap interval of the headline R² (the summary itself: tests/unit/test_report.py)."""

import numpy as np
import pytest

from tests.fixtures.spacetime import synthetic_predictions
from worldprobe.summary import bootstrap_r2_ci


def test_bootstrap_matches_sklearn_on_each_resample():
    from sklearn.metrics import r2_score

    frame = synthetic_predictions("place", 80, 0.3, np.random.default_rng(1))
    index = np.random.default_rng(7).integers(0, 80, size=(40, 80))  # the draws bootstrap_r2_ci makes with seed 7
    expected = [np.mean([r2_score(frame[t].iloc[i], frame[f"pred_{t}"].iloc[i]) for t in ("longitude", "latitude")])
                for i in index]
    assert bootstrap_r2_ci(frame, "place", seed=7, n_boot=40) == pytest.approx(tuple(np.quantile(expected, [0.025, 0.975])))


def test_bootstrap_interval_narrows_with_more_entities():
    rng = np.random.default_rng(0)
    small, large = (synthetic_predictions("time", n, 0.3, rng) for n in (100, 3000))
    width = [np.subtract(*bootstrap_r2_ci(p, "time", seed=0, n_boot=300)[::-1]) for p in (small, large)]
    assert width[1] < width[0] / 3
