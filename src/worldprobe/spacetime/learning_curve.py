"""Learning curves at matched n: is the probe ahead of its controls because the model encodes the
target, or because a control is starved at this training size?

The probe (the main run, at each n's own best layer chosen by train leave-one-out R² as the probes
stage does), the surface control (TF-IDF + the same ridge) and the random-weights control (its own
best layer per n, chosen the same way) are trained on the same **nested** seeded subsamples of the
train split and scored on the same test split. ``all`` is the whole train split, so the last point
is the probes stage's headline setting. Per control the record states the difference at full n and
where the curves cross: the smallest n from which the probe stays above the control at every larger
n (``None`` when it is below at full n).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import LearningCurveConfig, ProbesConfig
from ..records import StoreError
from ..stats import best_layer, finite_or_none, r2
from .inputs import ProbeData, Run, main_run, on_covered, random_weights_run
from .outputs import CurveCrossing, CurvePoint, LearningCurve
from .probes import fit_linear, surface_predictions

CONTROLS = ("surface", "random_weights")


def nested_subsamples(train: np.ndarray, sizes: list[int | str], seed: int, first: np.ndarray | None = None) -> list[np.ndarray]:
    """Boolean masks of the first n rows of one seeded permutation of the train rows, for each size.

    ``all`` is every train row; sizes above the train size are skipped; each mask contains every
    smaller one (nested), so a curve's points differ only by the rows added. ``first``: rows that come
    first in the order (shuffled among themselves, then the rest shuffled), so that every size up to
    their number stays inside them: the random-weights control's subsample, itself a seeded random draw.
    """
    rng = np.random.default_rng(seed)
    first = np.zeros(len(train), dtype=bool) if first is None else first
    order = np.concatenate([rng.permutation(np.flatnonzero(train & first)), rng.permutation(np.flatnonzero(train & ~first))])
    ns = sorted({len(order) if s == "all" else int(s) for s in sizes if s == "all" or int(s) <= len(order)})
    masks = []
    for n in ns:
        mask = np.zeros(len(train), dtype=bool)
        mask[order[:n]] = True
        masks.append(mask)
    return masks


def _best_layer_scores(
    run: Run, data: ProbeData, cfg: ProbesConfig, masks: list[np.ndarray]
) -> list[tuple[int, float | None]]:
    """Per subsample: (best layer by train LOO R² on that subsample, test R² at that layer)."""
    loo = np.full((len(masks), run.n_layers), -np.inf)
    test_r2 = np.full((len(masks), run.n_layers), np.nan)
    y_test = data.y[data.test]
    for layer in tqdm(range(run.n_layers), desc=f"curve {run.model_tag}/{run.prompt}", leave=False, file=sys.stderr):
        X = run.layer(layer).astype(np.float64)  # each layer read once for every n
        for i, mask in enumerate(masks):
            probe = fit_linear(X, data, cfg, train=mask)
            pred = probe.predict(X[data.test]).reshape(-1, len(data.targets))
            loo[i, layer] = probe.loo_r2_.mean()
            test_r2[i, layer] = r2(y_test, pred)
    best = [best_layer(row) for row in loo]
    return [(b, None if np.isnan(test_r2[i, b]) else float(test_r2[i, b])) for i, b in enumerate(best)]


def crossing(ns: list[int], probe: list[float | None], control: list[float | None]) -> CurveCrossing:
    """The difference at full n and the smallest n from which the probe stays above the control."""
    pairs = [(n, p, c) for n, p, c in zip(ns, probe, control) if p is not None and c is not None]
    if not pairs:
        return CurveCrossing(full_n=None, diff_at_full_n=None, probe_above_at_full_n=None, stays_above_from=None)
    full_n, p_full, c_full = pairs[-1]
    stays = None
    for n, p, c in reversed(pairs):
        if p <= c:
            break
        stays = n
    return CurveCrossing(full_n=full_n, diff_at_full_n=p_full - c_full, probe_above_at_full_n=p_full > c_full,
                         stays_above_from=stays)


def learning_curve(data: ProbeData, runs: list[Run], cfg: ProbesConfig, curve_cfg: LearningCurveConfig, seed: int,
                   model_name: str | None = None) -> LearningCurve:
    main = main_run(runs, model_name)
    rw_run = random_weights_run(runs, main)
    masks = nested_subsamples(data.train, curve_cfg.sizes, seed, first=None if rw_run is None else rw_run.covered)
    if not masks:
        raise StoreError(f"no learning-curve size fits the {int(data.train.sum())} train entities: {curve_cfg.sizes}")
    ns = [int(m.sum()) for m in masks]
    probe = _best_layer_scores(main, data, cfg, masks)
    rw = [(None, None)] * len(masks)
    if rw_run is not None:  # on the sizes inside its subsample: the same train rows as the probe's
        inside = [i for i, m in enumerate(masks) if not (m & ~rw_run.covered).any()]
        rw_data, rw_covered = on_covered(data, rw_run)
        for i, scores in zip(inside, _best_layer_scores(rw_covered, rw_data, cfg, [masks[i][rw_run.covered] for i in inside])):
            rw[i] = scores
    y_test, surface = data.y[data.test], []
    for mask in tqdm(masks, desc="curve surface", leave=False, file=sys.stderr):
        pred = surface_predictions(data, cfg, train=mask)[0]
        surface.append(finite_or_none(r2(y_test, pred)))
    points = [
        CurvePoint(n_train=n, r2=p[1], best_layer=p[0], surface_r2=s, random_weights_r2=w[1],
                   random_weights_best_layer=w[0])
        for n, p, s, w in zip(ns, probe, surface, rw)
    ]
    probe_r2 = [p.r2 for p in points]
    return LearningCurve(
        model_tag=main.model_tag,
        prompt=main.prompt,
        random_weights_model_tag=None if rw_run is None else rw_run.model_tag,
        sizes=list(curve_cfg.sizes),
        n_train_split=int(data.train.sum()),
        n_test=int(data.test.sum()),
        points=points,
        crossings={
            "surface": crossing(ns, probe_r2, surface),
            "random_weights": crossing(ns, probe_r2, [p.random_weights_r2 for p in points]),
        },
        note="nested seeded subsamples of the train split (each contains every smaller one), every arm scored on "
             "the whole test split, but random weights, which hold only the prompt variants' subsample: trained on the "
             "same rows as the probe up to the subsample's train size (none beyond) and scored on its test rows; "
             "probe and random weights at each n's own best layer by train leave-one-out R²; "
             "stays_above_from: the smallest n from which the probe's R² exceeds the control's at every larger n",
    )


def curve_table(curve: LearningCurve) -> pd.DataFrame:
    """``n_train, r2, surface_r2, random_weights_r2`` (+ best layers) for DVC's ``linear`` template."""
    return pd.DataFrame([p.model_dump() for p in curve.points],
                        columns=["n_train", "r2", "surface_r2", "random_weights_r2", "best_layer",
                                 "random_weights_best_layer"])
