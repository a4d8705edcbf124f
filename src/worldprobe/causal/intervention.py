"""The causal test: move the residual stream along a probe direction and read what the model then says.

At every sweep layer ``l`` (store layers ``first_layer``, ``first_layer + layer_step``, … up to the
last block's input) the probe is refitted and, at the entity's last token of a few-shot question, an
edit ``±ρ · m_l · d/‖d‖`` is added: ``m_l`` is the median norm of the unedited residual there, so ``ρ``
(``ratio``) is the edit's size relative to what it is added to, and the probe's own reading moves by
``ρ · m_l · ‖d‖`` target standard deviations (recorded as ``delta_sd``). The answer is read by a graded
readout (:mod:`.readouts`): the expected place from a softmax over candidate countries, or the
expected birth year from a softmax over candidate centuries.

Effects are antisymmetric per entity, ``(change at +δ - change at -δ) / 2`` from the entity's own
unedited reading, beside controls of equal norm drawn afresh for every entity: a random direction, and
a random direction orthogonal to the probe inside the top principal components of the train
activations. Verdicts are paired over the same entities. Beside them: the side effects (every edit is
read on every readout quantity), the edit's collateral change (KL of the next token on unrelated
prompts) per unit of effect, and the ablation test (mean-ablate the probe subspace; does the answer
get worse than when a random subspace of the same dimension is ablated?).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import InterventionConfig, Params
from ..lm.models import load_model
from ..lm.readout import FewShotReadout, ResidualEdit
from ..records import ActivationStore, read_entities
from ..stats import bootstrap, bootstrap_mean, interval_sign, percentile_interval
from .directions import (
    DirectionSet,
    best_layer,
    fit_directions,
    nullspace_basis,
    orthogonal_directions,
    principal_basis,
)
from .outputs import (
    Ablation,
    AblationComparison,
    Comparison,
    EditSize,
    Effect,
    InterventionMetrics,
    Specificity,
    SpecificityComparison,
)
from .readouts import (
    BIRTH_PREFIX,
    BIRTH_QUESTION,
    BIRTHPLACE_PREFIX,
    BIRTHPLACE_QUESTION,
    COUNTRY_PREFIX,
    COUNTRY_QUESTION,
    CenturyReadout,
    CountryReadout,
    WithSideReadout,
    wrap_deg,
)

log = logging.getLogger(__name__)

UNRELATED_PROMPTS = [
    "The recipe calls for two cups of flour and",
    "def add(a, b):\n    return",
    "She opened the window because the room was",
    "The committee will meet again on",
    "Photosynthesis converts light energy into",
    "He tuned the guitar and started to",
    "The train was late, so we",
    "In chess, the bishop moves",
    "To reset the router, hold the button for",
    "The quarterly report shows that revenue",
    "Mix the paint slowly until the colour is",
    "My favourite part of the film was when",
    "The cat jumped onto the table and",
    "Water boils at a lower temperature when",
    "Please remember to bring your",
    "The algorithm sorts the list by",
]
CONTROLS = ("random", "orthogonal")
UNABLATED = (-1, "none", 0)  # (layer, kind, dim) of the unedited reading among the ablation rows


def sweep_layers(n_layers: int, first: int, step: int) -> list[int]:
    """Store layers edited: ``first``, ``first + step``, … up to the last block's input (``n_layers - 1``);
    an edit of the last block's output reaches no later position (no block reads it)."""
    return list(range(first, n_layers, step))


@dataclass(frozen=True)
class Condition:
    """One edit, applied to every entity: ``kind`` probe | random | orthogonal | ablate_probe | ablate_random |
    ablate_all (the whole residual at the position set to the entities' mean: the ablation's positive control)."""

    kind: str
    target: str  # the edited target ("" for an ablation)
    layer: int
    ratio: float = 0.0  # edits: ‖δ‖ / median residual norm; ablations: 0
    sign: int = 1
    dim: int = 0  # ablations: the subspace's dimension


@dataclass
class LayerGeometry:
    """What the edits at one layer are built from."""

    residual: np.ndarray  # (entities, d) unedited residual at the edited position of the readout prompt
    directions: dict[str, np.ndarray]  # target -> the probe's d (reading in target sd per raw unit)
    pca: np.ndarray  # (d, k) top principal directions of the train activations
    subspaces: dict[int, np.ndarray]  # dim -> (d, dim) orthonormal probe subspace (nullspace iterations)

    @property
    def median_norm(self) -> float:
        return float(np.median(np.linalg.norm(self.residual, axis=1)))

    def delta_sd(self, target: str, ratio: float) -> float:
        return ratio * self.median_norm * float(np.linalg.norm(self.directions[target]))


def unit_directions(cond: Condition, geo: LayerGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, d)`` unit directions of an edit: the probe's for every row; controls fresh per row (seeded), so
    their spread over directions is inside the interval over entities."""
    d = geo.pca.shape[0]
    if cond.kind == "probe":
        u = geo.directions[cond.target]
        return np.tile(u / np.linalg.norm(u), (n, 1))
    if cond.kind == "random":
        v = rng.normal(size=(n, d))
        return v / np.linalg.norm(v, axis=1, keepdims=True)
    if cond.kind == "orthogonal":
        return orthogonal_directions(geo.directions[cond.target], geo.pca, n, rng)
    raise ValueError(f"{cond.kind!r} is not an edit along a direction")


def edit_vectors(cond: Condition, geo: LayerGeometry, rng: np.random.Generator) -> np.ndarray:
    """``(entities, d)`` raw-space edits of ``cond``: ``sign x ratio x`` the median residual norm along its
    directions, or, for an ablation, what sets each entity's component in the subspace to their mean."""
    n, d = geo.residual.shape
    if cond.kind == "ablate_all":
        return geo.residual.mean(0) - geo.residual
    if cond.kind == "ablate_probe":
        return _mean_ablation(geo.residual, [geo.subspaces[cond.dim]] * n)
    if cond.kind == "ablate_random":
        return _mean_ablation(geo.residual, [np.linalg.qr(rng.normal(size=(d, cond.dim)))[0] for _ in range(n)])
    return cond.sign * cond.ratio * geo.median_norm * unit_directions(cond, geo, n, rng)


def _mean_ablation(residual: np.ndarray, bases: Sequence[np.ndarray]) -> np.ndarray:
    """The edit that sets each row's component inside its basis to the rows' mean component."""
    centred = residual - residual.mean(0)
    return np.stack([-(q @ (q.T @ x)) for q, x in zip(bases, centred)])


def conditions(targets: Sequence[str], layers: Sequence[int], cfg: InterventionConfig, dims: Sequence[int],
               d_model: int) -> list[Condition]:
    out = []
    for layer in layers:
        for t in targets:
            out += [Condition("probe", t, layer, r, s) for r in cfg.ratios for s in (1, -1)]
            out += [Condition(k, t, layer, r, s) for k in CONTROLS for r in cfg.control_ratios for s in (1, -1)]
        out += [Condition(k, "", layer, dim=dim) for dim in dims for k in ("ablate_probe", "ablate_random")]
        out.append(Condition("ablate_all", "", layer, dim=d_model))
    return out


def run_conditions(reader, texts: Sequence[str], conds: Sequence[Condition], geometry: dict[int, LayerGeometry],
                   seed: int) -> pd.DataFrame:
    """One reading per (entity, condition). A layer's conditions go to the reader in one call, so it batches
    them and runs each entity's tokens before its last one once."""
    frames = []
    for layer in sorted({c.layer for c in conds}):
        at = [c for c in conds if c.layer == layer]
        rng = np.random.default_rng([seed, layer])
        delta = np.concatenate([edit_vectors(c, geometry[layer], rng) for c in at])
        n = len(texts)
        read = reader.read([t for _ in at for t in texts], ResidualEdit(layer, delta))
        frames.append(pd.DataFrame({
            "entity": np.tile(np.arange(n), len(at)), "kind": np.repeat([c.kind for c in at], n),
            "target": np.repeat([c.target for c in at], n), "layer": layer, "ratio": np.repeat([c.ratio for c in at], n),
            "sign": np.repeat([c.sign for c in at], n), "dim": np.repeat([c.dim for c in at], n), **read,
        }))
    return pd.concat(frames, ignore_index=True)


def antisymmetric(readings: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Per (kind, target, layer, ratio, entity): (change at +δ - change at -δ) / 2 of ``quantity``.

    The unedited reading cancels in the difference; longitude differences are wrapped to ±180°.
    """
    edits = readings[readings.kind.isin(("probe", *CONTROLS))]
    wide = edits.pivot_table(index=["kind", "target", "layer", "ratio", "entity"], columns="sign", values=quantity)
    diff = wide[1] - wide[-1]
    if quantity == "longitude":
        diff = pd.Series(wrap_deg(diff.to_numpy()), index=diff.index)
    return (diff / 2).rename("effect").reset_index()


# --------------------------------------------------------------------------- statistics


def _verdict(difference: np.ndarray, n_boot: int, seed: int) -> tuple[float, float, float, str]:
    mean, lo, hi = bootstrap_mean(difference, n_boot, seed)
    return mean, lo, hi, interval_sign(lo, hi).value


def effects_and_comparisons(
    anti: dict[str, pd.DataFrame], subsets: dict[str, np.ndarray], sizes: dict[tuple[str, int, float], float],
    n_boot: int, seed: int,
) -> tuple[list[Effect], list[Comparison]]:
    """Every (subset, kind, edited target, readout, layer, ratio) effect, and the paired verdicts of the
    probe on its own target against each control (probe effect minus the control's |effect|, per entity)."""
    effects, comparisons = [], []
    for subset, members in subsets.items():
        for quantity, table in anti.items():
            sub = table[table.entity.isin(np.flatnonzero(members))]
            for (kind, target, layer, ratio), group in sub.groupby(["kind", "target", "layer", "ratio"]):
                values = group.effect.to_numpy() if kind == "probe" else group.effect.abs().to_numpy()
                mean, lo, hi = bootstrap_mean(values, n_boot, seed)
                effects.append(Effect(
                    subset=subset, kind=kind, edited_target=target, readout=quantity, layer=layer, ratio=ratio,
                    n_entities=len(values), effect=mean, lo=lo, hi=hi, slope=mean / sizes[(target, layer, ratio)],
                    frac_intended=float((group.effect > 0).mean()) if len(group) else float("nan"),
                ))
            own = sub[sub.target == quantity].set_index(["kind", "layer", "ratio", "entity"]).effect
            for (layer, ratio) in sorted({(k[1], k[2]) for k in own.index if k[0] != "probe"}):
                probe = own.loc[("probe", layer, ratio)]
                for versus in CONTROLS:
                    paired = probe - own.loc[(versus, layer, ratio)].abs()
                    mean, lo, hi, sign = _verdict(paired.to_numpy(), n_boot, seed)
                    comparisons.append(Comparison(subset=subset, edited_target=quantity, layer=layer, ratio=ratio,
                                                  versus=versus, n_entities=len(paired), difference=mean, lo=lo, hi=hi,
                                                  sign=sign))
    return effects, comparisons


def ablation_results(errors: pd.DataFrame, correct: pd.DataFrame, subsets: dict[str, np.ndarray], n_boot: int,
                     seed: int) -> tuple[list[Ablation], list[AblationComparison]]:
    """``errors``/``correct``: rows (layer, kind, dim), columns entities; the unablated reading's row is
    :data:`UNABLATED`. Accuracy is the readout's top answer being the true one."""
    out, comparisons = [], []
    base_err, base_ok = errors.loc[UNABLATED], correct.loc[UNABLATED]
    for subset, members in subsets.items():
        cols = np.flatnonzero(members)
        for layer, kind, dim in (k for k in errors.index if k != UNABLATED):
            increase = (errors.loc[(layer, kind, dim)] - base_err).to_numpy()[cols]
            mean, lo, hi = bootstrap_mean(increase, n_boot, seed)
            ok = correct.loc[(layer, kind, dim)].to_numpy()[cols]
            out.append(Ablation(subset=subset, layer=layer, subspace=kind.removeprefix("ablate_"), dim=dim,
                                n_entities=len(cols), accuracy=float(ok.mean()) if len(cols) else float("nan"),
                                accuracy_drop=float(base_ok.to_numpy()[cols].mean() - ok.mean()) if len(cols) else float("nan"),
                                error_increase=mean, error_lo=lo, error_hi=hi))
            if kind == "ablate_probe":
                paired = (errors.loc[(layer, kind, dim)] - errors.loc[(layer, "ablate_random", dim)]).to_numpy()[cols]
                mean, lo, hi, sign = _verdict(paired, n_boot, seed)
                comparisons.append(AblationComparison(subset=subset, layer=layer, dim=dim, n_entities=len(cols),
                                                      difference=mean, lo=lo, hi=hi, sign=sign))
    return out, comparisons


# --------------------------------------------------------------------------- specificity


def specificity(loaded, own_effects: pd.DataFrame, targets: Sequence[str], geometry: dict[int, LayerGeometry],
                ratios: Sequence[float], batch_size: int, n_boot: int, seed: int,
                ) -> tuple[list[Specificity], list[SpecificityComparison]]:
    """KL(unedited || edited) of the next token after unrelated prompts (edit +δ at their last token), and
    each direction's |effect| on its own readout per nat, resampling entities and prompts together.

    ``own_effects``: the antisymmetric effect of each (kind, target, layer, ratio, entity) on the edited
    target's own readout (all entities)."""
    readout = FewShotReadout(loaded, "", "{entity}", batch_size=batch_size)
    base = readout.next_token_logprobs(UNRELATED_PROMPTS)
    n = len(UNRELATED_PROMPTS)
    prompt_draws = bootstrap(None, n, n_boot, seed + 1).rows()
    out, comparisons = [], []
    for layer, geo in geometry.items():
        rng = np.random.default_rng([seed, layer, 1])
        for target in targets:
            for ratio in ratios:
                point, draws = {}, {}
                for kind in ("probe", *CONTROLS):
                    # the edit the entities got: ratio x their median residual norm at this layer
                    vectors = ratio * geo.median_norm * unit_directions(Condition(kind, target, layer, ratio), geo, n, rng)
                    edited = readout.next_token_logprobs(UNRELATED_PROMPTS, edit=ResidualEdit(layer, vectors))
                    kl = (np.exp(base) * (base - edited)).sum(1)
                    effect = own_effects.loc[(kind, target, layer, ratio)].abs().to_numpy()
                    entity_draws = bootstrap(None, len(effect), n_boot, seed).rows()
                    draws[kind] = np.array([effect[e].mean() / kl[q].mean() for e, q in zip(entity_draws, prompt_draws)])
                    point[kind] = float(effect.mean() / kl.mean())
                    lo, hi = percentile_interval(draws[kind])
                    out.append(Specificity(edited_target=target, layer=layer, ratio=ratio, kind=kind, kl=float(kl.mean()),
                                           effect_per_kl=point[kind], lo=lo, hi=hi))
                for versus in CONTROLS:
                    lo, hi = percentile_interval(draws["probe"] - draws[versus])
                    comparisons.append(SpecificityComparison(
                        edited_target=target, layer=layer, ratio=ratio, versus=versus,
                        difference=point["probe"] - point[versus], lo=lo, hi=hi, sign=interval_sign(lo, hi).value))
    return out, comparisons


# --------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class StageResult:
    metrics: InterventionMetrics
    directions: dict[str, DirectionSet]  # by model tag


def sweep_table(m: InterventionMetrics, target: str) -> pd.DataFrame:
    """The edited target's own effect by layer (all entities), one column per direction and size
    (``probe_0.3``: the probe at ratio 0.3), for ``dvc plots``."""
    rows = [e for e in m.effects if e.subset == "all" and e.edited_target == e.readout == target]
    table = pd.DataFrame({"layer": [e.layer for e in rows], "column": [f"{e.kind}_{e.ratio:g}" for e in rows],
                          "effect": [e.effect for e in rows]})
    return table.pivot(index="layer", columns="column", values="effect").reset_index().rename_axis(columns=None)


def _train_matrix(store: ActivationStore, table: pd.DataFrame, layers: Sequence[int]):
    """Train-split rows of the store, aligned with the entity table (the store may cover a subset)."""
    position = pd.Series(np.arange(len(store.ids)), index=store.ids.astype(str))
    train = table[(table.split == "train") & table.id.astype(str).isin(position.index)]
    rows = position.loc[train.id.astype(str)].to_numpy()
    return train, {layer: np.asarray(store.layer(layer))[rows] for layer in layers}


def _reader(dataset: str, loaded, train: pd.DataFrame, cfg: InterventionConfig, places: pd.DataFrame):
    """world: the country readout; people: the century readout, with the birth country's expected place
    (candidates and centroids from the world table's train split, ``places``) read beside it."""
    def countries(prefix: str, question: str, table: pd.DataFrame) -> CountryReadout:
        readout = FewShotReadout(loaded, prefix, question, batch_size=cfg.batch_size)
        return CountryReadout.from_table(readout, table, cfg.n_candidates)

    if dataset == "world":
        return countries(COUNTRY_PREFIX, COUNTRY_QUESTION, train)
    century = CenturyReadout(FewShotReadout(loaded, BIRTH_PREFIX, BIRTH_QUESTION, batch_size=cfg.batch_size))
    return WithSideReadout(century, countries(BIRTHPLACE_PREFIX, BIRTHPLACE_QUESTION, places[places.split == "train"]))


def _geometry(reader, texts: Sequence[str], acts: dict[int, np.ndarray], y: np.ndarray, probes, layers: Sequence[int],
              dims: Sequence[int], params: Params) -> dict[int, LayerGeometry]:
    """Per sweep layer: the entities' unedited residuals, the probe directions, the PCA basis of the orthogonal
    control and the ablated probe subspaces (nullspace probes on a seeded subsample of the train rows)."""
    cfg = params.intervention
    fit_rows = np.random.default_rng(params.seed).choice(len(y), min(cfg.nullspace_rows, len(y)), replace=False)
    geometry = {}
    for layer in layers:
        X = acts[layer][fit_rows]
        basis = nullspace_basis(X, y[fit_rows], max(cfg.ablation_iterations), alphas=params.probes.alphas,
                                standardize=params.probes.standardize)
        geometry[layer] = LayerGeometry(
            residual=reader.readout.residual(texts, layer),
            directions={t: probes[(t, layer)].direction for t in reader.targets},
            pca=principal_basis(X, cfg.pca_components), subspaces={dim: basis[:, :dim] for dim in dims})
    return geometry


def _ablation_tables(readings: pd.DataFrame, base: pd.DataFrame, reader, test: pd.DataFrame,
                     truth: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The readout's error and its rightness (1/0) per (layer, kind, dim) row and entity column, the unablated
    reading as the :data:`UNABLATED` row."""
    ablated = readings[readings.kind.str.startswith("ablate")]
    unablated = base.assign(layer=UNABLATED[0], kind=UNABLATED[1], dim=UNABLATED[2], entity=np.arange(len(test)))
    both = pd.concat([unablated, ablated], ignore_index=True)
    both["error"] = reader.error(both, test.iloc[both.entity].reset_index(drop=True))
    both["ok"] = (both.top.to_numpy() == truth[both.entity]).astype(float)
    return tuple(both.pivot_table(index=["layer", "kind", "dim"], columns="entity", values=v) for v in ("error", "ok"))


def run_intervention(params: Params, dataset: str, *, entities_dir: Path, activations_dir: Path, models_dir: Path) -> StageResult:
    started = time.perf_counter()
    cfg = params.intervention
    table, info = read_entities(entities_dir / f"{dataset}.parquet")
    targets = list(info.targets)
    loaded = load_model(params.model, models_dir, seed=params.seed)
    store = ActivationStore(activations_dir / dataset / loaded.tag / "main")
    train, acts = _train_matrix(store, table, range(loaded.n_layers + 1))
    directions = fit_directions(acts, {t: train[t].to_numpy() for t in targets}, store.meta,
                                alphas=params.probes.alphas, standardize=params.probes.standardize)
    probes = {(d.target, d.layer): d for d in directions.directions}
    layers = sweep_layers(loaded.n_layers, cfg.first_layer, cfg.layer_step)

    places = train if dataset == "world" else read_entities(entities_dir / "world.parquet")[0]
    reader = _reader(dataset, loaded, train, cfg, places)
    test = table[table.split == "test"]
    test = test[reader.usable(test.text.tolist())]
    test = test.sample(min(cfg.n_entities, len(test)), random_state=params.seed).reset_index(drop=True)
    texts = test.text.tolist()
    base = pd.DataFrame(reader.read(texts))
    truth = reader.truth(test)
    subsets = {"all": np.ones(len(test), bool), "in_range": truth >= 0, "correct": base.top.to_numpy() == truth}
    subsets = {name: members for name, members in subsets.items() if members.any()}  # an empty subset reports nothing

    dims = [i * len(targets) for i in cfg.ablation_iterations]
    geometry = _geometry(reader, texts, acts, train[targets].to_numpy(), probes, layers, dims, params)
    log.info("%s: %d entities, layers %s; geometry %.0f s", dataset, len(test), layers, time.perf_counter() - started)

    conds = conditions(targets, layers, cfg, dims, loaded.d_model)
    readings = run_conditions(reader, texts, conds, geometry, params.seed)
    log.info("%s: %d edited readings, %.0f s", dataset, len(readings), time.perf_counter() - started)

    sizes = {(t, layer, r): geometry[layer].delta_sd(t, r) for t in targets for layer in layers
             for r in sorted({*cfg.ratios, *cfg.control_ratios})}
    anti = {q: antisymmetric(readings, q) for q in reader.quantities}
    effects, comparisons = effects_and_comparisons(anti, subsets, sizes, cfg.n_boot, params.seed)

    errors, correct = _ablation_tables(readings, base, reader, test, truth)
    ablation, ablation_comparisons = ablation_results(errors, correct, subsets, cfg.n_boot, params.seed)

    own = pd.concat([anti[t][anti[t].target == t] for t in targets]).set_index(["kind", "target", "layer", "ratio"]).effect
    spec, spec_comparisons = specificity(loaded, own, targets, geometry, cfg.control_ratios, cfg.batch_size,
                                         cfg.n_boot, params.seed)

    metrics = InterventionMetrics(
        dataset=dataset, model=loaded.name, readout=reader.name, n_entities=len(test),
        entity_ids=test.id.astype(str).tolist(), subsets={k: int(v.sum()) for k, v in subsets.items()},
        best_layer=best_layer(directions.directions), layers=layers, ratios=cfg.ratios, control_ratios=cfg.control_ratios,
        inlp_iterations=max(cfg.ablation_iterations), baseline=reader.baseline(base, test),
        edit_sizes=[EditSize(edited_target=t, layer=layer, ratio=r, edit_norm=r * geometry[layer].median_norm,
                             residual_norm=geometry[layer].median_norm, delta_sd=sizes[(t, layer, r)])
                    for t in targets for layer in layers for r in sorted({*cfg.ratios, *cfg.control_ratios})],
        effects=effects, comparisons=comparisons, specificity=spec, specificity_comparisons=spec_comparisons,
        ablation=ablation, ablation_comparisons=ablation_comparisons, readings=len(readings),
        runtime_s=time.perf_counter() - started,
    )
    return StageResult(metrics=metrics, directions={loaded.tag: directions})
