"""The causal test: move the residual stream along a probe direction and read what the model then says.

At store layer ``l``, at the entity's last token of a few-shot question, add ``Δ · d / |d|²``
(:meth:`ProbeDirection.edit`), so that the probe's own reading moves by ``Δ`` target standard
deviations, and read the answer with :class:`~worldprobe.lm.readout.FewShotReadout`:

* places: a softmax over candidate countries (their shortest distinguishing token prefixes), turned
  into an expected latitude and longitude from the candidates' train-split centroids (longitude as a
  circular mean, so the date line does not average Fiji and Samoa to 0°);
* time: the year in the greedy answer to "... was born in the year", parsed (unparsed = unknown).

Every effect is measured as each entity's change from its own unedited reading, beside controls at
equal edit norm: random directions, a direction orthogonal to the probe inside the top principal
components of the train activations, the difference-of-means direction, the same edit in the
random-weights model; plus the edit's side effect on the other target, the KL divergence of the
next token on unrelated prompts, and the reading of a later layer's probe on the probe's own prompt.
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
from ..lm.prompts import prompt_spec
from ..lm.readout import FewShotReadout, ResidualEdit
from ..records import ActivationStore, read_entities
from ..stats import Sign, bootstrap_mean, interval_sign, spearman
from .directions import DirectionSet, ProbeDirection, best_layer, fit_directions
from .outputs import Comparison, Effect, InterventionMetrics, Propagation, Results, Specificity
from .readouts import (
    BIRTH_PREFIX,
    BIRTH_QUESTION,
    COUNTRY_ALIASES,
    COUNTRY_PREFIX,
    COUNTRY_QUESTION,
    CountryReadout,
    YearReadout,
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
]


# --------------------------------------------------------------------------- directions and conditions


def orthogonal_direction(direction: np.ndarray, train_acts: np.ndarray, k: int, seed: int) -> np.ndarray:
    """A seeded random unit vector inside the top-``k`` principal subspace of the train activations,
    orthogonal to ``direction``: it moves the residual stream where activations really vary."""
    centred = train_acts - train_acts.mean(0)
    basis = np.linalg.svd(centred, full_matrices=False)[2][:k].T  # (d, k)
    v = basis @ np.random.default_rng(seed).normal(size=basis.shape[1])
    u = direction / np.linalg.norm(direction)
    v -= (v @ u) * u
    return v / np.linalg.norm(v)


@dataclass(frozen=True)
class Condition:
    kind: str  # probe | mean_difference | orthogonal | random
    target: str  # the target whose probe sets the edit's size (and sign, for the probe)
    layer: int
    delta_sd: float
    index: int = 0  # which random direction


def edit_vector(cond: Condition, probe: ProbeDirection, controls: dict[tuple[str, str, int], np.ndarray]) -> np.ndarray:
    """The raw-space edit of ``cond``; controls at the probe edit's norm and sign of Δ."""
    if cond.kind == "probe":
        return probe.edit(cond.delta_sd)
    return probe.edit(cond.delta_sd, controls[(cond.kind, cond.target, cond.index)])


def control_vectors(
    probes: dict[str, ProbeDirection], train_acts: np.ndarray, *, n_random: int, pca_k: int, seed: int
) -> dict[tuple[str, str, int], np.ndarray]:
    """Unnormalised control directions per target: random (seeded), orthogonal-in-PCA, difference of means."""
    rng = np.random.default_rng(seed)
    out = {}
    for t, (name, probe) in enumerate(sorted(probes.items())):
        for i in range(n_random):
            out[("random", name, i)] = rng.normal(size=len(probe.weight))
        out[("orthogonal", name, 0)] = orthogonal_direction(probe.direction, train_acts, pca_k, seed + 1 + t)
        out[("mean_difference", name, 0)] = np.asarray(probe.mean_difference)
    return out


def run_conditions(
    reader, entities: Sequence[str], conditions: Sequence[Condition], probes: dict[tuple[str, int], ProbeDirection],
    controls: dict[int, dict[tuple[str, str, int], np.ndarray]],
) -> pd.DataFrame:
    """One reading per (entity, condition), plus the unedited reading as ``kind='none'``.

    All conditions of a layer go to the reader in one call (entity repeated, one delta row each), so
    the readout batches them and runs each entity's unedited tokens once.
    """
    base = reader.read(entities)
    frames = [pd.DataFrame({"entity": range(len(entities)), "kind": "none", "target": "", "layer": -1,
                            "delta_sd": 0.0, "index": 0, **base})]
    for layer in sorted({c.layer for c in conditions}):
        conds = [c for c in conditions if c.layer == layer]
        rows = [(e, c) for c in conds for e in range(len(entities))]
        delta = np.stack([edit_vector(c, probes[(c.target, layer)], controls[layer]) for _, c in rows])
        read = reader.read([entities[e] for e, _ in rows], ResidualEdit(layer, delta))
        frames.append(pd.DataFrame({
            "entity": [e for e, _ in rows], "kind": [c.kind for _, c in rows], "target": [c.target for _, c in rows],
            "layer": layer, "delta_sd": [c.delta_sd for _, c in rows], "index": [c.index for _, c in rows], **read,
        }))
    return pd.concat(frames, ignore_index=True)


def changes(readings: pd.DataFrame, quantities: Sequence[str]) -> pd.DataFrame:
    """Each edited reading minus the same entity's unedited one (longitude differences wrapped)."""
    base = readings[readings.kind == "none"].set_index("entity")
    out = readings[readings.kind != "none"].copy()
    for q in quantities:
        diff = out[q].to_numpy() - base.loc[out.entity, q].to_numpy()
        out[q] = wrap_deg(diff) if q == "longitude" else diff
    return out


# --------------------------------------------------------------------------- statistics


def entity_slopes(ch: pd.DataFrame, quantity: str) -> pd.DataFrame:
    """Per (entity, random index) least-squares slope of the change against Δ through the origin
    (the change is 0 at Δ = 0 by construction); rows with an unknown reading are dropped."""
    ok = ch.dropna(subset=[quantity])
    grouped = ok.assign(xy=ok.delta_sd * ok[quantity], xx=ok.delta_sd**2).groupby(["entity", "index"])
    sums = grouped[["xy", "xx"]].sum()
    return (sums.xy / sums.xx).rename("slope").reset_index()


def spearman_of_change(ch: pd.DataFrame, quantity: str) -> float:
    """Spearman between Δ and each entity's change from its own Δ = 0 (the zero rows included)."""
    ok = ch.dropna(subset=[quantity])
    entities = ok.entity.unique()
    x = np.concatenate([ok.delta_sd.to_numpy(), np.zeros(len(entities))])
    y = np.concatenate([ok[quantity].to_numpy(), np.zeros(len(entities))])
    return spearman(x, y) if len(x) >= 3 else float("nan")


def _effect(ch: pd.DataFrame, model: str, kind: str, target: str, quantity: str, layer: int, std: float,
            n_boot: int, seed: int) -> tuple[Effect, pd.DataFrame]:
    """The effect, and per entity its signed slope and its absolute slope (means over random directions)."""
    sub = ch[(ch.kind == kind) & (ch.target == target) & (ch.layer == layer)]
    slopes = entity_slopes(sub, quantity)
    per_entity = slopes.assign(abs_slope=slopes.slope.abs()).groupby("entity")[["slope", "abs_slope"]].mean()
    mean, lo, hi = bootstrap_mean(per_entity.slope.to_numpy(), n_boot, seed)
    effect = Effect(
        model=model, kind=kind, edited_target=target, readout=quantity, layer=layer, n_entities=len(per_entity),
        slope=mean, slope_lo=lo, slope_hi=hi, slope_in_sd=mean / std, spearman=spearman_of_change(sub, quantity),
        frac_intended=float((slopes.slope > 0).mean()) if len(slopes) else float("nan"),
        direction_slopes=slopes.groupby("index").slope.mean().tolist() if kind == "random" else None,
    )
    return effect, per_entity


def summarise(ch: pd.DataFrame, ch_control: pd.DataFrame, targets: Sequence[str], layers: Sequence[int],
              stds: dict[str, float], n_boot: int, seed: int) -> Results:
    """Effects of every kind of edit on every readout quantity, and the paired verdicts.

    A verdict compares, entity by entity, the probe edit's slope on its own target's readout (signed:
    the intended direction counts) with a control's absolute slope (a control moving the readout
    either way counts against the probe), with a bootstrap interval over the same entities.
    """
    effects, comparisons = [], []
    for target in targets:
        for layer in layers:
            own = {}
            for kind in ("probe", "mean_difference", "orthogonal", "random"):
                for quantity in targets:
                    effect, per_entity = _effect(ch, "main", kind, target, quantity, layer, stds[quantity], n_boot, seed)
                    effects.append(effect)
                    if quantity == target:
                        own[kind] = per_entity
            effect, own["random_weights"] = _effect(
                ch_control, "random_weights", "probe", target, target, layer, stds[target], n_boot, seed
            )
            effects.append(effect)
            for versus in ("random", "orthogonal", "random_weights"):
                paired = pd.concat([own["probe"].slope, own[versus].abs_slope], axis=1, keys=["p", "c"]).dropna()
                diff, lo, hi = bootstrap_mean((paired.p - paired.c).to_numpy(), n_boot, seed)
                verdict = {Sign.ABOVE: f"the probe direction moves the readout more than {versus}",
                           Sign.BELOW: f"{versus} moves the readout more than the probe direction",
                           Sign.NOT_ESTABLISHED: f"not distinguishable from {versus}"}[interval_sign(lo, hi)]
                comparisons.append(Comparison(edited_target=target, layer=layer, versus=versus, n_entities=len(paired),
                                              difference=diff, lo=lo, hi=hi, verdict=verdict))
    return Results(effects=effects, comparisons=comparisons)


# --------------------------------------------------------------------------- specificity and propagation


def specificity(loaded, probes: dict[tuple[str, int], ProbeDirection], controls, targets, layers,
                delta_sd: float, n_random: int, batch_size: int) -> list[Specificity]:
    """KL(unedited || edited) of the next token after unrelated prompts, edit at their last token."""
    readout = FewShotReadout(loaded, "", "{entity}", batch_size=batch_size)
    base = readout.next_token_logprobs(UNRELATED_PROMPTS)

    def kl(vector: np.ndarray, layer: int) -> float:
        edited = readout.next_token_logprobs(UNRELATED_PROMPTS, edit=ResidualEdit(layer, vector))
        return float((np.exp(base) * (base - edited)).sum(1).mean())

    out = []
    for target in targets:
        for layer in layers:
            probe = probes[(target, layer)]
            randoms = [kl(probe.edit(delta_sd, controls[layer][("random", target, i)]), layer) for i in range(n_random)]
            out.append(Specificity(edited_target=target, layer=layer, delta_sd=delta_sd, kl_probe=kl(probe.edit(delta_sd), layer),
                                   kl_random=float(np.mean(randoms)), kl_random_max=float(np.max(randoms))))
    return out


def propagation(loaded, main_prefix: str, entities: Sequence[str], probes, controls, targets, layers, *,
                read_offset: int, deltas: Sequence[float], n_random: int, n_boot: int, seed: int,
                batch_size: int) -> list[Propagation]:
    """Edit at layer l on the main prompt; read the probe of layer min(l + read_offset, last) there."""
    readout = FewShotReadout(loaded, main_prefix, "{entity}", batch_size=batch_size)
    out = []
    for target in targets:
        for layer in layers:
            read_layer = min(layer + read_offset, loaded.n_layers)
            later = probes[(target, read_layer)]
            base = readout.residual(entities, read_layer) @ later.direction
            kinds = [("probe", 0)] + [("random", i) for i in range(n_random)]
            rows = [(e, k, i, dsd) for k, i in kinds for dsd in deltas for e in range(len(entities))]
            delta = np.stack([
                probes[(target, layer)].edit(dsd, None if k == "probe" else controls[layer][("random", target, i)])
                for _, k, i, dsd in rows
            ])
            reading = readout.residual([entities[e] for e, *_ in rows], read_layer, edit=ResidualEdit(layer, delta)) @ later.direction
            ch = pd.DataFrame({"entity": [r[0] for r in rows], "kind": [r[1] for r in rows], "index": [r[2] for r in rows],
                               "delta_sd": [r[3] for r in rows], "reading": reading - base[[r[0] for r in rows]]})
            probe_slopes = entity_slopes(ch[ch.kind == "probe"], "reading").slope.to_numpy()
            random_slopes = entity_slopes(ch[ch.kind == "random"], "reading").slope.abs().mean()
            mean, lo, hi = bootstrap_mean(probe_slopes, n_boot, seed)
            out.append(Propagation(edited_target=target, layer=layer, read_layer=read_layer, slope_probe=mean,
                                   slope_probe_lo=lo, slope_probe_hi=hi, slope_random=float(random_slopes)))
    return out


# --------------------------------------------------------------------------- dose-response table


def dose_response(ch: pd.DataFrame, ch_control: pd.DataFrame, target: str, layer: int) -> pd.DataFrame:
    """Mean change of ``target``'s readout per Δ: probe, each control, random band (min/max over directions)."""
    def mean_by_delta(frame: pd.DataFrame) -> pd.Series:
        return frame.groupby("delta_sd")[target].mean()

    sel = (ch.target == target) & (ch.layer == layer)
    table = {kind: mean_by_delta(ch[sel & (ch.kind == kind)]) for kind in ("probe", "mean_difference", "orthogonal")}
    per_direction = ch[sel & (ch.kind == "random")].groupby(["index", "delta_sd"])[target].mean().unstack(0)
    table.update(random_mean=per_direction.mean(axis=1), random_min=per_direction.min(axis=1), random_max=per_direction.max(axis=1))
    csel = (ch_control.target == target) & (ch_control.layer == layer) & (ch_control.kind == "probe")
    table["random_weights"] = mean_by_delta(ch_control[csel])
    frame = pd.DataFrame(table)
    frame.loc[0.0] = 0.0  # every entity's change is 0 at Δ = 0 by construction
    return frame.sort_index().rename_axis("delta_sd").reset_index()


# --------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class StageResult:
    metrics: InterventionMetrics
    directions: dict[str, DirectionSet]  # by model tag
    dose: dict[str, pd.DataFrame]  # dose-response per edited target, at metrics.dose_layer
    changes: pd.DataFrame  # every edited reading's change (real model)


def _train_matrix(store: ActivationStore, table: pd.DataFrame, layers: Sequence[int]):
    """Train-split rows of the store, aligned with the entity table (the store may cover a subset)."""
    position = pd.Series(np.arange(len(store.ids)), index=store.ids.astype(str))
    train = table[(table.split == "train") & table.id.astype(str).isin(position.index)]
    rows = position.loc[train.id.astype(str)].to_numpy()
    return train, {layer: np.asarray(store.layer(layer))[rows] for layer in layers}


def _reader(dataset: str, loaded, train: pd.DataFrame, cfg: InterventionConfig):
    if dataset == "world":
        readout = FewShotReadout(loaded, COUNTRY_PREFIX, COUNTRY_QUESTION, batch_size=cfg.batch_size)
        return CountryReadout.from_table(readout, train, cfg.n_candidates)
    readout = FewShotReadout(loaded, BIRTH_PREFIX, BIRTH_QUESTION, batch_size=cfg.batch_size)
    return YearReadout(readout, cfg.max_new_tokens)


def _baseline(dataset: str, reader, entities: pd.DataFrame, base: pd.DataFrame) -> dict[str, float]:
    """How good the unedited readout is on these entities (a readout that knows nothing moves nothing)."""
    if dataset == "world":
        p = reader.probabilities(entities.text.tolist())
        names = np.array(reader.names)
        truth = entities.country.replace(COUNTRY_ALIASES).str.replace("_", " ").to_numpy()
        lon_err = np.abs(wrap_deg(base.longitude.to_numpy() - entities.longitude.to_numpy()))
        return {"top1_country_correct": float((names[p.argmax(1)] == truth).mean()),
                "truth_in_candidates": float(np.isin(truth, names).mean()),
                "latitude_r": float(np.corrcoef(base.latitude, entities.latitude)[0, 1]),
                "longitude_median_abs_error": float(np.median(lon_err))}
    ok = base.year.notna().to_numpy()
    err = np.abs(base.year.to_numpy()[ok] - entities.year.to_numpy()[ok])
    return {"year_parsed": float(ok.mean()), "year_median_abs_error": float(np.median(err)) if ok.any() else float("nan"),
            "year_r": float(np.corrcoef(base.year[ok], entities.year[ok])[0, 1]) if ok.sum() > 2 else float("nan")}


def run_intervention(params: Params, dataset: str, *, entities_dir: Path, activations_dir: Path, models_dir: Path,
                     familiarity_path: Path | None = None) -> StageResult:
    started = time.perf_counter()
    cfg = params.intervention
    table, info = read_entities(entities_dir / f"{dataset}.parquet")
    targets = list(info.targets)
    spec = prompt_spec(dataset, "main", params.data.datasets.get(dataset))
    loaded = {c: load_model(params.model, models_dir, control=c, seed=params.seed) for c in (None, "random_weights")}
    n_layers = loaded[None].n_layers
    directions, probes, train_acts = {}, {}, {}

    def fit(control, layers):
        model = loaded[control]
        store = ActivationStore(activations_dir / dataset / model.tag / "main")
        rows, acts = _train_matrix(store, table, layers)
        directions[model.tag] = fit_directions(acts, {t: rows[t].to_numpy() for t in targets}, store.meta,
                                               alphas=params.probes.alphas, standardize=params.probes.standardize)
        probes[control] = {(d.target, d.layer): d for d in directions[model.tag].directions}
        train_acts[control] = acts
        return rows

    train = fit(None, range(n_layers + 1))  # every layer: the artifacts, and the best layer to edit around
    best = best_layer(directions[loaded[None].tag].directions)
    # an edit after the last block reaches no later position (no block reads it), so n_layers - 1 is the last
    layers = sorted({min(max(best + o, 0), n_layers - 1) for o in cfg.layer_offsets})
    read_layers = {min(layer + cfg.propagation_offset, n_layers) for layer in layers}
    fit("random_weights", sorted(set(layers) | read_layers))  # the control model: only the layers used
    log.info("%s: best probe layer %d (train LOO); editing layers %s", dataset, best, layers)

    readers = {c: _reader(dataset, m, train, cfg) for c, m in loaded.items()}
    main_readout = FewShotReadout(loaded[None], spec.prefix, "{entity}")
    test = table[table.split == "test"]
    test = test[readers[None].readout.usable(test.text.tolist()) & main_readout.usable(test.text.tolist())]
    test = test.sample(min(cfg.n_entities, len(test)), random_state=params.seed).reset_index(drop=True)
    texts = test.text.tolist()

    controls = {c: {layer: control_vectors({t: probes[c][(t, layer)] for t in targets}, train_acts[c][layer],
                                           n_random=cfg.n_random, pca_k=cfg.pca_components, seed=params.seed + layer)
                    for layer in layers} for c in loaded}
    conditions = [Condition("probe", t, layer, d) for t in targets for layer in layers for d in cfg.deltas]
    conditions += [Condition(kind, t, layer, d, i) for t in targets for layer in layers for d in cfg.control_deltas
                   for kind, n in (("orthogonal", 1), ("mean_difference", 1), ("random", cfg.n_random)) for i in range(n)]
    control_conditions = [Condition("probe", t, layer, d) for t in targets for layer in layers for d in cfg.control_deltas]
    readings = run_conditions(readers[None], texts, conditions, probes[None], controls[None])
    log.info("%s: %d edited readings (real model), %.0f s", dataset, len(readings), time.perf_counter() - started)
    control_readings = run_conditions(readers["random_weights"], texts, control_conditions, probes["random_weights"],
                                      controls["random_weights"])
    ch, ch_control = changes(readings, targets), changes(control_readings, targets)
    stds = {t: float(train[t].std(ddof=0)) for t in targets}

    known, n_known = None, None
    if cfg.familiarity:
        labels = pd.read_parquet(familiarity_path, columns=["id", "known"]).set_index("id").known
        is_known = test.id.map(labels).fillna(False).astype(bool).to_numpy()
        keep = set(np.flatnonzero(is_known))
        n_known = len(keep)
        known = summarise(ch[ch.entity.isin(keep)], ch_control[ch_control.entity.isin(keep)], targets, layers, stds,
                          cfg.n_boot, params.seed)
    base = readings[readings.kind == "none"].sort_values("entity")
    metrics = InterventionMetrics(
        dataset=dataset, model=loaded[None].name, readout=type(readers[None]).__name__, n_entities=len(test),
        entity_ids=test.id.astype(str).tolist(), best_layer=best, layers=layers, deltas=cfg.deltas,
        control_deltas=cfg.control_deltas, n_random=cfg.n_random,
        baseline=_baseline(dataset, readers[None], test, base.reset_index(drop=True)),
        all_entities=summarise(ch, ch_control, targets, layers, stds, cfg.n_boot, params.seed),
        known_entities=known, n_known=n_known,
        specificity=specificity(loaded[None], probes[None], controls[None], targets, layers,
                                max(cfg.control_deltas, key=abs), cfg.n_random, cfg.batch_size),
        propagation=propagation(loaded[None], spec.prefix, texts, probes[None], controls[None], targets, layers,
                                read_offset=cfg.propagation_offset, deltas=cfg.control_deltas, n_random=cfg.n_random,
                                n_boot=cfg.n_boot, seed=params.seed, batch_size=cfg.batch_size),
        runtime_s=time.perf_counter() - started,
    )
    dose = {t: dose_response(ch, ch_control, t, metrics.dose_layer) for t in targets}
    return StageResult(metrics=metrics, directions=directions, dose=dose, changes=ch)
