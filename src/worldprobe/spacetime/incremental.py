"""What the activations *add* to each control, beside whether the probe *beats* it.

"Beats" (the probes stage's ``verdicts``) compares two R²: probe against control, head to head. "Adds"
asks the question the prose answers: does the probe carry information about the target that the
control does not? Both are judged on the same test entities with a paired interval resampled the way
the split was drawn (:func:`worldprobe.stats.bootstrap`).

* **Adds** (:func:`adds`): an encompassing test on the test rows. Ordinary least squares of the target
  on the control's prediction, against least squares on the control's and the probe's predictions;
  both cross-fitted over ``folds`` folds of the test rows (whole split groups per fold where the split
  holds groups out), so that no row is scored by a fit that saw it. The gain in R² is the information
  the probe's prediction holds beyond the control's. Least squares has no penalty, so neither term is
  shrunk towards the other; the fold fits are not redone inside each bootstrap resample (a handful of
  coefficients fitted on thousands of rows).
* **The block** (places; :func:`block_checks`): each test place's block (country, state, borough) by one
  rule for every metric (:func:`~worldprobe.spacetime.validity.block_labels`: a missing block is a block of its own, world countries one
  block per sovereign country), the oracle that predicts the train mean of the true block, whether the
  probe beats it and adds to it (as above, the oracle as the control), the gain as a share of what the
  block leaves unexplained, how much of the variance of the test blocks' means the probe's predictions
  explain (``block_read_r2``), and the test blocks no train place shares. And, since the probe's
  prediction was fitted to the whole target, a ridge on the best layer's activations with the block as
  an unpenalised term (:func:`fixed_effects`): the activations' gain beyond the block when the penalty
  cannot shrink the block term (as the probes stage's one-hot ridge, one penalty for both, does).
* **Within a block** (:func:`within_block_differences`): targets and predictions centred on each block's
  test mean, pooled; the probe's Spearman minus each control's, paired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GroupKFold

from ..config import Params, ProbesConfig
from ..records import read_entities
from ..stats import (
    PairedDifference,
    Resamples,
    bootstrap,
    columns,
    finite_or_none,
    paired_r2_difference,
    percentile_interval,
    r2,
    spearman,
)
from .inputs import ProbeData, main_run, probe_inputs
from .outputs import BlockChecks, FixedEffects, IncrementalMetrics, OutputError, ProbeMetrics
from .probes import fit_linear
from .summary import TARGETS, read_predictions
from .validity import MISSING_BLOCK, block_centred, block_labels, group_mean_predictions

CONTROLS = ("surface", "layer0", "layer0_token_mean", "random_weights")
def cross_fitted(features: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Least-squares predictions of ``y`` from ``features``, each fold predicted by a fit on the others
    (folds of whole ``groups``, shuffled with ``seed``; fewer folds where there are fewer groups)."""
    y = columns(y)
    out = np.empty_like(y)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError(f"cross-fitting needs at least 2 split groups among the test rows, got {n_groups}")
    splitter = GroupKFold(n_splits=min(folds, n_groups), shuffle=True, random_state=seed)
    for fit_rows, held_out in splitter.split(features, y, groups):
        out[held_out] = LinearRegression().fit(features[fit_rows], y[fit_rows]).predict(features[held_out])
    return out


def adds(weights: np.ndarray, y: np.ndarray, probe: np.ndarray, control: np.ndarray, groups: np.ndarray,
         folds: int, seed: int) -> PairedDifference:
    """R² of the control's and the probe's predictions together minus the control's alone, both
    cross-fitted (:func:`cross_fitted`), on the rows the control predicts, with the paired interval."""
    y, probe, control = columns(y), columns(probe), columns(control)
    rows = np.isfinite(control).all(1)
    alone, both = (np.full_like(y, np.nan) for _ in range(2))
    alone[rows] = cross_fitted(control[rows], y[rows], groups[rows], folds, seed)
    both[rows] = cross_fitted(np.hstack([control, probe])[rows], y[rows], groups[rows], folds, seed)
    return paired_r2_difference(weights, y, both, alone)


def _within_spearman(y: np.ndarray, pred: np.ndarray, blocks: np.ndarray) -> float:
    return spearman(block_centred(y, blocks), block_centred(pred, blocks))


def within_block_differences(
    y: np.ndarray, probe: np.ndarray, controls: Mapping[str, np.ndarray], blocks: np.ndarray, min_test: int,
    resamples: Resamples,
) -> dict[str, PairedDifference]:
    """Within-block Spearman of the probe minus each control's, over the blocks with at least ``min_test``
    test rows the control predicts, with the paired interval (each resample re-centred on its own block means)."""
    out = {}
    draws = resamples.rows()
    for name, control in controls.items():
        rows = np.isfinite(columns(control)).all(1)
        sizes = pd.Series(blocks[rows]).value_counts()
        keep = rows & np.isin(blocks, sizes.index[sizes >= min_test])
        if keep.sum() < 2:
            continue
        diff = _within_spearman(y[keep], probe[keep], blocks[keep]) - _within_spearman(y[keep], control[keep], blocks[keep])
        resampled = []
        for draw in draws:
            i = draw[keep[draw]]
            resampled.append(_within_spearman(y[i], probe[i], blocks[i]) - _within_spearman(y[i], control[i], blocks[i]))
        low, high = percentile_interval(np.array(resampled))
        out[name] = PairedDifference(diff=diff, ci_low=low, ci_high=high, n=int(keep.sum()))
    return out


def fixed_effects(X: np.ndarray, data: ProbeData, blocks: np.ndarray, cfg: ProbesConfig, weights: np.ndarray
                  ) -> FixedEffects:
    """:class:`FixedEffects` of the features ``X`` (all rows of ``data``), ``blocks`` each row's block;
    ``weights`` the test resamples. Alpha is chosen as the probes stage chooses it, on the centred rows."""
    y_means, X_means = (group_mean_predictions(blocks[data.train], v[data.train], blocks) for v in (data.y, X))
    probe = fit_linear(X - X_means, replace(data, y=data.y - y_means), cfg)
    y, reference = data.y[data.test], y_means[data.test]
    pred = reference + probe.predict((X - X_means)[data.test]).reshape(len(y), -1)
    gain = paired_r2_difference(weights, y, pred, reference)
    unexplained = 1 - r2(y, reference)
    return FixedEffects(r2=r2(y, pred), gain=gain,
                        share=finite_or_none(gain.diff / unexplained) if unexplained > 0 else None,
                        alpha_at_grid_edge=bool(probe.alpha_at_edge_.any()))


def block_checks(
    block: str, train_blocks: np.ndarray, y_train: np.ndarray, test_blocks: np.ndarray, y: np.ndarray,
    probe: np.ndarray, weights: np.ndarray, groups: np.ndarray, folds: int, seed: int, fixed: FixedEffects,
) -> BlockChecks:
    """The probe against the oracle told each test place's block (the train mean of that block; the
    overall train mean for a block no train place shares), with ``fixed`` (:func:`fixed_effects`)."""
    y_train, y, probe = columns(y_train), columns(y), columns(probe)
    reference = group_mean_predictions(train_blocks, y_train, test_blocks)
    unseen = ~np.isin(test_blocks, train_blocks)
    gain = adds(weights, y, probe, reference, groups, folds, seed)
    block_alone = r2(y, cross_fitted(reference, y, groups, folds, seed))
    unexplained = 1 - block_alone
    test_means = pd.DataFrame(y).groupby(test_blocks).transform("mean").to_numpy()
    return BlockChecks(
        block=block, n_test_blocks=len(np.unique(test_blocks)),
        unseen_test_blocks=len(np.unique(test_blocks[unseen])), unseen_test_entities=int(unseen.sum()),
        missing_block_entities=int((test_blocks == MISSING_BLOCK).sum()),
        oracle_r2=r2(y, reference), beats=paired_r2_difference(weights, y, probe, reference), adds=gain,
        block_alone_r2=block_alone,
        beyond_block_share=finite_or_none(gain.diff / unexplained) if unexplained > 0 else None,
        block_read_r2=finite_or_none(r2(test_means, probe)), fixed_effects=fixed,
    )


def _fixed_effects(dataset: str, params: Params, root: Path, frame: pd.DataFrame, block: str,
                   weights: np.ndarray) -> FixedEffects:
    """:func:`fixed_effects` on the headline run's best layer (``metrics/probes``), on the probe's own
    entities (the familiarity filter applied), which must be the test rows of ``frame``."""
    data, runs, _ = probe_inputs(dataset, params, root)
    if not np.array_equal(data.ids[data.test], frame["id"].astype(str).to_numpy()):
        raise OutputError(f"plots/probes/{dataset}/predictions.csv does not hold the entity table's test entities "
                          "in order: stale, rerun probes")
    probe_metrics = ProbeMetrics.load(root / "metrics" / "probes" / f"{dataset}.json")
    run = main_run(runs, params.model.name)
    X = run.layer(probe_metrics.runs[run.model_tag][run.prompt].best_layer).astype(np.float64)
    return fixed_effects(X, data, block_labels(data.table[block], dataset), params.probes, weights)


def assess(dataset: str, params: Params, root: str | Path = ".") -> IncrementalMetrics:
    """Every incremental check of one dataset from ``plots/probes/<dataset>/predictions.csv`` (the probes
    stage's best-layer test predictions of the probe and every control), for the block's train means the
    entity table and, for the fixed-effects ridge, the activations at the best layer (``metrics/probes``)."""
    root = Path(root)
    table, info = read_entities(root / "data" / "entities" / f"{dataset}.parquet")
    frame = read_predictions(root / "plots" / "probes" / dataset / "predictions.csv", info.kind)
    targets = list(TARGETS[info.kind])
    cfg = params.incremental
    grouped = dataset in params.validity.split_groups
    groups = frame["split_group"].astype(str).to_numpy()
    resamples = bootstrap(groups if grouped else None, len(frame), params.validity.n_boot, params.seed)
    weights = resamples.weights
    y = frame[targets].to_numpy(float)
    probe = frame[[f"pred_{t}" for t in targets]].to_numpy(float)
    controls = {c: frame[[f"{c}_pred_{t}" for t in targets]].to_numpy(float) for c in CONTROLS
                if f"{c}_pred_{targets[0]}" in frame.columns}
    block = info.groups[0]
    test_blocks = block_labels(frame[block], dataset)
    checks = None
    if info.kind == "place":  # a time block is cut from the target itself: its mean would be no reference
        # every train entity, also under a familiarity filter: the block's mean is a fact of the data, not of the probe
        train = table[table["split"] == "train"]
        checks = block_checks(block, block_labels(train[block], dataset), train[targets].to_numpy(float), test_blocks,
                              y, probe, weights, groups, cfg.folds, params.seed,
                              _fixed_effects(dataset, params, root, frame, block, weights))
    return IncrementalMetrics(
        dataset=dataset, kind=info.kind, n_test=len(frame), folds=cfg.folds, n_boot=params.validity.n_boot,
        resampling="split groups" if grouped else "test entities",
        adds={c: adds(weights, y, probe, pred, groups, cfg.folds, params.seed) for c, pred in controls.items()},
        within_block_spearman=within_block_differences(y, probe, controls, test_blocks,
                                                        params.validity.min_block_test, resamples),
        block=checks,
    )
