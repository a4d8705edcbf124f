"""The generalization stage, all at the main run's best layer (chosen by the probes stage on train):
MLP vs linear probe, block and entity-type holdout, cross-prompt transfer, PCA-k probes and the
space/time neurons of the next block's MLP."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA, TruncatedSVD
from tqdm import tqdm

from ..config import ProbesConfig
from ..estimators import MLPProbe, RidgeLOO, alpha_grid, surface_vectorizer
from ..lm.models import decoder_blocks
from ..lm.neurons import mlp_input_projections
from ..records import StoreError
from ..stats import (
    bootstrap,
    finite_or_none,
    paired_mean_difference,
    paired_mean_r2_difference,
    r2,
    spearman,
    spearman_columns,
)
from .inputs import ProbeData, Run, main_run
from .metrics import mean_error, proximity_error, score, sphere_lonlat, unit_sphere
from .outputs import (
    CrossPrompt,
    CrossPromptRow,
    GeneralizationMetrics,
    Holdout,
    HoldoutGroup,
    HoldoutSkipped,
    LayerStability,
    MLPScores,
    MLPSeeds,
    MLPvsLinear,
    Neuron,
    Neurons,
    PCACurve,
    PCAPoint,
    ProbeMetrics,
    Scores,
    SphereTarget,
    TargetNeurons,
)
from .probes import best_layer_criterion, fit_linear


def best_layer_of(probe_metrics: ProbeMetrics, data: ProbeData, run: Run) -> int:
    """The main run's best layer as the probes stage chose it; refuses metrics of other data (stale)."""
    if (probe_metrics.n_train, probe_metrics.n_test) != (int(data.train.sum()), int(data.test.sum())):
        raise StoreError("metrics/probes is stale: its train/test sizes differ from the entity table; rerun probes")
    try:
        layer = probe_metrics.runs[run.model_tag][run.prompt].best_layer
    except KeyError:
        raise StoreError(f"metrics/probes has no run {run.model_tag}/{run.prompt}; rerun probes") from None
    if not 0 <= layer < run.n_layers:
        raise StoreError(f"metrics/probes best layer {layer} is outside the store's {run.n_layers} layers")
    return layer


def _mlp_seeds(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, seed: int, features: str
               ) -> tuple[MLPSeeds, list[np.ndarray]]:
    """The MLP probe trained from ``cfg.mlp.seeds`` seeds on the features ``X`` (all rows), validation rows
    drawn by the split's groups where it has them: the record and each network's test predictions. The
    first seed chooses the weight decay from the grid; the others train at that decay only (the spread is
    then that of initialisation, minibatch order and validation draw, at a third of the cost)."""
    records, preds, mlp_cfg, at_edge = [], [], cfg.mlp, None
    for s in range(seed, seed + cfg.mlp.seeds):
        mlp = MLPProbe(mlp_cfg, random_state=s).fit(X[data.train], data.y[data.train], groups=data.groups_of(data.train))
        if at_edge is None:
            mlp_cfg, at_edge = cfg.mlp.model_copy(update={"weight_decays": [mlp.weight_decay_]}), mlp.weight_decay_at_edge_
        pred = mlp.predict(X[data.test]).reshape(-1, len(data.targets))
        records.append(MLPScores(
            **score(data.y[data.test], pred, data.kind, data.targets).model_dump(exclude_unset=True),
            seed=s,
            weight_decay=mlp.weight_decay_,
            weight_decay_at_grid_edge=at_edge,
            val_mse={str(k): v for k, v in mlp.val_mse_.items()},
            epochs={str(k): v for k, v in mlp.epochs_.items()},
        ))
        preds.append(pred)
    r2s = [r.r2 for r in records if r.r2 is not None]
    return MLPSeeds(features=features, seeds=records, r2_mean=float(np.mean(r2s)) if r2s else None,
                    r2_sd=float(np.std(r2s, ddof=1)) if len(r2s) > 1 else None), preds


# controls whose features exist for every entity; the random-weights store may hold a subsample only
MLP_CONTROLS = ("surface", "layer0", "layer0_token_mean")


def strongest_control(probe_metrics: ProbeMetrics) -> str:
    """Of :data:`MLP_CONTROLS`, the one whose linear probe scored the highest test R² (probes stage)."""
    r2 = probe_metrics.controls.r2_by_control()
    return max(MLP_CONTROLS, key=lambda name: -np.inf if r2[name] is None else r2[name])


def control_features(name: str, X_layer0: np.ndarray, data: ProbeData, cfg: ProbesConfig, seed: int,
                     token_mean: np.ndarray | None, width: int) -> tuple[np.ndarray, str]:
    """The features of control ``name`` for every row, and their description. The surface control's
    sparse n-grams are reduced to the activations' ``width`` by a truncated SVD fitted on the train rows,
    so that the control MLP is the same network as the probe's."""
    if name == "layer0":
        return X_layer0, "layer 0 at the prompt's last token"
    if name == "layer0_token_mean":
        if token_mean is None:
            raise StoreError("the layer-0 token-mean control is the strongest, but no token means were given")
        return token_mean, "layer 0 averaged over the entity's own tokens"
    text = data.table["text"].astype(str).to_numpy()
    vectorizer = surface_vectorizer(cfg.surface).fit(text[data.train])
    tfidf = vectorizer.transform(text)
    k = min(width, tfidf.shape[1] - 1, int(data.train.sum()) - 1)
    svd = TruncatedSVD(n_components=k, random_state=seed).fit(tfidf[data.train])
    return svd.transform(tfidf), f"TF-IDF character n-grams, {k} SVD components (fitted on train)"


def mlp_vs_linear(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, seed: int, linear_pred: np.ndarray,
                  control: str, control_X: np.ndarray, control_desc: str, n_boot: int) -> MLPvsLinear:
    """The MLP probe (``cfg.mlp.seeds`` seeds) against the linear probe's test predictions and against the
    same MLP on the features ``control_X`` of the control ``control``."""
    mlp, mlp_preds = _mlp_seeds(X, data, cfg, seed, "activations at the best layer")
    ctrl, ctrl_preds = _mlp_seeds(control_X, data, cfg, seed, control_desc)
    y = data.y[data.test]
    weights = bootstrap(data.groups_of(data.test), len(y), n_boot, seed).weights
    grouped = data.split_group is not None
    return MLPvsLinear(
        validation=f"{cfg.mlp.val_fraction:.0%} of the train {'split groups' if grouped else 'rows'}, seeded per network",
        linear=score(y, linear_pred, data.kind, data.targets),
        mlp=mlp,
        mlp_minus_linear=paired_mean_r2_difference(weights, y, mlp_preds, [linear_pred]),
        control=control,
        control_mlp=ctrl,
        mlp_minus_control_mlp=paired_mean_r2_difference(weights, y, mlp_preds, ctrl_preds),
    )


def layer_stability(run: Run, data: ProbeData, cfg: ProbesConfig, layer: int, n_boot: int, seed: int) -> LayerStability:
    """:class:`LayerStability`: each layer's probe fitted once, as the probes stage fits it; its held-out
    squared residuals on the train rows (z-scored, mean over targets) averaged over each resample."""
    sq = np.stack([fit_linear(run.layer(l), data, cfg).heldout_sq_.mean(1) for l in range(run.n_layers)])
    sq[~np.isfinite(sq)] = np.inf  # an interpolating fit is never chosen, as in the stage
    weights = bootstrap(data.groups_of(data.train), int(data.train.sum()), n_boot, seed).weights
    with np.errstate(invalid="ignore"):
        chosen = np.argmin(weights @ sq.T, axis=1)  # resample x layer sums; the first minimum on ties
    share = np.bincount(chosen, minlength=run.n_layers) / n_boot
    return LayerStability(layer=layer, share_chosen={str(l): float(v) for l, v in enumerate(share) if v > 0},
                          best_layer_share=float(share[layer]), n_boot=n_boot)


def sphere_target(X: np.ndarray, data: ProbeData, cfg: ProbesConfig, linear_pred: np.ndarray, n_boot: int,
                  seed: int) -> SphereTarget:
    """:class:`SphereTarget`: the probe of ``X`` (all rows) fitted to unit-sphere points, scored beside
    the longitude/latitude probe's test predictions ``linear_pred``."""
    xyz = unit_sphere(data.y)
    probe = RidgeLOO(alpha_grid(cfg.alphas), standardize=cfg.standardize, n_folds=cfg.group_folds).fit(
        X[data.train], xyz[data.train], groups=data.groups_of(data.train))
    pred_xyz = probe.predict(X[data.test])
    y = data.y[data.test]
    pred = sphere_lonlat(pred_xyz)
    weights = bootstrap(data.groups_of(data.test), len(y), n_boot, seed).weights
    return SphereTarget(
        r2_xyz=finite_or_none(np.mean([r2(xyz[data.test][:, j], pred_xyz[:, j]) for j in range(3)])),
        scores=score(y, pred, data.kind, data.targets),
        latlon_prox_error=finite_or_none(proximity_error(y, linear_pred, data.kind).mean()),
        prox_error_minus_latlon=paired_mean_difference(
            weights, proximity_error(y, pred, data.kind), proximity_error(y, linear_pred, data.kind)),
        alpha_at_grid_edge=bool(probe.alpha_at_edge_.any()),
    )


# The groups the paper's code holds out (wesg52/world-models, generalization TEST_SETS), per dataset and
# column; the entity-type holdout also reports the mean over these beside the mean over ours.
PAPER_HOLDOUT_GROUPS = {
    "world": {"entity_type": ("structure", "natural_place")},
    "us": {"entity_type": ("city", "zip", "county", "college", "structure", "natural_place")},
    "nyc": {"entity_type": (
        "Recreational Facility", "Education Facility", "Residential", "Religious Institution", "Social Services",
        "Transportation Facility", "Commercial", "Government Facility (non public safety)", "Miscellaneous",
        "Public Safety", "Cultural Facility", "Water", "Health Services")},
    "art": {"entity_type": ("movie", "book")},
}


def holdout(
    X: np.ndarray, data: ProbeData, cfg: ProbesConfig, column: str | None, full_pred: np.ndarray, seed: int
) -> Holdout | HoldoutSkipped:
    """Hold out each of the K largest groups of ``column`` (and the paper's groups) in turn.

    Held-out probe: trained on the train split minus every entity of the group. Reference probe: trained
    on a seeded random subset of the *whole* train split of the same size, so both see as many rows and
    differ only in whether the group can be among them (dropping non-group rows only would be impossible
    where the group is most of the train split, and would over-represent it). Both are scored on the
    group's test-split entities; proximity error ranks each of them against the predictions for *all*
    test entities made by the same probe. ``full_pred`` (the whole train split) is reported beside them.
    """
    if column is None or column not in data.table.columns:
        return HoldoutSkipped(column=column, skipped_reason=f"the entity table has no group column {column!r}")
    values = data.table[column]
    counts = values[data.test].value_counts(dropna=True)
    if len(counts) < 2:
        return HoldoutSkipped(column=column, skipped_reason=f"{column!r} has fewer than two groups in the test split")
    y_test = data.y[data.test]
    full_err = proximity_error(y_test, full_pred, data.kind)
    eligible = [g for g, c in counts.items() if c >= cfg.min_holdout_test]  # largest first
    paper = PAPER_HOLDOUT_GROUPS.get(data.info.dataset, {}).get(column, ())
    ours = [str(g) for g in eligible[: cfg.holdout_blocks]]
    chosen = eligible[: cfg.holdout_blocks] + [g for g in eligible[cfg.holdout_blocks:] if str(g) in paper]
    train_rows = np.flatnonzero(data.train)
    rows = []
    for i, group in enumerate(tqdm(chosen, desc=f"holdout {column}", leave=False, file=sys.stderr)):
        in_group = (values == group).to_numpy()
        train = data.train & ~in_group
        n_train = int(train.sum())
        reference = np.zeros(len(train), dtype=bool)
        reference[np.random.default_rng([seed, i]).choice(train_rows, n_train, replace=False)] = True
        pred, ref_pred = (fit_linear(X, data, cfg, train=m).predict(X[data.test]).reshape(-1, len(data.targets))
                          for m in (train, reference))
        held_err, ref_err = proximity_error(y_test, pred, data.kind), proximity_error(y_test, ref_pred, data.kind)
        mask = in_group[data.test]
        rows.append(HoldoutGroup(
            group=str(group),
            n_test=int(mask.sum()),
            n_train_removed=int((data.train & in_group).sum()),
            n_train=n_train,
            prox_error_default=float(ref_err[mask].mean()),
            prox_error_heldout=float(held_err[mask].mean()),
            prox_error_full_train=float(full_err[mask].mean()),
            mae_default=mean_error(y_test[mask], ref_pred[mask], data.kind),
            mae_heldout=mean_error(y_test[mask], pred[mask], data.kind),
            mae_full_train=mean_error(y_test[mask], full_pred[mask], data.kind),
        ))

    def mean(key: str, among: list[HoldoutGroup]) -> float | None:
        return float(np.mean([getattr(r, key) for r in among])) if among else None

    # our means: the K largest groups; the paper's: its groups, some of which may lie beyond the K largest
    our_rows, paper_rows = [r for r in rows if r.group in ours], [r for r in rows if r.group in paper]
    return Holdout(
        column=column,
        groups=rows,
        n_groups=int(len(counts)),
        n_eligible=len(eligible),
        min_test=cfg.min_holdout_test,
        note="held-out probe trained on the train split minus the group; reference (default) probe on a seeded "
             "random subset of the whole train split of the same size (n_train); both scored on the group's test "
             "entities, proximity error against all test entities; full_train: the probe on the whole train split; "
             "means are unweighted over the K largest groups (_paper: over the paper's groups)",
        **{f"mean_{key}": mean(key, our_rows) for key in ("prox_error_default", "prox_error_heldout", "mae_default",
                                                           "mae_heldout", "prox_error_full_train")},
        paper_groups=list(paper),
        mean_prox_error_default_paper=mean("prox_error_default", paper_rows),
        mean_prox_error_heldout_paper=mean("prox_error_heldout", paper_rows),
    )


def _on_shared_entities(data: ProbeData, runs: list[Run]) -> tuple[ProbeData, list[Run]]:
    """The data and runs restricted to the entities every run holds (the prompt variants' subsample)."""
    shared = np.logical_and.reduce([r.covered for r in runs])
    if shared.all():
        return data, runs
    return data.subset(shared), [replace(r, rows=r.rows[shared]) for r in runs]  # one subset, not one per run


def cross_prompt(runs: list[Run], main: Run, layer: int, data: ProbeData, cfg: ProbesConfig) -> CrossPrompt:
    """Probe trained on prompt B's train split applied to prompt A's test split, raw and mean-centred,
    on the entities every prompt holds (``n_train``/``n_test``).

    ``centred`` shifts A's activations by (B's train mean - A's train mean) before B's probe reads
    them, removing a constant offset that a prompt adds to every entity.
    """
    same = [r for r in runs if r.model_tag == main.model_tag and r.control is None and layer < r.n_layers]
    data, same = _on_shared_entities(data, same)
    acts = {r.prompt: r.layer(layer).astype(np.float64) for r in same}
    probes = {p: fit_linear(X, data, cfg) for p, X in acts.items()}
    means = {p: X[data.train].mean(0) for p, X in acts.items()}
    y_test, rows = data.y[data.test], []
    for b, probe in probes.items():
        for a, X in acts.items():
            for variant, shift in (("raw", 0.0), ("centred", means[b] - means[a])):
                pred = probe.predict(X[data.test] + shift).reshape(-1, len(data.targets))
                m = score(y_test, pred, data.kind, data.targets)
                rows.append(CrossPromptRow(train_prompt=b, test_prompt=a, variant=variant,
                                           r2=m.r2, spearman=m.spearman, prox_error=m.prox_error))
    return CrossPrompt(prompts=sorted(acts), n_train=int(data.train.sum()), n_test=int(data.test.sum()), rows=rows)


def pca_curve(
    X: np.ndarray, data: ProbeData, cfg: ProbesConfig, seed: int, full: Scores, full_edge: bool
) -> PCACurve:
    """Ridge on the top-k principal components, k in cfg + full; the ridge always trains on the train split.

    ``probes.pca_fit``: ``standardized_train`` fits the PCA on the train split's standardised activations
    (``probes.standardize``), so no test input is seen; ``raw_all`` is the paper's code: PCA on the raw
    activations of every entity, train and test (unsupervised, but it sees the test inputs).
    """
    raw_all = cfg.pca_fit == "raw_all"
    fit_rows = np.ones(len(X), dtype=bool) if raw_all else data.train
    Xfit = X[fit_rows].astype(np.float64)
    mean = Xfit.mean(0)
    scale = Xfit.std(0) if cfg.standardize and not raw_all else np.ones(X.shape[1])
    scale[scale == 0] = 1.0
    ks = sorted({k for k in cfg.pca_components if k < min(int(data.train.sum()), X.shape[1])})
    curve = []
    if ks:
        pca = PCA(n_components=ks[-1], svd_solver="covariance_eigh", random_state=seed).fit((Xfit - mean) / scale)
        Ztr = pca.transform((X[data.train] - mean) / scale)
        Zte = pca.transform((X[data.test] - mean) / scale)
        cum = np.cumsum(pca.explained_variance_ratio_)
        for k in ks:
            # PC scores keep their variances: scaling them to unit variance would undo what PCA ranks
            probe = RidgeLOO(alpha_grid(cfg.alphas), standardize=False, n_folds=cfg.group_folds).fit(
                Ztr[:, :k], data.y[data.train], groups=data.groups_of(data.train))  # selection as the probes stage's
            pred = probe.predict(Zte[:, :k]).reshape(-1, len(data.targets))
            m = score(data.y[data.test], pred, data.kind, data.targets)
            curve.append(PCAPoint(k=k, explained_variance=float(cum[k - 1]), r2=m.r2, spearman=m.spearman,
                                  prox_error=m.prox_error, alpha_at_grid_edge=bool(probe.alpha_at_edge_.any())))
    curve.append(PCAPoint(k="full", explained_variance=1.0, r2=full.r2, spearman=full.spearman,
                          prox_error=full.prox_error, alpha_at_grid_edge=full_edge))
    return PCACurve(fit=cfg.pca_fit, fit_rows=int(fit_rows.sum()), curve=curve)


def neurons(hf_model, run: Run, layer: int, data: ProbeData, cfg: ProbesConfig) -> Neurons:
    """Rank MLP neurons of the block after ``layer`` by |Spearman ρ| with each target on the train split,
    beside the linear probe at ``layer`` itself (the selected best layer).

    The store's layer l is the residual stream entering decoder block l; the last stored layer has no
    block after it, so the neurons are then those of the last block, read from that block's input (the
    store's layer ``block``), and ``Neurons`` records both numbers (``layer``: the probe's; ``block``).
    """
    n_blocks = len(decoder_blocks(hf_model))
    if run.n_layers != n_blocks + 1:
        raise StoreError(
            f"{run.store.path}: {run.n_layers} stored layers, but the loaded model has {n_blocks} blocks "
            "(+ embeddings): activations of another model?"
        )
    block = min(layer, n_blocks - 1)
    acts, names = mlp_input_projections(hf_model, block, run.layer(block).astype(np.float32))
    X = run.layer(layer).astype(np.float32)
    probe_pred = fit_linear(X, data, cfg).predict(X[data.test]).reshape(-1, len(data.targets))
    targets = {}
    for j, t in enumerate(data.targets):
        rho_train = spearman_columns(acts[data.train], data.y[data.train, j])
        order = np.argsort(-np.nan_to_num(np.abs(rho_train), nan=-1.0), kind="stable")[: cfg.top_neurons]
        rho_test = spearman_columns(acts[data.test][:, order], data.y[data.test, j])
        targets[t] = TargetNeurons(
            probe_test_spearman=finite_or_none(spearman(data.y[data.test, j], probe_pred[:, j])),
            top=[Neuron(rank=r + 1, neuron=names[i], train_spearman=finite_or_none(rho_train[i]),
                        test_spearman=finite_or_none(rt))
                 for r, (i, rt) in enumerate(zip(order, rho_test))],
        )
    return Neurons(layer=layer, block=block, n_neurons=len(names), targets=targets)


SCORE_COLUMNS = {"r2", "spearman", "prox_error", "mae"}


@dataclass
class GeneralizationResults:
    metrics: GeneralizationMetrics
    tables: dict[str, pd.DataFrame]


def generalize(
    data: ProbeData,
    runs: list[Run],
    probe_metrics: ProbeMetrics,
    cfg: ProbesConfig,
    seed: int,
    hf_model,
    n_boot: int,
    model_name: str | None = None,
    token_mean: np.ndarray | None = None,
) -> GeneralizationResults:
    """``token_mean``: the layer-0 token-mean features in ``data``'s row order, needed only where that
    control is the strongest (:func:`strongest_control`), for the control MLP."""
    main = main_run(runs, model_name)
    layer = best_layer_of(probe_metrics, data, main)
    X = main.layer(layer).astype(np.float64)
    linear = fit_linear(X, data, cfg)
    linear_pred = linear.predict(X[data.test]).reshape(-1, len(data.targets))
    control = strongest_control(probe_metrics)
    control_X, control_desc = control_features(control, main.layer(0).astype(np.float64), data, cfg, seed,
                                               token_mean, X.shape[1])
    compare = mlp_vs_linear(X, data, cfg, seed, linear_pred, control, control_X, control_desc, n_boot)
    stability = layer_stability(main, data, cfg, layer, n_boot, seed)
    place = data.kind == "place"  # a time block is cut from the target itself: its mean would be no reference
    sphere = sphere_target(X, data, cfg, linear_pred, n_boot, seed) if place else None
    block_col = data.info.groups[0] if data.info.groups else None
    block = holdout(X, data, cfg, block_col, linear_pred, seed)
    etype = holdout(X, data, cfg, "entity_type", linear_pred, seed)
    xprompt = cross_prompt(runs, main, layer, data, cfg)
    pca = pca_curve(X, data, cfg, seed, compare.linear, bool(linear.alpha_at_edge_.any()))
    neuron = neurons(hf_model, main, layer, data, cfg)
    metrics = GeneralizationMetrics(
        dataset=data.info.dataset,
        kind=data.kind,
        model_tag=main.model_tag,
        prompt=main.prompt,
        layer=layer,
        layer_criterion=best_layer_criterion(data, cfg),
        mlp_vs_linear=compare,
        layer_stability=stability,
        sphere=sphere,
        block_holdout=block,
        entity_type_holdout=etype,
        cross_prompt=xprompt,
        pca=pca,
        neurons=neuron,
    )
    held = [(kind, h) for kind, h in (("block", block), ("entity_type", etype)) if isinstance(h, Holdout)]
    tables = {
        "mlp": pd.DataFrame(
            [{"probe": "linear", "seed": None, **compare.linear.model_dump(include=SCORE_COLUMNS)}]
            + [{"probe": probe, **r.model_dump(include={"seed", *SCORE_COLUMNS})}
               for probe, seeds in (("mlp", compare.mlp), (f"mlp_on_{compare.control}", compare.control_mlp))
               for r in seeds.seeds]),
        "holdout": pd.DataFrame(
            [{"holdout": kind, "column": h.column, **r.model_dump()} for kind, h in held for r in h.groups],
            columns=["holdout", "column", "group", "n_test", "n_train_removed", "n_train", "prox_error_default",
                     "prox_error_heldout", "prox_error_full_train", "mae_default", "mae_heldout", "mae_full_train"],
        ),
        "cross_prompt": pd.DataFrame([r.model_dump() for r in xprompt.rows]),
        "pca": pd.DataFrame([p.model_dump() for p in pca.curve]),
        "neurons": pd.DataFrame([{"target": t, **n.model_dump(), "probe_test_spearman": v.probe_test_spearman}
                                 for t, v in neuron.targets.items() for n in v.top]),
    }
    return GeneralizationResults(metrics, tables)
