"""The causal test's arithmetic: circular readouts, per-entity changes, slopes, intervals, controls."""

import numpy as np
import pandas as pd
import pytest

from worldprobe.causal.intervention import changes, entity_slopes, orthogonal_direction, spearman_of_change
from worldprobe.causal.readouts import circular_mean_deg, wrap_deg


def test_longitude_readout_and_changes_wrap_at_the_date_line():
    assert abs(circular_mean_deg(np.array([179.0, -179.0]), np.array([0.5, 0.5]))) == pytest.approx(180.0)
    weights = np.array([[1.0, 0.0], [0.25, 0.75]])
    np.testing.assert_allclose(circular_mean_deg(np.array([10.0, 20.0]), weights), [10.0, 17.5], atol=0.1)
    np.testing.assert_allclose(wrap_deg(np.array([350.0, -350.0, 10.0])), [-10.0, 10.0, 10.0])
    readings = pd.DataFrame({"entity": [0, 0, 1, 1], "kind": ["none", "probe", "none", "probe"],
                             "longitude": [175.0, -175.0, 0.0, 5.0], "latitude": [1.0, 2.0, 3.0, 1.0]})
    ch = changes(readings, ["latitude", "longitude"])
    np.testing.assert_allclose(ch.longitude, [10.0, 5.0])  # 175 -> -175 is +10 degrees, not -350
    np.testing.assert_allclose(ch.latitude, [1.0, -2.0])


def test_slopes_are_per_entity_and_unknown_readings_are_dropped():
    ch = pd.DataFrame({"entity": [0, 0, 1, 1, 1], "index": 0, "delta_sd": [-2.0, 2.0, -2.0, 2.0, 4.0],
                       "year": [-20.0, 20.0, 6.0, np.nan, -12.0]})
    slopes = entity_slopes(ch, "year").set_index("entity").slope
    assert slopes[0] == pytest.approx(10.0)
    assert slopes[1] == pytest.approx((-2 * 6 + 4 * -12) / (4 + 16))
    assert spearman_of_change(ch[ch.entity == 0], "year") == pytest.approx(1.0)


def test_orthogonal_control_lies_in_the_top_pca_subspace_and_is_orthogonal_to_the_probe():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(300, 20)) * np.r_[np.full(5, 10.0), np.full(15, 0.1)]  # 5 dominant axes
    probe = rng.normal(size=20)
    v = orthogonal_direction(probe, acts, k=5, seed=1)
    assert v @ probe == pytest.approx(0.0, abs=1e-9) and np.linalg.norm(v) == pytest.approx(1.0)
    assert np.linalg.norm(v[5:]) < 0.5  # mostly inside the dominant axes (minus the probe component)


def _changes(kind: str, slope, n_entities: int, n_index: int = 1, deltas=(-4.0, 4.0)) -> pd.DataFrame:
    rows = [{"entity": e, "kind": kind, "target": "year", "layer": 5, "delta_sd": d, "index": i,
             "year": slope(e, i) * d} for e in range(n_entities) for i in range(n_index) for d in deltas]
    return pd.DataFrame(rows)


def test_verdicts_come_from_paired_intervals_and_controls_count_in_either_direction():
    from worldprobe.causal.intervention import summarise

    rng = np.random.default_rng(0)
    ch = pd.concat([
        _changes("probe", lambda e, i: 10 + rng.normal(), 30),
        _changes("mean_difference", lambda e, i: 5.0, 30),
        _changes("orthogonal", lambda e, i: -12.0, 30),  # a control moving the readout the other way, harder
        _changes("random", lambda e, i: (-1) ** i * 1.0, 30, n_index=4),
    ])
    control = _changes("probe", lambda e, i: 0.0, 30)
    res = summarise(ch, control, ["year"], [5], {"year": 100.0}, n_boot=200, seed=0)
    verdicts = {c.versus: c.verdict for c in res.comparisons}
    assert verdicts["random"] == "the probe direction moves the readout more than random"
    assert verdicts["random_weights"] == "the probe direction moves the readout more than random_weights"
    assert verdicts["orthogonal"] == "orthogonal moves the readout more than the probe direction"
    probe = next(e for e in res.effects if e.kind == "probe")
    assert probe.slope == pytest.approx(10, abs=0.5) and probe.slope_in_sd == pytest.approx(0.1, abs=0.005)
    assert probe.frac_intended == 1.0 and probe.spearman > 0.8
    random = next(e for e in res.effects if e.kind == "random")
    assert random.direction_slopes == pytest.approx([1.0, -1.0, 1.0, -1.0]) and random.slope == pytest.approx(0.0)


def _metrics(best_layer: int, layers: list[int]):
    from worldprobe.causal.outputs import InterventionMetrics, Results

    return InterventionMetrics(
        dataset="world", model="m", readout="CountryReadout", n_entities=0, entity_ids=[], best_layer=best_layer,
        layers=layers, deltas=[-4.0, 4.0], control_deltas=[4.0], n_random=1, baseline={},
        all_entities=Results(effects=[], comparisons=[]), known_entities=None, n_known=None, specificity=[],
        propagation=[], runtime_s=0.0,
    )


def test_dose_response_layer_is_the_best_layer_only_where_it_was_edited():
    assert _metrics(16, [10, 13, 16]).dose_layer == 16
    # the best layer is the last one, never edited (no block reads it): the middle edited layer instead
    assert _metrics(18, [12, 15, 17]).dose_layer == 15


def test_dose_response_figure_is_titled_with_the_layer_it_plots():
    from worldprobe.causal.intervention import StageResult
    from worldprobe.causal.plots import dose_response_figure

    table = pd.DataFrame({"delta_sd": [-4.0, 0.0, 4.0], "probe": [-1.0, 0.0, 1.0], "mean_difference": 0.0,
                          "orthogonal": 0.0, "random_mean": 0.0, "random_min": -0.1, "random_max": 0.1,
                          "random_weights": 0.0})
    result = StageResult(metrics=_metrics(18, [12, 15, 17]), directions={}, dose={"latitude": table},
                         changes=pd.DataFrame())
    fig = dose_response_figure(result, {"latitude": "degrees north"})
    assert fig.axes[0].get_title() == "world: edit latitude at layer 15"
