"""Probes: estimators that read a target (coordinates, years) out of a layer's activations.

* :class:`RidgeLOO` - the paper's linear probe: ridge regression with the penalty chosen per target by
  efficient leave-one-out (LOO) cross-validation on the train split. One eigendecomposition of the
  train activations serves every alpha of the grid, and the LOO residuals of all alphas come out of
  a few matrix products, so a layer costs about one ``d x d`` (or ``n x n``) ``eigh``. It selects the
  same alpha and makes the same predictions as ``sklearn.linear_model.RidgeCV(alphas,
  alpha_per_target=True)`` (tested), several times faster because sklearn loops over the alphas.
* :class:`MLPProbe` - one hidden ReLU layer trained with AdamW and early stopping, the weight decay
  picked on the same validation split (torch, CPU).
* :func:`surface_vectorizer` - TF-IDF character n-grams of the entity string: the surface-form
  control, fitted with the same :class:`RidgeLOO` up to ``surface.max_loo_rows`` training rows and
  with :class:`SparseRidgeKFold` (same grid, K-fold) above, where the n x n eigendecomposition of the
  sparse features' Gram matrix grows as n³ (31k world places: ~8 GB and hours).
* :func:`mlp_input_projections` - the residual stream projected onto the next block's MLP input
  weights ("space and time neurons").

Precision: activations are stored as float32; the ridge works in float64 (the normal equations
square the condition number, and float64 keeps the LOO curve equal to sklearn's to ~1e-9), the
MLP in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_array, check_is_fitted

from .config import AlphaGrid, MLPProbeConfig, SurfaceConfig


class ProbeError(ValueError):
    """Inputs a probe cannot be fitted on (non-finite values, constant targets, too few rows, ...)."""


def alpha_grid(cfg: AlphaGrid) -> np.ndarray:
    return np.logspace(cfg.min_exp, cfg.max_exp, cfg.num)


def _targets_2d(y) -> tuple[np.ndarray, bool]:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2):
        raise ProbeError(f"targets must be 1-D or 2-D, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ProbeError(f"{int((~np.isfinite(y)).sum())} target values are NaN or infinite")
    return (y[:, None], True) if y.ndim == 1 else (y, False)


def _check_features(X, accept_sparse: bool = True):
    X = check_array(X, accept_sparse="csr" if accept_sparse else False, dtype=np.float64, ensure_all_finite=False)
    bad = ~np.isfinite(X.data if sparse.issparse(X) else X)
    if bad.any():
        where = "" if sparse.issparse(X) else f" (rows {np.unique(np.nonzero(bad)[0])[:5].tolist()}...)"
        raise ProbeError(f"{int(bad.sum())} activation values are NaN or infinite{where}")
    return X


@dataclass
class _Spectrum:
    """Eigendecomposition of a centred (and optionally standardised) training design: ``K = Q'Q``-style
    with eigenvalues ``lam``, ``vecs``, and ``Q`` such that the ridge prediction for new rows is
    ``features(X_new) @ (Q'y / (lam + alpha))`` (``cov``: ``Q = Xs V``; ``gram``: ``Q = U``).
    ``Q`` (n x d in ``cov`` mode, as costly as the covariance itself) is formed only where the
    leave-one-out needs it; fits and grouped folds need only ``Q'y`` (:meth:`project`)."""

    mean: np.ndarray
    scale: np.ndarray
    mode: str
    lam: np.ndarray
    vecs: np.ndarray
    X: object  # the training rows (sparse: for the centred cross-Gram)
    Xs: np.ndarray | None  # dense standardised training rows

    @cached_property
    def Q(self) -> np.ndarray:
        return self.Xs @ self.vecs if self.mode == "cov" else self.vecs

    def project(self, Y: np.ndarray) -> np.ndarray:
        """``Q'Y``, without forming ``Q``."""
        return self.vecs.T @ (self.Xs.T @ Y) if self.mode == "cov" else self.vecs.T @ Y

    @classmethod
    def of(cls, X, standardize: bool) -> _Spectrum:
        n, d = X.shape
        is_sparse = sparse.issparse(X)
        mean = np.asarray(X.mean(0)).ravel()
        scale = np.ones(d)
        if standardize and not is_sparse:
            scale = X.std(0)
            scale[scale == 0] = 1.0  # constant features carry nothing; leave them at zero after centring
        if is_sparse:
            mu_x = X @ mean
            K = (X @ X.T).toarray()
            K += mean @ mean - mu_x[:, None] - mu_x[None, :]  # Gram of the centred rows
            Xs, mode = None, "gram"
        else:
            Xs = (X - mean) / scale
            mode = "cov" if n > d else "gram"
            K = Xs.T @ Xs if mode == "cov" else Xs @ Xs.T
        lam, vecs = np.linalg.eigh(K)
        lam = np.clip(lam, 0.0, None)  # rounding leaves tiny negative eigenvalues of a PSD matrix
        return cls(mean, scale, mode, lam, vecs, X, Xs)

    def features(self, X_new) -> np.ndarray:
        if self.mode == "cov":
            return ((X_new - self.mean) / self.scale) @ self.vecs
        if self.Xs is not None:
            return (((X_new - self.mean) / self.scale) @ self.Xs.T) @ self.vecs
        mu = self.mean
        cross = (X_new @ self.X.T).toarray() - (X_new @ mu)[:, None] - (self.X @ mu)[None, :] + mu @ mu
        return cross @ self.vecs


class RidgeLOO(RegressorMixin, BaseEstimator):
    """Ridge regression, alpha per target chosen by efficient leave-one-out on the training rows, or by
    grouped K-fold when ``fit`` is given ``groups`` (a split that holds out whole groups is mimicked by
    folds that do: leave-one-out would let a group's other members leak into each held-out row).

    ``fit`` centres the features (and with ``standardize=True`` scales each to unit variance, the
    statistics taken on the training rows), z-scores each target, and fits an unpenalised intercept
    exactly as ``RidgeCV(fit_intercept=True)``: the LOO residual of row i is
    ``e_i / (1 - h_ii - 1/n)`` with ``h`` the hat matrix of the centred design. Sparse input (the
    TF-IDF control) is centred implicitly and never scaled. With ``groups``, ``GroupKFold(n_folds)``
    folds each refit the whole recipe (centring and scaling included) on their training rows.

    Fitted attributes: ``alpha_`` (per target), ``alpha_index_``, ``alpha_at_edge_`` (per target: the
    chosen alpha is the smallest or largest of the grid, so the grid may be too narrow),
    ``loo_mse_`` (alphas x targets, in z-scored target units: the leave-one-out or, with groups, the
    grouped K-fold error), ``heldout_sq_`` (rows x targets: each training row's squared held-out
    residual at the chosen alpha, whose mean is that error), ``loo_r2_`` (per target, at the chosen alpha: 1 - that MSE / variance),
    ``selection_`` (``"leave-one-out"`` or ``"GroupKFold(k)"``), ``coef_`` (targets x features) and
    ``intercept_`` in the original units, ``mean_``/``scale_`` (feature standardisation),
    ``y_mean_``/``y_scale_``, ``mode_`` (``"cov"``: eigh of the d x d covariance, n > d; ``"gram"``:
    of the n x n Gram matrix).
    """

    def __init__(self, alphas=tuple(np.logspace(-2, 7, 37)), standardize: bool = True, n_folds: int = 5):
        self.alphas = alphas
        self.standardize = standardize
        self.n_folds = n_folds

    def fit(self, X, y, groups=None):
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or (alphas <= 0).any():
            raise ProbeError(f"alphas must be positive, got {alphas}")
        X = _check_features(X)
        Y, self._1d = _targets_2d(y)
        n, d = X.shape
        if len(Y) != n:
            raise ProbeError(f"{n} rows of features but {len(Y)} targets")
        if n < 3:
            raise ProbeError(f"need at least 3 training rows, got {n}")
        self.y_mean_, self.y_scale_ = Y.mean(0), Y.std(0)
        if (self.y_scale_ == 0).any():
            raise ProbeError("a target is constant on the training rows: nothing to probe")
        Yz = (Y - self.y_mean_) / self.y_scale_

        sp = _Spectrum.of(X, self.standardize)
        self.mean_, self.scale_, self.mode_ = sp.mean, sp.scale, sp.mode
        lam, vecs = sp.lam, sp.vecs
        QtY = sp.project(Yz)  # r x t
        if groups is None:
            sq = self._loo_sq(sp, Yz, QtY, alphas)
            self.selection_ = "leave-one-out"
        else:
            sq = self._group_cv_sq(X, Yz, np.asarray(groups), alphas)
            self.selection_ = f"GroupKFold({self.n_folds})"
        mse = sq.mean(0)
        mse[~np.isfinite(mse)] = np.inf
        self.loo_mse_ = mse
        A, t = len(alphas), Yz.shape[1]
        best = np.argmin(mse, axis=0)  # first minimum: the smallest alpha on ties, as RidgeCV
        self.heldout_sq_ = sq[:, best, np.arange(t)]
        self.alpha_index_ = best
        self.alpha_ = alphas[best]
        self.alpha_at_edge_ = (best == 0) | (best == A - 1)
        self.loo_r2_ = 1.0 - mse[best, np.arange(t)]  # z-scored targets have unit variance

        inv = 1.0 / (lam[None, :] + self.alpha_[:, None])  # t x r
        if self.mode_ == "cov":
            coef = vecs @ (inv.T * QtY)  # d x t, in standardised units
        else:
            dual = vecs @ (inv.T * QtY)  # n x t
            if sparse.issparse(X):
                coef = np.asarray(X.T @ dual) - self.mean_[:, None] * dual.sum(0)[None, :]
            else:
                coef = sp.Xs.T @ dual
        coef = (coef / self.scale_[:, None]) * self.y_scale_[None, :]
        self.coef_ = coef.T
        self.intercept_ = self.y_mean_ - self.mean_ @ coef
        self.n_features_in_ = d
        return self

    @staticmethod
    def _loo_sq(sp: _Spectrum, Yz: np.ndarray, QtY: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Squared leave-one-out residuals per row, alpha and target from one decomposition (n x alphas x targets)."""
        n, lam, Q = len(Yz), sp.lam, sp.Q
        # With hat matrix H of the centred design, the LOO residual is (I - H)y / diag(I - H - 11'/n).
        # cov:  I - H = I - Q diag(1/(lam+a)) Q'  (Q = X V, not a full basis: keep the identity);
        # gram: I - H = U diag(a/(lam+a)) U'       (U a full basis; no cancellation when a << lam).
        if sp.mode == "cov":
            W, base = -1.0 / (lam[None, :] + alphas[:, None]), 1.0
        else:
            W, base = alphas[:, None] / (lam[None, :] + alphas[:, None]), 0.0
        A, t = len(alphas), Yz.shape[1]
        resid = (Q @ (W.T[:, :, None] * QtY[:, None, :]).reshape(len(lam), A * t)).reshape(n, A, t)
        resid += base * Yz[:, None, :]
        # The unpenalised intercept removes ((I - H) 1)_i / n, ~1/n; computed through the same
        # decomposition (as RidgeCV does) so that rounding in the near-null direction cancels.
        intercept_part = (Q @ (W * Q.sum(0)).T + base) / n
        one_minus_h = (Q * Q) @ W.T + base - intercept_part  # n x A
        with np.errstate(divide="ignore", invalid="ignore"):
            return (resid / one_minus_h[:, :, None]) ** 2  # interpolating fit (h_ii = 1): inf/nan

    def _group_cv_sq(self, X, Yz: np.ndarray, groups: np.ndarray, alphas: np.ndarray) -> np.ndarray:
        """Squared GroupKFold residuals per row (each from the fold that held it out), alpha and target."""
        if len(groups) != len(Yz):
            raise ProbeError(f"{len(groups)} groups for {len(Yz)} rows")
        if len(np.unique(groups)) < self.n_folds:
            raise ProbeError(f"{len(np.unique(groups))} groups are too few for {self.n_folds} grouped folds")
        A, t = len(alphas), Yz.shape[1]
        sq = np.zeros((len(Yz), A, t))
        for fit_rows, held in GroupKFold(n_splits=self.n_folds).split(Yz, groups=groups):
            sp = _Spectrum.of(X[fit_rows], self.standardize)
            y_mean = Yz[fit_rows].mean(0)
            shrunk = sp.project(Yz[fit_rows] - y_mean)[:, None, :] / (sp.lam[:, None, None] + alphas[None, :, None])
            pred = (sp.features(X[held]) @ shrunk.reshape(len(sp.lam), A * t)).reshape(len(held), A, t) + y_mean
            sq[held] = (pred - Yz[held][:, None, :]) ** 2
        return sq

    def predict(self, X):
        check_is_fitted(self, "coef_")
        X = _check_features(X)
        if X.shape[1] != self.n_features_in_:
            raise ProbeError(f"probe fitted on {self.n_features_in_} features, got {X.shape[1]}")
        pred = np.asarray(X @ self.coef_.T) + self.intercept_
        return pred[:, 0] if self._1d else pred


class SparseRidgeKFold(RegressorMixin, BaseEstimator):
    """Ridge on sparse features with many rows: alpha per target chosen by seeded K-fold CV, then refitted.

    For training sets too large for :class:`RidgeLOO`'s Gram eigendecomposition. Targets are z-scored
    on the training rows and the intercept is unpenalised, as in :class:`RidgeLOO`, so an alpha means
    the same in both; each fit is sklearn's ``Ridge(solver="lsqr")`` (iterative, sparse-friendly).
    With ``groups``, the folds are ``GroupKFold`` over them, as :class:`RidgeLOO` does.
    Fitted attributes as :class:`RidgeLOO` (``alpha_``, ``alpha_index_``, ``alpha_at_edge_``,
    ``selection_``, ``coef_``, ``intercept_``), with ``cv_mse_`` (alphas x targets, z-scored units)
    and ``cv_r2_`` (per target, at the chosen alpha) in place of the LOO curve.
    """

    def __init__(self, alphas=tuple(np.logspace(-2, 7, 37)), folds: int = 5, random_state: int = 0):
        self.alphas = alphas
        self.folds = folds
        self.random_state = random_state

    def fit(self, X, y, groups=None):
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        X = _check_features(X)
        Y, self._1d = _targets_2d(y)
        self.y_mean_, self.y_scale_ = Y.mean(0), Y.std(0)
        if (self.y_scale_ == 0).any():
            raise ProbeError("a target is constant on the training rows: nothing to probe")
        Yz = (Y - self.y_mean_) / self.y_scale_
        mse = np.zeros((len(alphas), Yz.shape[1]))
        if groups is None:
            folds = KFold(self.folds, shuffle=True, random_state=self.random_state).split(X)
            self.selection_ = f"KFold({self.folds})"
        else:
            folds = GroupKFold(n_splits=self.folds).split(X, groups=groups)
            self.selection_ = f"GroupKFold({self.folds})"
        for train, val in folds:
            for a, alpha in enumerate(alphas):
                fit = Ridge(alpha=alpha, solver="lsqr").fit(X[train], Yz[train])
                mse[a] += ((fit.predict(X[val]).reshape(len(val), -1) - Yz[val]) ** 2).sum(0)
        self.cv_mse_ = mse / len(Yz)
        best = np.argmin(self.cv_mse_, axis=0)
        self.alpha_index_, self.alpha_ = best, alphas[best]
        self.alpha_at_edge_ = (best == 0) | (best == len(alphas) - 1)
        self.cv_r2_ = 1.0 - self.cv_mse_[best, np.arange(Yz.shape[1])]
        final = Ridge(alpha=self.alpha_, solver="lsqr").fit(X, Yz)
        self.coef_ = final.coef_.reshape(Yz.shape[1], -1) * self.y_scale_[:, None]
        self.intercept_ = np.ravel(final.intercept_) * self.y_scale_ + self.y_mean_
        self.n_features_in_ = X.shape[1]
        return self

    predict = RidgeLOO.predict


class _MLP(torch.nn.Module):
    def __init__(self, d_in: int, hidden: int, d_out: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(d_in, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, d_out))

    def forward(self, x):
        return self.net(x)


class _MLPGrid(torch.nn.Module):
    """``k`` copies of one initialised :class:`_MLP` as batched matrix products, trained side by side:
    at a probe's size the per-step overheads, not the FLOPs, dominate, so k networks cost about one."""

    def __init__(self, net: _MLP, k: int):
        super().__init__()
        first, second = net.net[0], net.net[2]

        def stacked(t: torch.Tensor) -> torch.nn.Parameter:
            return torch.nn.Parameter(t.detach().expand(k, *t.shape).clone())

        self.w1, self.b1 = stacked(first.weight.T), stacked(first.bias[None])
        self.w2, self.b2 = stacked(second.weight.T), stacked(second.bias[None])

    def forward(self, x):  # (B, d_in) -> (k, B, d_out)
        return torch.relu(x @ self.w1 + self.b1) @ self.w2 + self.b2

    def network(self, i: int) -> _MLP:
        """Network ``i`` on its own."""
        net = _MLP(self.w1.shape[1], self.w1.shape[2], self.w2.shape[2])
        with torch.no_grad():
            net.net[0].weight.copy_(self.w1[i].T)
            net.net[0].bias.copy_(self.b1[i, 0])
            net.net[2].weight.copy_(self.w2[i].T)
            net.net[2].bias.copy_(self.b2[i, 0])
        return net


class MLPProbe(RegressorMixin, BaseEstimator):
    """One hidden ReLU layer, AdamW, early stopping on a seeded validation share of the train rows (of
    whole groups where ``fit`` is given ``groups``).

    Features are standardised and targets z-scored on the rows it trains on. For each weight decay
    of ``cfg.weight_decays`` a network (the same seeded initialisation and minibatch order for each)
    trains until the validation MSE has not improved for ``cfg.patience`` epochs and keeps its
    best-validation weights; the decay with the lowest validation MSE wins. The networks train side
    by side (:class:`_MLPGrid`), each on its own loss, decay and stopping epoch, as if one after another.
    Fitted attributes: ``weight_decay_``, ``weight_decay_at_edge_`` (the chosen decay
    is the smallest or largest of the grid, so the grid may be too narrow), ``val_mse_`` (per decay, z-scored
    units), ``epochs_`` (per decay, epochs run), ``best_epoch_`` (per decay), ``network_``.
    """

    def __init__(self, cfg: MLPProbeConfig = MLPProbeConfig(), random_state: int = 0):
        self.cfg = cfg
        self.random_state = random_state

    def _train(self, Xt, Yt, Xv, Yv, weight_decays: list[float], seed: int):
        """``(grid at each network's best epoch, best validation MSEs, epochs run, best epochs)``."""
        cfg, k = self.cfg, len(weight_decays)
        torch.manual_seed(seed)
        grid = _MLPGrid(_MLP(Xt.shape[1], cfg.hidden, Yt.shape[1]), k)
        params = list(grid.parameters())
        opt = torch.optim.Adam(params, lr=cfg.lr, fused=True)
        # AdamW's decoupled decay, per network: p <- p (1 - lr wd) before each Adam step
        shrink = 1 - cfg.lr * torch.tensor(weight_decays, dtype=torch.float32)
        gen = torch.Generator().manual_seed(seed)
        best_loss, best_epoch, stopped = np.full(k, np.inf), np.zeros(k, dtype=int), np.zeros(k, dtype=int)
        best = [p.detach().clone() for p in params]
        for epoch in range(1, cfg.max_epochs + 1):
            for idx in torch.randperm(len(Xt), generator=gen).split(cfg.batch_size):
                opt.zero_grad()
                ((grid(Xt[idx]) - Yt[idx]) ** 2).mean(dim=(1, 2)).sum().backward()  # network i: its own MSE
                with torch.no_grad():
                    for p in params:
                        p.mul_(shrink.view(k, *[1] * (p.dim() - 1)))
                opt.step()
            with torch.no_grad():
                val = ((grid(Xv) - Yv) ** 2).mean(dim=(1, 2)).numpy()
            running = stopped == 0  # a stopped network trains on with the rest, its best weights kept aside
            better = running & (val < best_loss)
            for kept, p in zip(best, params):
                kept[better] = p.detach()[better]
            best_loss[better], best_epoch[better] = val[better], epoch
            stopped[running & (epoch - best_epoch >= cfg.patience)] = epoch
            if stopped.all():
                break
        stopped[stopped == 0] = epoch
        with torch.no_grad():
            for kept, p in zip(best, params):
                p.copy_(kept)
        return grid, best_loss, stopped, best_epoch

    def _validation_rows(self, n: int, groups) -> tuple[np.ndarray, np.ndarray]:
        """``(validation, training)`` row indices: a seeded ``val_fraction`` of the rows or, with ``groups``,
        of whole groups (drawn in seeded order while they hold no more than that share, at least one), so
        that early stopping sees the kind of generalisation a split by groups asks for."""
        n_val = int(round(self.cfg.val_fraction * n))
        rng = np.random.default_rng(self.random_state)
        if groups is None:
            order = rng.permutation(n)
            val, train = order[:n_val], order[n_val:]
        else:
            _, unit = np.unique(np.asarray(groups), return_inverse=True)
            if len(unit) != n:
                raise ProbeError(f"{len(unit)} groups for {n} rows")
            drawn = rng.permutation(unit.max() + 1)
            taken = np.cumsum(np.bincount(unit)[drawn]) <= n_val
            taken[0] = True
            held = np.isin(unit, drawn[taken])
            val, train = np.flatnonzero(held), np.flatnonzero(~held)
        if n_val < 1 or len(train) < 2:
            raise ProbeError(f"{n} rows are too few for a {self.cfg.val_fraction:.0%} validation split")
        return val, train

    def fit(self, X, y, groups=None):
        X = _check_features(X, accept_sparse=False)
        Y, self._1d = _targets_2d(y)
        self.mean_, self.scale_ = X.mean(0), X.std(0)
        self.scale_[self.scale_ == 0] = 1.0
        self.y_mean_, self.y_scale_ = Y.mean(0), Y.std(0)
        if (self.y_scale_ == 0).any():
            raise ProbeError("a target is constant on the training rows: nothing to probe")
        Xz = torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)
        Yz = torch.as_tensor((Y - self.y_mean_) / self.y_scale_, dtype=torch.float32)
        val, train = map(torch.as_tensor, self._validation_rows(len(X), groups))
        decays = list(self.cfg.weight_decays)
        grid, losses, epochs, best_epochs = self._train(Xz[train], Yz[train], Xz[val], Yz[val], decays,
                                                        self.random_state)
        self.val_mse_ = {wd: float(v) for wd, v in zip(decays, losses)}
        self.epochs_ = {wd: int(e) for wd, e in zip(decays, epochs)}
        self.best_epoch_ = {wd: int(e) for wd, e in zip(decays, best_epochs)}
        best = int(np.argmin(losses))  # the first of equal losses, in grid order
        self.weight_decay_, self.network_ = decays[best], grid.network(best)
        self.weight_decay_at_edge_ = self.weight_decay_ in (min(decays), max(decays))
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        check_is_fitted(self, "network_")
        X = _check_features(X, accept_sparse=False)
        with torch.no_grad():
            z = self.network_(torch.as_tensor((X - self.mean_) / self.scale_, dtype=torch.float32)).numpy()
        pred = z.astype(np.float64) * self.y_scale_ + self.y_mean_
        return pred[:, 0] if self._1d else pred


def surface_vectorizer(cfg: SurfaceConfig) -> TfidfVectorizer:
    """Character n-grams within word boundaries, TF-IDF weighted; fit it on the train split only."""
    return TfidfVectorizer(
        analyzer="char_wb", ngram_range=(cfg.ngram_min, cfg.ngram_max), max_features=cfg.max_features,
        sublinear_tf=True, dtype=np.float64,
    )
