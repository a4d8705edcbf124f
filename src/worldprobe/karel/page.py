"""The Karel section of the results page: synthesis accuracy, semantic content over training, the paired tests
against the text-only nulls, and the regression of accuracy on content.

Reads ``plots/karel/accuracy.csv`` and ``metrics/karel/synthesis.json`` (:class:`~.outputs.KarelSynthesis`:
its chance levels), ``plots/karel/semantics.csv`` (every probe, text-only null and baseline at every checkpoint,
per probe set), ``plots/karel/tests.csv`` (the paired tests: probe minus null on the same rows) and
``metrics/karel/regression.json`` (:class:`~.analysis.RegressionSummary`: generation accuracy regressed on each
probe's accuracy over the checkpoints, with the paper's R²). Every chart shows one probe set at a time: the
programs each checkpoint generates (the paper's design, the default) or the reference programs, teacher-forced.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..charts import Chart, PageInputs, Section, html_table, interval, records
from ..stats import Sign
from .analysis import REGRESSED, Regression, RegressionSummary, invalid_mlp
from .content import CONTROLS, NON_ORACLE, ORACLES, SYNTAX
from .outputs import KarelSynthesis
from .plots import CONTROL_NAMES, FRAME_NAMES
from .probes import PROBE_KINDS

DEFAULT_FEATURE = "mean"  # the paper's probe input: the residual streams averaged over layers
DEFAULT_SET = "generated"  # the paper's design: probes on the programs each checkpoint writes itself
ALL_STEPS = "all"  # the regressions over every checkpoint (the others leave the untrained one out)
INITIAL_0 = "initial facing, spec input 0"
SEP = "|"  # joins a series' keys into its column's name in the wide tables
PATH_CHARS = set("'\".[]\\")  # Vega reads a field name holding one of these as a path into the datum
VERDICTS = {Sign.ABOVE.value: "+", Sign.BELOW.value: "-", Sign.NOT_ESTABLISHED.value: "0"}  # in the data, spelt out in Vega


def _offset_name(offset: float | None) -> str:
    if offset is None or pd.isna(offset):
        return "spec input 0"
    return {-1: "read (-1)", 0: "current (0)"}.get(int(offset), f"+{int(offset)}")


def _offset_order(table: pd.DataFrame) -> list[str]:
    return [_offset_name(o) for o in sorted(table["offset"].dropna().unique())]


def _null_name(null: str) -> str:
    """A text-only score as the charts name it: the nulls are linear probes on text features, prefix a baseline."""
    return f"baseline: {null}" if null in NON_ORACLE else f"text null: {null}"


def _ordered(features: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(features), key=lambda f: (f != DEFAULT_FEATURE, f))


def _pick(name: str, label: str, options: list[str], default: str) -> dict[str, Any]:
    value = default if default in options else options[0]
    return {"name": name, "value": value, "bind": {"input": "select", "options": options, "name": label}}


def _feature_pick(name: str, features: list[str]) -> dict[str, Any]:
    return _pick(name, "probe input ", features, DEFAULT_FEATURE)


def _set_pick(name: str, table: pd.DataFrame) -> dict[str, Any]:
    sets = sorted(table["probe_set"].dropna().unique(), key=lambda s: (s != DEFAULT_SET, s))
    return _pick(name, "probe set ", sets, DEFAULT_SET)


def _features(table: pd.DataFrame) -> list[str]:
    """The probes' inputs (a text null's feature is no activation)."""
    return _ordered(table.loc[table["probe"].isin(PROBE_KINDS), "feature"].dropna())


def _shown_features(semantics: pd.DataFrame) -> list[str]:
    """Probe inputs probed under the alternative semantics too, the ones the page shows; the per-layer ones are
    probed for content only, and the page leaves them out (as the karel_report figures do) to stay small."""
    return _features(semantics[semantics["semantics"] != "original"])


def _csv(frame: pd.DataFrame) -> dict[str, Any]:
    """Inline data as CSV, numbers to 3 significant digits (the tooltips show 3 decimals), parsed back as numbers.
    Checkpoints × probe sets × series as JSON records, each repeating every key, would overrun the page's size
    limit several times; a CSV row per checkpoint names each series once, in the header."""
    numbers = [c for c in frame if pd.api.types.is_numeric_dtype(frame[c])]
    text = frame.to_csv(index=False, float_format="%.3g", lineterminator="\n")
    return {"values": text, "format": {"type": "csv", "parse": {c: "number" for c in numbers}}}


def _wide(long: pd.DataFrame, keys: list[str], values: tuple[str, ...] = ("accuracy",),
          index: tuple[str, ...] = ("probe_set", "step")) -> tuple[pd.DataFrame, list[str]]:
    """One row per probe set and checkpoint, a column per series (its ``keys`` joined by SEP, a missing key an
    empty part) holding its first value, and a column per series and further value (``<series>|<value>``);
    empty where a series was not measured. Returns the table and the series."""
    long = long.dropna(subset=[values[0]])
    key = long[keys[0]].astype(str).str.cat([long[k].fillna("").astype(str) for k in keys[1:]], sep=SEP)
    series = list(dict.fromkeys(key))
    if odd := [s for s in series if PATH_CHARS & set(s)]:
        raise ValueError(f"series names Vega would misread as paths: {odd}")
    wide = long.assign(key=key).pivot(index=list(index), columns="key", values=list(values))
    wide.columns = [k if v == values[0] else f"{k}{SEP}{v}" for v, k in wide.columns]
    columns = series + [f"{k}{SEP}{v}" for v in values[1:] for k in series]
    return wide[columns].reset_index().infer_objects(), series  # infer: a pivot beside strings leaves objects


def _unfold(series: list[str], keys: list[str], value: str = "accuracy") -> list[dict[str, Any]]:
    """Transforms back from the wide rows: a row per measured series, with its ``value`` and its ``keys``."""
    return [{"fold": series, "as": ["key", value]},
            {"filter": f"isValid(datum.{value})"},
            *[{"calculate": f"split(datum.key, '{SEP}')[{i}]", "as": k} for i, k in enumerate(keys)]]


def _of_feature(param: str) -> dict[str, str]:
    """Keeps the series of the chosen probe input, and those that read none (the text nulls, the baselines)."""
    return {"filter": f"!datum.feature || datum.feature == {param}"}


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
    """Facing probes (original semantics) over training per frame and offset, with the composed score, the
    text-only nulls and the baselines (the oracles named as such)."""
    orig = semantics[semantics["semantics"] == "original"]
    features = _shown_features(semantics)
    facing = orig[orig["target"] == "facing"]
    probes = facing[facing["probe"].isin(PROBE_KINDS) & facing["feature"].isin(features)]
    composed = orig[(orig["target"] == "composed") & orig["probe"].isin(PROBE_KINDS) & orig["feature"].isin(features)]
    nulls = facing[facing["probe"] == SYNTAX]
    baselines = facing[facing["probe"].isin([*NON_ORACLE, *ORACLES])]
    rows = pd.concat([
        probes.assign(series="probe: " + probes["probe"]),
        composed.assign(series="composed (initial + rotation): " + composed["probe"]),
        # a null reads the text whatever the probe input: no feature, so that every choice of input shows it
        nulls.assign(series=nulls["feature"].map(_null_name), feature=None),
        baselines.assign(series=np.where(baselines["probe"].isin(ORACLES), "oracle: ", "baseline: ") + baselines["probe"]),
    ], ignore_index=True)
    rows = rows.assign(frame=rows["frame"].map(FRAME_NAMES), offset=rows["offset"].map(_offset_name))
    keys = ["frame", "offset", "series", "feature"]
    wide, series = _wide(rows, keys)
    tooltip = [{"field": "frame"}, {"field": "offset"}, {"field": "series"}, {"field": "feature", "title": "probe input"},
               {"field": "probe_set", "title": "probe set"}, {"field": "step"}, {"field": "accuracy", "format": ".3f"}]
    return [Chart("karel_content", "Karel: semantic content over training, against the text and the baselines",
                  "Probe accuracy (test) of the robot's facing after each generated action under the original semantics, "
                  "per frame (the absolute facing, or the rotation since the input) and offset (-1: before the token "
                  "is read; +1, +2: the actions ahead). The text nulls are linear probes on features of the action "
                  "tokens alone; the baselines use no activations, and the oracles read the label's own trajectory (no "
                  "bar to clear). Choose the probe set (the programs each checkpoint generates, or the reference "
                  "programs fed to it) and the probe input below the chart; click a legend entry to highlight a series.", {
        "data": _csv(wide),
        "params": [_set_pick("karel_set", wide), _feature_pick("karel_feature", features)],
        "transform": [{"filter": "datum.probe_set == karel_set"}, *_unfold(series, keys), _of_feature("karel_feature")],
        "facet": {"row": {"field": "frame", "type": "nominal", "title": None},
                  "column": {"field": "offset", "type": "nominal", "title": None, "sort": _offset_order(semantics)}},
        "spec": {
            "width": 200,
            "height": 160,
            "params": [{"name": "karel_pick", "select": {"type": "point", "fields": ["series"]}, "bind": "legend"}],
            "mark": {"type": "line", "point": {"size": 10}},
            "encoding": {
                "x": {"field": "step", "type": "quantitative", "title": "training step"},
                "y": {"field": "accuracy", "type": "quantitative", "title": "accuracy (test)", "scale": {"domain": [0, 1]}},
                "color": {"field": "series", "type": "nominal", "title": "click to highlight",
                          "sort": list(dict.fromkeys(rows["series"]))},
                "opacity": {"condition": {"param": "karel_pick", "value": 1}, "value": 0.1},
                "tooltip": tooltip,
            },
        },
    })]


def control_chart(semantics: pd.DataFrame) -> list[Chart]:
    """The three controls and the initial facing of spec input 0 over training, each with its majority class."""
    orig = semantics[semantics["semantics"] == "original"]
    features = _shown_features(semantics)
    names = {**{c: CONTROL_NAMES[c] for c in CONTROLS}, "initial_0": INITIAL_0}
    mine = orig[orig["target"].isin(list(names))]
    rows = pd.concat([mine[mine["probe"].isin(PROBE_KINDS) & mine["feature"].isin(features)],
                      mine[mine["probe"] == "majority"]], ignore_index=True).dropna(subset=["accuracy"])
    if rows.empty:
        return []
    rows = rows.assign(series=np.where(rows["probe"] == "majority", "baseline: majority", "probe: " + rows["probe"]))
    keys = ["target", "series", "feature"]  # the target, not its name: the control's names hold quotes
    wide, series = _wide(rows, keys)
    return [Chart("karel_control", "Karel: the controls and the initial facing over training",
                  "The positive control is input 0's facing read right after its grid, where the model has just read "
                  "it: a probe that cannot read it is too weak, whatever it finds elsewhere. The distance control is an "
                  "earlier action read at the same positions as the facing, a token the model has read but must fetch "
                  "through attention. The negative control is the facing on a held-out input the model never sees: it "
                  "must stay at its majority class. The initial facing of spec input 0 is the part of the composed score "
                  "that the program text alone does not give. Choose the probe set and the probe input below the chart.", {
        "data": _csv(wide),
        "params": [_set_pick("karel_control_set", wide), _feature_pick("karel_control_feature", features)],
        "transform": [{"filter": "datum.probe_set == karel_control_set"}, *_unfold(series, keys),
                      _of_feature("karel_control_feature"),
                      {"calculate": f"{json.dumps(names)}[datum.target]", "as": "panel"}],
        "facet": {"column": {"field": "panel", "type": "nominal", "title": None, "sort": list(names.values())}},
        "spec": {
            "width": 200,
            "height": 180,
            "mark": {"type": "line", "point": {"size": 14}},
            "encoding": {
                "x": {"field": "step", "type": "quantitative", "title": "training step"},
                "y": {"field": "accuracy", "type": "quantitative", "title": "accuracy (test)", "scale": {"domain": [0, 1]}},
                "color": {"field": "series", "type": "nominal", "title": None},
                "tooltip": [{"field": "panel"}, {"field": "series"}, {"field": "feature", "title": "probe input"},
                            {"field": "probe_set", "title": "probe set"}, {"field": "step"},
                            {"field": "accuracy", "format": ".3f"}],
            },
        },
    })]


def tests_chart(tests: pd.DataFrame) -> list[Chart]:
    """The paired tests of the original semantics over training: the probe's accuracy minus each text-only null's
    on the same test rows, with its 95 % interval; rows = frames, columns = offsets."""
    beats = tests[(tests["test"] == "beats") & (tests["semantics"] == "original")]
    if beats.empty:
        return []
    beats = beats.assign(frame=beats["frame"].map(FRAME_NAMES), offset=beats["offset"].map(_offset_name),
                         null=beats["null"].map(_null_name), verdict=beats["verdict"].map(VERDICTS.__getitem__))
    keys = ["frame", "offset", "feature", "null"]
    wide, series = _wide(beats, keys, values=("diff", "ci_low", "ci_high", "verdict"))
    y = {"type": "quantitative", "title": "probe − text null (accuracy, test)"}
    x = {"field": "step", "type": "quantitative", "title": "training step"}
    colour = {"field": "null", "type": "nominal", "title": "null", "sort": list(dict.fromkeys(beats["null"]))}
    tooltip = [{"field": "frame"}, {"field": "offset"}, {"field": "null"}, {"field": "feature", "title": "probe input"},
               {"field": "probe_set", "title": "probe set"}, {"field": "step"},
               {"field": "diff", "format": ".3f", "title": "probe − null"},
               {"field": "ci_low", "format": ".3f", "title": "95 % from"},
               {"field": "ci_high", "format": ".3f", "title": "95 % to"},
               {"field": "verdict", "title": "paired interval"}]
    verdict = "".join(f"datum.verdict == '{code}' ? '{name}' : " for name, code in VERDICTS.items()) + "datum.verdict"
    return [Chart("karel_tests", "Karel: what the activations add beyond the text",
                  "The probe's test accuracy on the facing minus a text-only null's on the same rows (original "
                  "semantics): the linear probes on the action tokens and on their counts, and the prefix lookup. "
                  "Shaded, the 95 % bootstrap interval of the paired difference: above zero, the activations hold "
                  "more than the text gives. Choose the probe set and the probe input below the chart.", {
        "data": _csv(wide),
        "params": [_set_pick("karel_tests_set", wide), _feature_pick("karel_tests_feature", _ordered(beats["feature"]))],
        "transform": [{"filter": "datum.probe_set == karel_tests_set"}, *_unfold(series, keys, "diff"),
                      {"filter": "datum.feature == karel_tests_feature"},
                      *[{"calculate": f"datum[datum.key + '{SEP}{v}']", "as": v} for v in ("ci_low", "ci_high", "verdict")],
                      {"calculate": verdict, "as": "verdict"}],
        "facet": {"row": {"field": "frame", "type": "nominal", "title": None},
                  "column": {"field": "offset", "type": "nominal", "title": None, "sort": _offset_order(tests)}},
        "spec": {
            "width": 200,
            "height": 160,
            "layer": [
                {"mark": {"type": "errorband", "opacity": 0.25},
                 "encoding": {"x": x, "y": {"field": "ci_low", **y}, "y2": {"field": "ci_high"}, "color": colour}},
                {"mark": {"type": "line", "point": {"size": 10}},
                 "encoding": {"x": x, "y": {"field": "diff", **y}, "color": colour, "tooltip": tooltip}},
                {"mark": {"type": "rule", "color": "#888", "strokeDash": [4, 4]},
                 "encoding": {"y": {"datum": 0, "type": "quantitative"}}},
            ],
        },
    })]


def _target_name(target: str, frame: str) -> str:
    names = {"composed": "composed (initial facing + rotation)", "initial_0": INITIAL_0}
    return FRAME_NAMES[frame] if target == "facing" else names.get(target, target)


def _fit_row(name: str, fit: Regression, paper_r2: dict[int, float]) -> dict[str, Any]:
    """A fit as its line's tooltip reads it, keyed as the chart keys a dot: probe set and series."""
    c = fit.content
    return {"fit": SEP.join([fit.probe_set, _target_name(fit.target, fit.frame), _offset_name(fit.offset), fit.probe,
                             fit.feature]),
            "name": name, "slope": c.slope, "intercept": c.intercept, "slope_low": c.slope_low, "slope_high": c.slope_high,
            "r2": c.r2, "p": c.p, "r2_above_text": fit.above_text.r2, "n": c.n, "paper_r2": paper_r2.get(fit.offset)}


def regression_chart(accuracy: pd.DataFrame, semantics: pd.DataFrame, regression: RegressionSummary) -> list[Chart]:
    """Generation accuracy against each probe's accuracy, one dot per checkpoint, with the line fitted over every
    checkpoint drawn through the dots' probe accuracies."""
    probes = semantics[(semantics["semantics"] == "original") & semantics["probe"].isin(PROBE_KINDS)
                       & semantics["target"].isin(REGRESSED) & semantics["feature"].isin(_shown_features(semantics))]
    points = probes.merge(accuracy[["step", "accuracy_spec"]], on="step")
    points = points.assign(target=[_target_name(t, f) for t, f in zip(points["target"], points["frame"])],
                           offset=points["offset"].map(_offset_name))
    if points.empty:
        return []
    keys = ["target", "offset", "probe", "feature"]
    wide, series = _wide(points, keys, index=("probe_set", "step", "accuracy_spec"))
    shown = {f"{s}{SEP}{k}" for s in wide["probe_set"].unique() for k in series}
    fits = pd.DataFrame([row for name, fit in regression.fits.items()
                         if fit.steps == ALL_STEPS and fit.content.r2 is not None
                         and (row := _fit_row(name, fit, regression.paper_r2))["fit"] in shown])
    if fits.empty:
        return []
    targets = list(dict.fromkeys(points["target"]))
    offsets = _offset_order(semantics) + [_offset_name(None)]
    colour = {"field": "probe", "type": "nominal", "sort": list(PROBE_KINDS)}
    fit_tooltip = [{"field": "target"}, {"field": "offset"}, {"field": "probe"}, {"field": "feature", "title": "probe input"},
                   {"field": "probe_set", "title": "probe set"},
                   {"field": "r2", "format": ".3f", "title": "R²"}, {"field": "p", "format": ".1e", "title": "p"},
                   {"field": "slope", "format": ".2f"}, {"field": "slope_low", "format": ".2f", "title": "slope, 95 % from"},
                   {"field": "slope_high", "format": ".2f", "title": "slope, 95 % to"},
                   {"field": "r2_above_text", "format": ".3f", "title": "R² on the margin over the best text-only score"},
                   {"field": "paper_r2", "format": ".3f", "title": "paper's R² at this offset"},
                   {"field": "n", "title": "checkpoints"}, {"field": "name", "title": "metrics/karel/regression.json"}]
    return [Chart("karel_regression", "Karel: generation accuracy against semantic content",
                  "One dot per checkpoint: the probe's test accuracy against the synthesis accuracy (spec examples), "
                  "with the least-squares line over every checkpoint; hover a line for its R², the bootstrap interval "
                  "of its slope, its R² on the margin over the best text-only score (majority class, initial facing, "
                  "prefix lookup and the text nulls: no oracle), and the paper's R². Choose the probe set, the target "
                  "and the probe input below the chart.", {
        "params": [
            _set_pick("karel_fit_set", wide),
            {"name": "karel_target", "value": targets[0], "bind": {"input": "select", "options": targets, "name": "target "}},
            _feature_pick("karel_fit_feature", _features(probes)),
        ],
        "facet": {"column": {"field": "offset", "type": "nominal", "title": None, "sort": offsets}},
        "data": _csv(wide),
        "transform": [
            {"filter": "datum.probe_set == karel_fit_set"}, *_unfold(series, keys),
            {"filter": "datum.target == karel_target && datum.feature == karel_fit_feature"},
            {"calculate": f"datum.probe_set + '{SEP}' + datum.key", "as": "fit"},
            # records, not CSV: a lookup's data is not parsed, and slope and intercept keep 4 decimals
            {"lookup": "fit", "from": {"data": {"values": records(fits, sparse=True)}, "key": "fit",
                                       "fields": [c for c in fits if c != "fit"]}},
        ],
        "spec": {
            "width": 200,
            "height": 200,
            "layer": [
                {"mark": {"type": "point", "filled": True, "size": 30},
                 "encoding": {"x": {"field": "accuracy", "type": "quantitative", "title": "semantic content (probe accuracy)",
                                    "scale": {"zero": False}},
                              "y": {"field": "accuracy_spec", "type": "quantitative", "title": "synthesis accuracy (test, spec)"},
                              "color": colour,
                              "tooltip": [{"field": "step"}, {"field": "probe"},
                                          {"field": "accuracy", "format": ".3f", "title": "probe accuracy"},
                                          {"field": "accuracy_spec", "format": ".3f", "title": "synthesis accuracy"}]}},
                {"transform": [{"filter": "isValid(datum.slope)"},
                               {"calculate": "datum.intercept + datum.slope * datum.accuracy", "as": "fitted"}],
                 "mark": {"type": "line", "strokeWidth": 2},
                 "encoding": {"x": {"field": "accuracy", "type": "quantitative"},
                              "y": {"field": "fitted", "type": "quantitative"},
                              "color": colour, "detail": {"field": "probe"}, "tooltip": fit_tooltip}},
            ],
        },
    })]


def summary_table(synthesis: KarelSynthesis | None, regression: RegressionSummary | None) -> str:
    """The final synthesis accuracy beside chance, and the direct facing regressions (generated programs, every
    checkpoint) beside the paper's R²."""
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
                 interval(f.content.slope, f.content.slope_low, f.content.slope_high, 2),
                 "—" if f.above_text.r2 is None else f"{f.above_text.r2:.3f}",
                 f"{regression.paper_r2[f.offset]:.3f}" if f.offset in regression.paper_r2 else "—"]
                for f in regression.fits.values()
                if f.probe_set == DEFAULT_SET and f.steps == ALL_STEPS and f.feature == DEFAULT_FEATURE
                and f.target == "facing" and f.offset in regression.paper_r2]
        parts.append(html_table(["target", "probe", "offset", "R²", "slope [95 %]", "R² above the best text-only score",
                                 "paper's R²"], rows,
                                f"Synthesis accuracy regressed on the probe's accuracy over every checkpoint, probe input "
                                f"{DEFAULT_FEATURE}, on the programs each checkpoint generates "
                                f"(metrics/karel/regression.json); every other fit is in the chart below."))
    return "".join(parts)


INTRO = ("<p>A small transformer learns to write Karel programs from input-output examples (Jin &amp; Rinard). Do its "
         "activations hold the program's semantics (the robot's state as the program runs) beyond what the program "
         "text alone gives, and does synthesis accuracy track that content over training?</p>")


def section(inputs: PageInputs) -> Section | None:
    accuracy = inputs.table("plots/karel/accuracy.csv")
    semantics = inputs.table("plots/karel/semantics.csv")
    if semantics is not None:  # MLP scores that are no upper bound of the linear probe are not shown, as in the report
        semantics = semantics[~invalid_mlp(semantics)]
    tests = inputs.table("plots/karel/tests.csv")
    synthesis = inputs.output("metrics/karel/synthesis.json", KarelSynthesis)
    regression = inputs.output("metrics/karel/regression.json", RegressionSummary)
    charts = []
    if accuracy is not None:
        charts += accuracy_chart(accuracy, synthesis)
    if semantics is not None:
        charts += content_chart(semantics)
    if tests is not None:
        charts += tests_chart(tests)
    if semantics is not None:
        charts += control_chart(semantics)
    if accuracy is not None and semantics is not None and regression is not None:
        charts += regression_chart(accuracy, semantics, regression)
    if not charts and synthesis is None:
        return None
    return Section("karel", "Karel: semantic content in a program synthesiser", INTRO + summary_table(synthesis, regression),
                   charts)
