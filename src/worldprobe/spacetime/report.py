"""The report stage: the space-and-time summary metrics, the tables for ``dvc plots``, the PNG figures,
and the results tables of ``docs/spacetime.md`` (:mod:`worldprobe.spacetime.docs`): this project's numbers
beside the controls, the paper and an independent replication.

Inputs are the probe and generalization metrics (:class:`~worldprobe.spacetime.outputs.ProbeMetrics`,
:class:`~worldprobe.spacetime.outputs.GeneralizationMetrics`) and the best-layer test predictions
(``plots/probes/<dataset>/predictions.csv``). The summary (:class:`~worldprobe.spacetime.outputs.SpacetimeSummary`)
is what CI compares with ``dvc metrics diff``; :mod:`worldprobe.spacetime.summary` computes it and
:mod:`worldprobe.spacetime.verdicts` judges the probe against each control.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..io import atomic_path
from ..records import DataReport
from ..registry import DATASETS
from ..stats import Sign, interval_sign
from . import plots
from .inputs import ON_SUBSAMPLE
from .outputs import (
    GeneralizationMetrics,
    IncrementalMetrics,
    LearningCurve,
    ModelAxisMetrics,
    OutputError,
    ProbeMetrics,
    SpacetimeSummary,
    SummaryEntry,
    Validity,
)
from .summary import bar_table, depth_series, pca_series, place_or_time_r2, read_predictions, summarize_dataset
from .verdicts import CONTROL_NAMES, Outcome, Verdict, interval_text, judge, plain_verdict

# --------------------------------------------------------------------------- reference numbers
# Test R² of the linear ridge probe at the paper's fixed layer per model (Gurnee & Tegmark 2024, table 2).
# "people" is the paper's "Historical figures".
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
# Where this project's data or method departs from the paper's, per dataset (stated beside the numbers).
# The paper's own data where ours differs (its entity counts), and the datasets whose proximity errors
# its code computed with latitude and longitude swapped.
PAPER_DATA = {
    "people": "the Wikidata Age Dataset (37,539 people) with **death** year",
    "headlines": "28,389 front-section headlines from Kaggle",
}
# What our source is, where its name is not in the data report's target.
OUR_SOURCE = {"headlines": "the rwig NYT headlines (chosen for economic-policy research)"}
PAPER_SWAPPED_LAT_LON = ("us", "nyc")
SWAPPED = "not comparable (lat/lon swapped)"


def deviation(root: Path, name: str) -> str | None:
    """Where this project's data or method departs from the paper's for one dataset, from its data report."""
    if name in PAPER_SWAPPED_LAT_LON:
        return ("proximity error uses haversine on (lat, lon) correctly; the paper's code swapped them, so its "
                f"{_title(name)} value is not comparable")
    if name not in PAPER_DATA:
        return None
    report = DataReport.load(root / "metrics" / "data" / f"{name}.json")
    removed = ", ".join(f"{n:,} {rule.replace('_', ' ')}" for rule, n in report.filtered.items() if n)
    return (f"{OUR_SOURCE.get(name, report.target)}: {report.rows_in:,} source rows, {report.rows_out.total:,} after the build"
            + (f" (removed: {removed})" if removed else "") + f"; the paper used {PAPER_DATA[name]}")


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")


# --------------------------------------------------------------------------- the results tables


@dataclass(frozen=True)
class DatasetResult:
    """Everything the results say about one dataset, for the default model."""

    name: str
    kind: str
    target_note: str
    n_train: int
    n_test: int
    model: str
    main_prompt: str
    criterion: str  # how the probes stage chose the best layer
    summary: dict[str, dict[str, SummaryEntry]]  # {model: {prompt: ...}}, see summarize_dataset
    validity: Validity  # the headline's checks (probes stage)
    depth: pd.DataFrame  # see depth_series
    pca: pd.Series  # test R² by number of principal components
    predictions: pd.DataFrame  # best layer, main prompt, default model

    @property
    def title(self) -> str:
        return _title(self.name)

    @property
    def prompts(self) -> dict[str, SummaryEntry]:
        return self.summary[self.model]

    @property
    def main(self) -> SummaryEntry:
        return self.prompts[self.main_prompt]

    @property
    def r2_ci(self) -> tuple[float | None, float | None]:
        return self.main.r2_ci_low, self.main.r2_ci_high

    @property
    def verdicts(self) -> list[Verdict]:
        return judge(self.main.beats or {}, self.main.controls.model_dump(), self.main.adds)


def _f(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _title(name: str) -> str:
    return DATASETS[name].title if name in DATASETS else name


_BEATS = {Outcome.BEATS: "beats", Outcome.BEATEN: "beaten", Outcome.NOT_ESTABLISHED: "not established"}
_ADDS = {Sign.ABOVE: "adds", Sign.BELOW: "below 0", Sign.NOT_ESTABLISHED: "not established"}


def _layer(m: SummaryEntry) -> str:
    return f"{m.best_layer} / {m.n_layers - 1}"  # n_layers counts the embedding layer 0


def beyond_block_lines(results: list[DatasetResult]) -> list[str]:
    """Places against their block (country, state, borough), and every dataset's order within its block."""
    places = [r for r in results if r.main.block is not None]
    lines = []
    if places:
        lines += [
            "### Against the block: does the probe place entities within their country, state or borough?",
            "",
            "Oracle: each test place predicted by the train mean of its true block (blocks read by one rule: a "
            "missing block is a block of its own, world countries one block per sovereign country). Beats: probe R² "
            "minus the oracle's. Adds: what the probe's prediction adds to the oracle's (least squares on both, "
            "cross-fitted over the test rows, the block term unshrunk), also as a share of the variance the block "
            "leaves unexplained. Block read: the probe's predictions scored against each test place's block mean. "
            "One-hot + activations: a ridge on the block's one-hot plus the best layer's activations against the "
            "one-hot alone, one penalty for both (which shrinks the block term too). Unseen: test blocks with no "
            "train place (places).",
            "",
            "| dataset | block (test blocks) | oracle R² | beats: Δ R² [95 % CI] | adds: Δ R² [95 % CI] | share of "
            "unexplained | block read R² | one-hot + activations Δ R² | unseen blocks (places) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in places:
            b, one_hot = r.main.block, r.main.r2_beyond_group
            lines.append(
                f"| {_title(r.name)} | {b.block} ({b.n_test_blocks}) | {_f(b.oracle_r2)} | {interval_text(b.beats)} "
                f"| {interval_text(b.adds, 4)} | {'—' if b.beyond_block_share is None else f'{b.beyond_block_share:.1%}'} "
                f"| {_f(b.block_read_r2)} | {'—' if one_hot is None else interval_text(one_hot, 4)} "
                f"| {b.unseen_test_blocks} ({b.unseen_test_entities}) |")
        lines.append("")
    predictors = ("probe", *CONTROL_NAMES)
    lines += [
        "### Within a block: does the probe order entities inside their block?",
        "",
        "Targets and predictions centred on each block's test mean (blocks with enough test entities), pooled; a "
        "predictor that knows only the block scores ≈ 0, and R² below 0 means the predictions spread within a "
        "block more than the truth does. Probe − control: the paired difference of within-block Spearman.",
        "",
        "| dataset | block (n blocks, n) | within-block Spearman: " + " / ".join(("probe", *CONTROL_NAMES.values()))
        + " | probe − " + " / ".join(CONTROL_NAMES.values()) + " [95 % CI] | within-block R², probe |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        wb = r.validity.within_block
        probe_ci = "" if wb.probe_spearman_ci_low is None else (
            f" [{_f(wb.probe_spearman_ci_low)}, {_f(wb.probe_spearman_ci_high)}]")
        rho = " / ".join(_f(wb.spearman.get(p)) + (probe_ci if p == "probe" else "") for p in predictors)
        within = r.main.within_block_beats or {}
        paired = " / ".join(interval_text(within[c]) if c in within else "—" for c in CONTROL_NAMES)
        lines.append(f"| {_title(r.name)} | {wb.block} ({wb.n_blocks}, {wb.n:,}) | {rho} | {paired} "
                     f"| {_f(wb.r2.get('probe'))} |")
    eras = [(r, era, e) for r in results for era, e in (r.validity.eras or {}).items()]
    if eras:
        lines += ["", "By era (test entities): " + "; ".join(
            f"{_title(r.name)} {era.replace('_', ' ')}: n = {e.n:,}, R² {_f(e.r2)}, Spearman {_f(e.spearman)}"
            for r, era, e in eras) + "."]
    return lines + [""]


def load_axes(root: Path, datasets: Sequence[str]) -> dict[str, ModelAxisMetrics]:
    """The model axis of each dataset the model_axis stage has measured (``metrics/models/<dataset>.json``)."""
    paths = {ds: root / MODEL_AXIS_DIR / f"{ds}.json" for ds in datasets}
    return {ds: ModelAxisMetrics.load(path) for ds, path in paths.items() if path.is_file()}


def model_axis_table(axes: dict[str, ModelAxisMetrics]) -> pd.DataFrame:
    """One row per dataset, model and series (the probe, then each measured control): R² against size."""
    rows = []
    for ds, axis in axes.items():
        for m in axis.models:
            common = {"dataset": ds, "model": m.name, "n_params": m.n_params, "best_layer": m.best_layer,
                      "rel_depth": m.rel_depth}
            rows.append({**common, "series": "probe", "r2": m.r2, "ci_low": m.r2_ci_low, "ci_high": m.r2_ci_high})
            rows += [{**common, "series": c, "r2": v.r2} for c, v in m.controls.items() if v.r2 is not None]
    return pd.DataFrame(rows)


def _axis_cell(control) -> str:
    if control.r2 is None:
        return "—"
    beats = "" if control.beats is None else {Sign.ABOVE: "beaten", Sign.BELOW: "above the probe",
                                              Sign.NOT_ESTABLISHED: "not separated"}[
        interval_sign(control.beats.ci_low, control.beats.ci_high)]
    adds = "" if control.adds is None else {Sign.ABOVE: "added to", Sign.BELOW: "probe adds less than nothing",
                                            Sign.NOT_ESTABLISHED: "adds n.e."}[
        interval_sign(control.adds.ci_low, control.adds.ci_high)]
    return f"{_f(control.r2)} ({', '.join(filter(None, (beats, adds)))})"


def model_axis_lines(axes: dict[str, ModelAxisMetrics]) -> list[str]:
    """The model axis: each model's best-layer R² beside its controls at matched entities, and each model
    against ``model`` (the first), paired; the wording admits what a few points can say."""
    if not axes:
        return []
    first = next(iter(axes.values())).models[0].name
    names = list(dict.fromkeys(m.name for a in axes.values() for m in a.models))
    lines = [
        "### Models (generated by the report stage)",
        "",
        f"Every model on the same entities of each dataset (a seeded subsample, `models.<name>.max_entities`), "
        "probed as the headline is (layer chosen on train); each control is the model's own and is marked by the "
        "probe − control interval (*beaten*: above 0) and what the probe adds to it (*added to*: above 0). "
        f"With {len(names)} models this is a {len(names)}-point comparison: it says which model reads more on these "
        "entities, not how R² scales with size (the models differ in family, training data and tuning too).",
        "",
        "| dataset | model | parameters | best layer (rel. depth) | probe R² [95 %] | − " + first + " (paired) | "
        + " | ".join(CONTROL_NAMES[c] for c in CONTROL_NAMES) + " |",
        "|---|---|---|---|---|---|" + "---|" * len(CONTROL_NAMES),
    ]
    for ds, axis in axes.items():
        for m in axis.models:
            diff = "—" if m.minus_model is None else interval_text(m.minus_model)
            lines.append(
                f"| {_title(ds)} (n = {axis.n_train:,} / {axis.n_test:,}) | {m.name} | {m.n_params / 1e6:,.1f} M | "
                f"{m.best_layer} ({m.rel_depth:.2f}) | {_f(m.r2)} [{_f(m.r2_ci_low)}, {_f(m.r2_ci_high)}] | {diff} | "
                + " | ".join(_axis_cell(m.controls[c]) if c in m.controls else "—" for c in CONTROL_NAMES) + " |")
    return lines + [""]


def results_markdown(results: list[DatasetResult], figures: list[str], root: Path = Path(".")) -> str:
    """The results section: this project's numbers beside the controls, the paper and the replication.

    ``figures`` are paths relative to the directory the markdown is written to; ``root`` holds ``metrics/data``.
    """
    models = ", ".join(f"`{m}`" for m in sorted({r.model for r in results}))
    by_criterion: dict[str, list[str]] = {}
    for r in results:
        by_criterion.setdefault(r.criterion, []).append(_title(r.name))
    lines = [
        "### Headline table (generated by the report stage)",
        "",
        f"Model: {models}. Test-split R² of a ridge probe at the best layer (layer / last block; layer 0 is "
        "the embeddings), with a 95 % bootstrap interval (resampling whole held-out groups where the split holds "
        "groups out: art creators, NYC complexes; test entities elsewhere), beside four controls on the same "
        "split: a TF-IDF probe on the entity string (surface), the embedding layer (layer 0) at the prompt's last "
        "token (for headlines the final period, the same for every entity) and averaged over the entity's own "
        "tokens (token mean), and the same architecture with random weights (run, like the prompt variants, on a "
        "seeded subsample of the entities, `activations.variant_entities`; its R² is on that subsample's test "
        "entities). Regenerate with `dvc repro report`; view the curves with `dvc plots show` and compare runs "
        "with `dvc plots diff`.",
        "",
        "| dataset | target | train / test | best layer (share of train resamples) | R² [95 % CI] | Spearman "
        "| prox. error | surface | layer 0, last token | layer 0, token mean | random weights | MLP R² (mean of seeds) "
        "| MLP − ridge [95 % CI] |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        m, c = r.main, r.main.controls
        lines.append(
            f"| {_title(r.name)} | {r.target_note} | {r.n_train:,} / {r.n_test:,} | {_layer(m)}"
            + ("" if m.best_layer_share is None else f" ({m.best_layer_share:.0%})")
            + f" | {_f(m.r2)} [{_f(r.r2_ci[0])}, {_f(r.r2_ci[1])}] | {_f(m.spearman)} | {_f(m.prox_error)} "
            f"| {_f(c.surface)} | {_f(c.layer0)} | {_f(c.layer0_token_mean)} | {_f(c.random_weights)} | {_f(m.mlp_r2)} "
            f"| {'—' if m.mlp is None else interval_text(m.mlp.minus_linear)} |"
        )
    lines += [
        "",
        "### Does the probe beat each control, and does it add to it?",
        "",
        "Beats: probe R² minus control R² on the same test entities (for random weights, the test entities of its "
        "subsample). Adds: R² of least squares on the control's and the probe's test predictions together minus on "
        "the control's alone, both cross-fitted over folds of the test rows (`incremental.folds`; whole split "
        "groups per fold): the information the probe holds that the control does not. Each with the 95 % interval "
        "of a paired bootstrap (both scored on every resample; whole split groups resampled where the split holds "
        "groups out); a difference is established when its interval excludes 0.",
        "",
        "| dataset | control | control R² | beats: Δ R² [95 % CI] | adds: Δ R² [95 % CI] |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        for v in r.verdicts:
            beats = "not measured" if v.difference is None else f"{interval_text(v.difference)} {_BEATS[v.outcome]}"
            adds = "—" if v.adds is None else f"{interval_text(v.adds)} {_ADDS[v.adds_sign]}"
            lines.append(f"| {_title(r.name)} | {CONTROL_NAMES[v.control]} | {_f(v.control_r2)} | {beats} | {adds} |")
    lines += [""]
    for r in results:
        m = r.main
        lines.append(f"- **{_title(r.name)}** (R² {_f(m.r2)}): "
                     f"{plain_verdict(r.kind, r.model, r.verdicts, r.validity, m.block, m.within_block_beats)}")
    lines += [
        "",
        *beyond_block_lines(results),
        "### Against the paper",
        "",
        "Not like-for-like: model, data (" + ", ".join(_title(n) for n in PAPER_DATA) + "), standardisation and "
        "layer choice differ; cells marked *other data* compare different entities.",
        "",
        "| dataset | this project | Llama-2-7b | Llama-2-70b | 70b MLP | 70b Spearman |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [_f(PAPER_R2[m].get(r.name)) for m in PAPER_R2]
        cells += [_f(PAPER_MLP_R2_70B.get(r.name)), _f(PAPER_SPEARMAN_70B.get(r.name))]
        if r.name in PAPER_DATA:
            cells = [f"{c} (other data)" if c != "—" else c for c in cells]
        lines.append(f"| {_title(r.name)} | {_f(r.main.r2)} | " + " | ".join(cells) + " |")

    prompts = sorted({p for r in results for p in r.prompts}, key=lambda p: (p != results[0].main_prompt, p))
    if len(prompts) > 1:
        lines += [
            "",
            "### Prompt sensitivity (best-layer R²)",
            "",
            f"Prompts other than `{results[0].main_prompt}` run on a seeded subsample of the entities "
            "(`activations.variant_entities`, same train/test proportions); "
            f"`{results[0].main_prompt}{ON_SUBSAMPLE}` is the main prompt refitted on those same entities, "
            "the matched comparison (where every prompt holds every entity it is absent).",
            "",
            "| dataset | " + " | ".join(prompts) + " |",
            "|---|" + "---|" * len(prompts),
        ]
        for r in results:
            cells = [_f(r.prompts[p].r2) if p in r.prompts else "—" for p in prompts]
            lines.append(f"| {_title(r.name)} | " + " | ".join(cells) + " |")

    curves = [r for r in results if r.main.learning_curve]
    if curves:
        lines += [
            "",
            "### Learning curves at matched n (probe and controls on the same nested train subsamples)",
            "",
            "| dataset | train sizes | probe R² | surface R² | random weights R² | probe − surface at full n "
            "(stays above from n) | probe − random weights at its largest n (that n; stays above from n) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in curves:
            points, crossings = r.main.learning_curve, r.main.learning_curve_crossings
            series = [" / ".join(_f(getattr(p, key), 2) for p in points)
                      for key in ("r2", "surface_r2", "random_weights_r2")]
            largest_random = max((p.n_train for p in points if p.random_weights_r2 is not None), default=None)
            cells = [f"{_f(c.diff_at_full_n)} ({'' if n is None else f'n = {n:,}; '}"
                     f"{'none' if c.stays_above_from is None else f'{c.stays_above_from:,}'})"
                     for c, n in ((crossings["surface"], None), (crossings["random_weights"], largest_random))]
            lines.append(f"| {_title(r.name)} | {' / '.join(f'{p.n_train:,}' for p in points)} | "
                         + " | ".join(series + cells) + " |")
        lines += [
            "",
            "\"Stays above from n\": the smallest train size from which the probe's test R² exceeds the control's at "
            "every larger size (point estimates; none: below at full n).",
        ]

    if any(r.main.holdout for r in results):
        lines += [
            "",
            "### Generalization: mean proximity error, random split → held out (lower is better, chance ≈ 0.5)",
            "",
            "Both probes train on as many entities: the random-split reference on a seeded random subset of the "
            "train split of the held-out probe's size. The paper's held-out probe also trained on the test "
            "entities of every other group (see Generalization above), and its code swapped latitude and "
            "longitude in the proximity error of " + " and ".join(_title(n) for n in PAPER_SWAPPED_LAT_LON) + ".",
            "",
            "| dataset | block held out | entity type held out | entity type, the paper's groups | paper 70b, block |",
            "|---|---|---|---|---|",
        ]
        for r in results:
            h = r.main.holdout or {}
            cells = [f"{_f(h[k].default)} → {_f(h[k].heldout)}" if k in h else "—"
                     for k in ("block", "entity_type", "entity_type_paper")]
            paper = PAPER_HOLDOUT_70B.get(r.name)
            cells.append(SWAPPED if r.name in PAPER_SWAPPED_LAT_LON else
                         f"{paper[0]:.3f} → {paper[1]:.3f}" if paper else "—")
            lines.append(f"| {_title(r.name)} | " + " | ".join(cells) + " |")

    lines += [
        "",
        "### Deviations from the paper",
        "",
        f"- **Model**: {models}, far smaller than Llama-2-7b/13b/70b; the paper found R² grows with size, so lower "
        "numbers here are expected, and the controls, not the paper's figures, are the yardstick.",
        "- **Best layer**: chosen on the train split for the probe and the random-weights control alike, so no "
        "test number takes part in the choice; the paper reports a fixed layer per model. "
        + "; ".join(f"{', '.join(names)}: {criterion}" for criterion, names in by_criterion.items()) + ".",
    ]
    lines += [f"- **{_title(r.name)}**: {text}." for r in results if (text := deviation(root, r.name))]
    lines += ["", *model_axis_lines(load_axes(root, [r.name for r in results]))]
    if figures:
        lines += ["", "### Figures", ""]
        lines += [f"![{Path(f).stem}]({f})" for f in figures]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the stage

SUMMARY_PATH = Path("metrics/spacetime/summary.json")
FIGURES_DIR = Path("plots/figures")
MODEL_AXIS_DIR = Path("metrics/models")
MODEL_AXIS_FIGURE = "models.png"
SERIES_DIR = Path("plots/spacetime")
# predictions.csv is rounded when written; a larger gap means it comes from another run than the metrics
R2_CONSISTENCY_TOLERANCE = 1e-3


def load_dataset(root: Path, dataset: str) -> DatasetResult:
    """Read one dataset's probe and generalization metrics and its best-layer test predictions."""
    probes_path = root / "metrics" / "probes" / f"{dataset}.json"
    generalization_path = root / "metrics" / "generalization" / f"{dataset}.json"
    probes, generalization = ProbeMetrics.load(probes_path), GeneralizationMetrics.load(generalization_path)
    curve_path = root / "metrics" / "learning_curve" / f"{dataset}.json"
    curve = LearningCurve.load(curve_path)
    if (curve.n_train_split, curve.n_test) != (probes.n_train, probes.n_test):
        raise OutputError(f"{curve_path}: {curve.n_train_split} / {curve.n_test} train / test entities, {probes_path} "
                          f"{probes.n_train} / {probes.n_test}: rerun the learning_curve stage")
    incremental_path = root / "metrics" / "incremental" / f"{dataset}.json"
    incremental = IncrementalMetrics.load(incremental_path)
    if incremental.n_test != probes.n_test:
        raise OutputError(f"{incremental_path}: {incremental.n_test} test entities, {probes_path} {probes.n_test}: "
                          "rerun the incremental stage")
    predictions_path = root / "plots" / "probes" / dataset / "predictions.csv"
    predictions = read_predictions(predictions_path, probes.kind)
    best = probes.headline.best.r2
    recomputed = place_or_time_r2(predictions, probes.kind)
    if best is None or abs(recomputed - best) > R2_CONSISTENCY_TOLERANCE:
        raise OutputError(
            f"{predictions_path}: test R² {recomputed:.4f} differs from {probes_path} best.r2 {_f(best, 4)}; "
            "the two files come from different runs (rerun the probes stage)"
        )
    return DatasetResult(
        name=dataset,
        kind=probes.kind,
        target_note=probes.target_note,
        n_train=probes.n_train,
        n_test=probes.n_test,
        model=probes.main.model_tag,
        main_prompt=probes.main.prompt,
        criterion=probes.best_layer_criterion,
        summary=summarize_dataset(probes, generalization, curve, incremental),
        validity=probes.validity,
        depth=depth_series(probes),
        pca=pca_series(generalization),
        predictions=predictions,
    )


def figure_names(results: list[DatasetResult], model_axis: bool = False) -> list[str]:
    """The PNG figures of :data:`FIGURES_DIR`: R² by depth, a map or a year scatter per dataset, and R²
    against model size where the model axis was measured."""
    return ["r2_by_depth.png", *(f"map_{r.name}.png" if r.kind == "place" else f"years_{r.name}.png" for r in results),
            *([MODEL_AXIS_FIGURE] if model_axis else [])]


def build_report(datasets: Sequence[str], shapes_dir: Path, root: Path = Path(".")) -> None:
    """Write the summary metrics, the tables for ``dvc plots`` and the PNG figures."""
    if not datasets:
        raise OutputError("no datasets to report on (data.datasets in params.yaml is empty)")
    results = [load_dataset(root, dataset) for dataset in datasets]
    SpacetimeSummary({r.name: r.summary for r in results}).save(root / SUMMARY_PATH)
    axis = model_axis_table(load_axes(root, datasets))

    with atomic_path(root / SERIES_DIR, directory=True) as series_dir:
        for r in results:
            write_csv(r.depth, series_dir / r.name / "depth.csv")
        pca = pd.DataFrame({r.name: r.pca for r in results})
        write_csv(pca.rename_axis("k").reset_index(), series_dir / "pca.csv")
        probe_kinds = [(f"{r.name} {label}", getattr(r.main, key)) for r in results
                       for label, key in (("linear", "r2"), ("MLP", "mlp_r2"))]
        write_csv(bar_table(probe_kinds, "r2"), series_dir / "probe_kinds.csv")
        prompts = [(f"{r.name} {p}", r.prompts[p].r2) for r in results for p in r.prompts]
        write_csv(bar_table(prompts, "r2"), series_dir / "prompts.csv")
        holdout = [
            (f"{r.name} {kind}: {split}", value)
            for r in results
            for kind, means in (r.main.holdout or {}).items()
            for split, value in (("random split", means.default), ("held out", means.heldout))
        ]
        write_csv(bar_table(holdout, "prox_error"), series_dir / "holdout.csv")
        if len(axis):
            write_csv(axis, series_dir / "models.csv")

    with atomic_path(root / FIGURES_DIR, directory=True) as figures_dir:
        depth_figure, *dataset_figures = figure_names(results)
        if len(axis):
            plots.model_axis_grid(axis, {ds: _title(ds) for ds in datasets}, figures_dir / MODEL_AXIS_FIGURE)
        plots.depth_grid({r.name: r.depth for r in results}, ", ".join(sorted({r.model for r in results})),
                         figures_dir / depth_figure)
        for r, name in zip(results, dataset_figures):
            m = r.main
            title = (
                f"{_title(r.name)}: {r.model}, layer {_layer(m)}, prompt {r.main_prompt!r}, "
                f"test R² {m.r2:.3f} (n = {len(r.predictions):,})"
            )
            if r.kind == "place":
                plots.place_map(r.predictions, plots.outline_for(r.name), shapes_dir, title, figures_dir / name)
            else:
                plots.year_scatter(r.predictions, title, figures_dir / name)
