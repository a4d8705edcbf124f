"""What the headline probe shows beyond its controls and beyond the dataset's blocks.

* **Intervals resampled the way the split was drawn.** Where the split holds out whole groups (art:
  creators; NYC: complexes; ``validity.split_groups``), a bootstrap resample draws test *groups* with
  replacement and keeps all their entities (cluster bootstrap); elsewhere it draws test entities.
  A resample is a weight per test entity (how often it was drawn), so every predictor is scored on
  the same resamples: :func:`worldprobe.stats.paired_r2_difference` is the paired bootstrap of one R²
  minus another (the resampling, intervals and R² are :mod:`worldprobe.stats`).
* **Group reference** (places): each test entity predicted by the train mean of its block (country,
  state, borough): :func:`group_mean_predictions`. **Incremental R²**: a ridge on the block's one-hot
  against a ridge on one-hot + activations, same selection rules (:func:`beyond_group`).
* **Within-block**: targets and predictions centred on each block's test mean (blocks with enough
  test entities), pooled: Spearman and R² of what is left (:func:`within_block`). A predictor that
  only knows the block scores ~0; time datasets use their block (century, decade, year).
* **Eras** (people): R² and Spearman of those born before a year and from it (:func:`era_scores`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from sklearn.preprocessing import OneHotEncoder

from ..config import ValidityConfig
from ..countries import country_block
from ..stats import (
    PairedDifference,
    bootstrap,
    columns,
    finite_or_none,
    paired_r2_difference,
    percentile_interval,
    r2,
    r2_interval,
    spearman,
)
from .inputs import ProbeData
from .outputs import EraScores, Validity, WithinBlock

# --------------------------------------------------------------------------- group reference

MISSING_BLOCK = "(none)"


def block_labels(values: pd.Series, dataset: str) -> np.ndarray:
    """Each row's block, by the one rule of the block checks (incremental, generalization): a missing
    value is a block of its own (:data:`MISSING_BLOCK`), world countries one block per sovereign country."""
    blocks = values.map(country_block) if dataset == "world" else values.astype("string")
    return blocks.fillna(MISSING_BLOCK).astype(str).to_numpy()


def group_mean_predictions(train_blocks: np.ndarray, y_train: np.ndarray, test_blocks: np.ndarray) -> np.ndarray:
    """Each test entity's prediction: the train mean of its block (the overall train mean for a block
    with no train entity)."""
    means = pd.DataFrame(columns(y_train)).groupby(np.asarray(train_blocks)).mean()
    pred = means.reindex(pd.Index(np.asarray(test_blocks))).to_numpy()
    overall = columns(y_train).mean(0)
    return np.where(np.isnan(pred), overall, pred)


def beyond_group(
    X: np.ndarray, blocks: np.ndarray, data: ProbeData, fit: Callable[[np.ndarray, ProbeData], object],
    weights: np.ndarray,
) -> tuple[float | None, PairedDifference]:
    """Test R² of a ridge on the block one-hot, and what adding the activations ``X`` to it gains (paired).

    ``fit(features, data)`` fits a probe on the train rows of ``features`` with the stage's selection
    rules (alpha by leave-one-out or grouped K-fold); blocks unseen in train get an all-zero one-hot.
    """
    onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(blocks[data.train, None])
    G = onehot.transform(blocks[:, None])
    y_test = data.y[data.test]
    group_pred = fit(G, data).predict(G[data.test]).reshape(len(y_test), -1)
    both = np.hstack([G, X])
    both_pred = fit(both, data).predict(both[data.test]).reshape(len(y_test), -1)
    return finite_or_none(r2(y_test, group_pred)), paired_r2_difference(weights, y_test, both_pred, group_pred)


# --------------------------------------------------------------------------- within block


def block_centred(values: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """``values`` minus their block's mean (per column)."""
    frame = pd.DataFrame(columns(values))
    return (frame - frame.groupby(blocks).transform("mean")).to_numpy()


def _within(y: np.ndarray, pred: np.ndarray, blocks: np.ndarray, min_test: int) -> tuple[float | None, float | None]:
    """Within-block Spearman and R² of one predictor on the rows it predicts (a control run on a
    subsample leaves NaN elsewhere), over the blocks with at least ``min_test`` of those rows."""
    rows = np.isfinite(columns(pred)).all(1)
    sizes = pd.Series(blocks[rows]).value_counts()
    keep = rows & np.isin(blocks, sizes.index[sizes >= min_test])
    if keep.sum() < 2:
        return None, None
    y_c, pred_c = block_centred(y[keep], blocks[keep]), block_centred(pred[keep], blocks[keep])
    return finite_or_none(spearman(y_c, pred_c)), finite_or_none(r2(y_c, pred_c))


def within_block(
    y: np.ndarray, predictions: Mapping[str, np.ndarray], blocks: np.ndarray, block_name: str, min_test: int,
    weights: np.ndarray | None = None,
) -> WithinBlock:
    """Spearman and R² of targets and predictions centred on each block's test mean, pooled over the
    blocks with at least ``min_test`` test entities; per predictor (``None`` where undefined; a control
    run on a subsample: on its own rows, :func:`_within`). With
    bootstrap ``weights``, also the interval of the ``probe``'s within-block Spearman (each resample
    re-centred on its own block means)."""
    blocks = np.asarray(blocks).astype(str)
    sizes = pd.Series(blocks).value_counts()
    keep = np.isin(blocks, sizes.index[sizes >= min_test])
    rho, r2_within, interval = {}, {}, {}
    if keep.sum() >= 2:
        for name, pred in predictions.items():
            rho[name], r2_within[name] = _within(y, pred, blocks, min_test)
        if weights is not None and rho.get("probe") is not None:
            rows = np.flatnonzero(keep)
            resampled = [spearman(block_centred(y[i], blocks[i]), block_centred(predictions["probe"][i], blocks[i]))
                         for i in (np.repeat(rows, w[rows].astype(int)) for w in weights)]
            low, high = percentile_interval(np.array(resampled))
            interval = {"probe_spearman_ci_low": low, "probe_spearman_ci_high": high}
    else:
        rho = r2_within = dict.fromkeys(predictions)
    return WithinBlock(block=block_name, min_test=min_test, n_blocks=int((sizes >= min_test).sum()),
                       n=int(keep.sum()), spearman=rho, r2=r2_within, **interval)


# --------------------------------------------------------------------------- eras


def era_scores(year: np.ndarray, pred: np.ndarray, split_year: float) -> dict[str, EraScores]:
    """R² and Spearman of the test entities before ``split_year`` and from it on."""
    year, pred = np.asarray(year, float).ravel(), np.asarray(pred, float).ravel()
    out = {}
    for name, rows in ((f"before_{split_year:g}", year < split_year), (f"from_{split_year:g}", year >= split_year)):
        n = int(rows.sum())
        if n < 2:
            out[name] = EraScores(n=n, r2=None, spearman=None)
            continue
        out[name] = EraScores(n=n, r2=finite_or_none(r2(year[rows], pred[rows])),
                              spearman=finite_or_none(spearman(year[rows], pred[rows])))
    return out


# --------------------------------------------------------------------------- the headline's checks


def assess(
    data: ProbeData, predictions: Mapping[str, np.ndarray], X_best: np.ndarray,
    fit: Callable[[np.ndarray, ProbeData], object], cfg: ValidityConfig, selection: str, seed: int,
) -> Validity:
    """Every check of the headline probe: ``predictions`` holds the test predictions of ``probe`` and
    each control (same test rows, same order), ``X_best`` the main run's best-layer activations (all rows)."""
    y = data.y[data.test]
    groups = data.groups_of(data.test)
    weights = bootstrap(groups, len(y), cfg.n_boot, seed).weights
    probe = predictions["probe"]
    low, high = r2_interval(weights, y, probe)
    group_column = cfg.split_groups.get(data.info.dataset)
    resampling = ("test entities" if groups is None else
                  f"clusters: the {len(np.unique(groups))} test groups of {group_column.column}, drawn with replacement")
    block_name = data.info.groups[0]
    blocks = data.table[block_name].astype(str).to_numpy()
    extra = {}
    if data.kind == "place":  # a time block is cut from the target itself: its mean would be no reference
        reference = group_mean_predictions(blocks[data.train], data.y[data.train], blocks[data.test])
        extra["group_mean_r2"] = finite_or_none(r2(y, reference))
        extra["r2_group_ridge"], extra["r2_beyond_group"] = beyond_group(X_best, blocks, data, fit, weights)
    if data.kind == "time" and data.info.dataset in cfg.era_split_year:
        extra["eras"] = era_scores(y, probe, cfg.era_split_year[data.info.dataset])
    return Validity(
        split_group=None if groups is None else group_column.column, resampling=resampling, n_boot=cfg.n_boot,
        selection=selection, r2_ci_low=low, r2_ci_high=high,
        verdicts={name: paired_r2_difference(weights, y, probe, pred) for name, pred in predictions.items() if name != "probe"},
        within_block=within_block(y, predictions, blocks[data.test], block_name, cfg.min_block_test, weights),
        **extra,
    )
