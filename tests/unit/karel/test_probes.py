import numpy as np
import pandas as pd
import pytest

from worldprobe.karel.analysis import RegressionSummary, regression_key, regressions
from worldprobe.karel.content import Target, baselines, compose, targets
from worldprobe.karel.probes import LinearProbe, MLPProbes, MLPSettings, accuracy
from worldprobe.karel.traces import DROPPED, Trace, in_frame

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread


FAST = MLPSettings(hidden=32, lr=0.01, weight_decay=0.01, dropout=0.0, batch_size=128, max_steps=1500, eval_every=100)


def split(n, rng, d=16):
    """Two independent facings a, b coded one-hot in x (plus noise); labels: a, (a + b) mod 4, noise."""
    a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)
    x = rng.normal(size=(n, d)) * 0.3
    x[:, 0:4] += 3 * np.eye(4)[a]
    x[:, 4:8] += 3 * np.eye(4)[b]
    y = np.stack([a, (a + b) % 4, rng.integers(0, 4, n)], axis=1)
    y[: n // 10, 0] = DROPPED
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {s: split(n, rng) for s, n in (("train", 3000), ("val", 600), ("test", 600))}


def test_linear_probe_converges_on_a_linearly_separable_target_and_cannot_add(data):
    (x, y), (xv, yv), (xt, yt) = data["train"], data["val"], data["test"]
    probe = LinearProbe((0.01, 0.1, 1.0)).fit(x, y[:, 0], xv, yv[:, 0])
    keep = yt[:, 0] != DROPPED
    assert np.mean(probe.predict(xt)[keep] == yt[keep, 0]) >= 0.99
    assert probe.converged_ and probe.n_train_ == 3000 - 300 and probe.C_ in (0.01, 0.1, 1.0)
    # a sum mod 4 of two one-hot codes: a linear read-out gets at most 12 of the 16 combinations
    summed = LinearProbe().fit(x, y[:, 1], xv, yv[:, 1])
    assert np.mean(summed.predict(xt) == yt[:, 1]) < 0.8
    noise = LinearProbe().fit(x, y[:, 2], xv, yv[:, 2])
    assert np.mean(noise.predict(xt) == yt[:, 2]) < 0.35


def test_mlp_probes_compute_the_sum_and_are_reproducible(data):
    (x, y), (xv, yv), (xt, yt) = data["train"], data["val"], data["test"]
    bank = MLPProbes(FAST, seed=0).fit(x, y, xv, yv)
    pred = bank.predict(xt)
    assert pred.shape == (600, 3)
    assert np.mean(pred[:, 1] == yt[:, 1]) > 0.95  # what the linear probe cannot
    assert np.mean(pred[:, 2] == yt[:, 2]) < 0.35
    assert list(bank.n_train_) == [2700, 3000, 3000]
    again = MLPProbes(FAST, seed=0).fit(x, y, xv, yv)
    assert np.array_equal(again.predict(xt), pred) and again.best_step_.tolist() == bank.best_step_.tolist()


def hand_trace():
    """Two programs on input 0 (facing 1, then 0); offsets -1..2; input 1's facing is 3 throughout."""
    labels = np.array([[-1, 2, -1, -1], [2, -1, -1, -1], [-1, 0, 0, 0], [0, 0, 0, -1], [0, 0, -1, -1], [0, -1, -1, -1]])
    before = np.array([1, 2, 0, 0, 0, 0])
    return Trace(program=np.array([0, 0, 1, 1, 1, 1]), action=np.array([0, 1, 0, 1, 2, 3]), length=np.array([2, 2, 4, 4, 4, 4]),
                 written=np.array([2, 0, 0, 0, 0, 0]), input=np.zeros(6, int), initial=np.array([1, 1, 0, 0, 0, 0]),
                 spec_facing=np.array([[1, 3]] * 2 + [[0, 3]] * 4), offsets=(-1, 0, 1, 2),
                 labels={"original": labels}, before={"original": before}, heldout=np.full((6, 4), DROPPED))


def test_composed_score_equals_the_label_when_fed_the_true_parts():
    tr = hand_trace()
    keys, y = targets(tr, ["original"])
    assert Target("absolute", "original", "initial_1") in keys
    assert (y[:, keys.index(Target("absolute", "original", "initial_1"))] == 3).all()
    composed = compose(tr, keys, y)  # the true labels as predictions
    for o, guess in composed.items():
        label = tr.labels["original"][:, tr.column(o)]
        keep = label != DROPPED
        assert np.array_equal(guess[keep], label[keep])
    rel = in_frame(tr, "relative").labels["original"]
    wrong = y.copy()
    wrong[:, keys.index(Target("absolute", "original", "initial_0"))] += 1  # a wrong initial facing shifts every row
    assert all((compose(tr, keys, wrong)[o] != (tr.initial + rel[:, tr.column(o)]) % 4).all() for o in tr.offsets)


def test_baselines_on_a_hand_made_trace():
    tr = hand_trace()
    got = baselines(tr, tr, "original")
    score = lambda name, o: accuracy(got[name][o], tr.labels["original"][:, tr.column(o)])  # noqa: E731
    assert score("majority", 0) == pytest.approx(3 / 4)  # class 0 on 3 of the 4 rows with a label
    assert score("unchanged", 0) == pytest.approx(3 / 4)  # facing before the action: 1, 0, 0, 0 vs 2, 0, 0, 0
    # at -1 "unchanged" is the facing before the action read (k - 1): rows 1, 3, 4, 5 -> 1, 0, 0, 0 vs 2, 0, 0, 0
    assert score("unchanged", -1) == pytest.approx(3 / 4)
    assert score("initial", 1) == pytest.approx(1.0)
    assert got["current"][-1] is None and got["current"][0] is None
    assert score("current", 1) == pytest.approx(1.0)  # facing 0 is followed by 0


def test_regression_of_accuracy_on_content():
    steps = list(range(0, 120, 10))
    acc = pd.DataFrame({"step": steps, "accuracy_spec": np.linspace(0.1, 0.65, len(steps))})
    rows = []
    for s, c in zip(steps, np.linspace(0.3, 0.85, len(steps))):
        at = {"probe_set": "teacher_forced", "step": s, "frame": "absolute", "semantics": "original", "offset": 0,
              "valid": None}
        rows.append({**at, "target": "facing", "feature": "mean", "probe": "linear", "accuracy": c})
        rows.append({**at, "target": "composed", "feature": "mean", "probe": "linear", "accuracy": 1 - c})
        rows.append({**at, "target": "facing", "feature": None, "probe": "initial", "accuracy": 0.5})
        rows.append({**at, "target": "facing", "feature": "tokens", "probe": "syntax", "accuracy": 0.6})
        # an oracle is never the bar: "above the text" subtracts the best text-only score (0.6)
        rows.append({**at, "target": "facing", "feature": None, "probe": "unchanged", "accuracy": c})
    table = pd.DataFrame(rows)
    fits = regressions(acc, table, 200, 0)
    fit = fits.fits[regression_key("teacher_forced", "absolute", "mean", "linear", "facing", 0)]
    assert fit.content.r2 == pytest.approx(1.0) and fit.content.slope == pytest.approx(1.0)
    assert fit.content.verdict == "above 0" and fit.content.slope_low == pytest.approx(1.0)
    assert fit.above_text.slope == pytest.approx(1.0) and fit.above_text.intercept == pytest.approx(0.4)
    trained = fits.fits[regression_key("teacher_forced", "absolute", "mean", "linear", "facing", 0, "trained")]
    assert trained.content.n == len(steps) - 1
    assert fits.fits[regression_key("teacher_forced", "absolute", "mean", "linear", "composed", 0)].content.slope == (
        pytest.approx(-1.0))
    assert fits.paper_r2[0] == 0.968
    flat = regressions(acc.assign(accuracy_spec=0.1), table, 200, 0)
    assert flat.fits[regression_key("teacher_forced", "absolute", "mean", "linear", "facing", 0)].content.r2 is None
    noisy = acc.assign(accuracy_spec=np.random.default_rng(0).permutation(acc["accuracy_spec"].to_numpy()) * 0.01)
    unclear = regressions(noisy, table, 200, 0).fits[regression_key("teacher_forced", "absolute", "mean", "linear",
                                                                    "facing", 0)].content
    assert unclear.slope_low < 0 < unclear.slope_high and unclear.verdict == "not established"
    short = regressions(acc.head(3), table[table["step"] < 30], 200, 0)
    few = short.fits[regression_key("teacher_forced", "absolute", "mean", "linear", "facing", 0)].content
    assert few.r2 == pytest.approx(1.0) and few.slope_low is None and few.verdict == "not established"


def test_regression_summary_round_trips(tmp_path):
    steps = [0, 10, 20]
    acc = pd.DataFrame({"step": steps, "accuracy_spec": [0.1, 0.3, 0.2]})
    rows = [{"probe_set": "generated", "step": s, "frame": "relative", "semantics": "original", "offset": 1,
             "target": "facing", "feature": "concat", "probe": "mlp", "accuracy": a, "valid": True}
            for s, a in zip(steps, [0.5, 0.7, 0.9])]
    fits = regressions(acc, pd.DataFrame(rows), 100, 0)
    fits.save(tmp_path / "r.json")
    assert RegressionSummary.load(tmp_path / "r.json") == fits
