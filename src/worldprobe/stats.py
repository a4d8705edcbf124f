"""The project's statistics, once: R², Spearman, the best layer, bootstrap resampling, percentile
intervals, paired differences and the verdict rule every study reads its intervals with.

* **R²** (:func:`r2`): per target ``1 - SSE/SST``, the mean over targets (places: longitude and
  latitude); undefined (NaN) where a target has no spread in the scored rows.
* **Spearman** (:func:`spearman`): ``scipy.stats.spearmanr`` per target, the mean over targets; NaN
  where the prediction is constant. :func:`spearman_columns` is the vectorised form for many columns.
* **Resampling** (:func:`bootstrap`): where the split holds out whole groups (art: creators; NYC:
  complexes), a resample draws *groups* with replacement and keeps all their entities (cluster
  bootstrap); elsewhere it draws entities. Every predictor is scored on the same resamples, so a
  difference of two predictors is paired (:func:`paired_r2_difference`).
* **Interval** (:func:`percentile_interval`): the central 95 % of the finite resampled values.
* **Verdict** (:func:`interval_sign`): an interval of a difference above 0, below 0, or neither
  ("not established").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy.stats import rankdata, spearmanr

from .io import Output

LEVEL = 0.95
_TAILS = (2.5, 97.5)  # percentiles bounding the central LEVEL of the resampled values


def columns(values: np.ndarray) -> np.ndarray:
    """``values`` as float64 ``(n, targets)``."""
    values = np.asarray(values, dtype=np.float64)
    return values.reshape(len(values), -1)


def finite_or_none(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


# --------------------------------------------------------------------------- scores


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    """R², the mean over targets; NaN where a target is constant (R² is undefined there).

    Each target on its own 1-D column, so the mean is exactly that of the per-target R² the metrics
    files report beside it."""
    y, pred = columns(y), columns(pred)
    per_target = []
    for j in range(y.shape[1]):
        sst = ((y[:, j] - y[:, j].mean()) ** 2).sum()
        per_target.append(1 - ((y[:, j] - pred[:, j]) ** 2).sum() / sst if sst > 0 else np.nan)
    return float(np.mean(per_target))


def spearman(y: np.ndarray, pred: np.ndarray) -> float:
    """Spearman ρ of prediction vs truth, the mean over targets; NaN where a prediction or truth is constant."""
    y, pred = columns(y), columns(pred)
    rho = [spearmanr(y[:, j], pred[:, j]).statistic if np.ptp(pred[:, j]) > 0 and np.ptp(y[:, j]) > 0 else np.nan
           for j in range(y.shape[1])]
    return float(np.mean(rho))


def spearman_columns(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of every column of ``A`` with ``y`` (ranks, then Pearson), vectorised; NaN for constants."""
    ra = rankdata(A, axis=0)
    ry = rankdata(y)
    ra -= ra.mean(0)
    ry -= ry.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return (ra.T @ ry) / (np.sqrt((ra * ra).sum(0)) * np.sqrt(ry @ ry))


def best_layer(train_scores: Sequence[float]) -> int:
    """The layer (index) with the highest train score, the lowest on ties; a NaN score is never chosen.
    Only train scores enter, so no test number takes part in the choice."""
    scores = np.asarray(train_scores, dtype=np.float64)
    return int(np.argmax(np.where(np.isnan(scores), -np.inf, scores)))


# --------------------------------------------------------------------------- resampling


@dataclass(frozen=True)
class Resamples:
    """Bootstrap resamples of ``n`` entities: ``draws[b]`` the units (entities, or split groups) resample
    ``b`` drew, in draw order; ``unit_of[i]`` entity ``i``'s unit."""

    draws: np.ndarray  # n_boot x n_units
    unit_of: np.ndarray  # n

    @property
    def unit_weights(self) -> np.ndarray:
        """``(n_boot, n_units)`` counts: how often each unit is in each resample."""
        n_boot, n_units = self.draws.shape
        counts = np.zeros((n_boot, n_units))
        np.add.at(counts, (np.arange(n_boot)[:, None], self.draws), 1.0)
        return counts

    @property
    def weights(self) -> np.ndarray:
        """``(n_boot, n)`` counts: how often each entity is in each resample."""
        return self.unit_weights[:, self.unit_of]

    def rows(self) -> list[np.ndarray]:
        """Each resample as entity row indices: the members of every drawn unit, in draw order (by entity:
        the draws themselves)."""
        sizes = np.bincount(self.unit_of, minlength=self.draws.shape[1])
        members = np.argsort(self.unit_of, kind="stable")  # entities unit by unit
        starts = np.cumsum(sizes) - sizes
        out = []
        for draw in self.draws:
            lengths = sizes[draw]
            within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out.append(members[np.repeat(starts[draw], lengths) + within])
        return out


def bootstrap(groups: np.ndarray | None, n: int, n_boot: int, seed: int) -> Resamples:
    """``n_boot`` resamples of ``n`` entities: with ``groups`` (each entity's split group), whole groups
    drawn with replacement (cluster bootstrap); without, entities."""
    rng = np.random.default_rng(seed)
    if groups is None:
        unit_of, n_units = np.arange(n), n
    else:
        uniques, unit_of = np.unique(np.asarray(groups), return_inverse=True)
        n_units = len(uniques)
    return Resamples(rng.integers(0, n_units, size=(n_boot, n_units)), unit_of)


def percentile_interval(samples: np.ndarray) -> tuple[float, float]:
    """The central 95 % of the finite resampled values (NaN, NaN where none is finite)."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return math.nan, math.nan
    low, high = np.percentile(samples, _TAILS)
    return float(low), float(high)


def bootstrap_mean(values: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float]:
    """Mean of the finite ``values`` and its 95 % interval over resampled entities (NaN interval below two)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return float(np.mean(values)) if len(values) else math.nan, math.nan, math.nan
    means = np.array([values[rows].mean() for rows in bootstrap(None, len(values), n_boot, seed).rows()])
    return float(values.mean()), *percentile_interval(means)


def weighted_r2(weights: np.ndarray, y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """:func:`r2` on every resample (rows of :attr:`Resamples.weights`); NaN where a resample has no spread."""
    y, pred = columns(y), columns(pred)
    out = np.zeros(len(weights))
    for j in range(y.shape[1]):
        mean = (weights @ y[:, j]) / weights.sum(1)
        spread = (weights * (y[None, :, j] - mean[:, None]) ** 2).sum(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out += 1 - (weights @ (y[:, j] - pred[:, j]) ** 2) / np.where(spread > 0, spread, np.nan)
    return out / y.shape[1]


def r2_interval(weights: np.ndarray, y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """Percentile bootstrap interval of the R²."""
    return percentile_interval(weighted_r2(weights, y, pred))


# --------------------------------------------------------------------------- paired differences and verdicts


class PairedDifference(Output):
    """R² (or, where the field's name says so, another score) of one predictor minus another's on the same
    test entities, with the 95 % interval of a paired bootstrap (both scored on every resample:
    :func:`paired_r2_difference`, :func:`paired_mean_difference`)."""

    diff: float
    ci_low: float
    ci_high: float
    n: int | None = None  # test entities both predict (fewer than all for a control run on a subsample)


def paired_r2_difference(weights: np.ndarray, y: np.ndarray, pred: np.ndarray, other: np.ndarray) -> PairedDifference:
    """R²(``pred``) - R²(``other``) on the entities both predict (a control run on a subsample leaves NaN
    elsewhere), with the percentile interval of the same difference on every resample."""
    return paired_mean_r2_difference(weights, y, [pred], [other])


def paired_mean_r2_difference(weights: np.ndarray, y: np.ndarray, preds: Sequence[np.ndarray],
                              others: Sequence[np.ndarray]) -> PairedDifference:
    """:func:`paired_r2_difference` of the mean R² of several predictors (e.g. one network per seed) and
    the mean R² of others, on the entities all of them predict."""
    both = np.logical_and.reduce([np.isfinite(columns(p)).all(1) for p in (*preds, *others)])
    y, weights = y[both], weights[:, both]

    def mean_r2(predictors: Sequence[np.ndarray]) -> tuple[float, np.ndarray]:
        return (float(np.mean([r2(y, p[both]) for p in predictors])),
                np.mean([weighted_r2(weights, y, p[both]) for p in predictors], axis=0))

    (a, a_boot), (b, b_boot) = mean_r2(preds), mean_r2(others)
    low, high = percentile_interval(a_boot - b_boot)
    return PairedDifference(diff=a - b, ci_low=low, ci_high=high, n=int(both.sum()))


def paired_mean_difference(weights: np.ndarray, values: np.ndarray, other: np.ndarray) -> PairedDifference:
    """Mean of per-entity ``values`` (e.g. one predictor's errors) minus the mean of ``other`` on the same
    entities, with the percentile interval of the same difference on every resample (``weights``)."""
    gap = np.asarray(values, dtype=np.float64) - np.asarray(other, dtype=np.float64)
    low, high = percentile_interval((weights @ gap) / weights.sum(1))
    return PairedDifference(diff=float(gap.mean()), ci_low=low, ci_high=high, n=len(gap))


class Sign(Enum):
    """Where the interval of a difference ``a - b`` lies."""

    ABOVE = "above 0"
    BELOW = "below 0"
    NOT_ESTABLISHED = "not established"  # the interval includes 0 (or is undefined)


def interval_sign(low: float, high: float) -> Sign:
    """The verdict rule: ``a`` exceeds ``b`` where the whole interval of ``a - b`` lies above 0, falls short
    where it lies below 0; otherwise no difference is established."""
    if low > 0:
        return Sign.ABOVE
    if high < 0:
        return Sign.BELOW
    return Sign.NOT_ESTABLISHED
