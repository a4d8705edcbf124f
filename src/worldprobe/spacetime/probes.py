"""The probes stage: a ridge probe on every layer of every activation store of one dataset, the best
layer chosen on the train split, and the surface-form, layer-0 (last token and entity token mean) and
random-weights controls."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..config import ProbesConfig, ValidityConfig
from ..estimators import RidgeLOO, SparseRidgeKFold, alpha_grid, surface_vectorizer
from ..records import DroppedEntities, StoreError
from ..stats import best_layer
from .inputs import ON_SUBSAMPLE, ProbeData, Run, main_run, on_covered, random_weights_run
from .metrics import proximity_error, score
from .outputs import (
    Controls,
    LayerRecord,
    ProbeMetrics,
    RandomWeightsControl,
    RidgeFit,
    RunKey,
    RunRecord,
    Scores,
    SurfaceControl,
)
from .validity import assess


def selection_rule(data: ProbeData, cfg: ProbesConfig) -> str:
    """How alpha and the best layer are chosen: grouped K-fold where the split holds out whole groups
    (so that selection sees the same kind of generalization the test asks for), leave-one-out elsewhere."""
    return "leave-one-out" if data.split_group is None else f"GroupKFold({cfg.group_folds}) over the split's groups"


def best_layer_criterion(data: ProbeData, cfg: ProbesConfig) -> str:
    return (f"layer with the highest {selection_rule(data, cfg)} R² of the ridge probe on the train split "
            "(mean over targets); test metrics are reported at that layer, never used to choose it")


def _ridge_fit(probe: RidgeLOO | SparseRidgeKFold, scores: Scores, targets: tuple[str, ...]) -> dict:
    """The fields of :class:`RidgeFit`: the test scores beside the probe's chosen alphas and its train R²
    under the probe's selection (leave-one-out, or the K-fold that ``selection`` names)."""
    train_r2 = probe.cv_r2_ if isinstance(probe, SparseRidgeKFold) else probe.loo_r2_
    return {
        **scores.model_dump(exclude_unset=True),
        "alpha": {t: float(a) for t, a in zip(targets, probe.alpha_)},
        "alpha_at_grid_edge": bool(probe.alpha_at_edge_.any()),
        "train_loo_r2": float(train_r2.mean()),
        **({} if probe.selection_ == "leave-one-out" else {"selection": probe.selection_}),
    }


def _ridge(cfg: ProbesConfig, standardize: bool) -> RidgeLOO:
    return RidgeLOO(alpha_grid(cfg.alphas), standardize=standardize, n_folds=cfg.group_folds)


def fit_linear(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, train: np.ndarray | None = None) -> RidgeLOO:
    """The ridge probe on the train rows (or ``train``), alpha chosen by :func:`selection_rule`."""
    train = data.train if train is None else train
    return _ridge(cfg, cfg.standardize).fit(X[train], data.y[train], groups=data.groups_of(train))


def probe_layer(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, layer: int, rel_depth: float
                ) -> tuple[LayerRecord, np.ndarray]:
    """The ridge probe on the features ``X`` of one layer (all rows): its record and test predictions (n_test x t)."""
    probe = fit_linear(X, data, cfg)
    pred = probe.predict(X[data.test]).reshape(-1, len(data.targets))
    scores = score(data.y[data.test], pred, data.kind, data.targets)
    return LayerRecord(layer=layer, rel_depth=rel_depth, **_ridge_fit(probe, scores, data.targets)), pred


def probe_run(run: Run, data: ProbeData, cfg: ProbesConfig) -> tuple[RunRecord, np.ndarray]:
    """Ridge probe on every layer of one store; returns the run record and test predictions (layers x n_test x t)."""
    layers, preds = [], []
    for layer in tqdm(range(run.n_layers), desc=f"{run.model_tag}/{run.prompt}", leave=False, file=sys.stderr):
        record, pred = probe_layer(run.layer(layer), data, cfg, layer, layer / max(run.n_layers - 1, 1))
        layers.append(record)
        preds.append(pred)
    best = best_layer([rec.train_loo_r2 for rec in layers])
    record = RunRecord(control=run.control, model=run.store.meta.model, d_model=run.store.meta.d_model,
                       n_layers=run.n_layers, n_train=int(data.train.sum()), n_test=int(data.test.sum()),
                       best_layer=best, best=layers[best], layers=layers)
    return record, np.stack(preds)


def surface_predictions(
    data: ProbeData, cfg: ProbesConfig, train: np.ndarray | None = None
) -> tuple[np.ndarray, RidgeLOO, int]:
    """TF-IDF character n-grams of the entity string, the same LOO ridge (features centred, not scaled),
    trained on ``train`` (default: the train split): test predictions (n_test x targets), the fitted
    probe and the number of n-gram features. Above ``surface.max_loo_rows`` training rows alpha is
    chosen by K-fold CV instead (:class:`~worldprobe.estimators.SparseRidgeKFold`)."""
    train = data.train if train is None else train
    vectorizer = surface_vectorizer(cfg.surface)
    text = data.table["text"].astype(str).to_numpy()
    X_train, y, groups = vectorizer.fit_transform(text[train]), data.y[train], data.groups_of(train)
    if X_train.shape[0] > cfg.surface.max_loo_rows:
        probe = SparseRidgeKFold(alpha_grid(cfg.alphas), folds=cfg.surface.kfold).fit(X_train, y, groups=groups)
    else:
        probe = _ridge(cfg, standardize=False).fit(X_train, y, groups=groups)
    return probe.predict(vectorizer.transform(text[data.test])).reshape(-1, len(data.targets)), probe, X_train.shape[1]


def surface_control(data: ProbeData, cfg: ProbesConfig) -> tuple[SurfaceControl, np.ndarray]:
    """The surface control's record and its test predictions."""
    pred, probe, n_features = surface_predictions(data, cfg)
    scores = score(data.y[data.test], pred, data.kind, data.targets)
    return SurfaceControl(**_ridge_fit(probe, scores, data.targets), n_features=int(n_features)), pred


def _on_test_rows(preds: np.ndarray, covered_test: np.ndarray) -> np.ndarray:
    """Predictions (layers x covered test rows x t) placed on every test row, NaN where the run holds none."""
    if covered_test.all():
        return preds
    full = np.full((preds.shape[0], len(covered_test), preds.shape[2]), np.nan)
    full[:, covered_test] = preds
    return full


@dataclass
class ProbeResults:
    metrics: ProbeMetrics
    layers: pd.DataFrame
    predictions: pd.DataFrame


def token_mean_rows(token_mean: pd.DataFrame, data: ProbeData) -> np.ndarray:
    """The rows of ``token_mean`` (indexed by entity id) in ``data``'s order; every entity must have one."""
    rows = token_mean.index.get_indexer(data.ids)
    if (rows < 0).any():
        raise StoreError(f"{int((rows < 0).sum())} entities have no layer-0 token mean "
                         f"(ids {data.ids[rows < 0][:5].tolist()}...)")
    return token_mean.to_numpy()[rows]


def _warn_edges(name: str, record: RunRecord) -> None:
    edge = [rec.layer for rec in record.layers if rec.alpha_at_grid_edge]
    if edge:
        print(f"warning: {name}: chosen alpha at an end of the grid in layers {edge}; widen probes.alphas", file=sys.stderr)


def probe_dataset(
    data: ProbeData, runs: list[Run], cfg: ProbesConfig, validity_cfg: ValidityConfig, seed: int,
    model_name: str | None = None, dropped: DroppedEntities | None = None, token_mean: pd.DataFrame | None = None
) -> ProbeResults:
    """``token_mean``: the layer-0 token-mean features (:mod:`worldprobe.lm.token_mean`), one row per entity
    id; probed as one more layer 0 and judged as a control beside the last-token one (``None``: not run)."""
    main = main_run(runs, model_name)
    rw = random_weights_run(runs, main)
    out_runs: dict[str, dict[str, RunRecord]] = {}
    kept = {}  # test predictions (layers x n_test x t) of the runs the headline is compared with
    for run in runs:
        run_data, covered_run = on_covered(data, run)  # a prompt variant may hold a subsample
        record, preds = probe_run(covered_run, run_data, cfg)
        _warn_edges(f"{run.model_tag}/{run.prompt}", record)
        out_runs.setdefault(run.model_tag, {})[run.prompt] = record
        if run is main or run is rw:
            kept[id(run)] = _on_test_rows(preds, run.covered[data.test])
    subsampled = [r for r in runs if not r.complete]
    if subsampled:  # the headline on the variants' entities too: prompts compared at matched n
        shared = np.logical_and.reduce([r.covered for r in subsampled])
        sub_data, sub_main = on_covered(data, main, shared)
        out_runs[main.model_tag][f"{main.prompt}{ON_SUBSAMPLE}"] = probe_run(sub_main, sub_data, cfg)[0]
    main_record = out_runs[main.model_tag][main.prompt]

    random_weights = token_mean_record = None
    surface, surface_pred = surface_control(data, cfg)
    predictions = {"probe": kept[id(main)][main_record.best_layer], "surface": surface_pred, "layer0": kept[id(main)][0]}
    if token_mean is not None:
        token_mean_record, predictions["layer0_token_mean"] = probe_layer(
            token_mean_rows(token_mean, data), data, cfg, layer=0, rel_depth=0.0)
    if rw is not None:
        rec = out_runs[rw.model_tag][rw.prompt]
        random_weights = RandomWeightsControl(model_tag=rw.model_tag, prompt=rw.prompt, best_layer=rec.best_layer,
                                              best=rec.best)
        predictions["random_weights"] = kept[id(rw)][rec.best_layer]
    controls = Controls(surface=surface, layer0=main_record.layers[0], layer0_token_mean=token_mean_record,
                        random_weights=random_weights)
    checks = assess(data, predictions, main.layer(main_record.best_layer),
                    lambda X, d: fit_linear(X, d, cfg), validity_cfg, selection_rule(data, cfg), seed)

    metrics = ProbeMetrics(
        dataset=data.info.dataset,
        kind=data.kind,
        target_note=data.info.target_note,
        targets=list(data.targets),
        n_train=int(data.train.sum()),
        n_test=int(data.test.sum()),
        entities_without_activations=dropped or DroppedEntities(n_dropped=0, by_store={}, examples=[]),
        standardize=cfg.standardize,
        alphas=cfg.alphas,
        best_layer_criterion=best_layer_criterion(data, cfg),
        main=RunKey(model_tag=main.model_tag, prompt=main.prompt),
        runs=out_runs,
        controls=controls,
        validity=checks,
    )
    return ProbeResults(metrics, _layers_frame(metrics, data), _predictions_frame(data, predictions))


def _flat(rec: RidgeFit, targets: tuple[str, ...], kind: str) -> dict:
    columns = ("r2", "spearman", "prox_error", "mae", "mae_unit", "train_loo_r2", "alpha_at_grid_edge")
    row = {k: getattr(rec, k) for k in columns}
    if kind == "place":
        row["prox_error_paper_swapped"] = rec.prox_error_paper_swapped
    row.update({f"r2_{t}": rec.r2_per_target[t] for t in targets})
    row.update({f"alpha_{t}": rec.alpha[t] for t in targets})
    return row


def _layers_frame(metrics: ProbeMetrics, data: ProbeData) -> pd.DataFrame:
    rows = []
    for tag, prompts in metrics.runs.items():
        for prompt, run in prompts.items():
            for rec in run.layers:
                rows.append({"model": tag, "prompt": prompt, "control": run.control or "none",
                             "layer": rec.layer, "rel_depth": rec.rel_depth, **_flat(rec, data.targets, data.kind)})
    surface = _flat(metrics.controls.surface, data.targets, data.kind)
    for rec in metrics.headline.layers:
        rows.append({"model": "tfidf", "prompt": "text", "control": "surface", "layer": rec.layer,
                     "rel_depth": rec.rel_depth, **surface})
    return pd.DataFrame(rows)


def _predictions_frame(data: ProbeData, predictions: dict[str, np.ndarray]) -> pd.DataFrame:
    """Test entities with the probe's predictions (``pred_<target>``) and each control's
    (``<control>_pred_<target>``), the probe's proximity error, the group columns and ``split_group``
    (the group the split holds out together; the entity's own id where the split is by entity)."""
    test = data.table[data.test]
    frame = test[["id", "text", "entity_type", *data.targets]].copy()
    pred = predictions["probe"]
    for name, values in predictions.items():
        prefix = "" if name == "probe" else f"{name}_"
        for j, t in enumerate(data.targets):
            frame[f"{prefix}pred_{t}"] = values[:, j]
    frame["prox_error"] = proximity_error(data.y[data.test], pred, data.kind)
    for g in data.info.groups:
        if g not in frame.columns:
            frame[g] = test[g].to_numpy()
    groups = data.groups_of(data.test)
    frame["split_group"] = data.ids[data.test] if groups is None else groups
    return frame.reset_index(drop=True)
