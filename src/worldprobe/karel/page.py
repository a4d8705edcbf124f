"""The Karel section of the results page: synthesis accuracy, semantic content over training, and their regression.

Reads ``plots/karel/accuracy.csv`` and ``metrics/karel/synthesis.json`` (:class:`~.outputs.KarelSynthesis`:
its chance levels), ``plots/karel/semantics.csv`` (every probe and baseline at every checkpoint) and
``metrics/karel/regression.json`` (:class:`~.analysis.RegressionSummary`: generation accuracy regressed on
each probe's accuracy over the checkpoints, with the paper's R²).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..charts import Chart, PageInputs, Section, html_table, records
from .analysis import REGRESSED, RegressionSummary
from .content import BASELINES, CONTROL
from .outputs import KarelSynthesis
from .plots import FRAME_NAMES
from .probes import PROBE_KINDS

DEFAULT_FEATURE = "mean"  # the paper's probe input: the residual streams averaged over layers


def _offset_name(offset: float | None) -> str:
    if offset is None or pd.isna(offset):
        return "spec input 0"
    return {-1: "read (-1)", 0: "current (0)"}.get(int(offset), f"+{int(offset)}")


def _feature_pick(name: str, features: list[str]) -> dict[str, Any]:
    default = DEFAULT_FEATURE if DEFAULT_FEATURE in features else features[0]
    return {"name": name, "value": default, "bind": {"input": "select", "options": features, "name": "probe input "}}


def _features(semantics: pd.DataFrame) -> list[str]:
    found = list(dict.fromkeys(semantics["feature"].dropna()))
    return sorted(found, key=lambda f: (f != DEFAULT_FEATURE, f))


def _fully_analysed(semantics: pd.DataFrame) -> list[str]:
    """Probe inputs probed under the alternative semantics too; the per-layer ones are probed for content only,
    and the regression chart leaves them out (as the karel_report figures do) to keep the page small."""
    return _features(semantics[semantics["semantics"] != "original"])


def accuracy_chart(accuracy: pd.DataFrame, synthesis: KarelSynthesis | None) -> list[Chart]:
    """Synthesis accuracy on the test tasks at every checkpoint, beside the chance programs."""
    rows = accuracy.melt(id_vars="step", value_vars=["accuracy_spec", "accuracy_all"], var_name="series",
                         value_name="accuracy")
    rows["series"] = rows["series"].map({"accuracy_spec": "spec examples", "accuracy_all": "spec + held-out inputs"})
    chance = [] if synthesis is None else [
        {"series": f"best constant program ({' '.join(synthesis.chance.constant_program)})",
         "accuracy": synthesis.chance.constant_spec},
        {"series": "random program (training prior)", "accuracy": synthesis.chance.random_spec}]
    y = {"type": "quantitative", "title": "synthesis accuracy (test)", "scale": {"domain": [0, 1]}}
    colour = {"field": "series", "type": "nominal", "title": None}
    return [Chart("karel_accuracy", "Karel: synthesis accuracy over training",
                  "The share of test tasks whose generated program maps every spec input to its output (and also the "
                  "held-out inputs); dashed, the chance programs on the spec examples.", {
        "width": 560,
        "height": 300,
        "layer": [
            {"data": {"values": records(rows)}, "mark": {"type": "line", "point": True},
             "encoding": {"x": {"field": "step", "type": "quantitative", "title": "training step"},
                          "y": {"field": "accuracy", **y}, "color": colour,
                          "tooltip": [{"field": "series"}, {"field": "step"},
                                      {"field": "accuracy", "format": ".3f", "title": "accuracy"}]}},
            {"data": {"values": records(pd.DataFrame(chance))}, "mark": {"type": "rule", "strokeDash": [4, 4]},
             "encoding": {"y": {"field": "accuracy", **y}, "color": colour,
                          "tooltip": [{"field": "series"}, {"field": "accuracy", "format": ".3f", "title": "accuracy"}]}},
        ],
    })]


def content_chart(semantics: pd.DataFrame) -> list[Chart]:
    """Facing probes (original semantics) over training per frame and offset, with the composed score and baselines."""
    orig = semantics[(semantics["semantics"] == "original")]
    facing = orig[(orig["target"] == "facing") & orig["probe"].isin([*PROBE_KINDS, *BASELINES])]
    facing = facing.assign(series=np.where(facing["probe"].isin(PROBE_KINDS), "probe: " + facing["probe"],
                                           "baseline: " + facing["probe"]))
    composed = orig[orig["target"] == "composed"]
    composed = composed.assign(series="composed (initial + rotation): " + composed["probe"])
    rows = pd.concat([facing, composed], ignore_index=True).dropna(subset=["accuracy"])
    rows = rows.assign(frame=rows["frame"].map(FRAME_NAMES), offset=rows["offset"].map(_offset_name))
    rows = rows[["step", "frame", "offset", "feature", "series", "accuracy"]]
    tooltip = [{"field": "frame"}, {"field": "offset"}, {"field": "series"}, {"field": "feature", "title": "probe input"},
               {"field": "step"}, {"field": "accuracy", "format": ".3f"}]
    return [Chart("karel_content", "Karel: semantic content over training, against the baselines",
                  "Probe accuracy (test) of the robot's facing after each generated action under the original semantics, "
                  "per frame (the absolute facing, or the rotation since the input) and offset (-1: before the token "
                  "is read; +1, +2: the actions ahead). Baselines use no activations. Choose the probe input below the "
                  "chart; click a legend entry to highlight a series.", {
        "data": {"values": records(rows, sparse=True)},
        "params": [_feature_pick("karel_feature", _features(orig))],
        "transform": [{"filter": "!isValid(datum.feature) || datum.feature == karel_feature"}],
        "facet": {"row": {"field": "frame", "type": "nominal", "title": None},
                  "column": {"field": "offset", "type": "nominal", "title": None,
                             "sort": [_offset_name(o) for o in sorted(semantics["offset"].dropna().unique())]}},
        "spec": {
            "width": 200,
            "height": 160,
            "params": [{"name": "karel_pick", "select": {"type": "point", "fields": ["series"]}, "bind": "legend"}],
            "mark": {"type": "line", "point": {"size": 10}},
            "encoding": {
                "x": {"field": "step", "type": "quantitative", "title": "training step"},
                "y": {"field": "accuracy", "type": "quantitative", "title": "accuracy (test)", "scale": {"domain": [0, 1]}},
                "color": {"field": "series", "type": "nominal", "title": "click to highlight"},
                "opacity": {"condition": {"param": "karel_pick", "value": 1}, "value": 0.1},
                "tooltip": tooltip,
            },
        },
    })]


def control_chart(semantics: pd.DataFrame) -> list[Chart]:
    """The positive control and the initial facing of spec input 0 over training, each with its majority class."""
    orig = semantics[semantics["semantics"] == "original"]
    names = {CONTROL: "positive control", "initial_0": "initial facing, spec input 0"}
    rows = orig[orig["target"].isin(list(names)) & orig["probe"].isin([*PROBE_KINDS, "majority"])].dropna(subset=["accuracy"])
    if rows.empty:
        return []
    rows = rows.assign(panel=rows["target"].map(names),
                       series=np.where(rows["probe"] == "majority", "baseline: majority", "probe: " + rows["probe"]))
    rows = rows[["step", "panel", "feature", "series", "accuracy", "n_test"]]
    return [Chart("karel_control", "Karel: the positive control and the initial facing over training",
                  "The positive control is a label the activations hold by construction: a probe that cannot read it "
                  "is too weak, whatever it finds elsewhere. The initial facing of spec input 0 is the part of the "
                  "composed score that the program text alone does not give. Choose the probe input below the chart.", {
        "data": {"values": records(rows)},
        "params": [_feature_pick("karel_control_feature", _features(orig))],
        "transform": [{"filter": "!isValid(datum.feature) || datum.feature == karel_control_feature"}],
        "facet": {"column": {"field": "panel", "type": "nominal", "title": None}},
        "spec": {
            "width": 280,
            "height": 200,
            "mark": {"type": "line", "point": {"size": 14}},
            "encoding": {
                "x": {"field": "step", "type": "quantitative", "title": "training step"},
                "y": {"field": "accuracy", "type": "quantitative", "title": "accuracy (test)", "scale": {"domain": [0, 1]}},
                "color": {"field": "series", "type": "nominal", "title": None},
                "tooltip": [{"field": "panel"}, {"field": "series"}, {"field": "feature", "title": "probe input"},
                            {"field": "step"}, {"field": "accuracy", "format": ".3f"}, {"field": "n_test", "title": "test rows"}],
            },
        },
    })]


def _target_name(target: str, frame: str) -> str:
    names = {"composed": "composed (initial facing + rotation)", "initial_0": "initial facing, spec input 0"}
    return FRAME_NAMES[frame] if target == "facing" else names.get(target, target)


def regression_chart(accuracy: pd.DataFrame, semantics: pd.DataFrame, regression: RegressionSummary) -> list[Chart]:
    """Generation accuracy against each probe's accuracy, one dot per checkpoint, with the fitted lines."""
    probes = semantics[(semantics["semantics"] == "original") & semantics["probe"].isin(PROBE_KINDS)
                       & semantics["target"].isin(REGRESSED) & semantics["feature"].isin(_fully_analysed(semantics))]
    points = probes.merge(accuracy[["step", "accuracy_spec"]], on="step").dropna(subset=["accuracy"])
    points = points.assign(target=[_target_name(t, f) for t, f in zip(points["target"], points["frame"])],
                           offset=points["offset"].map(_offset_name))
    lines = []
    for name, fit in regression.fits.items():
        f = fit.content
        if f.r2 is None or fit.feature not in set(probes["feature"]):
            continue
        key = (points["frame"] == fit.frame) & (points["feature"] == fit.feature) & (points["probe"] == fit.probe)
        key &= points["target"] == _target_name(fit.target, fit.frame)
        key &= points["offset"] == _offset_name(fit.offset)
        xs = points.loc[key, "accuracy"]
        lines += [{"fit": name, "target": _target_name(fit.target, fit.frame), "feature": fit.feature, "probe": fit.probe,
                   "offset": _offset_name(fit.offset), "fit_x": x, "fit_y": f.intercept + f.slope * x, "r2": f.r2,
                   "p": f.p, "r2_above_baseline": fit.above_baseline.r2, "n": f.n, "paper_r2": regression.paper_r2.get(fit.offset)}
                  for x in (xs.min(), xs.max())]
    if not lines:
        return []
    points = points[["step", "target", "feature", "probe", "offset", "accuracy", "accuracy_spec"]]
    targets = list(dict.fromkeys(points["target"]))
    offsets = [_offset_name(o) for o in sorted(semantics["offset"].dropna().unique())] + [_offset_name(None)]
    colour = {"field": "probe", "type": "nominal", "sort": list(PROBE_KINDS)}
    fit_tooltip = [{"field": "target"}, {"field": "offset"}, {"field": "probe"}, {"field": "feature", "title": "probe input"},
                   {"field": "r2", "format": ".3f", "title": "R²"}, {"field": "p", "format": ".1e", "title": "p"},
                   {"field": "r2_above_baseline", "format": ".3f", "title": "R² on the margin over the best baseline"},
                   {"field": "paper_r2", "format": ".3f", "title": "paper's R² at this offset"},
                   {"field": "n", "title": "checkpoints"}]
    return [Chart("karel_regression", "Karel: generation accuracy against semantic content",
                  "One dot per checkpoint: the probe's test accuracy against the synthesis accuracy (spec examples), "
                  "with the least-squares line; hover a line for its R², its R² on the margin over the best trivial "
                  "baseline, and the paper's R². Choose the target and the probe input below the chart.", {
        "params": [
            {"name": "karel_target", "value": targets[0], "bind": {"input": "select", "options": targets, "name": "target "}},
            _feature_pick("karel_fit_feature", _features(probes)),
        ],
        "facet": {"column": {"field": "offset", "type": "nominal", "title": None, "sort": offsets}},
        "data": {"values": records(pd.concat([points, pd.DataFrame(lines)], ignore_index=True), sparse=True)},
        "transform": [{"filter": "datum.target == karel_target && datum.feature == karel_fit_feature"}],
        "spec": {
            "width": 200,
            "height": 200,
            "layer": [
                {"transform": [{"filter": "isValid(datum.step)"}],
                 "mark": {"type": "point", "filled": True, "size": 30},
                 "encoding": {"x": {"field": "accuracy", "type": "quantitative", "title": "semantic content (probe accuracy)",
                                    "scale": {"zero": False}},
                              "y": {"field": "accuracy_spec", "type": "quantitative", "title": "synthesis accuracy (test, spec)"},
                              "color": colour,
                              "tooltip": [{"field": "step"}, {"field": "probe"},
                                          {"field": "accuracy", "format": ".3f", "title": "probe accuracy"},
                                          {"field": "accuracy_spec", "format": ".3f", "title": "synthesis accuracy"}]}},
                {"transform": [{"filter": "isValid(datum.fit_x)"}],
                 "mark": {"type": "line", "strokeWidth": 2},
                 "encoding": {"x": {"field": "fit_x", "type": "quantitative"}, "y": {"field": "fit_y", "type": "quantitative"},
                              "color": colour, "detail": {"field": "probe"}, "tooltip": fit_tooltip}},
            ],
        },
    })]


def summary_table(synthesis: KarelSynthesis | None, regression: RegressionSummary | None) -> str:
    """The final synthesis accuracy beside chance, and the direct facing regressions beside the paper's R²."""
    parts = []
    if synthesis is not None:
        c = synthesis.chance
        parts.append(html_table(
            ["final step", "accuracy, spec", "accuracy, spec + held-out", "best step, spec", "constant program", "random program"],
            [[f"{synthesis.final_step:,}", f"{synthesis.final.accuracy_spec:.3f}", f"{synthesis.final.accuracy_all:.3f}",
              f"{synthesis.best_accuracy_spec:.3f}", f"{c.constant_spec:.3f} ({' '.join(c.constant_program)})",
              f"{c.random_spec:.3f}"]],
            f"Synthesis on {synthesis.n_tasks.get('synthesis_test', 0):,} test tasks (metrics/karel/synthesis.json)."))
    if regression is not None:
        rows = [[_target_name(f.target, f.frame), f.probe, _offset_name(f.offset),
                 "—" if f.content.r2 is None else f"{f.content.r2:.3f}",
                 "—" if f.above_baseline.r2 is None else f"{f.above_baseline.r2:.3f}",
                 f"{regression.paper_r2[f.offset]:.3f}" if f.offset in regression.paper_r2 else "—"]
                for f in regression.fits.values()
                if f.feature == DEFAULT_FEATURE and f.target == "facing" and f.offset in regression.paper_r2]
        parts.append(html_table(["target", "probe", "offset", "R²", "R² above the best baseline", "paper's R²"], rows,
                                f"Synthesis accuracy regressed on the probe's accuracy over the checkpoints, probe input "
                                f"{DEFAULT_FEATURE} (metrics/karel/regression.json); every other fit is in the chart below."))
    return "".join(parts)


INTRO = ("<p>A small transformer learns to write Karel programs from input-output examples (Jin &amp; Rinard). Do its "
         "activations hold the program's semantics (the robot's state as the program runs), and does synthesis "
         "accuracy track that content over training?</p>")


def section(inputs: PageInputs) -> Section | None:
    accuracy = inputs.table("plots/karel/accuracy.csv")
    semantics = inputs.table("plots/karel/semantics.csv")
    synthesis = inputs.output("metrics/karel/synthesis.json", KarelSynthesis)
    regression = inputs.output("metrics/karel/regression.json", RegressionSummary)
    charts = []
    if accuracy is not None:
        charts += accuracy_chart(accuracy, synthesis)
    if semantics is not None:
        charts += [*content_chart(semantics), *control_chart(semantics)]
    if accuracy is not None and semantics is not None and regression is not None:
        charts += regression_chart(accuracy, semantics, regression)
    if not charts and synthesis is None:
        return None
    return Section("karel", "Karel: semantic content in a program synthesiser", INTRO + summary_table(synthesis, regression),
                   charts)
