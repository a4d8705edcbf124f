from types import SimpleNamespace

import numpy as np
import pytest
import torch
from scipy import sparse
from sklearn.linear_model import RidgeCV
from sklearn.preprocessing import StandardScaler

from worldprobe.config import AlphaGrid, MLPProbeConfig
from worldprobe.estimators import (
    MLPProbe,
    ProbeError,
    RidgeLOO,
    alpha_grid,
)

ALPHAS = alpha_grid(AlphaGrid())


def _regression(n, d, seed=0, noise=3.0):
    rng = np.random.default_rng(seed)
    # features on very different scales and off-centre, as raw residual streams are
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 20, size=d) + rng.normal(size=d) * 5
    Y = X @ rng.normal(size=(d, 2)) + noise * rng.normal(size=(n, 2)) * X.std()
    Y[:, 1] = Y[:, 1] * 50 + 1000  # targets on different scales
    return X, Y


@pytest.mark.parametrize(("n", "d"), [(300, 40), (60, 150)], ids=["cov: n > d", "gram: n <= d"])
@pytest.mark.parametrize("standardize", [True, False])
def test_ridge_loo_equals_sklearn_ridgecv(n, d, standardize):
    X, Y = _regression(n, d)
    ours = RidgeLOO(ALPHAS, standardize=standardize).fit(X[:-20], Y[:-20])
    assert ours.mode_ == ("cov" if n > d else "gram")
    scaler = StandardScaler(with_std=standardize).fit(X[:-20])
    y_mean, y_std = Y[:-20].mean(0), Y[:-20].std(0)
    ref = RidgeCV(alphas=ALPHAS, alpha_per_target=True, store_cv_results=True).fit(
        scaler.transform(X[:-20]), (Y[:-20] - y_mean) / y_std
    )
    np.testing.assert_array_equal(ours.alpha_, ref.alpha_)
    np.testing.assert_allclose(ours.loo_mse_, ref.cv_results_.mean(0).T, rtol=1e-7)
    np.testing.assert_allclose(ours.loo_r2_, 1 + ref.best_score_, rtol=1e-7)
    expected = ref.predict(scaler.transform(X[-20:])) * y_std + y_mean
    np.testing.assert_allclose(ours.predict(X[-20:]), expected, rtol=1e-8, atol=1e-8 * np.abs(expected).max())
    if n > d:  # (with d > n the LOO optimum may be the near-interpolating smallest alpha)
        assert not ours.alpha_at_edge_.any()


def test_ridge_loo_sparse_input_equals_dense():
    rng = np.random.default_rng(1)
    X = sparse.random(80, 300, density=0.05, random_state=1, format="csr")
    y = X @ rng.normal(size=300) + 0.1 * rng.normal(size=80)
    dense = RidgeLOO(ALPHAS, standardize=False).fit(X.toarray(), y)
    sp = RidgeLOO(ALPHAS, standardize=False).fit(X, y)
    assert sp.alpha_ == dense.alpha_
    np.testing.assert_allclose(sp.predict(X), dense.predict(X.toarray()), atol=1e-10)
    assert sp.predict(X).shape == (80,)  # a 1-D target gives 1-D predictions


@pytest.mark.parametrize(("n", "d", "standardize", "as_sparse"),
                         [(120, 15, True, False), (40, 60, False, False), (60, 80, False, True)])
def test_grouped_selection_equals_a_refit_per_group_fold(n, d, standardize, as_sparse):
    """With groups, the selection error is GroupKFold's: each fold refits scaling, centring and ridge."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GroupKFold

    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d)
    groups = rng.integers(0, 12, size=n)
    Y = np.c_[X[:, :3] @ [1.0, -2.0, 0.5] + rng.normal(size=n) + groups, rng.normal(size=n)]
    alphas = np.logspace(-1, 3, 5)
    fit_X = sparse.csr_matrix(np.where(np.abs(X) > 1, X, 0)) if as_sparse else X
    probe = RidgeLOO(alphas, standardize=standardize, n_folds=4).fit(fit_X, Y, groups=groups)
    dense = fit_X.toarray() if as_sparse else X
    Yz = (Y - Y.mean(0)) / Y.std(0)
    expected = np.zeros((len(alphas), 2))
    for tr, va in GroupKFold(4).split(dense, groups=groups):
        scaler = StandardScaler(with_std=standardize).fit(dense[tr])
        for a, alpha in enumerate(alphas):
            pred = Ridge(alpha=alpha).fit(scaler.transform(dense[tr]), Yz[tr]).predict(scaler.transform(dense[va]))
            expected[a] += ((pred - Yz[va]) ** 2).sum(0)
    np.testing.assert_allclose(probe.loo_mse_, expected / n, rtol=1e-7)
    assert probe.selection_ == "GroupKFold(4)"
    # the final fit is the same ridge as without groups, only (possibly) at another alpha
    same = RidgeLOO(probe.alpha_[:1], standardize=standardize).fit(fit_X, Y[:, 0])
    np.testing.assert_allclose(probe.predict(fit_X)[:, 0], same.predict(fit_X), rtol=1e-8)
    with pytest.raises(ProbeError, match="too few"):
        RidgeLOO(alphas, n_folds=4).fit(X, Y, groups=groups % 3)


def test_ridge_loo_flags_alpha_at_the_grid_edge():
    rng = np.random.default_rng(2)
    X, noise = rng.normal(size=(200, 10)), rng.normal(size=(200, 1))
    probe = RidgeLOO(np.logspace(-2, 1, 4)).fit(X, noise)  # nothing to learn: wants the largest alpha
    assert probe.alpha_[0] == 10.0 and probe.alpha_at_edge_[0]
    assert probe.loo_r2_[0] < 0.01


def test_ridge_loo_refuses_bad_input():
    X, Y = _regression(50, 5)
    X[3, 2] = np.nan
    with pytest.raises(ProbeError, match="1 activation values are NaN"):
        RidgeLOO().fit(X, Y)
    with pytest.raises(ProbeError, match="constant"):
        RidgeLOO().fit(np.random.default_rng(0).normal(size=(50, 5)), np.ones(50))
    with pytest.raises(ProbeError, match="positive"):
        RidgeLOO(alphas=[0.0, 1.0]).fit(np.eye(5), np.arange(5.0))


FAST_MLP = MLPProbeConfig(hidden=32, weight_decays=[0.01, 0.3], batch_size=64, max_epochs=500, patience=5)


def test_mlp_probe_stops_early_keeps_best_and_learns_a_nonlinear_target():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 4))
    y = X[:, 0] ** 2 + 0.1 * rng.normal(size=600)
    mlp = MLPProbe(FAST_MLP, random_state=0).fit(X[:500], y[:500])
    for wd in FAST_MLP.weight_decays:
        assert mlp.epochs_[wd] < FAST_MLP.max_epochs  # early stopping fired
        assert mlp.epochs_[wd] == mlp.best_epoch_[wd] + FAST_MLP.patience
    assert mlp.weight_decay_ == min(mlp.val_mse_, key=mlp.val_mse_.get)
    mse_mlp = np.mean((mlp.predict(X[500:]) - y[500:]) ** 2)
    mse_ridge = np.mean((RidgeLOO().fit(X[:500], y[:500]).predict(X[500:]) - y[500:]) ** 2)
    assert mse_mlp < 0.25 * mse_ridge  # a linear probe cannot read x0^2
    again = MLPProbe(FAST_MLP, random_state=0).fit(X[:500], y[:500])
    np.testing.assert_array_equal(again.predict(X[500:]), mlp.predict(X[500:]))


def _adamw_alone(Xt, Yt, Xv, Yv, cfg, weight_decay, seed):
    """One network trained on its own with torch's AdamW, as the probe did before training the grid side by side."""
    from worldprobe.estimators import _MLP

    torch.manual_seed(seed)
    net = _MLP(Xt.shape[1], cfg.hidden, Yt.shape[1])
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(cfg.max_epochs):
        for idx in torch.randperm(len(Xt), generator=gen).split(cfg.batch_size):
            opt.zero_grad()
            torch.nn.functional.mse_loss(net(Xt[idx]), Yt[idx]).backward()
            opt.step()
        with torch.no_grad():
            losses.append(torch.nn.functional.mse_loss(net(Xv), Yv).item())
    return losses


def test_mlp_grid_trains_each_decay_as_if_alone():
    cfg = FAST_MLP.model_copy(update={"weight_decays": [0.01, 3.0, 300.0], "max_epochs": 12, "patience": 3})
    rng = np.random.default_rng(4)
    X = torch.as_tensor(rng.normal(size=(300, 5)), dtype=torch.float32)
    Y = X[:, :1] ** 2 + 0.1 * torch.as_tensor(rng.normal(size=(300, 1)), dtype=torch.float32)
    grid, best_loss, epochs, best_epoch = MLPProbe(cfg)._train(X[:250], Y[:250], X[250:], Y[250:], cfg.weight_decays, 0)
    for i, wd in enumerate(cfg.weight_decays):
        alone = _adamw_alone(X[:250], Y[:250], X[250:], Y[250:], cfg, wd, seed=0)
        best = int(np.argmin(alone[: epochs[i]]))
        assert best_epoch[i] == best + 1 and best_loss[i] == pytest.approx(alone[best], rel=1e-4)
        assert epochs[i] == min(best + 1 + cfg.patience, cfg.max_epochs)
        with torch.no_grad():  # the network kept is the one at its best epoch
            got = torch.nn.functional.mse_loss(grid.network(i)(X[250:]), Y[250:]).item()
        assert got == pytest.approx(best_loss[i], rel=1e-5)
    assert len(set(np.round(best_loss, 6))) == 3  # the decays did differ


@pytest.mark.parametrize("best, at_edge", [(0.01, True), (1.0, False), (100.0, True)])
def test_mlp_weight_decay_flagged_at_the_edge_of_its_grid(monkeypatch, best, at_edge):
    """Validation loss made to be lowest at ``best``: the flag is set exactly when that is the grid's end."""
    def fake_train(self, Xt, Yt, Xv, Yv, weight_decays, seed):
        losses = (np.log10(weight_decays) - np.log10(best)) ** 2
        return SimpleNamespace(network=lambda i: None), losses, np.ones(len(losses)), np.ones(len(losses))

    monkeypatch.setattr(MLPProbe, "_train", fake_train)
    cfg = FAST_MLP.model_copy(update={"weight_decays": [1.0, 0.01, 100.0, 0.1, 10.0]})  # order does not matter
    mlp = MLPProbe(cfg).fit(np.random.default_rng(0).normal(size=(50, 3)), np.arange(50.0))
    assert mlp.weight_decay_ == best and mlp.weight_decay_at_edge_ is at_edge


def test_mlp_probe_refuses_too_few_rows():
    with pytest.raises(ProbeError, match="too few"):
        MLPProbe(FAST_MLP).fit(np.zeros((3, 2)), np.arange(3.0))


def test_sparse_ridge_kfold_matches_sklearn_ridge_at_its_alpha_and_loo_in_accuracy():
    from scipy import sparse as sp
    from sklearn.linear_model import Ridge

    from worldprobe.estimators import SparseRidgeKFold

    rng = np.random.default_rng(11)
    X = sp.random(900, 300, density=0.05, random_state=11, format="csr")
    Y = np.c_[X @ rng.normal(size=300) * 10, X @ rng.normal(size=300)] + rng.normal(0, 0.5, (900, 2)) + [100, -5]
    train, test = slice(0, 700), slice(700, None)
    grid = np.logspace(-3, 4, 15)
    kfold = SparseRidgeKFold(grid, folds=5).fit(X[train], Y[train])
    assert not kfold.alpha_at_edge_.any() and kfold.cv_mse_.shape == (15, 2)
    for t in range(2):  # the refit is a ridge with an unpenalised intercept at the chosen alpha
        ref = Ridge(alpha=kfold.alpha_[t]).fit(X[train], (Y[train, t] - Y[train, t].mean()) / Y[train, t].std())
        expected = ref.predict(X[test]) * Y[train, t].std() + Y[train, t].mean()
        np.testing.assert_allclose(kfold.predict(X[test])[:, t], expected, rtol=0, atol=1e-3 * Y[:, t].std())
    loo = RidgeLOO(grid, standardize=False).fit(X[train], Y[train])
    for t in range(2):
        r2 = [1 - np.mean((p.predict(X[test])[:, t] - Y[test, t]) ** 2) / Y[test, t].var() for p in (kfold, loo)]
        assert r2[0] > 0.5 and abs(r2[0] - r2[1]) < 0.03


def test_sparse_ridge_kfold_with_groups_folds_by_group_as_ridge_loo_does():
    from scipy import sparse as sp

    from worldprobe.estimators import SparseRidgeKFold

    rng = np.random.default_rng(12)
    X = sp.random(600, 200, density=0.05, random_state=12, format="csr")
    groups = np.repeat(np.arange(60), 10)
    y = X @ rng.normal(size=200) * 5 + np.repeat(rng.normal(0, 3, 60), 10) + rng.normal(0, 0.5, 600)
    grid = np.logspace(-3, 4, 8)
    sparse_fit = SparseRidgeKFold(grid, folds=5).fit(X, y, groups=groups)
    exact = RidgeLOO(grid, standardize=False, n_folds=5).fit(X, y, groups=groups)
    assert sparse_fit.selection_ == exact.selection_ == "GroupKFold(5)"
    np.testing.assert_allclose(sparse_fit.cv_mse_[:, 0], exact.loo_mse_[:, 0], rtol=1e-3)  # the same folds
    assert sparse_fit.alpha_ == exact.alpha_
    assert SparseRidgeKFold(grid, folds=5).fit(X, y).selection_ == "KFold(5)"


@pytest.mark.parametrize("grouped", [False, True])
def test_heldout_squared_residuals_average_to_the_selection_error(grouped):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 8))
    y = X @ rng.normal(size=(8, 2)) + rng.normal(size=(300, 2))
    groups = np.arange(300) % 30 if grouped else None
    probe = RidgeLOO(alpha_grid(AlphaGrid()), n_folds=5).fit(X, y, groups=groups)
    assert probe.heldout_sq_.shape == (300, 2)
    chosen = probe.loo_mse_[probe.alpha_index_, [0, 1]]
    np.testing.assert_allclose(probe.heldout_sq_.mean(0), chosen, rtol=1e-10)


def test_mlp_validation_holds_out_whole_groups_and_entities_without_them():
    groups = np.repeat(np.arange(40), 10)
    mlp = MLPProbe(MLPProbeConfig(val_fraction=0.2), random_state=3)
    val, train = mlp._validation_rows(400, groups)
    assert not set(groups[val]) & set(groups[train])  # no group on both sides
    assert len(val) == 80 and len(np.union1d(val, train)) == 400
    val_again, _ = MLPProbe(MLPProbeConfig(val_fraction=0.2), random_state=3)._validation_rows(400, groups)
    np.testing.assert_array_equal(val, val_again)  # seeded
    plain_val, plain_train = mlp._validation_rows(400, None)
    assert len(plain_val) == 80 and len(set(groups[plain_val]) & set(groups[plain_train])) > 0
    one_big = np.r_[np.zeros(350, int), np.arange(50) + 1]  # a group larger than the share is still one group
    val, train = MLPProbe(MLPProbeConfig(val_fraction=0.1), random_state=0)._validation_rows(400, one_big)
    assert len(train) >= 2 and not set(one_big[val]) & set(one_big[train])
