"""Scoring probes, and the experiments of the ``probes`` and ``generalization`` stages.

Metrics (test split unless named otherwise)
-------------------------------------------
* ``r2`` - coefficient of determination; places: the mean of the longitude and latitude R²
  (``r2_per_target`` has each), time: of the year.
* ``spearman`` - Spearman ρ of prediction vs truth (``scipy.stats.spearmanr``); places: mean over the
  two targets (``spearman_per_target``).
* ``prox_error`` - proximity error, per entity i: the fraction of the *other* test entities j whose
  *prediction* lies closer to i's *true* position than i's own prediction does; the mean over i is
  reported (chance ≈ 0.5). Distance: great-circle (``sklearn.metrics.pairwise.haversine_distances``
  on ``[lat, lon]`` in radians) for places, absolute difference for years.
* ``prox_error_paper_swapped`` (places only) - the same, but with ``[lon, lat]`` passed where the
  haversine expects ``[lat, lon]``, as the authors' code does; only for comparison with the paper.
* ``mae`` - mean great-circle distance in km (places) or mean absolute error in years (time);
  ``mae_unit`` says which.
* ``train_loo_r2`` - the probe's leave-one-out R² on the *train* split (mean over targets); the
  best layer of a run is the layer maximising it, so no test number takes part in any choice.

``metrics/probes/<dataset>.json``::

    {"dataset", "kind", "target_note", "targets", "n_train", "n_test", "standardize",
     "entities_without_activations": {"n_dropped", "by_store", "examples"},
     "alphas": {"min_exp", "max_exp", "num"}, "best_layer_criterion",
     "main": {"model_tag", "prompt"},
     "runs": {<model_tag>: {<prompt>: {"control": null | "random_weights", "model", "d_model",
              "n_layers", "best_layer", "best": <layer record>, "layers": [<layer record>, ...]}}},
     "controls": {"surface": <metrics> + {"alpha", "alpha_at_grid_edge", "train_loo_r2", "n_features"},
                  "layer0": <layer record of the main run's layer 0>,
                  "random_weights": null | {"model_tag", "prompt", "best_layer", "best": <layer record>}}}

    <layer record> = {"layer", "rel_depth" (layer / (n_layers - 1)), "r2", "r2_per_target",
                      "spearman", "spearman_per_target", "prox_error", "prox_error_paper_swapped"
                      (places only), "mae", "mae_unit", "alpha": {target: alpha},
                      "alpha_at_grid_edge", "train_loo_r2"}

``plots/probes/<dataset>/layers.csv``: one row per (model, prompt, layer) with columns ``model,
prompt, control`` (``none``, ``random_weights`` or ``surface``), ``layer, rel_depth, r2, spearman,
prox_error, [prox_error_paper_swapped], mae, mae_unit, train_loo_r2, alpha_at_grid_edge,
r2_<target>..., alpha_<target>...``; the surface control appears as ``model=tfidf, prompt=text,
control=surface`` with the same values at every layer of the main run (a flat line).
``predictions.csv``: the test entities at the main run's best layer: ``id, text, entity_type,
<targets>, pred_<targets>, prox_error`` and the dataset's group columns.

``metrics/generalization/<dataset>.json`` (all at the main run's best layer, ``layer``)::

    {"dataset", "kind", "model_tag", "prompt", "layer", "layer_criterion",
     "mlp_vs_linear": {"linear": <metrics>, "mlp": <metrics> + {"weight_decay", "val_mse", "epochs"}},
     "block_holdout" / "entity_type_holdout": {"column", "groups": [{"group", "n_test", "n_train_removed",
         "prox_error_default", "prox_error_heldout", "mae_default", "mae_heldout"}, ...],
         "mean_prox_error_default", "mean_prox_error_heldout", "mean_mae_default", "mean_mae_heldout",
         "n_groups" (in the test split), "n_eligible" (with >= min_test test entities), "min_test", "note"}
         (or {"column", "skipped_reason"} when not applicable); the K = probes.holdout_blocks largest
         eligible groups are held out,
     "cross_prompt": {"prompts", "rows": [{"train_prompt", "test_prompt", "variant" (raw | centred),
         "r2", "spearman", "prox_error"}, ...]},
     "pca": {"curve": [{"k" (int or "full"), "explained_variance", "r2", "spearman", "prox_error",
         "alpha_at_grid_edge"}, ...]},
     "neurons": {"block", "n_neurons", "targets": {<target>: {"probe_test_spearman",
         "top": [{"rank", "neuron", "train_spearman", "test_spearman"}, ...]}}}}

``plots/generalization/<dataset>/``: ``mlp.csv`` (probe, r2, spearman, prox_error, mae),
``holdout.csv`` (holdout = block | entity_type, column, group, n_test, prox_error_default,
prox_error_heldout, mae_default, mae_heldout), ``cross_prompt.csv`` (the rows above), ``pca.csv``
(the curve), ``neurons.csv`` (target, rank, neuron, train_spearman, test_spearman,
probe_test_spearman).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import rankdata, spearmanr
from sklearn.decomposition import PCA
from sklearn.metrics import r2_score
from sklearn.metrics.pairwise import haversine_distances
from tqdm import tqdm

from .config import ProbesConfig
from .probes import MLPProbe, RidgeLOO, alpha_grid, decoder_blocks, mlp_input_projections, surface_vectorizer
from .records import PLACE_TARGETS, ActivationStore, EntityTableInfo, StoreError

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
BEST_LAYER_CRITERION = (
    "layer with the highest leave-one-out R² of the ridge probe on the train split "
    "(mean over targets); test metrics are reported at that layer, never used to choose it"
)
_CHUNK = 2048  # rows of a pairwise distance matrix computed at once (bounds memory for big test sets)


# --------------------------------------------------------------------------- metrics


def _lonlat_to_latlon_radians(lonlat: np.ndarray) -> np.ndarray:
    return np.radians(np.asarray(lonlat, dtype=np.float64)[:, ::-1])


def great_circle_km(true_lonlat: np.ndarray, pred_lonlat: np.ndarray) -> np.ndarray:
    """Row-wise great-circle distance in km between ``[lon, lat]`` rows (degrees)."""
    a, b = _lonlat_to_latlon_radians(true_lonlat), _lonlat_to_latlon_radians(pred_lonlat)
    h = np.sin((b[:, 0] - a[:, 0]) / 2) ** 2 + np.cos(a[:, 0]) * np.cos(b[:, 0]) * np.sin((b[:, 1] - a[:, 1]) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def proximity_error(
    y_true: np.ndarray, y_pred: np.ndarray, kind: str, swapped: bool = False, among: np.ndarray | None = None
) -> np.ndarray:
    """Per-entity proximity error (see the module docstring).

    ``y_true``/``y_pred``: ``(n, 2)`` ``[lon, lat]`` degrees for places, ``(n,)`` or ``(n, 1)`` years.
    ``swapped=True`` (places) feeds ``[lon, lat]`` to the haversine as the paper's code does.
    ``among``: boolean mask of the entities i to score (default all); j always ranges over all n.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    n = len(y_true)
    if n < 2:
        raise ValueError("proximity error needs at least two entities")
    rows = np.arange(n) if among is None else np.flatnonzero(among)
    if kind == "place":
        if y_true.shape[1:] != (2,) or y_pred.shape != y_true.shape:
            raise ValueError(f"places need (n, 2) [lon, lat] arrays, got {y_true.shape} and {y_pred.shape}")
        to_rad = np.radians if swapped else _lonlat_to_latlon_radians
        true_r, pred_r = to_rad(y_true), to_rad(y_pred)

        def dist(i):
            return haversine_distances(true_r[i], pred_r)
    elif kind == "time":
        t, p = y_true.reshape(n), y_pred.reshape(n)

        def dist(i):
            return np.abs(t[i, None] - p[None, :])
    else:
        raise ValueError(f"unknown dataset kind {kind!r}")
    out = np.empty(len(rows))
    for start in range(0, len(rows), _CHUNK):
        i = rows[start : start + _CHUNK]
        d = dist(i)
        own = d[np.arange(len(i)), i]
        out[start : start + _CHUNK] = (d < own[:, None]).sum(1) / (n - 1)  # own column is never < itself
    return out


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else x


def score(y_true: np.ndarray, y_pred: np.ndarray, kind: str, targets: tuple[str, ...]) -> dict:
    """All test metrics of one set of predictions, JSON-ready (undefined values are ``None``)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    r2 = {t: _num(r2_score(y_true[:, j], y_pred[:, j])) for j, t in enumerate(targets)}
    rho = {}
    for j, t in enumerate(targets):
        rho[t] = None if np.ptp(y_pred[:, j]) == 0 else _num(spearmanr(y_true[:, j], y_pred[:, j]).statistic)
    out = {
        "r2": _mean_or_none(r2.values()),
        "r2_per_target": r2,
        "spearman": _mean_or_none(rho.values()),
        "spearman_per_target": rho,
        "prox_error": _num(proximity_error(y_true, y_pred, kind).mean()),
    }
    if kind == "place":
        out["prox_error_paper_swapped"] = _num(proximity_error(y_true, y_pred, kind, swapped=True).mean())
        out["mae"], out["mae_unit"] = _num(great_circle_km(y_true, y_pred).mean()), "km"
    else:
        out["mae"], out["mae_unit"] = _num(np.abs(y_true - y_pred).mean()), "years"
    return out


def _mean_or_none(values) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else float(np.mean(values))


def spearman_columns(A: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman ρ of every column of ``A`` with ``y`` (ranks, then Pearson), vectorised; NaN for constants."""
    ra = rankdata(A, axis=0)
    ry = rankdata(y)
    ra -= ra.mean(0)
    ry -= ry.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return (ra.T @ ry) / (np.sqrt((ra * ra).sum(0)) * np.sqrt(ry @ ry))


# --------------------------------------------------------------------------- inputs


@dataclass
class ProbeData:
    """The entity table as arrays: targets ``y`` (n x t), train/test masks, ids as strings."""

    info: EntityTableInfo
    table: pd.DataFrame
    ids: np.ndarray
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def targets(self) -> tuple[str, ...]:
        return self.info.targets

    @classmethod
    def from_table(cls, table: pd.DataFrame, info: EntityTableInfo) -> ProbeData:
        assert PLACE_TARGETS == ("longitude", "latitude")  # proximity_error relies on this order
        missing = [c for c in ("id", "text", "split", *info.targets) if c not in table.columns]
        if missing:
            raise StoreError(f"entity table {info.dataset} lacks columns {missing}")
        y = np.array(table[list(info.targets)], dtype=np.float64)
        bad = ~np.isfinite(y).all(1)
        if bad.any():
            raise StoreError(
                f"entity table {info.dataset}: {int(bad.sum())} rows have a missing or non-finite target "
                f"(ids {table['id'][bad].astype(str).tolist()[:5]}...); the build stage should have rejected them"
            )
        train, test = (table["split"] == "train").to_numpy(), (table["split"] == "test").to_numpy()
        if train.sum() < 10 or test.sum() < 2:
            raise StoreError(f"entity table {info.dataset}: {train.sum()} train / {test.sum()} test rows is too few")
        return cls(info, table.reset_index(drop=True), table["id"].astype(str).to_numpy(), y, train, test)

    def subset(self, keep: np.ndarray) -> ProbeData:
        return ProbeData(self.info, self.table[keep].reset_index(drop=True), self.ids[keep], self.y[keep],
                         self.train[keep], self.test[keep])


@dataclass
class Run:
    """One activation store: a (model, prompt) pair of a dataset, with rows aligned to the entity table."""

    model_tag: str
    prompt: str
    store: ActivationStore
    rows: np.ndarray = field(repr=False)  # store row of each entity-table row

    @property
    def control(self) -> str | None:
        return self.store.meta.control

    @property
    def n_layers(self) -> int:
        return self.store.n_layers

    def layer(self, index: int) -> np.ndarray:
        return np.asarray(self.store.layer(index))[self.rows]


def load_runs(directory: str | Path, data: ProbeData) -> tuple[ProbeData, list[Run], dict]:
    """Every complete store ``<directory>/<model_tag>/<prompt>/meta.json``, aligned to the entity table.

    The activations stage may reject an entity (blank text, no tokens); such entities are dropped from
    *every* run, so that all runs and controls are scored on the same entities, and are reported
    (count per store and a few ids) rather than silently lost.
    """
    directory = Path(directory)
    stores = [(m.parent.parent.name, m.parent.name, ActivationStore(m.parent)) for m in sorted(directory.glob("*/*/meta.json"))]
    if not stores:
        raise StoreError(f"{directory}: no activation stores (<model>/<prompt>/meta.json); run the activations stage")
    keep = np.ones(len(data.ids), dtype=bool)
    missing = {}
    for tag, prompt, store in stores:
        index = pd.Index(store.ids.astype(str))
        if not index.is_unique:
            raise StoreError(f"{store.path}: duplicate entity ids")
        present = index.isin(data.ids).sum()
        if present < len(index):
            raise StoreError(f"{store.path}: {len(index) - present} stored ids are not in the entity table (stale store); rerun activations")
        has = np.asarray(pd.Index(data.ids).isin(index))
        if not has.all():
            missing[f"{tag}/{prompt}"] = int((~has).sum())
        keep &= has
    report = {"n_dropped": int((~keep).sum()), "by_store": missing, "examples": data.ids[~keep][:10].tolist()}
    if report["n_dropped"]:
        print(f"warning: {report['n_dropped']} entities lack activations in some store and are left out: {missing}", file=sys.stderr)
        data = data.subset(keep)
    runs = [Run(tag, prompt, store, pd.Index(store.ids.astype(str)).get_indexer(data.ids)) for tag, prompt, store in stores]
    return data, runs, report


def main_run(runs: list[Run], model_name: str | None = None) -> Run:
    """The real model's ``main``-prompt run (the headline probe), or its first prompt if there is no ``main``."""
    real = [r for r in runs if r.control is None]
    if not real:
        raise StoreError("no activation store of the real model (all stores are controls)")
    tags = sorted({r.model_tag for r in real})
    if len(tags) > 1:
        named = [t for t in tags if model_name in (t, *(r.store.meta.model for r in real if r.model_tag == t))]
        if len(named) != 1:
            raise StoreError(f"several real models {tags}; cannot tell which is params model.name={model_name!r}")
        tags = named
    mine = [r for r in real if r.model_tag == tags[0]]
    return next((r for r in mine if r.prompt == "main"), mine[0])


# --------------------------------------------------------------------------- the probes stage


def _layer_record(layer: int, n_layers: int, probe: RidgeLOO, metrics: dict, targets: tuple[str, ...]) -> dict:
    return {
        "layer": layer,
        "rel_depth": layer / max(n_layers - 1, 1),
        **metrics,
        "alpha": {t: float(a) for t, a in zip(targets, probe.alpha_)},
        "alpha_at_grid_edge": bool(probe.alpha_at_edge_.any()),
        "train_loo_r2": float(probe.loo_r2_.mean()),
    }


def fit_linear(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, train: np.ndarray | None = None) -> RidgeLOO:
    train = data.train if train is None else train
    return RidgeLOO(alpha_grid(cfg.alphas), standardize=cfg.standardize).fit(X[train], data.y[train])


def probe_run(run: Run, data: ProbeData, cfg: ProbesConfig) -> tuple[dict, np.ndarray]:
    """Ridge probe on every layer of one store; returns the run record and test predictions (layers x n_test x t)."""
    layers, preds = [], []
    for layer in tqdm(range(run.n_layers), desc=f"{run.model_tag}/{run.prompt}", leave=False, file=sys.stderr):
        X = run.layer(layer)
        probe = fit_linear(X, data, cfg)
        pred = probe.predict(X[data.test]).reshape(-1, len(data.targets))
        layers.append(_layer_record(layer, run.n_layers, probe, score(data.y[data.test], pred, data.kind, data.targets), data.targets))
        preds.append(pred)
    best = int(np.argmax([rec["train_loo_r2"] for rec in layers]))
    record = {
        "control": run.control,
        "model": run.store.meta.model,
        "d_model": run.store.meta.d_model,
        "n_layers": run.n_layers,
        "best_layer": best,
        "best": layers[best],
        "layers": layers,
    }
    return record, np.stack(preds)


def surface_predictions(data: ProbeData, cfg: ProbesConfig) -> tuple[np.ndarray, RidgeLOO, int]:
    """TF-IDF character n-grams of the entity string, the same LOO ridge (features centred, not scaled):
    test predictions (n_test x targets), the fitted probe and the number of n-gram features."""
    vectorizer = surface_vectorizer(cfg.surface)
    text = data.table["text"].astype(str).to_numpy()
    X_train = vectorizer.fit_transform(text[data.train])
    probe = RidgeLOO(alpha_grid(cfg.alphas), standardize=False).fit(X_train, data.y[data.train])
    return probe.predict(vectorizer.transform(text[data.test])).reshape(-1, len(data.targets)), probe, X_train.shape[1]


def surface_control(data: ProbeData, cfg: ProbesConfig) -> dict:
    pred, probe, n_features = surface_predictions(data, cfg)
    return {
        **score(data.y[data.test], pred, data.kind, data.targets),
        "alpha": {t: float(a) for t, a in zip(data.targets, probe.alpha_)},
        "alpha_at_grid_edge": bool(probe.alpha_at_edge_.any()),
        "train_loo_r2": float(probe.loo_r2_.mean()),
        "n_features": int(n_features),
    }


@dataclass
class ProbeResults:
    metrics: dict
    layers: pd.DataFrame
    predictions: pd.DataFrame


def _warn_edges(name: str, record: dict) -> None:
    edge = [rec["layer"] for rec in record["layers"] if rec["alpha_at_grid_edge"]]
    if edge:
        print(f"warning: {name}: chosen alpha at an end of the grid in layers {edge}; widen probes.alphas", file=sys.stderr)


def probe_dataset(
    data: ProbeData, runs: list[Run], cfg: ProbesConfig, model_name: str | None = None, dropped: dict | None = None
) -> ProbeResults:
    main = main_run(runs, model_name)
    out_runs: dict[str, dict] = {}
    main_preds = None
    for run in runs:
        record, preds = probe_run(run, data, cfg)
        _warn_edges(f"{run.model_tag}/{run.prompt}", record)
        out_runs.setdefault(run.model_tag, {})[run.prompt] = record
        if run is main:
            main_preds = preds
    main_record = out_runs[main.model_tag][main.prompt]

    controls = {"surface": surface_control(data, cfg), "layer0": main_record["layers"][0], "random_weights": None}
    random = [r for r in runs if r.control == "random_weights"]
    if random:
        rw = next((r for r in random if r.prompt == main.prompt), random[0])
        rec = out_runs[rw.model_tag][rw.prompt]
        controls["random_weights"] = {"model_tag": rw.model_tag, "prompt": rw.prompt, "best_layer": rec["best_layer"], "best": rec["best"]}

    metrics = {
        "dataset": data.info.dataset,
        "kind": data.kind,
        "target_note": data.info.target_note,
        "targets": list(data.targets),
        "n_train": int(data.train.sum()),
        "n_test": int(data.test.sum()),
        "entities_without_activations": dropped or {"n_dropped": 0, "by_store": {}, "examples": []},
        "standardize": cfg.standardize,
        "alphas": cfg.alphas.model_dump(),
        "best_layer_criterion": BEST_LAYER_CRITERION,
        "main": {"model_tag": main.model_tag, "prompt": main.prompt},
        "runs": out_runs,
        "controls": controls,
    }
    return ProbeResults(metrics, _layers_frame(metrics, data), _predictions_frame(data, main_preds[main_record["best_layer"]]))


def _flat(rec: dict, targets: tuple[str, ...], kind: str) -> dict:
    row = {k: rec[k] for k in ("r2", "spearman", "prox_error", "mae", "mae_unit", "train_loo_r2", "alpha_at_grid_edge")}
    if kind == "place":
        row["prox_error_paper_swapped"] = rec["prox_error_paper_swapped"]
    row.update({f"r2_{t}": rec["r2_per_target"][t] for t in targets})
    row.update({f"alpha_{t}": rec["alpha"][t] for t in targets})
    return row


def _layers_frame(metrics: dict, data: ProbeData) -> pd.DataFrame:
    rows = []
    for tag, prompts in metrics["runs"].items():
        for prompt, run in prompts.items():
            for rec in run["layers"]:
                rows.append({"model": tag, "prompt": prompt, "control": run["control"] or "none",
                             "layer": rec["layer"], "rel_depth": rec["rel_depth"], **_flat(rec, data.targets, data.kind)})
    main = metrics["runs"][metrics["main"]["model_tag"]][metrics["main"]["prompt"]]
    surface = _flat(metrics["controls"]["surface"], data.targets, data.kind)
    for rec in main["layers"]:
        rows.append({"model": "tfidf", "prompt": "text", "control": "surface", "layer": rec["layer"], "rel_depth": rec["rel_depth"], **surface})
    return pd.DataFrame(rows)


def _predictions_frame(data: ProbeData, pred: np.ndarray) -> pd.DataFrame:
    test = data.table[data.test]
    frame = test[["id", "text", "entity_type", *data.targets]].copy()
    for j, t in enumerate(data.targets):
        frame[f"pred_{t}"] = pred[:, j]
    frame["prox_error"] = proximity_error(data.y[data.test], pred, data.kind)
    for g in data.info.groups:
        if g not in frame.columns:
            frame[g] = test[g].to_numpy()
    return frame.reset_index(drop=True)


# --------------------------------------------------------------------------- the generalization stage


def best_layer_of(probe_metrics: dict, data: ProbeData, run: Run) -> int:
    """The main run's best layer as the probes stage chose it; refuses metrics of other data (stale)."""
    if (probe_metrics.get("n_train"), probe_metrics.get("n_test")) != (int(data.train.sum()), int(data.test.sum())):
        raise StoreError("metrics/probes is stale: its train/test sizes differ from the entity table; rerun probes")
    try:
        layer = probe_metrics["runs"][run.model_tag][run.prompt]["best_layer"]
    except KeyError:
        raise StoreError(f"metrics/probes has no run {run.model_tag}/{run.prompt}; rerun probes") from None
    if not 0 <= layer < run.n_layers:
        raise StoreError(f"metrics/probes best layer {layer} is outside the store's {run.n_layers} layers")
    return layer


def mlp_vs_linear(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, seed: int, linear_pred: np.ndarray) -> dict:
    mlp = MLPProbe(cfg.mlp, random_state=seed).fit(X[data.train], data.y[data.train])
    pred = mlp.predict(X[data.test]).reshape(-1, len(data.targets))
    return {
        "linear": score(data.y[data.test], linear_pred, data.kind, data.targets),
        "mlp": {
            **score(data.y[data.test], pred, data.kind, data.targets),
            "weight_decay": mlp.weight_decay_,
            "val_mse": {str(k): v for k, v in mlp.val_mse_.items()},
            "epochs": {str(k): v for k, v in mlp.epochs_.items()},
        },
    }


def holdout(
    X: np.ndarray, data: ProbeData, cfg: ProbesConfig, column: str | None, default_pred: np.ndarray
) -> tuple[dict, list[dict]]:
    """Hold out each of the K largest groups of ``column`` in turn and compare with the default split.

    Held-out probe: trained on the train split minus every entity of the group. Both probes are
    scored on the group's test-split entities; proximity error ranks each of them against the
    predictions for *all* test entities made by the same probe, so the two numbers differ only in
    whether the probe saw the group's training entities.
    """
    if column is None or column not in data.table.columns:
        return {"column": column, "skipped_reason": f"the entity table has no group column {column!r}"}, []
    values = data.table[column]
    counts = values[data.test].value_counts(dropna=True)
    if len(counts) < 2:
        return {"column": column, "skipped_reason": f"{column!r} has fewer than two groups in the test split"}, []
    y_test = data.y[data.test]
    default_err = proximity_error(y_test, default_pred, data.kind)
    eligible = [g for g, c in counts.items() if c >= cfg.min_holdout_test]  # largest first
    chosen = eligible[: cfg.holdout_blocks]
    rows = []
    for group in tqdm(chosen, desc=f"holdout {column}", leave=False, file=sys.stderr):
        in_group = (values == group).to_numpy()
        train = data.train & ~in_group
        probe = fit_linear(X, data, cfg, train=train)
        pred = probe.predict(X[data.test]).reshape(-1, len(data.targets))
        held_err = proximity_error(y_test, pred, data.kind)
        mask = in_group[data.test]
        rows.append({
            "group": str(group),
            "n_test": int(mask.sum()),
            "n_train_removed": int((data.train & in_group).sum()),
            "prox_error_default": float(default_err[mask].mean()),
            "prox_error_heldout": float(held_err[mask].mean()),
            "mae_default": _mae(y_test[mask], default_pred[mask], data.kind),
            "mae_heldout": _mae(y_test[mask], pred[mask], data.kind),
        })
    summary = {
        "column": column,
        "groups": rows,
        "n_groups": int(len(counts)),
        "n_eligible": len(eligible),
        "min_test": cfg.min_holdout_test,
        "note": "held-out probe trained on the train split minus the group; both scored on the group's test "
                "entities, proximity error against all test entities; means are unweighted over groups",
    }
    for key in ("prox_error_default", "prox_error_heldout", "mae_default", "mae_heldout"):
        summary[f"mean_{key}"] = float(np.mean([r[key] for r in rows])) if rows else None
    return summary, rows


def _mae(y_true: np.ndarray, y_pred: np.ndarray, kind: str) -> float:
    return float((great_circle_km(y_true, y_pred) if kind == "place" else np.abs(y_true - y_pred)).mean())


def cross_prompt(runs: list[Run], main: Run, layer: int, data: ProbeData, cfg: ProbesConfig) -> dict:
    """Probe trained on prompt B's train split applied to prompt A's test split, raw and mean-centred.

    ``centred`` shifts A's activations by (B's train mean - A's train mean) before B's probe reads
    them, removing a constant offset that a prompt adds to every entity.
    """
    same = [r for r in runs if r.model_tag == main.model_tag and r.control is None and layer < r.n_layers]
    acts = {r.prompt: r.layer(layer).astype(np.float64) for r in same}
    probes = {p: fit_linear(X, data, cfg) for p, X in acts.items()}
    means = {p: X[data.train].mean(0) for p, X in acts.items()}
    y_test, rows = data.y[data.test], []
    for b, probe in probes.items():
        for a, X in acts.items():
            for variant, shift in (("raw", 0.0), ("centred", means[b] - means[a])):
                pred = probe.predict(X[data.test] + shift).reshape(-1, len(data.targets))
                m = score(y_test, pred, data.kind, data.targets)
                rows.append({"train_prompt": b, "test_prompt": a, "variant": variant,
                             "r2": m["r2"], "spearman": m["spearman"], "prox_error": m["prox_error"]})
    return {"prompts": sorted(acts), "rows": rows}


def pca_curve(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, seed: int, full: dict, full_edge: bool) -> list[dict]:
    """Ridge on the top-k principal components (PCA fitted once on the train split), k in cfg + full."""
    Xtr = X[data.train].astype(np.float64)
    mean, scale = Xtr.mean(0), Xtr.std(0) if cfg.standardize else np.ones(X.shape[1])
    scale[scale == 0] = 1.0
    ks = sorted({k for k in cfg.pca_components if k < min(Xtr.shape)})
    curve = []
    if ks:
        pca = PCA(n_components=ks[-1], svd_solver="covariance_eigh", random_state=seed).fit((Xtr - mean) / scale)
        Ztr = pca.transform((Xtr - mean) / scale)
        Zte = pca.transform((X[data.test] - mean) / scale)
        cum = np.cumsum(pca.explained_variance_ratio_)
        for k in ks:
            # PC scores keep their variances: scaling them to unit variance would undo what PCA ranks
            probe = RidgeLOO(alpha_grid(cfg.alphas), standardize=False).fit(Ztr[:, :k], data.y[data.train])
            pred = probe.predict(Zte[:, :k]).reshape(-1, len(data.targets))
            m = score(data.y[data.test], pred, data.kind, data.targets)
            curve.append({"k": k, "explained_variance": float(cum[k - 1]), "r2": m["r2"], "spearman": m["spearman"],
                          "prox_error": m["prox_error"], "alpha_at_grid_edge": bool(probe.alpha_at_edge_.any())})
    curve.append({"k": "full", "explained_variance": 1.0, "r2": full["r2"], "spearman": full["spearman"],
                  "prox_error": full["prox_error"], "alpha_at_grid_edge": full_edge})
    return curve


def neurons(hf_model, run: Run, layer: int, data: ProbeData, cfg: ProbesConfig) -> dict:
    """Rank MLP neurons of the block after ``layer`` by |Spearman ρ| with each target on the train split.

    The store's layer l is the residual stream entering decoder block l; the last stored layer has no
    block after it, so the analysis then uses the last block and says so (``block``).
    """
    n_blocks = len(decoder_blocks(hf_model))
    if run.n_layers != n_blocks + 1:
        raise StoreError(
            f"{run.store.path}: {run.n_layers} stored layers, but the loaded model has {n_blocks} blocks "
            "(+ embeddings): activations of another model?"
        )
    block = min(layer, n_blocks - 1)
    X = run.layer(block).astype(np.float32)
    acts, names = mlp_input_projections(hf_model, block, X)
    probe = fit_linear(X, data, cfg)
    probe_pred = probe.predict(X[data.test]).reshape(-1, len(data.targets))
    out = {"layer": layer, "block": block, "n_neurons": len(names), "targets": {}}
    for j, t in enumerate(data.targets):
        rho_train = spearman_columns(acts[data.train], data.y[data.train, j])
        order = np.argsort(-np.nan_to_num(np.abs(rho_train), nan=-1.0), kind="stable")[: cfg.top_neurons]
        rho_test = spearman_columns(acts[data.test][:, order], data.y[data.test, j])
        out["targets"][t] = {
            "probe_test_spearman": _num(spearmanr(data.y[data.test, j], probe_pred[:, j]).statistic),
            "top": [{"rank": r + 1, "neuron": names[i], "train_spearman": _num(rho_train[i]), "test_spearman": _num(rt)}
                    for r, (i, rt) in enumerate(zip(order, rho_test))],
        }
    return out


@dataclass
class GeneralizationResults:
    metrics: dict
    tables: dict[str, pd.DataFrame]


def generalize(
    data: ProbeData, runs: list[Run], probe_metrics: dict, cfg: ProbesConfig, seed: int, hf_model, model_name: str | None = None
) -> GeneralizationResults:
    main = main_run(runs, model_name)
    layer = best_layer_of(probe_metrics, data, main)
    X = main.layer(layer).astype(np.float64)
    linear = fit_linear(X, data, cfg)
    linear_pred = linear.predict(X[data.test]).reshape(-1, len(data.targets))
    compare = mlp_vs_linear(X, data, cfg, seed, linear_pred)
    block_col = data.info.groups[0] if data.info.groups else None
    block, block_rows = holdout(X, data, cfg, block_col, linear_pred)
    etype, etype_rows = holdout(X, data, cfg, "entity_type", linear_pred)
    xprompt = cross_prompt(runs, main, layer, data, cfg)
    curve = pca_curve(X, data, cfg, seed, compare["linear"], bool(linear.alpha_at_edge_.any()))
    neuron = neurons(hf_model, main, layer, data, cfg)
    metrics = {
        "dataset": data.info.dataset,
        "kind": data.kind,
        "model_tag": main.model_tag,
        "prompt": main.prompt,
        "layer": layer,
        "layer_criterion": BEST_LAYER_CRITERION,
        "mlp_vs_linear": compare,
        "block_holdout": block,
        "entity_type_holdout": etype,
        "cross_prompt": xprompt,
        "pca": {"curve": curve},
        "neurons": neuron,
    }
    tables = {
        "mlp": pd.DataFrame([{"probe": name, **{k: compare[name][k] for k in ("r2", "spearman", "prox_error", "mae")}}
                             for name in ("linear", "mlp")]),
        "holdout": pd.DataFrame(
            [{"holdout": "block", "column": block_col, **r} for r in block_rows]
            + [{"holdout": "entity_type", "column": "entity_type", **r} for r in etype_rows],
            columns=["holdout", "column", "group", "n_test", "n_train_removed", "prox_error_default",
                     "prox_error_heldout", "mae_default", "mae_heldout"],
        ),
        "cross_prompt": pd.DataFrame(xprompt["rows"]),
        "pca": pd.DataFrame(curve),
        "neurons": pd.DataFrame([{"target": t, **n, "probe_test_spearman": v["probe_test_spearman"]}
                                 for t, v in neuron["targets"].items() for n in v["top"]]),
    }
    return GeneralizationResults(metrics, tables)
