"""Probe directions as artifacts: what a user needs to move (or read) a target along a probe, safely.

A :class:`ProbeDirection` is one (model, dataset, target, layer): the ridge probe's weight in **raw**
activation space (``RidgeLOO.coef_``: the project's probes standardise features internally, and
``coef_`` already folds that scaling back in), its intercept, the target's train mean and standard
deviation, and the difference-of-means direction (mean activation of the train entities above the
target's median minus those at or below it). The record also names the hook point, the
layer-numbering convention and the token position, because a direction applied at the wrong place
fails silently.

Moving the probe's reading by ``k`` target standard deviations: add ``k * d / |d|^2`` with
``d = weight / target_std`` (:meth:`ProbeDirection.edit`); ``d @ x`` is the reading in standard deviations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import stats
from ..config import AlphaGrid
from ..estimators import RidgeLOO, alpha_grid
from ..io import Output
from ..records import ActivationMeta

LAYER_CONVENTION = (
    "store layer l: 0 = input to block 0 (embedding output, after any scaling the model applies), "
    "l >= 1 = residual stream output of block l-1 (0-based), before any final norm"
)
RAW_SPACE = "raw residual stream (no standardisation; the probe's own scaling is folded into weight)"
UNITS = {"latitude": "degrees north", "longitude": "degrees east", "year": "calendar years (negative = BC)"}


class ProbeDirection(Output):
    model: str
    model_hash: str  # the weights the activations came from (tells the random-weights control apart)
    control: str | None
    dataset: str
    target: str
    target_units: str
    layer: int
    hook_point: str  # the activation store's layer name, e.g. "blocks.8.resid_post"
    layer_convention: str  # LAYER_CONVENTION, written out so the JSON alone tells a user where to add it
    position: str  # which token the probe reads
    prompt_template: str
    space: str  # RAW_SPACE
    weight: list[float]  # target units per activation unit
    intercept: float
    target_mean: float  # train split
    target_std: float
    alpha: float  # ridge penalty (chosen by leave-one-out on the train split, in standardised units)
    loo_r2: float  # train-split leave-one-out R^2 at that alpha
    n_train: int
    mean_difference: list[float]  # mean(x | y > median) - mean(x | y <= median), train split, raw space

    @property
    def w(self) -> np.ndarray:
        return np.asarray(self.weight)

    @property
    def direction(self) -> np.ndarray:
        """``d`` with ``d @ x`` = the probe's reading in target standard deviations (plus a constant)."""
        return self.w / self.target_std

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.w + self.intercept

    def edit(self, delta_sd: float, vector: np.ndarray | None = None) -> np.ndarray:
        """The raw-space vector along ``vector`` (default the probe's ``d``) that moves the reading by ``delta_sd``.

        ``delta_sd * d / |d|^2`` for the probe itself; any other vector is scaled to the same norm,
        so that controls are compared with the probe at equal edit size.
        """
        d = self.direction
        step = delta_sd * d / (d @ d)
        if vector is None:
            return step
        v = np.asarray(vector, dtype=np.float64)
        return np.sign(delta_sd) * np.linalg.norm(step) * v / np.linalg.norm(v)


class DirectionSet(Output):
    """Every direction fitted for one (model, dataset) activation store."""

    directions: list[ProbeDirection]

    def get(self, target: str, layer: int) -> ProbeDirection:
        for d in self.directions:
            if d.target == target and d.layer == layer:
                return d
        raise KeyError(f"no direction for target {target!r} at layer {layer}")


def fit_directions(
    acts: dict[int, np.ndarray],
    targets: dict[str, np.ndarray],
    meta: ActivationMeta,
    *,
    alphas: AlphaGrid,
    standardize: bool = True,
) -> DirectionSet:
    """Fit one :class:`RidgeLOO` per layer (all targets at once) on train-split rows; keep its direction.

    ``acts[layer]``: ``(n_train, d_model)``; ``targets[name]``: ``(n_train,)``, rows aligned.
    """
    names = list(targets)
    Y = np.column_stack([np.asarray(targets[n], dtype=np.float64) for n in names])
    out = []
    for layer, X in sorted(acts.items()):
        X = np.asarray(X, dtype=np.float64)
        probe = RidgeLOO(alphas=alpha_grid(alphas), standardize=standardize).fit(X, Y)
        for t, name in enumerate(names):
            y = Y[:, t]
            high = y > np.median(y)
            out.append(
                ProbeDirection(
                    model=meta.model, model_hash=meta.model_hash, control=meta.control, dataset=meta.dataset,
                    target=name, target_units=UNITS.get(name, "target units"), layer=layer,
                    hook_point=meta.layer_names[layer] if meta.layer_names else f"layer_{layer}",
                    layer_convention=LAYER_CONVENTION, position=meta.position, prompt_template=meta.prompt_template,
                    space=RAW_SPACE,
                    weight=probe.coef_[t].tolist(), intercept=float(probe.intercept_[t]),
                    target_mean=float(y.mean()), target_std=float(y.std()),
                    alpha=float(probe.alpha_[t]), loo_r2=float(probe.loo_r2_[t]), n_train=len(y),
                    mean_difference=(X[high].mean(0) - X[~high].mean(0)).tolist(),
                )
            )
    return DirectionSet(directions=out)


def best_layer(directions: Sequence[ProbeDirection]) -> int:
    """The layer whose probes have the highest mean train leave-one-out R^2 (no test data involved), by the
    probes stage's rule (:func:`worldprobe.stats.best_layer`). Recomputed from these directions rather than
    read from ``metrics/probes``: the directions are fitted on every train entity by leave-one-out, whatever
    the probes stage's familiarity filter or grouped K-fold selection (the edit must use its own probes)."""
    by_layer: dict[int, list[float]] = {}
    for d in directions:
        by_layer.setdefault(d.layer, []).append(d.loo_r2)
    layers = sorted(by_layer)
    return layers[stats.best_layer([np.mean(by_layer[layer]) for layer in layers])]


def principal_basis(acts: np.ndarray, k: int) -> np.ndarray:
    """``(d, k)`` orthonormal top-``k`` principal directions of ``acts`` (rows: entities)."""
    centred = np.asarray(acts, dtype=np.float64) - np.mean(acts, axis=0)
    return np.linalg.svd(centred, full_matrices=False)[2][:k].T


def orthogonal_directions(direction: np.ndarray, basis: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, d)`` random unit vectors inside the span of ``basis`` and orthogonal to ``direction``: they move
    the residual stream where activations really vary, but not along the probe."""
    v = rng.normal(size=(n, basis.shape[1])) @ basis.T
    u = direction / np.linalg.norm(direction)
    v -= np.outer(v @ u, u)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def nullspace_basis(X: np.ndarray, Y: np.ndarray, iterations: int, *, alphas: AlphaGrid, standardize: bool = True) -> np.ndarray:
    """``(d, iterations x targets)`` orthonormal basis of the probe subspace, by iterated nullspace projection
    (Ravfogel et al. 2020; the "amnesic probing" of Elazar et al. 2021): fit a ridge probe of every
    target, add its directions to the basis, project them out of ``X``, fit again. The first iteration's
    span is the probes' own directions; later ones find what a linear probe still reads once those are gone.
    """
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(0)
    basis = np.zeros((X.shape[1], 0))
    for _ in range(iterations):
        residual = X - (X @ basis) @ basis.T
        coef = RidgeLOO(alphas=alpha_grid(alphas), standardize=standardize).fit(residual, Y).coef_  # (targets, d)
        for w in coef:
            for _ in range(2):  # Gram-Schmidt against the basis so far, twice: once loses orthogonality in floats
                w = w - basis @ (basis.T @ w)
            basis = np.column_stack([basis, w / np.linalg.norm(w)])
    return basis
