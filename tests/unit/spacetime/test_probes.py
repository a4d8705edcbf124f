import numpy as np
import pytest

from tests.fixtures.probe_data import probe_data
from worldprobe.config import ProbesConfig
from worldprobe.spacetime.probes import surface_control, surface_predictions

CFG = ProbesConfig()


def test_surface_control_reads_the_entity_string_only():
    n = 400
    rng = np.random.default_rng(5)
    stems = ["".join(rng.choice(list("abcdefghij"), 6)) for _ in range(n)]
    east = rng.random(n) < 0.5
    text = [s + ("ville" if e else "burg") for s, e in zip(stems, east)]
    data = probe_data(n, kind="place", seed=5, text=text, longitude=np.where(east, 60.0, -60.0) + rng.normal(0, 5, n))
    informed, pred = surface_control(data, CFG)
    assert pred.shape == (data.test.sum(), 2)
    assert informed.r2_per_target["longitude"] > 0.9
    assert informed.r2_per_target["latitude"] < 0.05  # random latitudes: nothing in the string
    assert informed.n_features > 0 and set(informed.alpha) == {"longitude", "latitude"}


def test_surface_control_switches_to_kfold_above_max_loo_rows():
    from worldprobe.estimators import SparseRidgeKFold

    data = probe_data(300, seed=2)
    cfg = ProbesConfig()
    small = cfg.model_copy(update={"surface": cfg.surface.model_copy(update={"max_loo_rows": 100})})
    pred, probe, _ = surface_predictions(data, small)
    assert isinstance(probe, SparseRidgeKFold) and pred.shape == (int(data.test.sum()), 1)
    assert surface_control(data, small)[0].selection == "KFold(5)"
    assert surface_control(data, cfg)[0].selection is None  # leave-one-out below the threshold


def test_variants_and_random_weights_on_a_subsample_are_compared_on_the_same_entities(tmp_path):
    from tests.fixtures.probe_data import write_store
    from worldprobe.config import ValidityConfig
    from worldprobe.spacetime.inputs import ON_SUBSAMPLE, load_runs
    from worldprobe.spacetime.probes import probe_dataset

    n = 300
    rng = np.random.default_rng(7)
    X = rng.normal(size=(n, 6))
    data = probe_data(n, seed=7, year=1700 + 80 * X[:, 0] + rng.normal(0, 5, n), block=rng.integers(0, 4, n))
    layers = np.stack([rng.normal(size=(n, 6)), X]).astype("float32")
    sub = np.sort(rng.choice(n, 120, replace=False))
    write_store(tmp_path / "tiny" / "main", data.ids, layers)
    write_store(tmp_path / "tiny" / "empty", data.ids[sub], layers[:, sub], prompt="empty", subsample=120)
    write_store(tmp_path / "tiny~random_weights" / "main", data.ids[sub], rng.normal(size=(2, 120, 6)).astype("float32"),
                control="random_weights", subsample=120)
    data, runs, _ = load_runs(tmp_path, data)
    metrics = probe_dataset(data, runs, CFG, ValidityConfig(n_boot=100), seed=0).metrics
    main, empty, matched = (metrics.runs["tiny"][p] for p in ("main", "empty", "main" + ON_SUBSAMPLE))
    assert (main.n_train, main.n_test) == (int(data.train.sum()), int(data.test.sum()))
    assert (matched.n_train, matched.n_test) == (empty.n_train, empty.n_test)
    assert empty.n_train + empty.n_test == 120
    assert matched.best.r2 == pytest.approx(empty.best.r2)  # same activations, same entities
    assert metrics.controls.random_weights.model_tag == "tiny~random_weights"
    verdicts = metrics.validity.verdicts
    assert verdicts["random_weights"].n == empty.n_test and verdicts["surface"].n == main.n_test
    assert verdicts["random_weights"].ci_low > 0  # noise features lose to the planted layer, on the rows it holds
