from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score

from tests.fixtures.probe_data import probe_data, write_store
from worldprobe.config import MLPProbeConfig, ProbesConfig
from worldprobe.estimators import alpha_grid
from worldprobe.spacetime.generalization import (
    cross_prompt,
    holdout,
    layer_stability,
    mlp_vs_linear,
    pca_curve,
    sphere_target,
    strongest_control,
)
from worldprobe.spacetime.inputs import load_runs
from worldprobe.spacetime.metrics import score, sphere_lonlat, unit_sphere
from worldprobe.spacetime.outputs import HoldoutSkipped
from worldprobe.spacetime.probes import fit_linear

CFG = ProbesConfig()


def test_holdout_never_trains_on_the_held_out_group():
    """One-hot group features, group 0 the all-zero reference: a probe that saw any training row of
    group g learns g's offset; one that did not predicts group 0's year for it, >= 100 years off."""
    n = 600
    block = np.r_[np.zeros(60, int), np.arange(n - 60) % 4 + 1]
    data = probe_data(n, block=block, year=1500 + 100 * block + np.random.default_rng(1).normal(0, 1, n))
    X = np.eye(5)[block][:, 1:]
    default = fit_linear(X, data, CFG).predict(X[data.test])[:, None]
    summary = holdout(X, data, CFG.model_copy(update={"holdout_blocks": 3}), "block", default, seed=0)
    rows = summary.groups
    assert len(rows) == 3 and "0" not in {r.group for r in rows}  # the K largest groups only
    for row in rows:
        group = int(row.group)
        assert row.mae_default < 5
        assert row.mae_heldout == pytest.approx(100 * group, abs=5)
        assert row.prox_error_heldout > row.prox_error_default
        assert row.n_train_removed == int((data.train & (block == group)).sum())
        assert row.n_test == int((data.test & (block == group)).sum())
    assert summary.mean_prox_error_heldout == pytest.approx(np.mean([r.prox_error_heldout for r in rows]))


def test_holdout_skips_small_groups_and_missing_columns():
    n = 400
    group = np.where(np.arange(n) < 390, "big", "tiny").astype(object)
    group[:200] = "other"
    data = probe_data(n, seed=3, block=group)
    X = np.random.default_rng(0).normal(size=(n, 3))
    default = fit_linear(X, data, CFG).predict(X[data.test])[:, None]
    summary = holdout(X, data, CFG, "block", default, seed=0)
    rows = summary.groups
    assert {r.group for r in rows} == {"big", "other"}
    n_tiny = int((data.test & (group == "tiny")).sum())
    assert 0 < n_tiny < CFG.min_holdout_test  # (this seed's split)
    assert (summary.n_groups, summary.n_eligible, summary.min_test) == (3, 2, CFG.min_holdout_test)
    missing = holdout(X, data, CFG, "country", default, seed=0)
    assert isinstance(missing, HoldoutSkipped) and "no group column 'country'" in missing.skipped_reason


def test_pca_curve_equals_sklearn_pca_then_ridgecv():
    n, d = 500, 30
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(n, 3))
    X = latent @ rng.normal(size=(3, d)) * 3 + rng.normal(size=(n, d))
    data = probe_data(n, seed=4, year=1700 + 50 * latent[:, 0] + rng.normal(0, 5, n))
    cfg = CFG.model_copy(update={"pca_components": [1, 2, 3, 10, 30, 100]})
    full = score(data.y[data.test], fit_linear(X, data, cfg).predict(X[data.test]), "time", ("year",))
    curve = pca_curve(X, data, cfg, seed=0, full=full, full_edge=False).curve
    assert [c.k for c in curve] == [1, 2, 3, 10, "full"]  # k >= d is skipped
    # independent reference for k = 2
    mean, std = X[data.train].mean(0), X[data.train].std(0)
    pca = PCA(2).fit((X[data.train] - mean) / std)
    y_mean, y_std = data.y[data.train].mean(0), data.y[data.train].std(0)
    ridge = RidgeCV(alphas=alpha_grid(cfg.alphas)).fit(pca.transform((X[data.train] - mean) / std),
                                                        (data.y[data.train, 0] - y_mean) / y_std)
    pred = ridge.predict(pca.transform((X[data.test] - mean) / std)) * y_std + y_mean
    assert curve[1].r2 == pytest.approx(r2_score(data.y[data.test, 0], pred), abs=1e-9)
    assert curve[1].explained_variance == pytest.approx(pca.explained_variance_ratio_.sum())
    assert curve[-1].r2 == full.r2 and curve[2].r2 > 0.9 > curve[0].r2 - 0.5


@pytest.mark.parametrize("subsample", [None, 150])
def test_cross_prompt_centring_removes_a_constant_prompt_offset(tmp_path, subsample):
    """``empty`` is ``main`` shifted by a constant, on every entity or on a subsample of them: the prompts
    are compared on the entities both hold, and centring undoes the shift."""
    n, d = 300, 8
    rng = np.random.default_rng(6)
    X = rng.normal(size=(n, d))
    data = probe_data(n, seed=6, year=1700 + 80 * X[:, 0] + rng.normal(0, 5, n))
    layers = np.stack([X, X]).astype("float32")
    held = np.arange(n) if subsample is None else np.sort(rng.choice(n, subsample, replace=False))
    write_store(tmp_path / "tiny" / "main", data.ids, layers)
    write_store(tmp_path / "tiny" / "empty", data.ids[held], layers[:, held] + 5.0, prompt="empty", subsample=subsample)
    data, runs, _ = load_runs(tmp_path, data)
    main = next(r for r in runs if r.prompt == "main")
    result = cross_prompt(runs, main, 1, data, CFG)
    assert (result.n_train, result.n_test) == (int(data.train[held].sum()), int(data.test[held].sum()))
    rows = {(r.train_prompt, r.test_prompt, r.variant): r for r in result.rows}
    own = rows["main", "main", "raw"].r2
    assert own > 0.9
    assert rows["main", "empty", "raw"].r2 < own - 0.5  # the offset ruins the raw transfer
    assert rows["main", "empty", "centred"].r2 == pytest.approx(own, abs=1e-4)


def test_fair_holdout_reference_trains_on_exactly_as_many_rows(monkeypatch):
    import worldprobe.spacetime.generalization as gen

    n = 600
    block = np.r_[np.zeros(300, int), np.arange(n - 300) % 3 + 1]  # group 0 is half the data
    data = probe_data(n, seed=5, block=block)
    X = np.random.default_rng(5).normal(size=(n, 4))
    sizes = []
    real_fit = gen.fit_linear

    def spy(X, data, cfg, train=None):
        sizes.append((int(train.sum()), int((train & (block == group_now[0])).sum())))
        return real_fit(X, data, cfg, train=train)

    group_now = [0]
    monkeypatch.setattr(gen, "fit_linear", spy)
    cfg = CFG.model_copy(update={"holdout_blocks": 1})
    default = real_fit(X, data, CFG).predict(X[data.test])[:, None]
    rows = holdout(X, data, cfg, "block", default, seed=0).groups
    (held_n, held_in_group), (ref_n, ref_in_group) = sizes
    assert rows[0].group == "0"
    assert rows[0].n_train == held_n == ref_n == int((data.train & (block != 0)).sum())
    assert held_in_group == 0 and ref_in_group > 0.3 * ref_n  # the reference may see the group, at its share
    assert rows[0].n_train + rows[0].n_train_removed == int(data.train.sum())
    sizes.clear()
    again = holdout(X, data, cfg, "block", default, seed=0).groups
    assert again[0].prox_error_default == rows[0].prox_error_default  # seeded


def test_holdout_reports_the_papers_entity_type_groups_beside_ours():
    from dataclasses import replace

    from worldprobe.records import EntityTableInfo

    n = 1200
    etype = np.array(["song", "song", "movie", "book"] * (n // 4), dtype=object)  # songs the largest
    data = probe_data(n, seed=7, entity_type=etype)
    data = replace(data, info=EntityTableInfo("art", "time", groups=("block",)))
    X = np.random.default_rng(7).normal(size=(n, 3))
    default = fit_linear(X, data, CFG).predict(X[data.test])[:, None]
    summary = holdout(X, data, CFG, "entity_type", default, seed=0)
    assert summary.paper_groups == ["movie", "book"]
    paper = [r for r in summary.groups if r.group in ("movie", "book")]
    assert len(summary.groups) == 3 and len(paper) == 2
    assert summary.mean_prox_error_heldout_paper == pytest.approx(np.mean([r.prox_error_heldout for r in paper]))
    assert summary.mean_prox_error_default_paper == pytest.approx(np.mean([r.prox_error_default for r in paper]))
    # with K = 1 ours is the largest group alone; the paper's groups are still held out and averaged apart
    one = holdout(X, data, CFG.model_copy(update={"holdout_blocks": 1}), "entity_type", default, seed=0)
    assert len(one.groups) == 3
    first = one.groups[0]
    assert first.group == "song" and first.n_test == max(r.n_test for r in one.groups)
    assert one.mean_prox_error_heldout == pytest.approx(first.prox_error_heldout)
    assert one.mean_prox_error_heldout_paper == pytest.approx(summary.mean_prox_error_heldout_paper)


def test_pca_raw_all_fits_the_pca_on_every_entity_unscaled():
    n, d = 400, 12
    rng = np.random.default_rng(8)
    X = rng.normal(size=(n, d)) * np.linspace(1, 20, d)
    data = probe_data(n, seed=8, year=1700 + 10 * X[:, -1] + rng.normal(0, 5, n))
    cfg = CFG.model_copy(update={"pca_components": [2], "pca_fit": "raw_all"})
    full = score(data.y[data.test], fit_linear(X, data, cfg).predict(X[data.test]), "time", ("year",))
    curve = pca_curve(X, data, cfg, seed=0, full=full, full_edge=False)
    assert (curve.fit, curve.fit_rows) == ("raw_all", n)
    assert curve.curve[0].explained_variance == pytest.approx(PCA(2).fit(X).explained_variance_ratio_.sum())
    ours = pca_curve(X, data, CFG.model_copy(update={"pca_components": [2]}), seed=0, full=full, full_edge=False)
    assert (ours.fit, ours.fit_rows) == ("standardized_train", int(data.train.sum()))
    # standardised, the two high-variance columns no longer dominate: the raw PCA keeps the signal column
    assert curve.curve[0].r2 > 0.5 > ours.curve[0].r2


def test_unit_sphere_points_read_back_as_the_same_longitude_and_latitude():
    lonlat = np.array([[0.0, 0.0], [179.0, 10.0], [-179.0, -45.0], [90.0, 89.0]])
    xyz = unit_sphere(lonlat)
    np.testing.assert_allclose(np.linalg.norm(xyz, axis=1), 1.0)
    np.testing.assert_allclose(sphere_lonlat(xyz * 3.0), lonlat, atol=1e-9)  # read by direction, not length
    # ±179° are neighbours on the sphere, 358° apart in longitude
    assert np.linalg.norm(xyz[1] - unit_sphere(np.array([[-179.0, 10.0]]))[0]) < 0.04


def test_sphere_target_fits_points_the_activations_encode_linearly():
    n = 600
    data = probe_data(n, kind="place", seed=2)
    data.y[:, 0] = np.random.default_rng(2).uniform(150, 210, n) % 360 - 180  # places across the ±180° seam
    X = np.hstack([unit_sphere(data.y), np.random.default_rng(3).normal(size=(n, 5))])
    linear_pred = fit_linear(X, data, CFG).predict(X[data.test])
    sphere = sphere_target(X, data, CFG, linear_pred, n_boot=200, seed=0)
    assert sphere.r2_xyz > 0.99 and sphere.scores.prox_error < 0.01
    # the lon/lat probe cannot unwrap the seam from the same features: the sphere target is better, established
    assert sphere.prox_error_minus_latlon.ci_high < 0


def test_layer_stability_picks_the_informative_layer_in_every_resample(tmp_path):
    n = 400
    data = probe_data(n, seed=5)
    rng = np.random.default_rng(5)
    signal = (data.y - data.y.mean()) / data.y.std()
    layers = rng.normal(size=(3, n, 4))
    layers[1, :, 0] += 3 * signal[:, 0]  # layer 1 carries the year, layer 2 a weaker copy
    layers[2, :, 0] += 1 * signal[:, 0]
    write_store(tmp_path / "tiny" / "main", data.ids, layers.astype(np.float32))
    data, runs, _ = load_runs(tmp_path, data)
    stability = layer_stability(runs[0], data, CFG, layer=1, n_boot=200, seed=0)
    assert stability.share_chosen == {"1": 1.0} and stability.best_layer_share == 1.0
    twin = layer_stability(runs[0], data, CFG, layer=2, n_boot=200, seed=0)
    assert twin.best_layer_share == 0.0  # reports how often the given layer wins, whichever it is


def test_strongest_control_is_the_best_of_the_controls_with_features_for_every_entity():
    def metrics(**r2):  # Controls.r2_by_control: None for a control not run or an undefined R²
        return SimpleNamespace(controls=SimpleNamespace(r2_by_control=lambda: r2))

    assert strongest_control(metrics(surface=0.3, layer0=0.1, layer0_token_mean=0.4, random_weights=0.9)) \
        == "layer0_token_mean"
    assert strongest_control(metrics(surface=0.3, layer0=None, layer0_token_mean=None, random_weights=None)) == "surface"


def test_mlp_vs_linear_finds_a_nonlinear_code_the_ridge_misses_and_seeds_share_the_first_decay():
    n = 800
    rng = np.random.default_rng(5)
    data = probe_data(n, seed=5)
    X = rng.normal(size=(n, 6))
    data.y[:, 0] = 1750 + 80 * np.abs(X[:, 0]) + rng.normal(0, 5, n)  # |x|: no linear read-out exists
    linear_pred = fit_linear(X, data, CFG).predict(X[data.test]).reshape(-1, 1)
    cfg = CFG.model_copy(update={"mlp": MLPProbeConfig(hidden=32, weight_decays=[0.01, 1.0, 100.0], max_epochs=200,
                                                       patience=5, seeds=3)})
    noise = rng.normal(size=(n, 6))
    out = mlp_vs_linear(X, data, cfg, 0, linear_pred, "surface", noise, "noise", n_boot=200)
    assert [r.seed for r in out.mlp.seeds] == [0, 1, 2] and out.mlp.r2_sd is not None
    assert out.mlp.r2_mean > 0.8 and out.linear.r2 < 0.1
    assert out.mlp_minus_linear.ci_low > 0 and out.mlp_minus_control_mlp.ci_low > 0
    chosen = out.mlp.seeds[0].weight_decay
    assert len(out.mlp.seeds[0].val_mse) == 3  # the first seed searches the grid ...
    assert all(list(r.val_mse) == [str(chosen)] and r.weight_decay == chosen for r in out.mlp.seeds[1:])  # ... once
