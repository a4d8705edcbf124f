import numpy as np

from tests.fixtures.probe_data import probe_data
from worldprobe.config import ProbesConfig
from worldprobe.probing import surface_control, surface_predictions

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
    from worldprobe.probes import SparseRidgeKFold

    data = probe_data(300, seed=2)
    cfg = ProbesConfig()
    small = cfg.model_copy(update={"surface": cfg.surface.model_copy(update={"max_loo_rows": 100})})
    pred, probe, _ = surface_predictions(data, small)
    assert isinstance(probe, SparseRidgeKFold) and pred.shape == (int(data.test.sum()), 1)
    assert surface_control(data, small)[0].selection == "KFold(5)"
    assert surface_control(data, cfg)[0].selection is None  # leave-one-out below the threshold
