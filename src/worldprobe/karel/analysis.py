"""Semantic content per checkpoint as typed metrics, and whether generation accuracy tracks it.

:class:`SemanticsSummary` (``metrics/karel/semantics.json``) holds, per checkpoint, frame and feature
set, every probe's test accuracy per semantics and offset, the initial-facing probes, the composed
score, the positive control and every baseline, with the intervention gaps (original minus
alternative semantics) at the untrained and the final checkpoint.

:class:`RegressionSummary` (``metrics/karel/regression.json``): for every frame, feature set, probe,
target and offset, generation accuracy (test, spec examples) at each checkpoint is regressed on the
probe's test accuracy there (``scipy.stats.linregress``), and again on its margin over the best
trivial baseline of that checkpoint, since accuracy and a baseline such as "facing unchanged" can
rise together without the probe adding anything. The paper's R² are kept beside them.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BeforeValidator
from scipy.stats import linregress

from ..io import Output
from .content import BASELINES, CONTROL
from .probes import PROBE_KINDS

KEYS = ["step", "frame", "semantics", "offset"]  # one test set of labels: probes and baselines scored alike
PAPER_R2 = {0: 0.968, 1: 0.919, 2: 0.900}  # Jin & Rinard: accuracy on semantic content (current, +1, +2)
REGRESSED = ("facing", "composed", "initial_0")

Score = float | None


def _int_key(key: Any) -> Any:
    """JSON object keys are strings: an offset, spec input or step key reads back as the int it was
    written from (``Output.load`` validates strictly, which would refuse ``"0"`` for an int)."""
    return int(key) if isinstance(key, str) and key.lstrip("-").isdigit() else key


IntKey = Annotated[int, BeforeValidator(_int_key)]


class FrameContent(Output):
    probes: dict[str, dict[str, dict[str, dict[IntKey, Score]]]]  # feature -> probe -> semantics -> offset
    baselines: dict[str, dict[str, dict[IntKey, Score]]]  # semantics -> baseline -> offset


class CheckpointContent(Output):
    step: int
    n_probe_train_rows: int  # probe-train rows used: generated actions (each has an initial-facing label), capped
    n_probe_train_specs: int
    n_probe_test_rows: int
    linear_converged: float  # fraction of the linear fits (every C of the grid) that met their tolerance
    mlp_converged: float | None  # fraction of the MLP fits stopped by the val plateau (None: no MLP here)
    frames: dict[str, FrameContent]
    initial: dict[str, dict[str, dict[IntKey, Score]]]  # feature -> probe -> spec input -> facing accuracy
    initial_majority: dict[IntKey, Score]
    composed: dict[str, dict[str, dict[IntKey, Score]]]  # feature -> probe -> offset
    control: dict[str, dict[str, Score]]  # feature -> probe
    control_majority: Score


class Gap(Output):
    untrained: Score
    final: Score


class SemanticsSummary(Output):
    profile: str
    alt_semantics: list[str]
    offsets: list[int]
    first_step: int
    final_step: int
    checkpoints: dict[IntKey, CheckpointContent]
    # frame -> feature -> probe -> alternative -> offset: original minus alternative accuracy
    intervention: dict[str, dict[str, dict[str, dict[str, dict[IntKey, Gap]]]]]


def _score(x) -> Score:
    return None if x is None or pd.isna(x) else float(x)


def _nested(frame: pd.DataFrame, levels: list[str]) -> dict:
    """``accuracy`` as nested dicts keyed by the values of ``levels``, in that order."""
    if not levels:
        return _score(frame["accuracy"].iloc[0])
    return {(int(k) if levels[0] in ("offset", "input") else k): _nested(g, levels[1:])
            for k, g in frame.groupby(levels[0], sort=True)}


def summarize(table: pd.DataFrame, profile: str, alternatives: list[str],
              sizes: dict[int, dict[str, int]]) -> SemanticsSummary:
    """``table``: the rows of :func:`content.probe_checkpoint` with a ``step`` column; ``sizes``: per
    step, ``n_probe_train_rows``, ``n_probe_train_specs`` and ``n_probe_test_rows``."""
    checkpoints = {}
    for step, at in table.groupby("step"):
        probes = at[at["probe"].isin(PROBE_KINDS)]
        base = at[at["probe"].isin(BASELINES)]
        facing = probes[probes["target"] == "facing"]
        frames = {frame: FrameContent(probes=_nested(facing[facing["frame"] == frame],
                                                     ["feature", "probe", "semantics", "offset"]),
                                      baselines=_nested(base[(base["frame"] == frame) & (base["target"] == "facing")],
                                                        ["semantics", "probe", "offset"]))
                  for frame in sorted(facing["frame"].unique())}
        initial = probes[probes["target"].str.startswith("initial_")].assign(
            input=lambda d: d["target"].str.removeprefix("initial_").astype(int))
        initial_base = base[base["target"].str.startswith("initial_")].assign(
            input=lambda d: d["target"].str.removeprefix("initial_").astype(int))
        control = probes[probes["target"] == CONTROL]
        # the composed score adds two predictions: no fit, no convergence (NaN), so it is no fit to count
        fits = probes[probes["converged"].notna()]
        linear, mlp = fits[fits["probe"] == "linear"], fits[fits["probe"] == "mlp"]
        checkpoints[int(step)] = CheckpointContent(
            step=int(step), **sizes[int(step)],
            linear_converged=float(linear["converged"].astype(bool).mean()),
            mlp_converged=float(mlp["converged"].astype(bool).mean()) if len(mlp) else None,
            frames=frames, initial=_nested(initial, ["feature", "probe", "input"]),
            initial_majority=_nested(initial_base, ["input"]),
            composed=_nested(probes[probes["target"] == "composed"], ["feature", "probe", "offset"]),
            control=_nested(control, ["feature", "probe"]),
            control_majority=_score(base[base["target"] == CONTROL]["accuracy"].iloc[0]),
        )
    first, last = min(checkpoints), max(checkpoints)
    intervention: dict = {}
    for frame, content in checkpoints[last].frames.items():
        for feature, by_probe in content.probes.items():
            for probe, by_sem in by_probe.items():
                for alt in alternatives:
                    if alt not in by_sem:
                        continue
                    def gap(step: int, o: int) -> Score:
                        got = checkpoints[step].frames[frame].probes.get(feature, {}).get(probe, {})
                        orig, other = got.get("original", {}).get(o), got.get(alt, {}).get(o)
                        return None if orig is None or other is None else orig - other
                    intervention.setdefault(frame, {}).setdefault(feature, {}).setdefault(probe, {})[alt] = {
                        o: Gap(untrained=gap(first, o), final=gap(last, o)) for o in by_sem[alt]}
    offsets = sorted({int(o) for o in table["offset"].dropna().unique()})
    return SemanticsSummary(profile=profile, alt_semantics=alternatives, offsets=offsets, first_step=first,
                            final_step=last, checkpoints=checkpoints, intervention=intervention)


class Fit(Output):
    n: int
    r2: Score
    p: Score
    slope: Score
    intercept: Score


class Regression(Output):
    frame: str
    feature: str
    probe: str
    target: str
    offset: int | None
    content: Fit
    above_baseline: Fit


class RegressionSummary(Output):
    paper_r2: dict[IntKey, float]  # by offset, for comparison
    fits: dict[str, Regression]  # "<frame>/<feature>/<probe>/<target>/<offset>"


def best_baseline(table: pd.DataFrame) -> pd.DataFrame:
    """Per (step, frame, semantics, offset) of the facing target: the highest baseline accuracy and which it is."""
    base = table[table["probe"].isin(BASELINES) & (table["target"] == "facing")].dropna(subset=["accuracy"])
    idx = base.groupby(KEYS)["accuracy"].idxmax()
    return base.loc[idx, [*KEYS, "probe", "accuracy"]].rename(
        columns={"probe": "best_baseline", "accuracy": "baseline_accuracy"})


def _fit(x: np.ndarray, y: np.ndarray) -> Fit:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Fit(n=int(len(x)), r2=None, p=None, slope=None, intercept=None)
    fit = linregress(x, y)
    return Fit(n=int(len(x)), r2=float(fit.rvalue**2), p=float(fit.pvalue), slope=float(fit.slope),
               intercept=float(fit.intercept))


def regressions(accuracy: pd.DataFrame, table: pd.DataFrame) -> RegressionSummary:
    """Fits of accuracy_spec on semantic content (original semantics), raw and above the best baseline:
    the direct facing probes in both frames, the composed score (its baseline: the absolute facing's)
    and the initial facing of input 0 (its baseline: the majority class)."""
    probes = table[(table["semantics"] == "original") & table["probe"].isin(PROBE_KINDS)
                   & table["target"].isin(REGRESSED)]
    facing_base = best_baseline(table)
    initial_base = table[(table["target"] == "initial_0") & (table["probe"] == "majority")][["step", "accuracy"]].rename(
        columns={"accuracy": "baseline_accuracy"})
    fits = {}
    keys = ["frame", "feature", "probe", "target", "offset"]
    for key, g in probes.groupby(keys, dropna=False):
        frame, feature, probe, target, offset = key
        if target == "initial_0":
            g = g.merge(initial_base, on="step", how="left")
        else:
            g = g.merge(facing_base.drop(columns=["semantics"])[facing_base["semantics"] == "original"],
                        on=["step", "frame", "offset"], how="left")
        g = g.merge(accuracy[["step", "accuracy_spec"]], on="step").sort_values("step")
        content = g["accuracy"].to_numpy(float)
        y = g["accuracy_spec"].to_numpy(float)
        off = None if pd.isna(offset) else int(offset)
        fits["/".join(str(k) for k in (frame, feature, probe, target, off))] = Regression(
            frame=frame, feature=feature, probe=probe, target=target, offset=off, content=_fit(content, y),
            above_baseline=_fit(content - g["baseline_accuracy"].to_numpy(float), y))
    return RegressionSummary(paper_r2=PAPER_R2, fits=fits)


def checkpoints_with_mlp(steps: list[int], every: int) -> list[int]:
    """Every ``every``-th checkpoint from the first, and always the last."""
    return sorted({*steps[::every], steps[-1]})
