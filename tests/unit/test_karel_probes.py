import numpy as np
import pandas as pd
import pytest

from worldprobe.karel.analysis import regressions
from worldprobe.karel.probes import ProbeSettings, baselines, fit_probes
from worldprobe.karel.traces import Trace

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread


FAST = ProbeSettings(hidden=16, max_epochs=30, patience=5, lr=1e-2)


def data(n, rng, d=16):
    """Column 0 of y is linearly encoded in x, column 1 only through x0 * x1 (XOR), column 2 is noise."""
    y0 = rng.integers(0, 4, n)
    x = rng.normal(size=(n, d))
    x[:, 2:6] += 3 * np.eye(4)[y0]
    y1 = (x[:, 0] > 0).astype(int) ^ (x[:, 1] > 0).astype(int)
    y = np.stack([y0, y1, rng.integers(0, 4, n)], axis=1)
    y[: n // 10, 0] = -1  # dropped rows
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def splits():
    rng = np.random.default_rng(0)
    parts = {s: data(n, rng) for s, n in (("train", 1500), ("val", 400), ("test", 400))}
    return {s: p[0] for s, p in parts.items()}, {s: p[1] for s, p in parts.items()}


def test_linear_probe_reads_linear_content_but_not_xor(splits):
    x, y = splits
    res = fit_probes(x, y, "linear", FAST, seed=0)
    assert res[0].test_accuracy > 0.9
    assert res[1].test_accuracy < 0.65 and res[2].test_accuracy < 0.35
    assert res[0].n_train == 1500 - 150 and res[1].n_train == 1500


def test_mlp_probe_reads_xor(splits):
    x, y = splits
    res = fit_probes(x, y, "mlp1", FAST, seed=0)
    assert res[1].test_accuracy > 0.8
    again = fit_probes(x, y, "mlp1", FAST, seed=0)
    assert [r.test_accuracy for r in again] == [r.test_accuracy for r in res]


def test_baselines_on_a_hand_made_trace():
    labels = np.array([[1, 2, -1], [2, -1, -1], [0, 0, 0], [0, 0, -1]])
    tr = Trace(program=np.zeros(4, int), action=np.arange(4), length=np.full(4, 5), initial=np.array([1, 1, 0, 0]),
               labels={"original": labels}, before={"original": np.array([1, 1, 0, 3])})
    got = baselines(tr, tr, "original")
    assert got["unchanged"] == [pytest.approx(2 / 4), pytest.approx(1 / 3), pytest.approx(1.0)]
    assert got["initial"] == [pytest.approx(3 / 4), pytest.approx(2 / 3), pytest.approx(1.0)]
    assert got["majority"][0] == pytest.approx(2 / 4)  # majority class 0 on train rows
    # "current": facing 1 was followed by 2, facing 0 by 0 (the identity map would score 2/3 at +1)
    assert got["current"] == [None, pytest.approx(1.0), pytest.approx(1.0)]


def test_regression_of_accuracy_on_content():
    steps = [0, 10, 20, 30]
    acc = pd.DataFrame({"step": steps, "accuracy_spec": [0.1, 0.2, 0.3, 0.4]})
    rows = []
    for s, c in zip(steps, [0.3, 0.4, 0.5, 0.6]):
        at = {"step": s, "frame": "absolute", "semantics": "original", "offset": 0}
        rows.append({**at, "feature": "mean", "probe": "linear", "accuracy": c})
        rows.append({**at, "feature": None, "probe": "unchanged", "accuracy": 0.5})
    fit = regressions(acc, pd.DataFrame(rows))[0]
    assert fit["content"]["r2"] == pytest.approx(1.0) and fit["content"]["slope"] == pytest.approx(1.0)
    assert fit["above_baseline"]["r2"] == pytest.approx(1.0)
    flat = regressions(acc.assign(accuracy_spec=0.1), pd.DataFrame(rows))[0]
    assert flat["content"]["r2"] is None
