"""The space-and-time summary of one dataset: per trained model and prompt, the best layer's test
numbers beside each control on the same split; for the headline run, the probes stage's validity
checks (:class:`~worldprobe.spacetime.outputs.Validity`): the bootstrap interval of its R², the paired
probe - control differences, the group reference and the within-block metrics.

A probe "beats" a control when the paired 95 % interval of probe R² minus control R² on the same
test entities lies above 0, and "adds to" it when the paired interval of what its predictions add to the
control's lies above 0 (:mod:`worldprobe.spacetime.incremental`; :mod:`worldprobe.spacetime.verdicts`
words both); the resamples draw whole split groups where the split holds groups out
(:mod:`worldprobe.spacetime.validity`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..records import PLACE_TARGETS, TIME_TARGETS
from ..stats import r2
from .outputs import (
    GeneralizationMetrics,
    HoldoutMeans,
    IncrementalMetrics,
    LearningCurve,
    OutputError,
    ProbeMetrics,
    RunRecord,
    SummaryControls,
    SummaryCurvePoint,
    SummaryEntry,
    SummaryMLP,
    Validity,
)

TARGETS = {"place": PLACE_TARGETS, "time": TIME_TARGETS}


# --------------------------------------------------------------------------- predictions


def place_or_time_r2(frame: pd.DataFrame, kind: str) -> float:
    """Test R² as the probes define it: for places, the mean of the longitude and latitude R²."""
    return r2(frame[list(TARGETS[kind])].to_numpy(), frame[[f"pred_{t}" for t in TARGETS[kind]]].to_numpy())


def read_predictions(path: str | Path, kind: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise OutputError(f"{path}: no such predictions file (written by the probes stage)")
    frame = pd.read_csv(path)
    needed = [c for t in TARGETS[kind] for c in (t, f"pred_{t}")]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise OutputError(f"{path}: missing column(s) {', '.join(missing)} for a {kind} dataset")
    bad = frame[needed].isna().any(axis=1)
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad)[:5])  # +2: header line, 1-based
        raise OutputError(f"{path}: {int(bad.sum())} row(s) with an empty target or prediction (lines {rows})")
    if len(frame) < 2:
        raise OutputError(f"{path}: R² needs at least 2 test entities, got {len(frame)}")
    return frame


# --------------------------------------------------------------------------- summary


def summarize_dataset(
    probes: ProbeMetrics, generalization: GeneralizationMetrics | None = None, curve: LearningCurve | None = None,
    incremental: IncrementalMetrics | None = None,
) -> dict[str, dict[str, SummaryEntry]]:
    """``{model: {prompt: entry}}`` for every trained model and prompt.

    ``n_layers`` counts layer 0 (the embeddings), as the probes stage does; the best layer is its
    choice (``best_layer_criterion``). Controls are test R² on the same split: ``surface`` the TF-IDF
    probe on the entity string, ``layer0`` the same run's embedding layer at the prompt's last token,
    ``layer0_token_mean`` the embeddings averaged over the entity's own tokens in the headline prompt
    (like ``surface``, one per dataset; ``None`` where not run), ``random_weights`` the
    best layer of the same architecture with random weights and the same prompt (``None`` where that
    was not run). The headline run also gets, where given, ``mlp_r2``, ``mlp``, ``best_layer_share``,
    ``sphere`` and ``holdout`` from the generalization stage; from the probes stage's validity checks ``r2_ci_low``/``r2_ci_high``,
    ``beats`` (paired probe - control R²), ``r2_beyond_group`` (places),
    ``within_block_spearman``/``within_block_r2`` (per predictor) and ``eras`` (where scored); from the
    incremental stage ``adds``, ``within_block_beats`` and ``block`` (places); and,
    from the learning-curve stage (when it probed this run), ``learning_curve`` and
    ``learning_curve_crossings``.
    """
    surface = probes.controls.surface.r2
    token_mean = probes.controls.layer0_token_mean
    headline = (probes.main.model_tag, probes.main.prompt)
    summary: dict[str, dict[str, SummaryEntry]] = {}
    for model in probes.real_models():
        summary[model] = {}
        for prompt, run in probes.runs[model].items():
            random_run = probes.runs.get(f"{model}~random_weights", {}).get(prompt)
            extra = {}
            if (model, prompt) == headline and generalization is not None:
                extra.update(_generalization_fields(generalization))
                extra["holdout"] = {k: HoldoutMeans(default=d, heldout=h) for k, (d, h) in generalization.holdout_means().items()}
            if (model, prompt) == headline:
                extra.update(_validity_fields(probes.validity))
                if incremental is not None:
                    extra.update(adds=incremental.adds, within_block_beats=incremental.within_block_spearman)
                    if incremental.block is not None:
                        extra["block"] = incremental.block
            if curve is not None and (curve.model_tag, curve.prompt) == (model, prompt):
                keys = set(SummaryCurvePoint.model_fields)
                extra["learning_curve"] = [SummaryCurvePoint(**p.model_dump(include=keys)) for p in curve.points]
                extra["learning_curve_crossings"] = curve.crossings
            summary[model][prompt] = SummaryEntry(
                best_layer=run.best_layer,
                n_layers=run.n_layers,
                rel_depth=run.best.rel_depth,
                r2=run.best.r2,
                spearman=run.best.spearman,
                prox_error=run.best.prox_error,
                controls=SummaryControls(
                    surface=surface, layer0=run.r2_at(0), layer0_token_mean=None if token_mean is None else token_mean.r2,
                    random_weights=None if random_run is None else random_run.best.r2,
                ),
                **extra,
            )
    return summary


def _generalization_fields(g: GeneralizationMetrics) -> dict:
    m = g.mlp_vs_linear
    fields = {
        "mlp_r2": m.mlp.r2_mean,
        "mlp": SummaryMLP(seeds=len(m.mlp.seeds), r2_sd=m.mlp.r2_sd, validation=m.validation,
                          minus_linear=m.mlp_minus_linear, control=m.control, control_features=m.control_mlp.features,
                          control_r2=m.control_mlp.r2_mean,
                          minus_control=m.mlp_minus_control_mlp),
        "best_layer_share": g.layer_stability.best_layer_share,
        "sphere": None if g.sphere is None else g.sphere.prox_error_minus_latlon,
    }
    return {k: value for k, value in fields.items() if value is not None}


def _validity_fields(v: Validity) -> dict:
    fields = {"r2_ci_low": v.r2_ci_low, "r2_ci_high": v.r2_ci_high, "beats": v.verdicts,
              "within_block_spearman": v.within_block.spearman, "within_block_r2": v.within_block.r2}
    optional = {"r2_beyond_group": v.r2_beyond_group, "eras": v.eras,
                "within_block_spearman_ci_low": v.within_block.probe_spearman_ci_low,
                "within_block_spearman_ci_high": v.within_block.probe_spearman_ci_high}
    return fields | {k: value for k, value in optional.items() if value is not None}


def pca_series(generalization: GeneralizationMetrics) -> pd.Series:
    """Test R² against the number of principal components (the ``full`` point is left out of the curve)."""
    return pd.Series({p.k: p.r2 for p in generalization.pca.curve if p.k != "full"}, dtype=float).sort_index()


# --------------------------------------------------------------------------- tables for dvc plots


def depth_series(probes: ProbeMetrics) -> pd.DataFrame:
    """Test R² per layer of the headline model, one column per curve, for DVC's ``linear`` template.

    Columns: ``layer, rel_depth``, the headline prompt, the other prompts, then the controls, which
    are always present (empty where not measured) so that the plot definitions in dvc.yaml hold:
    ``random_weights`` (same prompt, per layer), and ``surface``, ``layer0`` and ``layer0_token_mean``
    as flat lines.
    """
    model, main_prompt = probes.main.model_tag, probes.main.prompt

    def curve(run: RunRecord) -> pd.DataFrame:
        rows = [(r.layer, r.rel_depth, r.r2) for r in run.layers]
        return pd.DataFrame(rows, columns=["layer", "rel_depth", "r2"]).set_index("layer")

    main = curve(probes.headline)
    frame = main[["rel_depth"]].copy()
    for prompt in sorted(probes.runs[model], key=lambda p: (p != main_prompt, p)):
        frame[prompt] = curve(probes.runs[model][prompt])["r2"]
    random_run = probes.runs.get(f"{model}~random_weights", {}).get(main_prompt)
    frame["random_weights"] = curve(random_run)["r2"] if random_run is not None else None
    frame["surface"] = probes.controls.surface.r2
    frame["layer0"] = main["r2"].get(0)
    token_mean = probes.controls.layer0_token_mean
    frame["layer0_token_mean"] = None if token_mean is None else token_mean.r2
    return frame.reset_index()


def bar_table(rows: Iterable[tuple[str, float | None]], value: str) -> pd.DataFrame:
    """A ``label, value`` table for DVC's ``bar_horizontal`` template (undefined values dropped)."""
    return pd.DataFrame([(label, v) for label, v in rows if v is not None], columns=["label", value])
