"""Edits on a tiny model: the intervention's readouts move as constructed, and not at all for a zero edit."""

import numpy as np
import pandas as pd
import pytest

from tests.tiny_lm import save_tiny_model
from worldprobe.causal.directions import LAYER_CONVENTION, RAW_SPACE, ProbeDirection
from worldprobe.causal.intervention import Condition, run_conditions
from worldprobe.causal.readouts import CountryReadout
from worldprobe.config import ModelConfig
from worldprobe.lm.engine import count_hooks
from worldprobe.lm.models import load_model
from worldprobe.lm.readout import FewShotReadout

ENTITIES = ["Paris", "Lake Titicaca", "Mount Everest"]


def _direction(vector: np.ndarray, layer: int) -> ProbeDirection:
    return ProbeDirection(model="tiny", model_hash="h", control=None, dataset="world", target="longitude",
                          target_units="degrees", layer=layer, hook_point="x", layer_convention=LAYER_CONVENTION,
                          position="last", prompt_template="t", space=RAW_SPACE,
                          weight=list(vector), intercept=0.0, target_mean=0.0, target_std=1.0, alpha=1.0, loo_r2=0.5,
                          n_train=10, mean_difference=list(vector))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_model(ModelConfig(name=str(save_tiny_model(tmp_path_factory.mktemp("llama"), "llama"))))


def test_an_edit_the_readout_depends_on_moves_the_expected_longitude_monotonically(tiny):
    """Question ends at the entity; the edit after the last block pushes the logit gap 'Mount' - 'Lyon'
    up monotonically (see the readout tests), so the expected longitude (Lyon -10, Mount +10) rises."""
    readout = FewShotReadout(tiny, "Q: Where is Paris? A: Lyon ", "Q: Where is {entity}")
    reader = CountryReadout(readout, ["Lyon", "Mount"], latitude=np.zeros(2), longitude=np.array([-10.0, 10.0]))
    (a,), (b,) = readout.candidate_tokens(["Lyon", "Mount"])
    unembed = tiny.model.get_output_embeddings().weight.detach().numpy()
    v = tiny.model.base_model.norm.weight.detach().numpy() * (unembed[b] - unembed[a])
    layer = tiny.n_layers
    probes = {("longitude", layer): _direction(v, layer)}
    deltas = [-4.0, -2.0, -1.0, 1.0, 2.0, 4.0]
    before = count_hooks(tiny.model)
    readings = run_conditions(reader, ENTITIES, [Condition("probe", "longitude", layer, d) for d in deltas], probes,
                              {layer: {}})
    assert count_hooks(tiny.model) == before
    for _, rows in readings.groupby("entity"):
        curve = rows.set_index("delta_sd").sort_index().longitude
        assert (np.diff(curve.to_numpy()) > 0).all(), curve
        assert -10 < curve.iloc[0] < curve.iloc[-1] < 10


def test_zero_edit_reproduces_the_unedited_readings_bitwise(tiny):
    readout = FewShotReadout(tiny, "Q: Where is Paris? A: Lyon ", "Q: Where is {entity}? A:")
    reader = CountryReadout(readout, ["Lyon", "Mount Everest", "Paris"], latitude=np.array([45.0, 28.0, 48.0]),
                            longitude=np.array([4.8, 86.9, 2.3]))
    rng = np.random.default_rng(0)
    probes = {("longitude", 2): _direction(rng.normal(size=tiny.d_model), 2)}
    readings = run_conditions(reader, ENTITIES, [Condition("probe", "longitude", 2, 0.0)], probes, {2: {}})
    base = readings[readings.kind == "none"].set_index("entity")
    edited = readings[readings.kind == "probe"].set_index("entity")
    pd.testing.assert_frame_equal(base[["latitude", "longitude"]], edited[["latitude", "longitude"]], check_exact=True)
