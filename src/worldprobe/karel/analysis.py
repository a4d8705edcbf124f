"""Semantic content per probe set and checkpoint as typed metrics, and whether generation accuracy
tracks it.

:class:`SemanticsSummary` (``metrics/karel/semantics.json``) holds, per probe set (``generated``,
``teacher_forced``) and checkpoint, every probe's test accuracy per frame, feature set, semantics and
offset beside the baselines, the text-only nulls and the paired tests against them (does the probe
*beat* the text; does its intervention gap exceed the text's), the initial-facing probes, the
composed score and the three controls; then the intervention gaps at the untrained and final
checkpoint. MLP scores that are no upper bound of the linear probe are left out, and counted.

:class:`RegressionSummary` (``metrics/karel/regression.json``): per probe set, frame, feature set,
probe, target and offset, generation accuracy (test, spec examples) regressed on the probe's test
accuracy across checkpoints (``scipy.stats.linregress``), and on its margin over the best
*text-only* score of that checkpoint (majority, initial facing, prefix lookup and the linear probes
of the text features: everything that needs no hidden state; the oracle baselines, which read the
label's own trajectory, are left out), once over every checkpoint and once over the trained ones
(the untrained checkpoint alone can make a slope). Each slope carries a moving-block bootstrap interval
over checkpoints (from MIN_INTERVAL_POINTS of them; below, no interval and no verdict): consecutive
checkpoints share most of their weights, so their scores are not independent draws, and resampling them
one by one would give too narrow an interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import linregress

from ..io import Output
from ..stats import interval_sign, percentile_interval
from .content import BASELINES, CONTROLS, NULLS, ORACLES, SYNTAX, TEXT_ONLY, IntKey
from .probes import PROBE_KINDS

KEYS = ["probe_set", "step", "frame", "semantics", "offset"]  # one test set of labels: probes and nulls alike
PAPER_R2 = {0: 0.968, 1: 0.919, 2: 0.900}  # Jin & Rinard: accuracy on semantic content (current, +1, +2)
REGRESSED = ("facing", "composed", "initial_0")
MIN_INTERVAL_POINTS = 10  # fewer checkpoints give a degenerate bootstrap of the slope: no interval, no verdict
TEXT_SCORES = (*[b for b in BASELINES if b not in ORACLES], *NULLS)  # every score that needs no hidden state

Score = float | None


class PairedTest(Output):
    """A paired difference on the same test rows, clusters (test programs) resampled."""

    diff: Score
    ci_low: Score
    ci_high: Score
    verdict: str  # stats.Sign: "above 0", "below 0", "not established"
    n_test: int


class FrameContent(Output):
    probes: dict[str, dict[str, dict[str, dict[IntKey, Score]]]]  # feature -> probe -> semantics -> offset
    nulls: dict[str, dict[str, dict[IntKey, Score]]]  # text feature (tokens, counts) -> semantics -> offset
    baselines: dict[str, dict[str, dict[IntKey, Score]]]  # semantics -> baseline -> offset
    beats: dict[str, dict[str, dict[IntKey, PairedTest]]]  # feature -> text-only null -> offset: probe - null
    # feature -> alternative -> null -> offset: (original - alternative) of the probe minus the null's
    intervention: dict[str, dict[str, dict[str, dict[IntKey, PairedTest]]]]


class CheckpointContent(Output):
    step: int
    n_probe_train_rows: int  # probe-train rows used (capped at max_train_rows)
    n_probe_train_specs: int
    n_probe_test_rows: int
    linear_converged: float  # fraction of the linear fits (every C of the grid) that met their tolerance
    mlp_converged: float | None  # fraction of the kept MLP fits stopped by the val plateau (None: none here)
    mlp_invalid: int  # MLP fits left out: below the linear probe on val, so no upper bound (content._upper_bound)
    frames: dict[str, FrameContent]
    initial: dict[str, dict[str, dict[IntKey, Score]]]  # feature -> probe -> spec input -> facing accuracy
    initial_majority: dict[IntKey, Score]
    composed: dict[str, dict[str, dict[IntKey, Score]]]  # feature -> probe -> offset
    controls: dict[str, dict[str, dict[str, Score]]]  # control -> feature -> probe
    controls_majority: dict[str, Score]


class Gap(Output):
    untrained: Score
    final: Score


class SemanticsSummary(Output):
    profile: str
    alt_semantics: list[str]
    offsets: list[int]
    first_step: int
    final_step: int
    text_only: list[str]  # the nulls the paired tests compare with
    oracles: list[str]  # baselines that read the label's own trajectory (never a bar to clear)
    probe_sets: dict[str, dict[IntKey, CheckpointContent]]
    # probe set -> frame -> feature -> probe -> alternative -> offset: original minus alternative accuracy
    intervention: dict[str, dict[str, dict[str, dict[str, dict[str, dict[IntKey, Gap]]]]]]


def _score(x) -> Score:
    return None if x is None or pd.isna(x) else float(x)


def _nested(frame: pd.DataFrame, levels: list[str], leaf=lambda g: _score(g["accuracy"].iloc[0])) -> dict:
    """``leaf`` of each group as nested dicts keyed by the values of ``levels``, in that order."""
    if not levels:
        return leaf(frame)
    return {(int(k) if levels[0] in ("offset", "input") else k): _nested(g, levels[1:], leaf)
            for k, g in frame.groupby(levels[0], sort=True)}


def _test(g: pd.DataFrame) -> PairedTest:
    r = g.iloc[0]
    return PairedTest(diff=_score(r["diff"]), ci_low=_score(r["ci_low"]), ci_high=_score(r["ci_high"]),
                      verdict=r["verdict"], n_test=int(r["n_test"]))


def invalid_mlp(table: pd.DataFrame) -> pd.Series:
    """Rows of MLP scores that are no upper bound of the linear probe (``content._upper_bound``)."""
    return (table["probe"] == "mlp") & (table["valid"].astype(str) == "False")


def _checkpoint(step: int, at: pd.DataFrame, tests: pd.DataFrame, sizes: dict[str, int]) -> CheckpointContent:
    mlp_invalid = int(invalid_mlp(at).sum())
    at = at[~invalid_mlp(at)]
    probes = at[at["probe"].isin(PROBE_KINDS)]
    base = at[at["probe"].isin(BASELINES)]
    nulls = at[at["probe"] == SYNTAX]
    facing = probes[probes["target"] == "facing"]
    frames = {}
    for frame in sorted(facing["frame"].unique()):
        t = tests[tests["frame"] == frame]
        beats, swapped = t[t["test"] == "beats"], t[t["test"] == "intervention"]
        frames[frame] = FrameContent(
            probes=_nested(facing[facing["frame"] == frame], ["feature", "probe", "semantics", "offset"]),
            nulls=_nested(nulls[nulls["frame"] == frame], ["feature", "semantics", "offset"]),
            baselines=_nested(base[(base["frame"] == frame) & (base["target"] == "facing")],
                              ["semantics", "probe", "offset"]),
            beats=_nested(beats, ["feature", "null", "offset"], _test),
            intervention=_nested(swapped, ["feature", "semantics", "null", "offset"], _test))
    as_input = lambda d: d.assign(input=d["target"].str.removeprefix("initial_").astype(int))  # noqa: E731
    initial = as_input(probes[probes["target"].str.startswith("initial_")])
    initial_base = as_input(base[base["target"].str.startswith("initial_")])
    # the composed score adds two predictions: no fit, no convergence (NaN), so it is no fit to count
    fits = probes[probes["converged"].notna()]
    linear, mlp = fits[fits["probe"] == "linear"], fits[fits["probe"] == "mlp"]
    controls = at[at["target"].isin(CONTROLS)]
    return CheckpointContent(
        step=step, **sizes,
        linear_converged=float(linear["converged"].astype(bool).mean()),
        mlp_converged=float(mlp["converged"].astype(bool).mean()) if len(mlp) else None, mlp_invalid=mlp_invalid,
        frames=frames, initial=_nested(initial, ["feature", "probe", "input"]),
        initial_majority=_nested(initial_base, ["input"]),
        composed=_nested(probes[probes["target"] == "composed"], ["feature", "probe", "offset"]),
        controls=_nested(controls[controls["probe"].isin(PROBE_KINDS)], ["target", "feature", "probe"]),
        controls_majority=_nested(controls[controls["probe"] == "majority"], ["target"]))


def _gaps(checkpoints: dict[int, CheckpointContent], alternatives: list[str]) -> dict:
    first, last = min(checkpoints), max(checkpoints)
    out: dict = {}
    for frame, content in checkpoints[last].frames.items():
        for feature, by_probe in content.probes.items():
            for probe, by_sem in by_probe.items():
                for alt in (a for a in alternatives if a in by_sem):
                    def gap(step: int, o: int) -> Score:
                        got = checkpoints[step].frames[frame].probes.get(feature, {}).get(probe, {})
                        orig, other = got.get("original", {}).get(o), got.get(alt, {}).get(o)
                        return None if orig is None or other is None else orig - other
                    out.setdefault(frame, {}).setdefault(feature, {}).setdefault(probe, {})[alt] = {
                        o: Gap(untrained=gap(first, o), final=gap(last, o)) for o in by_sem[alt]}
    return out


def summarize(table: pd.DataFrame, tests: pd.DataFrame, profile: str, alternatives: list[str],
              sizes: dict[int, dict[str, dict[str, int]]]) -> SemanticsSummary:
    """``table``/``tests``: the rows and paired tests of :func:`content.probe_step` (``step`` and
    ``probe_set`` columns); ``sizes``: per step and probe set, :func:`content.probe_set_sizes`."""
    probe_sets = {}
    for probe_set, rows in table.groupby("probe_set"):
        mine = tests[tests["probe_set"] == probe_set]
        probe_sets[probe_set] = {int(step): _checkpoint(int(step), at, mine[mine["step"] == step],
                                                        sizes[int(step)][probe_set])
                                 for step, at in rows.groupby("step")}
    steps = sorted({s for c in probe_sets.values() for s in c})
    offsets = sorted({int(o) for o in table["offset"].dropna().unique()})
    return SemanticsSummary(profile=profile, alt_semantics=alternatives, offsets=offsets, first_step=steps[0],
                            final_step=steps[-1], text_only=list(TEXT_ONLY), oracles=list(ORACLES),
                            probe_sets=probe_sets,
                            intervention={n: _gaps(c, alternatives) for n, c in probe_sets.items()})


# --------------------------------------------------------------------------- accuracy on content


class Fit(Output):
    n: int
    r2: Score
    p: Score
    slope: Score
    intercept: Score
    slope_low: Score  # 95 % moving-block bootstrap interval of the slope (blocks of consecutive checkpoints)
    slope_high: Score
    verdict: str  # stats.Sign of the slope's interval


class Regression(Output):
    probe_set: str
    frame: str
    feature: str
    probe: str
    target: str
    offset: int | None
    steps: str  # "all" checkpoints, or the "trained" ones (step 0 left out)
    content: Fit
    above_text: Fit  # content minus the best text-only score of the same checkpoint


class RegressionSummary(Output):
    paper_r2: dict[IntKey, float]  # by offset, for comparison
    text_scores: list[str]  # what "above_text" subtracts the best of
    fits: dict[str, Regression]  # "<probe_set>/<frame>/<feature>/<probe>/<target>/<offset>/<steps>"


def regression_key(probe_set: str, frame: str, feature: str, probe: str, target: str, offset: int | None,
                   steps: str = "all") -> str:
    return "/".join(str(k) for k in (probe_set, frame, feature, probe, target, offset, steps))


def best_text_score(table: pd.DataFrame) -> pd.DataFrame:
    """Per (probe set, step, frame, semantics, offset) of the facing target: the best score that needs
    no hidden state, and which it is."""
    scored = table["probe"].isin(TEXT_SCORES) | (table["probe"] == SYNTAX)
    text = table[scored & (table["target"] == "facing")].dropna(subset=["accuracy"])
    text = text.assign(which=text["feature"].where(text["probe"] == SYNTAX, text["probe"]))
    idx = text.groupby(KEYS)["accuracy"].idxmax()
    return text.loc[idx, [*KEYS, "which", "accuracy"]].rename(
        columns={"which": "best_text", "accuracy": "text_accuracy"})


def moving_blocks(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``n_boot`` moving-block bootstrap resamples of ``n`` points in order (Künsch 1989): blocks of
    ``round(n ** (1/3))`` (at least 2) consecutive points, starting anywhere, joined until ``n`` points."""
    length = max(2, round(n ** (1 / 3)))
    n_blocks = -(-n // length)
    starts = np.random.default_rng(seed).integers(0, n - length + 1, size=(n_boot, n_blocks))
    return (starts[:, :, None] + np.arange(length)).reshape(n_boot, -1)[:, :n]


def _fit(x: np.ndarray, y: np.ndarray, n_boot: int, seed: int) -> Fit:
    """The least-squares line of ``y`` on ``x``, points in checkpoint order."""
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Fit(n=int(len(x)), r2=None, p=None, slope=None, intercept=None, slope_low=None, slope_high=None,
                   verdict=interval_sign(np.nan, np.nan).value)
    fit = linregress(x, y)
    if len(x) < MIN_INTERVAL_POINTS:
        return Fit(n=int(len(x)), r2=float(fit.rvalue**2), p=float(fit.pvalue), slope=float(fit.slope),
                   intercept=float(fit.intercept), slope_low=None, slope_high=None,
                   verdict=interval_sign(np.nan, np.nan).value)
    draws = moving_blocks(len(x), n_boot, seed)
    slopes = [linregress(x[d], y[d]).slope for d in draws if np.ptp(x[d]) > 0]
    low, high = percentile_interval(np.array(slopes))
    return Fit(n=int(len(x)), r2=float(fit.rvalue**2), p=float(fit.pvalue), slope=float(fit.slope),
               intercept=float(fit.intercept), slope_low=_score(low), slope_high=_score(high),
               verdict=interval_sign(low, high).value)


def regressions(accuracy: pd.DataFrame, table: pd.DataFrame, n_boot: int, seed: int) -> RegressionSummary:
    """Fits of accuracy_spec on semantic content (original semantics), raw and above the best text-only
    score: the direct facing probes in both frames, the composed score (against the absolute facing's
    text scores) and the initial facing of input 0 (against its majority class)."""
    probes = table[(table["semantics"] == "original") & table["probe"].isin(PROBE_KINDS)
                   & table["target"].isin(REGRESSED) & ~invalid_mlp(table)]
    text = best_text_score(table)
    text = text[text["semantics"] == "original"].drop(columns=["semantics"])
    initial_base = table[(table["target"] == "initial_0") & (table["probe"] == "majority")][
        ["probe_set", "step", "accuracy"]].rename(columns={"accuracy": "text_accuracy"})
    fits = {}
    keys = ["probe_set", "frame", "feature", "probe", "target", "offset"]
    first = int(table["step"].min())
    for key, g in probes.groupby(keys, dropna=False):
        probe_set, frame, feature, probe, target, offset = key
        if target == "initial_0":
            g = g.merge(initial_base, on=["probe_set", "step"], how="left")
        else:
            # the composed score's rows are in the absolute frame: its text scores are the absolute facing's
            g = g.merge(text, on=["probe_set", "step", "frame", "offset"], how="left")
        g = g.merge(accuracy[["step", "accuracy_spec"]], on="step").sort_values("step")
        off = None if pd.isna(offset) else int(offset)
        for steps, rows in (("all", g), ("trained", g[g["step"] != first])):
            content, y = rows["accuracy"].to_numpy(float), rows["accuracy_spec"].to_numpy(float)
            fits[regression_key(probe_set, frame, feature, probe, target, off, steps)] = Regression(
                probe_set=probe_set, frame=frame, feature=feature, probe=probe, target=target, offset=off,
                steps=steps, content=_fit(content, y, n_boot, seed),
                above_text=_fit(content - rows["text_accuracy"].to_numpy(float), y, n_boot, seed))
    return RegressionSummary(paper_r2=PAPER_R2, text_scores=list(TEXT_SCORES), fits=fits)
