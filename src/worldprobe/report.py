"""The space-and-time summary: one stable metrics file, verdicts against every control, and results.md.

Inputs are the probe and generalization metrics (``metrics/probes/<dataset>.json``,
``metrics/generalization/<dataset>.json``) and the best-layer test predictions
(``plots/probes/<dataset>/predictions.csv``). The summary is what CI compares with
``dvc metrics diff``, so its shape is fixed here and documented in :func:`summarize_dataset`.

A probe "beats" a control when the control's R² lies below the probe's 95 % bootstrap interval on the
same test split. The interval is over test entities for the probe only (the controls' predictions are
not kept), so it is a floor on the real uncertainty of the difference, not a paired test.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from enum import Enum
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score

from . import plots
from .io import atomic_path, read_json, write_json

CONTROLS = ("surface", "layer0", "random_weights")
CONTROL_NAMES = {"surface": "surface form (TF-IDF)", "layer0": "layer 0 (embeddings)", "random_weights": "random weights"}
TARGETS = {"place": ("longitude", "latitude"), "time": ("year",)}

# --------------------------------------------------------------------------- reference numbers
# Test R² of the linear ridge probe at the paper's chosen layer (Gurnee & Tegmark 2024, table 2), and
# best-layer test R² of an independent replication's arms. "people" is the paper's "Historical figures".
PAPER_R2 = {
    "Llama-2-7b": {"world": 0.881, "us": 0.799, "nyc": 0.219, "people": 0.785, "art": 0.788, "headlines": 0.564},
    "Llama-2-70b": {"world": 0.911, "us": 0.864, "nyc": 0.359, "people": 0.835, "art": 0.885, "headlines": 0.746},
}
PAPER_MLP_R2_70B = {"world": 0.926, "us": 0.869, "nyc": 0.312, "people": 0.839, "art": 0.884, "headlines": 0.739}
PAPER_SPEARMAN_70B = {"people": 0.921, "art": 0.925, "headlines": 0.863}
# Block holdout, mean proximity error: (default random split, block held out), Llama-2-70b.
PAPER_HOLDOUT_70B = {
    "world": (0.071, 0.164),
    "us": (0.121, 0.188),
    "nyc": (0.262, 0.433),
    "people": (0.115, 0.119),
    "art": (0.105, 0.122),
    "headlines": (0.182, 0.200),
}
REPLICATION_R2 = {
    "Qwen3-1.7B": {"world": 0.655, "us": 0.450, "nyc": 0.080, "people": 0.693, "art": 0.449, "headlines": 0.476},
    "surface (TF-IDF)": {"world": 0.642, "us": 0.536, "nyc": 0.389, "people": 0.645, "art": 0.116, "headlines": 0.448},
    "Llama-2-7b random weights": {
        "world": 0.298, "us": 0.297, "nyc": 0.070, "people": 0.281, "art": 0.046, "headlines": 0.260,
    },
}

DATASET_TITLES = {
    "world": "World places",
    "us": "USA places",
    "nyc": "NYC places",
    "people": "Historical figures",
    "art": "Art and entertainment",
    "headlines": "NYT headlines",
}
# Where this project's data or method departs from the paper's, per dataset (stated beside the numbers).
DEVIATIONS = {
    "us": "proximity error uses haversine on (lat, lon) correctly; the paper's code swapped them, "
    "so its US value is not comparable",
    "nyc": "proximity error uses haversine on (lat, lon) correctly; the paper's code swapped them, "
    "so its NYC value is not comparable",
    "people": "Pantheon 1.0 (11,341 people) with **birth** year as the target; the paper used the "
    "Wikidata Age Dataset (37,539 people) with **death** year",
    "headlines": "the rwig NYT headlines (5,812 in 2010-2020, chosen for economic-policy research); the paper "
    "used 28,389 front-section headlines from Kaggle",
}


class MetricsError(ValueError):
    """A metrics or predictions file is missing or lacks a key; the message names the file and the key."""


def require(node: Any, path: tuple[str | int, ...], source: str | Path) -> Any:
    """``node[path[0]][path[1]]...``, or a :class:`MetricsError` naming ``source`` and the missing key."""
    for depth, key in enumerate(path):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            where = ".".join(str(k) for k in path[: depth + 1])
            raise MetricsError(f"{source}: missing key {where!r}")
    return node


def require_number(
    node: Any, path: tuple[str | int, ...], source: str | Path, optional: bool = False
) -> float | None:
    """A finite number (or ``None`` where the metric is undefined and ``optional``)."""
    value = require(node, path, source)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise MetricsError(f"{source}: {'.'.join(map(str, path))} should be a finite number, got {value!r}")
    return float(value)


def load_metrics(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"{path}: no such metrics file (run the stage that writes it first)")
    try:
        data = read_json(path)
    except ValueError as exc:
        raise MetricsError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MetricsError(f"{path}: expected a JSON object at the top level")
    return data


def headline(probes: dict[str, Any], source: str | Path) -> tuple[str, str]:
    """``(model_tag, prompt)`` of the real model's headline run, as the probes stage chose it."""
    model, prompt = require(probes, ("main", "model_tag"), source), require(probes, ("main", "prompt"), source)
    require(probes, ("runs", model, prompt), source)
    return model, prompt


def real_models(probes: dict[str, Any], source: str | Path) -> list[str]:
    """Model tags of trained models (every run of a control model carries its ``control`` name)."""
    runs = require(probes, ("runs",), source)
    if not isinstance(runs, dict) or not runs:
        raise MetricsError(f"{source}: 'runs' should map model tags to runs, got {runs!r}")
    return sorted(tag for tag, prompts in runs.items() if all(r.get("control") is None for r in prompts.values()))


# --------------------------------------------------------------------------- bootstrap interval


def place_or_time_r2(frame: pd.DataFrame, kind: str) -> float:
    """Test R² as the probes define it: for places, the mean of the longitude and latitude R²."""
    return float(np.mean([r2_score(frame[t], frame[f"pred_{t}"]) for t in TARGETS[kind]]))


def bootstrap_r2_ci(
    predictions: pd.DataFrame, kind: str, seed: int, n_boot: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the test R² (as :func:`place_or_time_r2`), resampling test entities."""
    n = len(predictions)
    index = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    r2 = np.zeros(n_boot)
    with np.errstate(divide="ignore", invalid="ignore"):
        for target in TARGETS[kind]:
            true, pred = predictions[target].to_numpy(float)[index], predictions[f"pred_{target}"].to_numpy(float)[index]
            residual = ((true - pred) ** 2).sum(axis=1)
            total = ((true - true.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            r2 += 1 - residual / total  # a resample of one repeated value has total 0: inf/nan, dropped below
    r2 /= len(TARGETS[kind])
    r2 = r2[np.isfinite(r2)]
    low, high = np.quantile(r2, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def read_predictions(path: str | Path, kind: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise MetricsError(f"{path}: no such predictions file (written by the probes stage)")
    frame = pd.read_csv(path)
    needed = [c for t in TARGETS[kind] for c in (t, f"pred_{t}")]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise MetricsError(f"{path}: missing column(s) {', '.join(missing)} for a {kind} dataset")
    bad = frame[needed].isna().any(axis=1)
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])  # +2: header line, 1-based
        raise MetricsError(f"{path}: {int(bad.sum())} row(s) with an empty target or prediction (lines {rows})")
    if len(frame) < 2:
        raise MetricsError(f"{path}: R² needs at least 2 test entities, got {len(frame)}")
    return frame


# --------------------------------------------------------------------------- summary


def _layer_r2(run: dict[str, Any], layer: int, source: str) -> float | None:
    for i, row in enumerate(require(run, ("layers",), source)):
        if require(row, ("layer",), f"{source} layers[{i}]") == layer:
            return require_number(row, ("r2",), f"{source} layers[{i}]", optional=True)
    return None


def summarize_dataset(
    probes: dict[str, Any], generalization: dict[str, Any] | None, source: str | Path
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{model: {prompt: {best_layer, n_layers, rel_depth, r2, spearman, prox_error,
    controls: {surface, layer0, random_weights}}}}`` for every trained model and prompt.

    ``n_layers`` counts layer 0 (the embeddings), as the probes stage does; the best layer is its
    choice (``best_layer_criterion``). Controls are test R² on the same split: ``surface`` the TF-IDF
    probe on the entity string, ``layer0`` the same run's embedding layer, ``random_weights`` the
    best layer of the same architecture with random weights and the same prompt (``None`` where that
    was not run). The headline run also gets ``mlp_r2`` (the generalization stage's MLP probe at the
    same layer) and ``holdout`` (``{block|entity_type: {default, heldout}}`` mean proximity errors).
    """
    source = str(source)
    surface = require_number(probes, ("controls", "surface", "r2"), source, optional=True)
    runs = require(probes, ("runs",), source)
    main_model, main_prompt = headline(probes, source)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for model in real_models(probes, source):
        summary[model] = {}
        for prompt, run in require(runs, (model,), source).items():
            where = f"{source} runs.{model}.{prompt}"
            random_run = runs.get(f"{model}~random_weights", {}).get(prompt)
            random_r2 = None
            if random_run is not None:
                random_r2 = require_number(random_run, ("best", "r2"), f"{source} runs.{model}~random_weights.{prompt}")
            entry = {
                "best_layer": int(require_number(run, ("best_layer",), where)),
                "n_layers": int(require_number(run, ("n_layers",), where)),
                "rel_depth": require_number(run, ("best", "rel_depth"), where),
                "r2": require_number(run, ("best", "r2"), where),
                "spearman": require_number(run, ("best", "spearman"), where, optional=True),
                "prox_error": require_number(run, ("best", "prox_error"), where, optional=True),
                "controls": {"surface": surface, "layer0": _layer_r2(run, 0, where), "random_weights": random_r2},
            }
            if generalization is not None and (model, prompt) == (main_model, main_prompt):
                entry["mlp_r2"] = require_number(generalization, ("mlp_vs_linear", "mlp", "r2"), source, optional=True)
                entry["holdout"] = {k: dict(zip(("default", "heldout"), v)) for k, v in holdout_means(generalization, source).items()}
            summary[model][prompt] = entry
    return summary


HOLDOUTS = {"block": "block_holdout", "entity_type": "entity_type_holdout"}


def holdout_means(generalization: dict[str, Any], source: str | Path) -> dict[str, tuple[float, float]]:
    """Mean proximity error (random split, held out) per holdout kind; kinds that were skipped are left out."""
    means = {}
    for kind, key in HOLDOUTS.items():
        entry = generalization.get(key)
        if entry is None or "skipped_reason" in entry:
            continue
        where = f"{source} {key}"
        means[kind] = (
            require_number(entry, ("mean_prox_error_default",), where),
            require_number(entry, ("mean_prox_error_heldout",), where),
        )
    return means


def pca_curve(generalization: dict[str, Any], source: str | Path) -> pd.Series:
    """Test R² against the number of principal components (the ``full`` point is left out of the curve)."""
    rows = require(generalization, ("pca", "curve"), source)
    return pd.Series(
        {int(r["k"]): require_number(r, ("r2",), f"{source} pca.curve", optional=True) for r in rows if r.get("k") != "full"},
        dtype=float,
    ).sort_index()


# --------------------------------------------------------------------------- tables for dvc plots


def depth_series(probes: dict[str, Any], source: str | Path) -> pd.DataFrame:
    """Test R² per layer of the headline model, one column per curve, for DVC's ``linear`` template.

    Columns: ``layer, rel_depth``, the headline prompt, the other prompts, then the controls, which
    are always present (empty where not measured) so that the plot definitions in dvc.yaml hold:
    ``random_weights`` (same prompt, per layer), and ``surface`` and ``layer0`` as flat lines.
    """
    source = str(source)
    model, main_prompt = headline(probes, source)
    runs = require(probes, ("runs",), source)

    def curve(tag: str, prompt: str) -> pd.DataFrame:
        where = f"{source} runs.{tag}.{prompt}.layers"
        rows = [
            (int(require_number(r, ("layer",), where)), require_number(r, ("rel_depth",), where),
             require_number(r, ("r2",), where, optional=True))
            for r in require(runs, (tag, prompt, "layers"), source)
        ]
        return pd.DataFrame(rows, columns=["layer", "rel_depth", "r2"]).set_index("layer")

    main = curve(model, main_prompt)
    frame = main[["rel_depth"]].copy()
    for prompt in sorted(runs[model], key=lambda p: (p != main_prompt, p)):
        frame[prompt] = curve(model, prompt)["r2"]
    random_tag = f"{model}~random_weights"
    frame["random_weights"] = curve(random_tag, main_prompt)["r2"] if main_prompt in runs.get(random_tag, {}) else None
    frame["surface"] = require_number(probes, ("controls", "surface", "r2"), source, optional=True)
    frame["layer0"] = main["r2"].get(0)
    return frame.reset_index()


def bar_table(rows: Iterable[tuple[str, float | None]], value: str) -> pd.DataFrame:
    """A ``label, value`` table for DVC's ``bar_horizontal`` template (undefined values dropped)."""
    return pd.DataFrame([(label, v) for label, v in rows if v is not None], columns=["label", value])


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")


# --------------------------------------------------------------------------- verdicts


class Outcome(Enum):
    BEATS = "beats"
    INDISTINGUISHABLE = "within the probe's 95 % interval"
    BEATEN = "is beaten by"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Verdict:
    control: str
    control_r2: float | None
    outcome: Outcome


def judge(r2_ci: tuple[float, float], controls: dict[str, float | None]) -> list[Verdict]:
    """Does the probe beat each control? Beats: the control's R² lies below the probe's interval."""
    low, high = r2_ci
    verdicts = []
    for name in CONTROLS:
        value = controls.get(name)
        if value is None:
            outcome = Outcome.NOT_MEASURED
        elif value < low:
            outcome = Outcome.BEATS
        elif value > high:
            outcome = Outcome.BEATEN
        else:
            outcome = Outcome.INDISTINGUISHABLE
        verdicts.append(Verdict(name, value, outcome))
    return verdicts


def plain_verdict(kind: str, model: str, verdicts: list[Verdict]) -> str:
    """One sentence a reader outside the field can act on."""
    what = "where places are" if kind == "place" else "when things happened"
    what_cap = what[0].upper() + what[1:]
    beaten = [CONTROL_NAMES[v.control] for v in verdicts if v.outcome is Outcome.BEATS]
    not_beaten = [v for v in verdicts if v.outcome in (Outcome.BEATEN, Outcome.INDISTINGUISHABLE)]
    missing = [CONTROL_NAMES[v.control] for v in verdicts if v.outcome is Outcome.NOT_MEASURED]
    if not not_beaten and not missing:
        return (
            f"The probe beats every control on the same split: {what_cap} can be read linearly from {model}'s "
            "activations better than from the entity's spelling, its input embedding or a random network's features."
        )
    parts = []
    if not_beaten:
        names = ", ".join(
            f"{CONTROL_NAMES[v.control]} ({'higher' if v.outcome is Outcome.BEATEN else 'within noise'})"
            for v in not_beaten
        )
        parts.append(f"the probe does not beat {names}")
    if beaten:
        parts.append(f"it does beat {', '.join(beaten)}")
    if missing:
        parts.append(f"{', '.join(missing)} not measured")
    claim = "Not established" if not_beaten else "Incomplete"
    return f"{claim}: {'; '.join(parts)}. This is no evidence that {model} represents {what} beyond these controls."


# --------------------------------------------------------------------------- results.md


@dataclass(frozen=True)
class DatasetResult:
    """Everything results.md says about one dataset, for the default model."""

    name: str
    kind: str
    target_note: str
    n_train: int
    n_test: int
    model: str
    main_prompt: str
    criterion: str  # how the probes stage chose the best layer
    summary: dict[str, dict[str, dict[str, Any]]]  # {model: {prompt: ...}}, see summarize_dataset
    r2_ci: tuple[float, float]
    depth: pd.DataFrame  # see depth_series
    pca: pd.Series  # test R² by number of principal components
    predictions: pd.DataFrame  # best layer, main prompt, default model

    @property
    def prompts(self) -> dict[str, dict[str, Any]]:
        return self.summary[self.model]

    @property
    def main(self) -> dict[str, Any]:
        return self.prompts[self.main_prompt]

    @property
    def verdicts(self) -> list[Verdict]:
        return judge(self.r2_ci, self.main["controls"])


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _title(name: str) -> str:
    return DATASET_TITLES.get(name, name)


def _layer(m: dict[str, Any]) -> str:
    return f"{m['best_layer']} / {m['n_layers'] - 1}"  # n_layers counts the embedding layer 0


def results_markdown(results: list[DatasetResult], figures: list[str]) -> str:
    """The results section: this project's numbers beside the controls, the paper and the replication.

    ``figures`` are paths relative to the directory results.md is written to.
    """
    models = ", ".join(f"`{m}`" for m in sorted({r.model for r in results}))
    criteria = sorted({r.criterion for r in results})
    lines = [
        "## Results",
        "",
        f"Model: {models}. Test-split R² of a ridge probe at the best layer (layer / last block; layer 0 is "
        "the embeddings), with a 95 % bootstrap interval over test entities, beside three controls on the same "
        "split: a TF-IDF probe on the entity string (surface), the embedding layer (layer 0) and the same "
        "architecture with random weights. Regenerate with `dvc repro report`; view the curves with "
        "`dvc plots show` and compare runs with `dvc plots diff`.",
        "",
        "| dataset | target | train / test | best layer | R² [95 % CI] | Spearman | prox. error "
        "| surface | layer 0 | random weights | MLP R² |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, c = r.main, r.main["controls"]
        lines.append(
            f"| {_title(r.name)} | {r.target_note} | {r.n_train:,} / {r.n_test:,} | {_layer(m)} "
            f"| {_f(m['r2'])} [{_f(r.r2_ci[0])}, {_f(r.r2_ci[1])}] | {_f(m['spearman'])} | {_f(m['prox_error'])} "
            f"| {_f(c['surface'])} | {_f(c['layer0'])} | {_f(c['random_weights'])} | {_f(m.get('mlp_r2'))} |"
        )
    lines += ["", "### Does the probe beat each control?", ""]
    for r in results:
        marks = "; ".join(f"{CONTROL_NAMES[v.control]} {_f(v.control_r2)}: **{v.outcome.value}**" for v in r.verdicts)
        lines.append(
            f"- **{_title(r.name)}** (R² {_f(r.main['r2'])}) — {marks}. {plain_verdict(r.kind, r.model, r.verdicts)}"
        )
    lines += [
        "",
        "A control is beaten when its R² lies below the probe's interval. The interval resamples test entities "
        "for the probe alone (the controls' predictions are not kept), so it understates the uncertainty of "
        "the difference: treat margins near the interval's edge as unsettled.",
        "",
        "### Against the paper and an independent replication",
        "",
        "| dataset | this project | Llama-2-7b | Llama-2-70b | 70b MLP | 70b Spearman | replication: "
        + " | replication: ".join(REPLICATION_R2)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(REPLICATION_R2),
    ]
    for r in results:
        cells = [_f(PAPER_R2[m].get(r.name)) for m in PAPER_R2]
        cells += [_f(PAPER_MLP_R2_70B.get(r.name)), _f(PAPER_SPEARMAN_70B.get(r.name))]
        cells += [_f(REPLICATION_R2[arm].get(r.name)) for arm in REPLICATION_R2]
        lines.append(f"| {_title(r.name)} | {_f(r.main['r2'])} | " + " | ".join(cells) + " |")

    prompts = sorted({p for r in results for p in r.prompts}, key=lambda p: (p != results[0].main_prompt, p))
    if len(prompts) > 1:
        lines += [
            "",
            "### Prompt sensitivity (best-layer R²)",
            "",
            "| dataset | " + " | ".join(prompts) + " |",
            "|---|" + "---|" * len(prompts),
        ]
        for r in results:
            cells = [_f(r.prompts[p]["r2"]) if p in r.prompts else "—" for p in prompts]
            lines.append(f"| {_title(r.name)} | " + " | ".join(cells) + " |")

    if any(r.main.get("holdout") for r in results):
        lines += [
            "",
            "### Generalization: mean proximity error, random split → held out (lower is better, chance ≈ 0.5)",
            "",
            "| dataset | block held out | entity type held out | paper 70b, block |",
            "|---|---|---|---|",
        ]
        for r in results:
            h = r.main.get("holdout", {})
            cells = [f"{_f(h[k]['default'])} → {_f(h[k]['heldout'])}" if k in h else "—" for k in HOLDOUTS]
            paper = PAPER_HOLDOUT_70B.get(r.name)
            cells.append(f"{paper[0]:.3f} → {paper[1]:.3f}" if paper else "—")
            lines.append(f"| {_title(r.name)} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "### Deviations from the paper",
        "",
        f"- **Model**: {models}, far smaller than Llama-2-7b/13b/70b; the paper found R² grows with size, so lower "
        "numbers here are expected, and the controls, not the paper's figures, are the yardstick.",
        f"- **Best layer**: chosen by `{', '.join(criteria)}` for the probe and the random-weights control alike, "
        "so no test number takes part in the choice; the paper reports a fixed layer per model.",
    ]
    lines += [f"- **{_title(r.name)}**: {DEVIATIONS[r.name]}." for r in results if r.name in DEVIATIONS]
    if figures:
        lines += ["", "### Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the stage

SUMMARY_PATH = Path("metrics/spacetime/summary.json")
RESULTS_PATH = Path("reports/results.md")
FIGURES_DIR = Path("plots/figures")
SERIES_DIR = Path("plots/spacetime")
# predictions.csv is rounded when written; a larger gap means it comes from another run than the metrics
R2_CONSISTENCY_TOLERANCE = 1e-3


def load_dataset(root: Path, dataset: str, seed: int) -> DatasetResult:
    """Read one dataset's probe and generalization metrics and its best-layer test predictions."""
    probes_path = root / "metrics" / "probes" / f"{dataset}.json"
    generalization_path = root / "metrics" / "generalization" / f"{dataset}.json"
    probes, generalization = load_metrics(probes_path), load_metrics(generalization_path)
    kind = require(probes, ("kind",), probes_path)
    if kind not in TARGETS:
        raise MetricsError(f"{probes_path}: kind should be one of {', '.join(TARGETS)}, got {kind!r}")
    model, main_prompt = headline(probes, probes_path)
    summary = summarize_dataset(probes, generalization, probes_path)
    predictions_path = root / "plots" / "probes" / dataset / "predictions.csv"
    predictions = read_predictions(predictions_path, kind)
    main = summary[model][main_prompt]
    recomputed = place_or_time_r2(predictions, kind)
    if abs(recomputed - main["r2"]) > R2_CONSISTENCY_TOLERANCE:
        raise MetricsError(
            f"{predictions_path}: test R² {recomputed:.4f} differs from {probes_path} best.r2 {main['r2']:.4f}; "
            "the two files come from different runs (rerun the probes stage)"
        )
    ci = bootstrap_r2_ci(predictions, kind, seed)
    main["r2_ci_low"], main["r2_ci_high"] = ci
    return DatasetResult(
        name=dataset,
        kind=kind,
        target_note=str(probes.get("target_note", "")),
        n_train=int(require_number(probes, ("n_train",), probes_path)),
        n_test=int(require_number(probes, ("n_test",), probes_path)),
        model=model,
        main_prompt=main_prompt,
        criterion=str(probes.get("best_layer_criterion", "not stated")),
        summary=summary,
        r2_ci=ci,
        depth=depth_series(probes, probes_path),
        pca=pca_curve(generalization, generalization_path),
        predictions=predictions,
    )


def build_report(datasets: Sequence[str], seed: int, shapes_dir: Path, root: Path = Path(".")) -> None:
    """Write the summary metrics, the tables for ``dvc plots``, the PNG figures and results.md."""
    if not datasets:
        raise MetricsError("no datasets to report on (data.datasets in params.yaml is empty)")
    results = [load_dataset(root, dataset, seed) for dataset in datasets]
    write_json(root / SUMMARY_PATH, {r.name: r.summary for r in results})

    with atomic_path(root / SERIES_DIR, directory=True) as series_dir:
        for r in results:
            write_csv(r.depth, series_dir / r.name / "depth.csv")
        pca = pd.DataFrame({r.name: r.pca for r in results})
        write_csv(pca.rename_axis("k").reset_index(), series_dir / "pca.csv")
        probe_kinds = [(f"{r.name} {label}", r.main.get(key)) for r in results for label, key in (("linear", "r2"), ("MLP", "mlp_r2"))]
        write_csv(bar_table(probe_kinds, "r2"), series_dir / "probe_kinds.csv")
        prompts = [(f"{r.name} {p}", r.prompts[p]["r2"]) for r in results for p in r.prompts]
        write_csv(bar_table(prompts, "r2"), series_dir / "prompts.csv")
        holdout = [
            (f"{r.name} {kind}: {split}", value)
            for r in results
            for kind, means in r.main.get("holdout", {}).items()
            for split, value in (("random split", means["default"]), ("held out", means["heldout"]))
        ]
        write_csv(bar_table(holdout, "prox_error"), series_dir / "holdout.csv")

    figures = []
    with atomic_path(root / FIGURES_DIR, directory=True) as figures_dir:
        plots.depth_grid({r.name: r.depth for r in results}, ", ".join(sorted({r.model for r in results})),
                         figures_dir / "r2_by_depth.png")
        figures.append("r2_by_depth.png")
        for r in results:
            m = r.main
            title = (
                f"{_title(r.name)}: {r.model}, layer {_layer(m)}, prompt {r.main_prompt!r}, "
                f"test R² {m['r2']:.3f} (n = {len(r.predictions):,})"
            )
            if r.kind == "place":
                name = f"map_{r.name}.png"
                plots.place_map(r.predictions, plots.outline_for(r.name), shapes_dir, title, figures_dir / name)
            else:
                name = f"years_{r.name}.png"
                plots.year_scatter(r.predictions, title, figures_dir / name)
            figures.append(name)

    relative = Path("..") / FIGURES_DIR  # results.md sits in reports/
    with atomic_path(root / RESULTS_PATH) as tmp:
        tmp.write_text(results_markdown(results, [str(relative / f) for f in figures]))


# --------------------------------------------------------------------------- README

RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")


def rebase_links(markdown: str, source_dir: str | Path, target_dir: str | Path) -> str:
    """Rewrite relative link targets written for a file in ``source_dir`` to work from ``target_dir``."""

    def rebase(match: re.Match[str]) -> str:
        target = match.group(2)
        if "://" in target or target.startswith(("#", "/", "mailto:")):
            return match.group(0)
        moved = os.path.relpath(os.path.normpath(Path(source_dir) / target), target_dir)
        return f"{match.group(1)}{Path(moved).as_posix()}{match.group(3)}"

    return _LINK.sub(rebase, markdown)


def splice_results(readme: str, results: str) -> str:
    """Put ``results`` between the results markers of ``readme``, appending the markers if absent.

    Only the marked region changes, so the rest of the README stays its authors'; splicing twice
    gives the same text.
    """
    block = f"{RESULTS_START}\n{results.strip()}\n{RESULTS_END}"
    starts, ends = readme.count(RESULTS_START), readme.count(RESULTS_END)
    if starts == ends == 0:
        return readme.rstrip("\n") + "\n\n" + block + "\n"
    if starts != 1 or ends != 1 or readme.index(RESULTS_START) > readme.index(RESULTS_END):
        raise ValueError(
            f"README: expected one {RESULTS_START} followed by one {RESULTS_END}, "
            f"found {starts} start and {ends} end marker(s)"
        )
    head, rest = readme.split(RESULTS_START)
    return head + block + rest.split(RESULTS_END, 1)[1]
