"""The causal test's arithmetic: edit sizes, antisymmetric effects, paired verdicts, ablation, controls."""

import numpy as np
import pandas as pd
import pytest

from worldprobe.causal.directions import nullspace_basis, orthogonal_directions, principal_basis
from worldprobe.causal.intervention import (
    UNABLATED,
    Condition,
    LayerGeometry,
    ablation_results,
    antisymmetric,
    conditions,
    edit_vectors,
    effects_and_comparisons,
    sweep_layers,
)
from worldprobe.causal.readouts import circular_mean_deg, wrap_deg
from worldprobe.config import AlphaGrid, InterventionConfig


def test_sweep_layers_stop_at_the_last_blocks_input():
    assert sweep_layers(18, 1, 2) == [1, 3, 5, 7, 9, 11, 13, 15, 17]
    assert sweep_layers(18, 1, 8) == [1, 9, 17]
    assert sweep_layers(4, 0, 1) == [0, 1, 2, 3]


def test_control_ratios_must_be_probe_ratios():
    with pytest.raises(ValueError, match="among ratios"):
        InterventionConfig(ratios=[0.1, 0.3], control_ratios=[0.5])
    with pytest.raises(ValueError, match="positive"):
        InterventionConfig(ratios=[-0.1, 0.3], control_ratios=[0.3])


def _geometry(rng, n=6, d=12) -> LayerGeometry:
    residual = rng.normal(size=(n, d)) * 5
    acts = rng.normal(size=(200, d)) * np.r_[np.full(4, 10.0), np.full(d - 4, 0.1)]
    return LayerGeometry(residual=residual, directions={"year": rng.normal(size=d) * 0.01}, pca=principal_basis(acts, 4),
                         subspaces={2: np.linalg.qr(rng.normal(size=(d, 2)))[0]})


def test_edits_are_sized_relative_to_the_median_residual_and_move_the_probe_reading_by_delta_sd():
    rng = np.random.default_rng(0)
    geo = _geometry(rng)
    d = geo.directions["year"]
    for kind in ("probe", "random", "orthogonal"):
        v = edit_vectors(Condition(kind, "year", 3, 0.3, -1), geo, rng)
        np.testing.assert_allclose(np.linalg.norm(v, axis=1), 0.3 * geo.median_norm)
    probe = edit_vectors(Condition("probe", "year", 3, 0.3, 1), geo, rng)
    np.testing.assert_allclose(probe @ d, geo.delta_sd("year", 0.3))  # the reading moves by delta_sd
    ortho = edit_vectors(Condition("orthogonal", "year", 3, 0.3, 1), geo, rng)
    np.testing.assert_allclose(ortho @ d, 0.0, atol=1e-9)
    assert len({tuple(np.round(r, 6)) for r in ortho}) == len(ortho)  # a fresh direction per entity


def test_orthogonal_controls_lie_in_the_top_pca_subspace():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(300, 20)) * np.r_[np.full(5, 10.0), np.full(15, 0.1)]  # 5 dominant axes
    v = orthogonal_directions(rng.normal(size=20), principal_basis(acts, 5), 10, rng)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0)
    assert (np.linalg.norm(v[:, 5:], axis=1) < 0.5).all()  # mostly inside the dominant axes (minus the probe component)


def test_mean_ablation_sets_each_component_in_the_subspace_to_the_mean():
    rng = np.random.default_rng(1)
    geo = _geometry(rng)
    q = geo.subspaces[2]
    after = geo.residual + edit_vectors(Condition("ablate_probe", "", 3, dim=2), geo, rng)
    np.testing.assert_allclose(after @ q, np.tile(geo.residual.mean(0) @ q, (len(after), 1)), atol=1e-9)
    outside = np.eye(q.shape[0]) - q @ q.T
    np.testing.assert_allclose(after @ outside, geo.residual @ outside, atol=1e-9)  # nothing else moves
    whole = geo.residual + edit_vectors(Condition("ablate_all", "", 3, dim=12), geo, rng)
    np.testing.assert_allclose(whole, np.tile(geo.residual.mean(0), (len(whole), 1)))
    rand = edit_vectors(Condition("ablate_random", "", 3, dim=2), geo, rng)
    assert np.linalg.matrix_rank(rand) > 2  # each entity its own random subspace


def test_nullspace_basis_starts_with_the_probes_and_keeps_finding_signal():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 10))
    y = X[:, 0] + X[:, 1]
    y2 = X[:, 2]
    basis = nullspace_basis(X, np.column_stack([y, y2]), 2, alphas=AlphaGrid(min_exp=-2, max_exp=4, num=13))
    assert basis.shape == (10, 4)
    np.testing.assert_allclose(basis.T @ basis, np.eye(4), atol=1e-9)
    first = basis[:, 0]
    assert abs(first @ np.r_[1.0, 1.0, np.zeros(8)] / np.sqrt(2)) > 0.99  # iteration 1: the probe itself
    def readable(k: int) -> float:  # R^2 of the best linear read of y once k basis vectors are projected out
        residual = X - X @ basis[:, :k] @ basis[:, :k].T
        fit = np.linalg.lstsq(residual, y - y.mean(), rcond=None)[0]
        return 1 - np.var(y - y.mean() - residual @ fit) / np.var(y)

    assert readable(0) > 0.99 and readable(4) < readable(2) < 0.2


def test_effects_are_antisymmetric_and_longitude_wraps():
    rows = []
    for e, (plus, minus) in enumerate([(175.0, -175.0), (10.0, -10.0)]):
        for sign, lon in ((1, plus), (-1, minus)):
            rows.append({"entity": e, "kind": "probe", "target": "longitude", "layer": 1, "ratio": 0.1, "sign": sign,
                         "longitude": lon, "dim": 0})
    anti = antisymmetric(pd.DataFrame(rows), "longitude").set_index("entity").effect
    assert anti[0] == pytest.approx(-5.0)  # 175 vs -175 is 10 degrees apart across the date line, not 350
    assert anti[1] == pytest.approx(10.0)
    assert abs(circular_mean_deg(np.array([179.0, -179.0]), np.array([0.5, 0.5]))) == pytest.approx(180.0)
    np.testing.assert_allclose(wrap_deg(np.array([350.0, -350.0, 10.0])), [-10.0, 10.0, 10.0])


def _anti(kind: str, values) -> pd.DataFrame:
    return pd.DataFrame({"kind": kind, "target": "year", "layer": 5, "ratio": 0.3, "entity": range(len(values)),
                         "effect": values})


def test_verdicts_are_paired_and_a_control_counts_in_either_direction():
    rng = np.random.default_rng(0)
    n = 30
    anti = {"year": pd.concat([_anti("probe", 10 + rng.normal(size=n)), _anti("random", rng.choice([-1.0, 1.0], n)),
                               _anti("orthogonal", np.full(n, -12.0))])}  # moves the readout the other way, harder
    subsets = {"all": np.ones(n, bool), "in_range": np.arange(n) < 10}
    effects, comparisons = effects_and_comparisons(anti, subsets, {("year", 5, 0.3): 2.0}, n_boot=200, seed=0)
    verdict = {(c.subset, c.versus): c for c in comparisons}
    assert verdict[("all", "random")].sign == "above 0" and verdict[("all", "random")].difference == pytest.approx(9, abs=0.5)
    assert verdict[("all", "orthogonal")].sign == "below 0"
    assert verdict[("in_range", "random")].n_entities == 10
    probe = next(e for e in effects if e.kind == "probe" and e.subset == "all")
    assert probe.slope == pytest.approx(probe.effect / 2.0) and probe.frac_intended == 1.0
    ortho = next(e for e in effects if e.kind == "orthogonal" and e.subset == "all")
    assert ortho.effect == pytest.approx(12.0)  # controls: the mean |effect|


def test_ablation_compares_the_probe_subspace_with_a_random_one_entity_by_entity():
    n = 20
    index = pd.MultiIndex.from_tuples([UNABLATED, (3, "ablate_probe", 2), (3, "ablate_random", 2)],
                                      names=["layer", "kind", "dim"])
    errors = pd.DataFrame([np.full(n, 100.0), np.full(n, 300.0), np.full(n, 110.0) + np.arange(n)], index=index)
    correct = pd.DataFrame([np.ones(n), np.r_[np.ones(5), np.zeros(15)], np.ones(n)], index=index)
    abl, comp = ablation_results(errors, correct, {"all": np.ones(n, bool)}, n_boot=200, seed=0)
    probe = next(a for a in abl if a.subspace == "probe")
    assert probe.accuracy == pytest.approx(0.25) and probe.accuracy_drop == pytest.approx(0.75)
    assert probe.error_increase == pytest.approx(200.0)
    assert comp[0].sign == "above 0" and comp[0].difference == pytest.approx(200 - 10 - (n - 1) / 2)


def test_conditions_count_matches_the_configs_stated_cost():
    cfg = InterventionConfig(ratios=[0.1, 0.3, 1.0], control_ratios=[0.3], ablation_iterations=[1, 4])
    conds = conditions(["latitude", "longitude"], [1, 3], cfg, dims=[2, 8], d_model=16)
    assert len(conds) == 2 * (2 * 2 * (3 + 2 * 1) + 2 * 2 + 1)
    assert [c.dim for c in conds if c.kind == "ablate_all"] == [16, 16]
    assert {c.sign for c in conds if c.kind == "random"} == {1, -1}
