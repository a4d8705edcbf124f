"""Every headline probe result split by familiarity, and knowledge read from the activations.

Consumes the ``familiarity`` stage's labels (``data/familiarity/<ds>.parquet``, see
:mod:`worldprobe.familiarity.labels`), the entity table, the activation stores and the probes stage's best
layer. All on the main run's best layer (chosen on train by the probes stage), scored on the labelled test
entities (``familiarity.test_sample``), all intervals from ``cfg.bootstrap`` resamples of them
(percentile, 95 %; :mod:`worldprobe.stats`). Where the split holds out whole groups (art: creators;
NYC: complexes; ``validity.split_groups``) a resample draws whole groups of test entities, as the
probes stage's intervals do; ``resampled`` in the report names the unit:

* **split**: the probe and its three controls (surface TF-IDF, layer 0, random weights at its own
  best layer), each fitted on the whole train split as in the probes stage, scored on all / known /
  unknown test entities: R², Spearman, proximity error (each entity ranked against *all* test
  predictions, as in the headline) and MAE. A within-group R² measures error against that group's
  own spread, so a group concentrated in one region can have a lower R² with smaller errors: read it
  beside MAE. Differences come from the same resamples: known - unknown for the probe; probe -
  control on the known entities (paired: the same entities for both).
* **matched n**: a probe trained on the known labelled train entities only, against probes trained
  on ``REPEATS`` seeded random subsets of the same size from all labelled train entities (the
  learning-curve point at that n), scored on the same test entities.
* **knowledge probe** (KEEN, Gottesman & Geva 2024): per layer, a logistic regression (standardised
  features, L2 penalty chosen by 5-fold CV AUROC on train) predicts ``known`` from the main prompt's
  residual stream; the layer is chosen by train CV AUROC (a C at an end of the grid is flagged); test
  AUROC beside logistic baselines on the entity's surprisal alone, popularity (log) alone, and both, on
  the TF-IDF n-grams of the entity string (``probes.surface``), and beside the answer prior: the train
  rate of known among entities with the same gold answer (country, state, borough; decade of the
  year), since a model that answers one default everywhere "knows" every entity of that answer.
* **popularity deciles** of the test entities: fraction known and the probe's R² per decile.

Written as ``metrics/familiarity_probes/<ds>.json`` (:class:`FamiliarityProbeReport`) and
``plots/familiarity/<ds>/{split,deciles,knowledge}.csv``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..config import FamiliarityConfig, ProbesConfig, ValidityConfig
from ..estimators import surface_vectorizer
from ..io import Output
from ..records import known_flags
from ..spacetime.inputs import ProbeData, Run
from ..spacetime.metrics import great_circle_km, proximity_error
from ..spacetime.outputs import WithinBlock
from ..spacetime.probes import fit_linear, surface_predictions
from ..spacetime.validity import within_block
from ..stats import Sign, bootstrap, interval_sign, percentile_interval, r2, spearman

REPEATS = 5  # random subsets of the matched-n comparison
GROUPS = ("all", "known", "unknown")
MIN_GROUP = 10  # fewer test (or train) entities in a group: its figures are not reported


# --------------------------------------------------------------------------- records


class Interval(Output):
    value: float | None
    lo: float | None
    hi: float | None


class GroupMetrics(Output):
    n: int
    r2: Interval
    spearman: Interval
    prox_error: Interval
    mae: Interval
    mae_unit: str


class PredictorSplit(Output):
    predictor: str  # probe | surface | layer0 | random_weights
    layer: int | None
    groups: dict[str, GroupMetrics | None]  # all / known / unknown (None: fewer than MIN_GROUP entities)


class Difference(Output):
    """``a - b`` of one metric on the same resampled test entities; ``verdict`` reads the interval."""

    a: str
    b: str
    on: str  # which test entities
    metric: str
    value: float | None
    lo: float | None
    hi: float | None
    verdict: str


class MatchedN(Output):
    n_train: int  # known labelled train entities = the size of every random subset
    n_pool: int  # labelled train entities the random subsets are drawn from
    known_only: dict[str, float | None]  # R² on all / known / unknown test entities
    random_mean: dict[str, float | None]
    random_each: list[dict[str, float | None]]
    differences: list[Difference]


class KnowledgeLayer(Output):
    layer: int
    train_cv_auroc: float
    test_auroc: float
    C: float
    C_at_grid_edge: bool  # the smallest or largest of familiarity.knowledge_probe_c


class KnowledgeProbe(Output):
    n_train: int
    n_test: int
    fraction_known_train: float
    fraction_known_test: float
    layer: int  # chosen by train CV AUROC
    test_auroc: Interval
    layers: list[KnowledgeLayer]
    C_grid_edge_layers: list[int]  # layers whose C is at an end of the grid (at the small end: the probe is
    # close to the class-mean difference, whose AUROC a smaller C no longer changes)
    # surprisal / popularity / surprisal+popularity (None: no popularity), answer_prior (the train rate of known
    # among entities with the same answer class), name_tfidf (logistic on the entity string's TF-IDF n-grams)
    baselines: dict[str, Interval | None]
    differences: list[Difference]


class DecileRow(Output):
    decile: int
    n: int
    fraction_known: float
    r2: float | None
    popularity_min: float
    popularity_max: float


class FamiliarityProbeReport(Output):
    """``metrics/familiarity_probes/<ds>.json``."""

    dataset: str
    kind: str
    filter: str  # data.datasets.<ds>.familiarity the probes ran under
    model_tag: str
    layer: int
    n_test: int  # labelled test entities: everything here is scored on them
    n_test_known: int
    n_test_unknown: int
    bootstrap: int
    # what a resample draws: "entity", or the split-group column whose whole groups are drawn (None:
    # written before this field, when every interval resampled entities)
    resampled: str | None = None
    split: list[PredictorSplit]
    differences: list[Difference]  # known - unknown (probe); probe - control on known
    matched_n: MatchedN | str  # str: why it was skipped
    knowledge_probe: KnowledgeProbe | str
    popularity_deciles: list[DecileRow] | None
    # all / known / unknown test entities: every predictor's within-block Spearman and R² (block =
    # the dataset's first group column, as in worldprobe.spacetime.validity); does the model place what it knows
    # within its country (or century) better than what it does not?
    within_block: dict[str, WithinBlock]


# --------------------------------------------------------------------------- scoring with intervals


@dataclass
class TestScorer:
    """Metrics of test predictions on any subset of test rows, with bootstrap resamples drawn once."""

    y: np.ndarray  # n_test x targets
    kind: str
    resamples: list[np.ndarray]  # per resample, its test row indices

    @classmethod
    def make(cls, y: np.ndarray, kind: str, groups: np.ndarray | None, n_boot: int, seed: int) -> TestScorer:
        """``groups``: each test entity's split group (whole groups resampled), or ``None`` (entities)."""
        return cls(y, kind, bootstrap(groups, len(y), n_boot, seed).rows())

    def per_entity(self, pred: np.ndarray) -> dict[str, np.ndarray]:
        err = great_circle_km(self.y, pred) if self.kind == "place" else np.abs(self.y - pred).ravel()
        return {"prox_error": proximity_error(self.y, pred, self.kind), "mae": err}

    def metrics(self, pred: np.ndarray, rows: np.ndarray, per: dict[str, np.ndarray]) -> dict[str, float]:
        return {"r2": r2(self.y[rows], pred[rows]), "spearman": spearman(self.y[rows], pred[rows]),
                "prox_error": float(per["prox_error"][rows].mean()), "mae": float(per["mae"][rows].mean())}

    def resampled(self, fn: Callable[[np.ndarray], float], group: np.ndarray) -> np.ndarray:
        """``fn`` on each resample's rows that lie in ``group`` (a boolean mask over test rows)."""
        out = np.empty(len(self.resamples))
        for b, rows in enumerate(self.resamples):
            rows = rows[group[rows]]
            out[b] = fn(rows) if len(rows) >= 3 else np.nan
        return out


def _interval(value: float, samples: np.ndarray) -> Interval:
    lo, hi = percentile_interval(samples)
    ok = np.isfinite(value) and np.isfinite(lo)
    return Interval(value=float(value) if np.isfinite(value) else None,
                    lo=lo if ok else None, hi=hi if ok else None)


def _difference(a: str, b: str, on: str, metric: str, value: float, samples: np.ndarray,
                higher_is_better: bool = True) -> Difference:
    iv = _interval(value, samples)
    if iv.lo is None:
        verdict = "undetermined"
    else:
        verdict = {Sign.ABOVE: f"{a} {'above' if higher_is_better else 'worse than'} {b}",
                   Sign.BELOW: f"{a} {'below' if higher_is_better else 'better than'} {b}",
                   Sign.NOT_ESTABLISHED: "no difference established"}[interval_sign(iv.lo, iv.hi)]
    return Difference(a=a, b=b, on=on, metric=metric, value=iv.value, lo=iv.lo, hi=iv.hi, verdict=verdict)


def split_metrics(scorer: TestScorer, preds: dict[str, tuple[np.ndarray, int | None]],
                  known: np.ndarray) -> tuple[list[PredictorSplit], list[Difference]]:
    """Every predictor on all / known / unknown test entities, with intervals and differences."""
    masks = {"all": np.ones(len(known), bool), "known": known, "unknown": ~known}
    unit = "km" if scorer.kind == "place" else "years"
    splits, per_entity, diffs = [], {}, []
    for name, (pred, layer) in preds.items():
        per = per_entity[name] = scorer.per_entity(pred)
        groups = {}
        for g, mask in masks.items():
            if mask.sum() < MIN_GROUP:
                groups[g] = None
                continue
            rows = np.flatnonzero(mask)
            point = scorer.metrics(pred, rows, per)
            boot = {m: scorer.resampled(lambda r, m=m: scorer.metrics(pred, r, per)[m], mask) for m in point}
            groups[g] = GroupMetrics(n=len(rows), mae_unit=unit,
                                     **{m: _interval(point[m], boot[m]) for m in point})
        splits.append(PredictorSplit(predictor=name, layer=layer, groups=groups))
    if min(known.sum(), (~known).sum()) >= MIN_GROUP:
        pred, per = preds["probe"][0], per_entity["probe"]
        for metric, better in (("r2", True), ("mae", False)):
            def gap(rows, metric=metric):
                k, u = rows[known[rows]], rows[~known[rows]]
                if min(len(k), len(u)) < 3:
                    return np.nan
                return scorer.metrics(pred, k, per)[metric] - scorer.metrics(pred, u, per)[metric]
            value = gap(np.arange(len(known)))
            samples = np.array([gap(rows) for rows in scorer.resamples])
            diffs.append(_difference("known", "unknown", "test, probe", metric, value, samples, better))
    if known.sum() >= MIN_GROUP:
        probe, per_p = preds["probe"][0], per_entity["probe"]
        rows = np.flatnonzero(known)
        for name, (pred, _) in preds.items():
            if name == "probe":
                continue
            def r2_gap(rows, pred=pred):
                return r2(scorer.y[rows], probe[rows]) - r2(scorer.y[rows], pred[rows])

            def mae_gap(rows, name=name):
                return per_p["mae"][rows].mean() - per_entity[name]["mae"][rows].mean()
            diffs.append(_difference("probe", name, "known test entities", "r2", r2_gap(rows),
                                     scorer.resampled(r2_gap, known)))
            diffs.append(_difference("probe", name, "known test entities", "mae", mae_gap(rows),
                                     scorer.resampled(mae_gap, known), higher_is_better=False))
    return splits, diffs


# --------------------------------------------------------------------------- matched n


def matched_n(X: np.ndarray, data: ProbeData, labelled: np.ndarray, known: np.ndarray, cfg: ProbesConfig,
              scorer: TestScorer, seed: int) -> MatchedN | str:
    pool = np.flatnonzero(data.train & labelled)
    chosen = data.train & known
    n = int(chosen.sum())
    if n < MIN_GROUP or n >= len(pool):
        return f"{n} known of {len(pool)} labelled train entities: no matched-n comparison"
    test_known = known[data.test]
    masks = {"all": np.ones(len(test_known), bool), "known": test_known, "unknown": ~test_known}

    def r2s(pred):
        return {g: (r2(scorer.y[m], pred[m]) if m.sum() >= MIN_GROUP else None) for g, m in masks.items()}

    def predict(train):
        return fit_linear(X, data, cfg, train=train).predict(X[data.test]).reshape(-1, len(data.targets))

    own = predict(chosen)
    rng = np.random.default_rng(seed)
    randoms = []
    for _ in range(REPEATS):
        mask = np.zeros(len(data.ids), bool)
        mask[rng.choice(pool, n, replace=False)] = True
        randoms.append(predict(mask))
    diffs = []
    for g, m in masks.items():
        if m.sum() < MIN_GROUP:
            continue
        def gap(rows):
            return r2(scorer.y[rows], own[rows]) - np.mean([r2(scorer.y[rows], p[rows]) for p in randoms])
        diffs.append(_difference("known-only", "random subset", f"{g} test entities", "r2",
                                 gap(np.flatnonzero(m)), scorer.resampled(gap, m)))
    each = [r2s(p) for p in randoms]
    mean = {g: (None if any(e[g] is None for e in each) else float(np.mean([e[g] for e in each]))) for g in masks}
    return MatchedN(n_train=n, n_pool=len(pool), known_only=r2s(own), random_mean=mean, random_each=each,
                    differences=diffs)


# --------------------------------------------------------------------------- knowledge probe

KNOWLEDGE_BASELINES = ("surprisal", "popularity", "surprisal+popularity", "answer_prior", "name_tfidf")


def _logistic(cs: list[float], seed: int, scale: bool = True):
    lr = LogisticRegressionCV(Cs=cs, cv=5, scoring="roc_auc", max_iter=2000, l1_ratios=(0.0,),
                              use_legacy_attributes=False, random_state=seed)
    return make_pipeline(StandardScaler(), lr) if scale else lr


def answer_class(labels: pd.DataFrame, kind: str) -> pd.Series:
    """The gold answer an entity's label is judged against, as a class: the country (state, borough) for
    places; the decade of the true year for time, whose gold answers are single years."""
    if kind == "place":
        return labels["gold"].astype("string")
    year = pd.to_numeric(labels["gold"], errors="coerce")
    return (np.floor(year / 10) * 10).astype("Int64").astype("string")


def answer_prior(classes: pd.Series, known: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Each entity's score: the rate of known among the train entities of its answer class, shrunk
    towards the overall train rate by one pseudo-entity (a class no train entity has gets that rate), so
    a default answer the model gives everywhere ("United States") makes its class look known."""
    overall = known[train].mean()
    frame = pd.DataFrame({"cls": classes.to_numpy()[train], "known": known[train]}).dropna()
    stats = frame.groupby("cls")["known"].agg(["sum", "count"])
    rate = (stats["sum"] + overall) / (stats["count"] + 1)
    return rate.reindex(classes.to_numpy()).fillna(overall).to_numpy(float)


def _auroc_interval(y: np.ndarray, score: np.ndarray, resamples: list[np.ndarray]) -> tuple[Interval, np.ndarray]:
    samples = np.array([roc_auc_score(y[r], score[r]) if len(np.unique(y[r])) == 2 else np.nan for r in resamples])
    return _interval(roc_auc_score(y, score), samples), samples


def knowledge_probe(run: Run, data: ProbeData, labels: pd.DataFrame, cfg: FamiliarityConfig, probes_cfg: ProbesConfig,
                    seed: int) -> KnowledgeProbe | str:
    """Logistic probes for ``known`` per layer vs the baselines of the module docstring."""
    table = labels.set_index("id").reindex(data.ids)
    has_pop = table["popularity"].notna().any()
    feats = {"surprisal": table[["surprisal"]].to_numpy(float)}
    if has_pop:
        feats["popularity"] = np.log1p(table[["popularity"]].to_numpy(float))
        feats["surprisal+popularity"] = np.hstack([feats["surprisal"], feats["popularity"]])
    ok = table["known"].notna().to_numpy() & np.all([np.isfinite(f).all(1) for f in feats.values()], axis=0)
    train, test = ok & data.train, ok & data.test
    y = table["known"].fillna(False).to_numpy(bool)
    for name, mask in (("train", train), ("test", test)):
        if min(y[mask].sum(), (~y[mask]).sum()) < MIN_GROUP:
            return f"{int(y[mask].sum())} known / {int((~y[mask]).sum())} unknown labelled {name} entities: too few"
    n_test = int(test.sum())
    resamples = bootstrap(data.groups_of(test), n_test, cfg.bootstrap, seed).rows()
    cs = cfg.knowledge_probe_c
    layers, scores = [], []
    for layer in range(run.n_layers):
        X = run.layer(layer).astype(np.float64)
        model = _logistic(cs, seed).fit(X[train], y[train])
        lr = model[-1]
        cv = float(lr.scores_.mean(0).max())  # folds x l1_ratios x Cs
        score = model.decision_function(X[test])
        scores.append(score)
        layers.append(KnowledgeLayer(layer=layer, train_cv_auroc=cv, test_auroc=float(roc_auc_score(y[test], score)),
                                     C=float(lr.C_), C_at_grid_edge=float(lr.C_) in (min(cs), max(cs))))
    best = max(layers, key=lambda r: r.train_cv_auroc).layer
    auroc, probe_samples = _auroc_interval(y[test], scores[best], resamples)
    baseline_scores = {name: _logistic(cs, seed).fit(F[train], y[train]).decision_function(F[test])
                       for name, F in feats.items()}
    baseline_scores["answer_prior"] = answer_prior(answer_class(table, data.kind), y, train)[test]
    text = data.table["text"].astype(str).to_numpy()
    vectorizer = surface_vectorizer(probes_cfg.surface).fit(text[train])
    baseline_scores["name_tfidf"] = _logistic(cs, seed, scale=False).fit(
        vectorizer.transform(text[train]), y[train]).decision_function(vectorizer.transform(text[test]))
    baselines, diffs = {}, []
    for name, score in baseline_scores.items():
        iv, samples = _auroc_interval(y[test], score, resamples)
        baselines[name] = iv
        diffs.append(_difference(f"probe layer {best}", name, "labelled test entities", "auroc",
                                 auroc.value - iv.value, probe_samples - samples))
    if not has_pop:
        baselines["popularity"] = baselines["surprisal+popularity"] = None
    edges = [r.layer for r in layers if r.C_at_grid_edge]
    if edges:
        print(f"warning: knowledge probe: C at an end of familiarity.knowledge_probe_c in layers {edges}", file=sys.stderr)
    return KnowledgeProbe(n_train=int(train.sum()), n_test=n_test, fraction_known_train=float(y[train].mean()),
                          fraction_known_test=float(y[test].mean()), layer=best, test_auroc=auroc, layers=layers,
                          C_grid_edge_layers=edges, baselines=baselines, differences=diffs)


# --------------------------------------------------------------------------- popularity deciles


def decile_rows(y: np.ndarray, pred: np.ndarray, popularity: np.ndarray, known: np.ndarray) -> list[DecileRow] | None:
    pop = pd.Series(popularity, dtype=float)
    if pop.notna().sum() < 10 * MIN_GROUP:
        return None
    decile = pd.qcut(pop.rank(method="first"), 10, labels=False) + 1
    rows = []
    for d in range(1, 11):
        m = (decile == d).to_numpy()
        rows.append(DecileRow(decile=d, n=int(m.sum()), fraction_known=float(known[m].mean()),
                              r2=None if not np.isfinite(r := r2(y[m], pred[m])) else float(r),
                              popularity_min=float(pop[m].min()), popularity_max=float(pop[m].max())))
    return rows


# --------------------------------------------------------------------------- the stage


def familiarity_probes(data: ProbeData, runs: list[Run], main: Run, layer: int, random_weights: tuple[Run, int] | None,
                       labels: pd.DataFrame, mode: str, probes_cfg: ProbesConfig, cfg: FamiliarityConfig,
                       validity: ValidityConfig, seed: int) -> FamiliarityProbeReport:
    labelled, known = known_flags(data.ids, labels)
    if (data.test & labelled).sum() < MIN_GROUP:
        raise ValueError(f"{int((data.test & labelled).sum())} labelled test entities: stale labels? rerun familiarity")
    data = replace(data, test=data.test & labelled)  # scored on the labelled test sample; trained as before
    X = main.layer(layer).astype(np.float64)
    y_test = data.y[data.test]
    groups = data.groups_of(data.test)
    scorer = TestScorer.make(y_test, data.kind, groups, cfg.bootstrap, seed)
    preds = {"probe": (fit_linear(X, data, probes_cfg).predict(X[data.test]).reshape(y_test.shape), layer),
             "surface": (surface_predictions(data, probes_cfg)[0], None)}
    X0 = main.layer(0).astype(np.float64)
    preds["layer0"] = (fit_linear(X0, data, probes_cfg).predict(X0[data.test]).reshape(y_test.shape), 0)
    if random_weights is not None:
        rw, rw_layer = random_weights
        Xr = rw.layer(rw_layer).astype(np.float64)
        preds["random_weights"] = (fit_linear(Xr, data, probes_cfg).predict(Xr[data.test]).reshape(y_test.shape),
                                   rw_layer)
    test_known = known[data.test]
    splits, diffs = split_metrics(scorer, preds, test_known)
    pop = data.table["popularity"].to_numpy(float)[data.test] if "popularity" in data.table else np.full(len(y_test), np.nan)
    block = data.info.groups[0]
    blocks = data.table[block].astype(str).to_numpy()[data.test]
    within = {g: within_block(y_test[m], {name: p[m] for name, (p, _) in preds.items()}, blocks[m], block,
                              validity.min_block_test)
              for g, m in (("all", np.ones_like(test_known)), ("known", test_known), ("unknown", ~test_known))}
    return FamiliarityProbeReport(
        dataset=data.info.dataset, kind=data.kind, filter=mode, model_tag=main.model_tag, layer=layer,
        n_test=len(y_test), n_test_known=int(test_known.sum()), n_test_unknown=int((~test_known).sum()),
        bootstrap=cfg.bootstrap, resampled="entity" if groups is None else validity.split_groups[data.info.dataset].column,
        split=splits, differences=diffs,
        matched_n=matched_n(X, data, labelled, known, probes_cfg, scorer, seed),
        knowledge_probe=knowledge_probe(main, data, labels, cfg, probes_cfg, seed),
        popularity_deciles=decile_rows(y_test, preds["probe"][0], pop, test_known),
        within_block=within,
    )


def report_tables(report: FamiliarityProbeReport) -> dict[str, pd.DataFrame]:
    """Flat tables for ``dvc plots`` and the figure: split metrics, deciles, knowledge-probe layers."""
    split = pd.DataFrame([
        {"predictor": s.predictor, "group": g, "n": m.n, "r2": m.r2.value, "r2_lo": m.r2.lo, "r2_hi": m.r2.hi,
         "spearman": m.spearman.value, "prox_error": m.prox_error.value, "mae": m.mae.value}
        for s in report.split for g, m in s.groups.items() if m is not None
    ], columns=["predictor", "group", "n", "r2", "r2_lo", "r2_hi", "spearman", "prox_error", "mae"])
    deciles = pd.DataFrame([r.model_dump() for r in report.popularity_deciles or []],
                           columns=list(DecileRow.model_fields))
    knowledge = pd.DataFrame([r.model_dump() for r in report.knowledge_probe.layers]
                             if isinstance(report.knowledge_probe, KnowledgeProbe) else [],
                             columns=list(KnowledgeLayer.model_fields))
    return {"split": split, "deciles": deciles, "knowledge": knowledge}

