"""Probe directions: saved in raw activation space, they round-trip and reproduce the probe."""

import numpy as np
import pytest

from worldprobe.causal.directions import DirectionSet, ProbeDirection, best_layer, fit_directions
from worldprobe.config import AlphaGrid
from worldprobe.estimators import RidgeLOO, alpha_grid
from worldprobe.records import ActivationMeta

META = ActivationMeta(model="tiny", model_hash="abc", control=None, dataset="world", prompt="main",
                      prompt_template="<bos>Where is {text}", n_layers=3, d_model=6, n_entities=80, dtype="float32",
                      layer_names=("embed", "blocks.0.resid_post", "blocks.1.resid_post"))


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    scales = np.array([1.0, 10.0, 0.1, 3.0, 1.0, 50.0])  # unequal scales: standardisation must be undone
    acts = {layer: rng.normal(size=(80, 6)) * scales + 5 for layer in range(3)}
    y = {"latitude": acts[1] @ rng.normal(size=6) + rng.normal(size=80), "longitude": acts[2][:, 0] * 3 + 100.0}
    return acts, y, fit_directions(acts, y, META, alphas=AlphaGrid())


def test_directions_reproduce_the_probe_and_round_trip(fitted, tmp_path):
    acts, y, directions = fitted
    for d in directions.directions:
        probe = RidgeLOO(alpha_grid(AlphaGrid())).fit(acts[d.layer], y[d.target])
        np.testing.assert_allclose(d.predict(acts[d.layer]), probe.predict(acts[d.layer]), rtol=1e-9, atol=1e-9)
        assert d.hook_point == META.layer_names[d.layer] and d.target_std == pytest.approx(np.std(y[d.target]))
    directions.save(tmp_path / "d.json")
    loaded = DirectionSet.load(tmp_path / "d.json")
    assert loaded == directions
    d = loaded.get("longitude", 2)
    np.testing.assert_array_equal(d.predict(acts[2]), directions.get("longitude", 2).predict(acts[2]))


def test_an_edit_moves_the_reading_by_delta_standard_deviations(fitted):
    acts, _, directions = fitted
    d = directions.get("latitude", 1)
    x = acts[1][:5]
    for delta in (-4.0, 0.5, 3.0):
        moved = (d.predict(x + d.edit(delta)) - d.predict(x)) / d.target_std
        np.testing.assert_allclose(moved, delta, rtol=1e-9)
        other = d.edit(delta, np.ones(6))  # a control: equal norm, along its own vector
        assert np.linalg.norm(other) == pytest.approx(np.linalg.norm(d.edit(delta)))
        assert np.sign(other @ np.ones(6)) == np.sign(delta)


def test_mean_difference_points_from_low_to_high_targets_and_best_layer_uses_train_loo(fitted):
    acts, y, directions = fitted
    d = directions.get("longitude", 2)
    assert d.mean_difference[0] > 0  # longitude grows with feature 0 of layer 2
    assert best_layer([x for x in directions.directions if x.target == "longitude"]) == 2
    with pytest.raises(KeyError):
        directions.get("year", 0)
    with pytest.raises(Exception):  # frozen record
        d.intercept = 0.0
    assert isinstance(d, ProbeDirection)
