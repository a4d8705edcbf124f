"""Edits on a tiny model: the intervention's readouts move as constructed, and not at all for a zero edit."""

import numpy as np
import pandas as pd
import pytest

from tests.tiny_lm import save_tiny_model
from worldprobe.causal.intervention import Condition, LayerGeometry, antisymmetric, run_conditions
from worldprobe.causal.readouts import CenturyReadout, CountryReadout
from worldprobe.config import ModelConfig
from worldprobe.lm.engine import count_hooks
from worldprobe.lm.models import load_model
from worldprobe.lm.readout import FewShotReadout

ENTITIES = ["Paris", "Lake Titicaca", "Mount Everest"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_model(ModelConfig(name=str(save_tiny_model(tmp_path_factory.mktemp("llama"), "llama"))))


def _geometry(readout: FewShotReadout, layer: int, direction: np.ndarray) -> LayerGeometry:
    d = len(direction)
    return LayerGeometry(residual=readout.residual(ENTITIES, layer), directions={"longitude": direction},
                         pca=np.eye(d)[:, :4], subspaces={1: (direction / np.linalg.norm(direction))[:, None]})


def test_an_edit_the_readout_depends_on_moves_the_expected_longitude_monotonically(tiny):
    """Question ends at the entity; the edit after the last block pushes the logit gap 'Mount' - 'Lyon'
    up monotonically, so the expected longitude (Lyon -10, Mount +10) rises with the signed size, and the
    antisymmetric effect is positive for every entity."""
    readout = FewShotReadout(tiny, "Q: Where is Paris? A: Lyon ", "Q: Where is {entity}")
    reader = CountryReadout(readout, ["Lyon", "Mount"], latitude=np.zeros(2), longitude=np.array([-10.0, 10.0]))
    (a,), (b,) = readout.candidate_tokens(["Lyon", "Mount"])
    unembed = tiny.model.get_output_embeddings().weight.detach().numpy()
    v = tiny.model.base_model.norm.weight.detach().numpy() * (unembed[b] - unembed[a])
    layer = tiny.n_layers
    geometry = {layer: _geometry(readout, layer, v)}
    conds = [Condition("probe", "longitude", layer, r, s) for r in (0.05, 0.1, 0.2) for s in (1, -1)]
    before = count_hooks(tiny.model)
    readings = run_conditions(reader, ENTITIES, conds, geometry, seed=0)
    assert count_hooks(tiny.model) == before
    for _, rows in readings.groupby("entity"):
        curve = rows.assign(size=rows.ratio * rows.sign).set_index("size").sort_index().longitude
        assert (np.diff(curve.to_numpy()) > 0).all(), curve
        assert -10 < curve.iloc[0] < curve.iloc[-1] < 10
    assert (antisymmetric(readings, "longitude").effect > 0).all()


def test_zero_edit_and_ablation_of_nothing_reproduce_the_unedited_readings_bitwise(tiny):
    readout = FewShotReadout(tiny, "Q: Where is Paris? A: Lyon ", "Q: Where is {entity}? A:")
    reader = CountryReadout(readout, ["Lyon", "Mount Everest", "Paris"], latitude=np.array([45.0, 28.0, 48.0]),
                            longitude=np.array([4.8, 86.9, 2.3]))
    rng = np.random.default_rng(0)
    geometry = {2: _geometry(readout, 2, rng.normal(size=tiny.d_model))}
    base = pd.DataFrame(reader.read(ENTITIES))
    readings = run_conditions(reader, ENTITIES, [Condition("probe", "longitude", 2, 0.0)], geometry, seed=0)
    pd.testing.assert_frame_equal(base[["latitude", "longitude"]], readings[["latitude", "longitude"]], check_exact=True)
    ablated = run_conditions(reader, ENTITIES, [Condition("ablate_probe", "", 2, dim=1)], geometry, seed=0)
    assert not np.allclose(ablated.longitude, base.longitude)  # the residual's component along it varies


def test_century_readout_is_an_expected_year_over_the_centuries(tiny):
    readout = FewShotReadout(tiny, "Ada was born in the year 1815\n", "{entity} was born in the year")
    reader = CenturyReadout(readout, first=15, last=20)
    p = reader.probabilities(ENTITIES)
    np.testing.assert_allclose(p.sum(1), 1.0)
    read = reader.read(ENTITIES)
    np.testing.assert_allclose(read["year"], p @ (np.arange(15, 21) * 100 + 50.0))
    assert ((1550 <= read["year"]) & (read["year"] <= 2050)).all()
    table = pd.DataFrame({"year": [1879.0, 1200.0, 2001.0]})
    np.testing.assert_array_equal(reader.truth(table), [3, -1, 5])
