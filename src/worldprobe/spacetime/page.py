"""The space-and-time section of the results page: interactive Vega-Lite charts of the committed tables.

Inputs are the tables the probes, generalization, learning-curve and report stages write
(``metrics/spacetime``, ``plots/spacetime``, ``plots/probes``, ``plots/generalization``,
``plots/learning_curve``), so the section can be rebuilt from a clone without rerunning the pipeline.
Each chart is one function in :data:`CHART_MAKERS` that returns its charts, or none when its input
files are absent: adding a chart is adding a function.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, get_args

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.path import Path as MplPath
from matplotlib.transforms import Affine2D

from ..charts import DIGITS, Chart, PageInputs, Section, html_table, records
from ..config import PromptName
from ..registry import DATASETS
from ..stats import Sign
from . import plots
from .metrics import great_circle_km
from .outputs import SpacetimeSummary, SummaryEntry
from .report import SUMMARY_PATH
from .verdicts import CONTROL_NAMES, CONTROLS, Outcome, judge

# test entities drawn per scatter chart: above it a seeded sample (the page stays a few MB and hovering
# stays smooth); every prediction is in plots/probes/<dataset>/predictions.csv
MAX_POINTS = 2000


def predictions(inputs: PageInputs) -> dict[str, pd.DataFrame]:
    """The probe's test predictions per dataset (the controls' columns and the split group left out)."""
    found = {ds: inputs.table(f"plots/probes/{ds}/predictions.csv") for ds in inputs.datasets}
    return {ds: frame.drop(columns=[c for c in frame if "_pred_" in c or c == "split_group"])
            for ds, frame in found.items() if frame is not None}


def _drawn(pred: pd.DataFrame) -> pd.DataFrame:
    """The test entities a scatter chart draws: all of them, or a seeded sample of ``MAX_POINTS`` in table order."""
    return pred if len(pred) <= MAX_POINTS else pred.sample(n=MAX_POINTS, random_state=0).sort_index()


def _counted(drawn: pd.DataFrame, pred: pd.DataFrame, dataset: str) -> str:
    """The caption's count of what a chart draws, naming the table that holds the rest."""
    if len(drawn) == len(pred):
        return f"{len(pred):,} test entities"
    return (f"{len(drawn):,} of the {len(pred):,} test entities (a seeded random sample; every prediction is in "
            f"plots/probes/{dataset}/predictions.csv)")


def _title(dataset: str) -> str:
    return DATASETS[dataset].title if dataset in DATASETS else dataset


def _tooltip(frame: pd.DataFrame, fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tooltip entries whose column ``frame`` has (a dataset of one's own may lack a group or entity type)."""
    return [f for f in fields if f["field"] in frame]


def _zoom() -> dict[str, Any]:
    return {"name": "zoom", "select": "interval", "bind": "scales"}


# --------------------------------------------------------------------------- charts


def _series_panels(rows: pd.DataFrame, inputs: PageInputs, x: dict[str, Any], y_field: str, pick: str,
                   tooltip: list[dict[str, Any]]) -> dict[str, Any]:
    """One panel per dataset of test R² lines, one line per ``series``; clicking the legend highlights a series."""
    return {
        "data": {"values": records(rows)},
        "facet": {"field": "dataset", "type": "nominal", "title": None, "sort": [_title(d) for d in inputs.datasets]},
        "columns": 3,
        "spec": {
            "width": 250,
            "height": 170,
            "params": [{"name": pick, "select": {"type": "point", "fields": ["series"]}, "bind": "legend"}],
            "mark": {"type": "line", "point": {"size": 18}},
            "encoding": {
                "x": x,
                "y": {"field": y_field, "type": "quantitative", "title": "test R²"},
                "color": {"field": "series", "type": "nominal", "title": "click to highlight"},
                "opacity": {"condition": {"param": pick, "value": 1}, "value": 0.1},
                "tooltip": [{"field": "dataset"}, {"field": "series"}, *tooltip,
                            {"field": y_field, "type": "quantitative", "format": ".3f", "title": "test R²"}],
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }


def depth_chart(inputs: PageInputs) -> list[Chart]:
    """Test R² by relative depth for every prompt and control, one panel per dataset (the grid of docs/spacetime.md)."""
    frames = []
    for ds in inputs.datasets:
        depth = inputs.table(f"plots/spacetime/{ds}/depth.csv")
        if depth is not None:
            long = depth.melt(id_vars=["layer", "rel_depth"], var_name="series", value_name="r2").dropna()
            frames.append(long.assign(dataset=_title(ds)))
    if not frames:
        return []
    rows = pd.concat(frames, ignore_index=True)
    names = {"main": "probe, main prompt", **CONTROL_NAMES}
    rows["series"] = rows["series"].map(lambda s: names.get(s, f"probe, {s} prompt"))
    spec = _series_panels(
        rows, inputs, {"field": "rel_depth", "type": "quantitative", "title": "relative depth (layer / last block)"},
        "r2", "series_pick", [{"field": "layer", "type": "quantitative"}],
    )
    return [Chart("depth", "Test R² by relative depth, probe against the controls", "Click a legend entry to "
                  "highlight one series (shift-click for several); hover a point for its value. Surface form and "
                  "the layer-0 controls do not depend on depth, so they are flat lines.", spec)]


def _frame(outline: str, rings: list[np.ndarray]) -> tuple[float, float, float, float]:
    if outline == "world":
        return (-180.0, 180.0, -90.0, 90.0)
    if outline == "us":
        return plots.US_FRAME
    points, pad = np.concatenate(rings), 0.02
    return (points[:, 0].min() - pad, points[:, 0].max() + pad, points[:, 1].min() - pad, points[:, 1].max() + pad)


def _outline_rows(rings: list[np.ndarray], px_per_degree: tuple[float, float]) -> list[dict[str, Any]]:
    """Rings simplified to half a pixel at the chart's size (matplotlib's path simplification), one row per ring.

    The full NYC outlines have 83k points (4 MB inline); simplified, a few thousand draw the same picture.
    """
    to_px = Affine2D().scale(*px_per_degree)
    rows = []
    with matplotlib.rc_context({"path.simplify_threshold": 0.5}):
        for ring in rings:
            cleaned = MplPath(ring).cleaned(transform=to_px, simplify=True)
            xy = to_px.inverted().transform(cleaned.vertices[cleaned.codes != MplPath.STOP])
            rows.append({"x": np.round(xy[:, 0], DIGITS).tolist(), "y": np.round(xy[:, 1], DIGITS).tolist()})
    return rows


def map_charts(inputs: PageInputs) -> list[Chart]:
    """Each place dataset's test entities at their true position, with a line to where the probe puts them."""
    charts = []
    for ds, every in predictions(inputs).items():
        if "pred_longitude" not in every:
            continue
        pred = _drawn(every)
        outline = plots.outline_for(ds)
        rings = plots.outline_rings(outline, inputs.shapes_dir)
        x0, x1, y0, y1 = _frame(outline, rings)
        width = 760
        # equirectangular at the frame's mid-latitude: regional shapes stay recognisable
        height = round(width * (y1 - y0) / ((x1 - x0) * math.cos(math.radians((y0 + y1) / 2))))
        group = next((c for c in ("country", "state", "borough") if c in pred), None)
        columns = ["id", "text", "entity_type", group, "longitude", "latitude", "pred_longitude", "pred_latitude", "prox_error"]
        error_km = great_circle_km(pred[["longitude", "latitude"]].to_numpy(float),
                                   pred[["pred_longitude", "pred_latitude"]].to_numpy(float))
        points = pred[[c for c in columns if c in pred]].assign(error_km=error_km)
        outline_rows = _outline_rows(rings, (width / (x1 - x0), height / (y1 - y0)))
        x = {"type": "quantitative", "scale": {"domain": [x0, x1], "nice": False}, "title": "longitude"}
        y = {"type": "quantitative", "scale": {"domain": [y0, y1], "nice": False}, "title": "latitude"}
        hovered = {"param": "hover", "empty": False}
        tooltip = _tooltip(points, [
            {"field": "text", "type": "nominal", "title": "entity"},
            {"field": "entity_type", "type": "nominal", "title": "type"},
            {"field": group, "type": "nominal"},
            {"field": "latitude", "format": ".3f", "title": "true latitude"},
            {"field": "longitude", "format": ".3f", "title": "true longitude"},
            {"field": "pred_latitude", "format": ".3f", "title": "predicted latitude"},
            {"field": "pred_longitude", "format": ".3f", "title": "predicted longitude"},
            {"field": "error_km", "format": ",.0f", "title": "error (km)"},
            {"field": "prox_error", "format": ".3f", "title": "proximity error"},
        ])
        spec = {
            "width": width,
            "height": height,
            "layer": [
                {
                    # one row per ring, flattened in the browser: the page carries each number once
                    "data": {"values": outline_rows},
                    "transform": [
                        {"window": [{"op": "row_number", "as": "ring"}]},
                        {"flatten": ["x", "y"]},
                        {"window": [{"op": "row_number", "as": "j"}], "groupby": ["ring"]},
                    ],
                    "mark": {"type": "line", "color": "#9a9a9a", "strokeWidth": 0.6, "clip": True},
                    "encoding": {"x": {"field": "x", **x}, "y": {"field": "y", **y}, "detail": {"field": "ring"},
                                 "order": {"field": "j"}},
                },
                {
                    "data": {"values": records(points)},
                    "layer": [
                        {
                            "mark": {"type": "rule", "color": "#d62728", "clip": True},
                            "encoding": {
                                "x": {"field": "longitude", **x}, "y": {"field": "latitude", **y},
                                "x2": {"field": "pred_longitude"}, "y2": {"field": "pred_latitude"},
                                "opacity": {"condition": {**hovered, "value": 0.95}, "value": 0.12},
                                "strokeWidth": {"condition": {**hovered, "value": 2}, "value": 0.5},
                            },
                        },
                        {
                            "mark": {"type": "circle", "color": "#d62728", "size": 10, "clip": True},
                            "encoding": {"x": {"field": "pred_longitude", **x}, "y": {"field": "pred_latitude", **y},
                                         "opacity": {"condition": {**hovered, "value": 1}, "value": 0.35}},
                        },
                        {
                            "params": [
                                # not "nearest": its voronoi cells lose the text fields of the tooltip (Vega-Lite 6.4)
                                {"name": "hover", "select": {"type": "point", "on": "pointerover", "fields": ["id"],
                                                             "clear": "pointerout"}},
                                _zoom(),
                            ],
                            "mark": {"type": "circle", "color": "black", "size": 14, "clip": True},
                            "encoding": {"x": {"field": "longitude", **x}, "y": {"field": "latitude", **y},
                                         "size": {"condition": {**hovered, "value": 90}, "value": 14},
                                         "tooltip": tooltip},
                        },
                    ],
                },
            ],
        }
        charts.append(Chart(
            f"map_{ds}", f"{_title(ds)}: where the probe puts the test entities",
            f"{_counted(pred, every, ds)}: black at their true position, red at the probe's prediction, joined by a "
            "line. Hover a point for the place and both positions; scroll to zoom, drag to pan, double-click to reset.",
            spec,
        ))
    return charts


def year_charts(inputs: PageInputs) -> list[Chart]:
    """Predicted against true year of each time dataset's test entities, with the identity line."""
    charts = []
    for ds, every in predictions(inputs).items():
        if "pred_year" not in every:
            continue
        pred = _drawn(every)
        points = pred.drop(columns=["id"]).assign(error_years=(pred["pred_year"] - pred["year"]).abs())
        lo, hi = float(points[["year", "pred_year"]].min().min()), float(points[["year", "pred_year"]].max().max())
        several_types = "entity_type" in points and points["entity_type"].nunique() > 1
        color = {"field": "entity_type", "type": "nominal", "title": "type"} if several_types else {"value": "#1f77b4"}
        extra = [c for c in points.columns if c not in ("text", "entity_type", "year", "pred_year", "prox_error", "error_years")]
        spec = {
            "width": 560,
            "height": 460,
            "layer": [
                {
                    "data": {"values": [{"v": lo}, {"v": hi}]},
                    "mark": {"type": "line", "color": "#888", "strokeDash": [4, 4]},
                    "encoding": {"x": {"field": "v", "type": "quantitative"}, "y": {"field": "v", "type": "quantitative"}},
                },
                {
                    "data": {"values": records(points)},
                    "params": [_zoom()],
                    "mark": {"type": "circle", "size": 16, "opacity": 0.6},
                    "encoding": {
                        "x": {"field": "year", "type": "quantitative", "title": "true year", "scale": {"zero": False},
                              "axis": {"format": "d"}},
                        "y": {"field": "pred_year", "type": "quantitative", "title": "predicted year", "scale": {"zero": False},
                              "axis": {"format": "d"}},
                        "color": color,
                        "tooltip": _tooltip(points, [
                            {"field": "text", "title": "entity"}, {"field": "entity_type", "title": "type"},
                            *({"field": c} for c in extra),
                            {"field": "year", "format": ".1f", "title": "true year"},
                            {"field": "pred_year", "format": ".1f", "title": "predicted year"},
                            {"field": "error_years", "format": ".1f", "title": "error (years)"},
                            {"field": "prox_error", "format": ".3f", "title": "proximity error"},
                        ]),
                    },
                },
            ],
        }
        charts.append(Chart(
            f"years_{ds}", f"{_title(ds)}: predicted against true year",
            f"{_counted(pred, every, ds)}; the dashed line is a perfect prediction. Hover for the entity; scroll to "
            "zoom, drag to pan, double-click to reset.",
            spec,
        ))
    return charts


def _summary(inputs: PageInputs) -> dict[str, dict[str, dict[str, SummaryEntry]]] | None:
    path = inputs.root / SUMMARY_PATH
    return SpacetimeSummary.load(path).root if path.is_file() else None


def _main_runs(summary: dict[str, dict[str, dict[str, SummaryEntry]]],
               datasets: Sequence[str]) -> list[tuple[str, str, dict[str, SummaryEntry]]]:
    """``(dataset, model, {prompt: metrics})`` for every dataset of the summary, in the params' order."""
    return [(ds, model, runs) for ds in datasets if ds in summary for model, runs in summary[ds].items()]


def bar_charts(inputs: PageInputs) -> list[Chart]:
    """Best-layer test R²: per prompt, and linear against MLP probe."""
    summary = _summary(inputs)
    if summary is None:
        return []
    prompts, kinds = [], []
    for ds, _, runs in _main_runs(summary, inputs.datasets):
        prompts += [{"dataset": _title(ds), "prompt": p, "r2": m.r2, "layer": m.best_layer} for p, m in runs.items()]
        main = runs.get("main")
        kinds += [{"dataset": _title(ds), "probe": kind, "r2": r2}
                  for kind, r2 in (("linear", main and main.r2), ("MLP", main and main.mlp_r2)) if r2 is not None]

    def grouped(rows: list[dict[str, Any]], group: str, order: Sequence[str], title: str) -> dict[str, Any]:
        return {
            "data": {"values": records(pd.DataFrame(rows))},
            "width": 520,
            "mark": "bar",
            "encoding": {
                "y": {"field": "dataset", "type": "nominal", "sort": [_title(d) for d in inputs.datasets], "title": None},
                "yOffset": {"field": group, "sort": list(order)},
                "x": {"field": "r2", "type": "quantitative", "title": title},
                "color": {"field": group, "type": "nominal", "sort": list(order)},
                "tooltip": [{"field": "dataset"}, {"field": group}, {"field": "r2", "format": ".3f", "title": "test R²"}],
            },
        }

    return [
        Chart("prompts", "Best-layer test R² per prompt", "The paper's prompt (main), the entity alone (empty) and "
              "random tokens before it (random).", grouped(prompts, "prompt", get_args(PromptName), "test R² at the best layer")),
        Chart("probe_kinds", "Linear against MLP probe at the best layer", "Test R² of the ridge probe and of a "
              "one-hidden-layer MLP probe on the same activations (mean over its seeds).", grouped(kinds, "probe", ("linear", "MLP"), "test R²")),
    ]


def pca_chart(inputs: PageInputs) -> list[Chart]:
    """Test R² of probes on the first k principal components of the best layer."""
    pca = inputs.table("plots/spacetime/pca.csv")
    if pca is None:
        return []
    rows = pca.melt(id_vars="k", var_name="dataset", value_name="r2").dropna()
    rows["dataset"] = rows["dataset"].map(_title)
    spec = {
        "data": {"values": records(rows)},
        "width": 560,
        "height": 320,
        "params": [{"name": "pick", "select": {"type": "point", "fields": ["dataset"]}, "bind": "legend"}],
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": {"field": "k", "type": "quantitative", "scale": {"type": "log"}, "title": "principal components"},
            "y": {"field": "r2", "type": "quantitative", "title": "test R²"},
            "color": {"field": "dataset", "type": "nominal", "sort": [_title(d) for d in inputs.datasets]},
            "opacity": {"condition": {"param": "pick", "value": 1}, "value": 0.1},
            "tooltip": [{"field": "dataset"}, {"field": "k"}, {"field": "r2", "format": ".3f", "title": "test R²"}],
        },
    }
    return [Chart("pca", "Test R² against the number of principal components (best layer)",
                  "Click a legend entry to highlight a dataset.", spec)]


def holdout_chart(inputs: PageInputs) -> list[Chart]:
    """Proximity error of each held-out group: probe trained with the group seen, against without it."""
    frames = [
        frame.assign(dataset=_title(ds))
        for ds in inputs.datasets
        if (frame := inputs.table(f"plots/generalization/{ds}/holdout.csv")) is not None
    ]
    if not frames:
        return []
    rows = pd.concat(frames, ignore_index=True)
    rows["label"] = rows["holdout"].str.replace("_", " ") + ": " + rows["group"].astype(str)
    first = rows["dataset"].iloc[0]
    tooltip = [
        {"field": "dataset"}, {"field": "column", "title": "grouped by"}, {"field": "group"},
        {"field": "n_test", "title": "test entities"}, {"field": "n_train_removed", "title": "train entities removed"},
        {"field": "n_train", "title": "train entities, each probe"},
        {"field": "prox_error_default", "format": ".3f", "title": "prox. error, group seen (same n)"},
        {"field": "prox_error_heldout", "format": ".3f", "title": "prox. error, group held out"},
    ]
    x = {"type": "quantitative", "title": "mean proximity error on the group's test entities (chance 0.5)",
         "scale": {"domain": [0, 0.8]}}
    spec = {
        "data": {"values": records(rows)},
        "params": [{"name": "ds", "value": first, "bind": {"input": "select", "options": list(dict.fromkeys(rows["dataset"])),
                                                           "name": "dataset "}}],
        "transform": [{"filter": "datum.dataset == ds"}],
        "width": 520,
        "height": {"step": 16},
        "encoding": {"y": {"field": "label", "type": "nominal", "sort": None, "title": None}},
        "layer": [
            {"mark": {"type": "rule", "color": "#aaa"},
             "encoding": {"x": {"field": "prox_error_default", **x}, "x2": {"field": "prox_error_heldout"}, "tooltip": tooltip}},
            {"mark": {"type": "point", "filled": True, "size": 50, "color": "#1f77b4"},
             "encoding": {"x": {"field": "prox_error_default", **x}, "tooltip": tooltip}},
            {"mark": {"type": "point", "filled": True, "size": 50, "color": "#d62728"},
             "encoding": {"x": {"field": "prox_error_heldout", **x}, "tooltip": tooltip}},
            {"data": {"values": [{"chance": 0.5}]}, "mark": {"type": "rule", "strokeDash": [4, 4], "color": "#666"},
             "encoding": {"x": {"field": "chance", "type": "quantitative"}, "y": None}},
        ],
    }
    return [Chart("holdout", "Held-out groups: proximity error with the group seen (blue) and held out (red)",
                  "Each of the largest blocks (country, state, borough, century, decade, year block) and entity types, "
                  "held out of training in turn; both probes are scored on the same test entities of that group. "
                  "Choose the dataset below the chart.", spec)]


def learning_curve_chart(inputs: PageInputs) -> list[Chart]:
    """Test R² against train size for the probe and its controls, on the same nested train subsamples."""
    frames = [
        frame.assign(dataset=_title(ds))
        for ds in inputs.datasets
        if (frame := inputs.table(f"plots/learning_curve/{ds}.csv")) is not None
    ]
    if not frames:
        return []
    names = {"r2": "probe, main prompt", "surface_r2": CONTROL_NAMES["surface"],
             "random_weights_r2": CONTROL_NAMES["random_weights"]}
    rows = (pd.concat(frames, ignore_index=True)
            .melt(id_vars=["dataset", "n_train"], value_vars=list(names), var_name="series", value_name="test_r2")
            .dropna())
    rows["series"] = rows["series"].map(names)
    spec = _series_panels(
        rows, inputs, {"field": "n_train", "type": "quantitative", "scale": {"type": "log"}, "title": "train entities"},
        "test_r2", "curve_pick", [{"field": "n_train", "title": "train entities"}],
    )
    return [Chart("learning_curve", "Learning curves: probe and controls on the same nested train subsamples",
                  "A control that gains more from data than the probe would cross it: where the lines cross, the "
                  "verdict depends on the training size. Hover a point for its value.", spec)]


# Adding a chart: write a function (PageInputs) -> list[Chart] that returns [] when its files are absent.
def model_axis_chart(inputs: PageInputs) -> list[Chart]:
    """Best-layer R² against parameter count per dataset: each model's probe and its own controls."""
    rows = inputs.table("plots/spacetime/models.csv")
    if rows is None:
        return []
    rows = rows.assign(dataset=rows["dataset"].map(_title),
                       series=rows["series"].map(lambda c: "probe (best layer)" if c == "probe" else CONTROL_NAMES[c]))
    spec = _series_panels(
        rows, inputs, {"field": "n_params", "type": "quantitative", "scale": {"type": "log"}, "title": "parameters"},
        "r2", "model_pick", [{"field": "model"}, {"field": "best_layer", "type": "quantitative"},
                             {"field": "rel_depth", "type": "quantitative", "format": ".2f"}],
    )
    n_models = rows["model"].nunique()
    return [Chart("models", "Test R² against model size, each model beside its own controls",
                  f"Every model on the same seeded subsample of each dataset; {n_models} models are a {n_models}-point "
                  "comparison, not a scaling law. Add models under `models:` in params.yaml (a GPU for large ones) "
                  "to draw the paper's 7B → 13B → 70B curve with its controls.", spec)]


CHART_MAKERS: tuple[Callable[[PageInputs], list[Chart]], ...] = (
    depth_chart, learning_curve_chart, map_charts, year_charts, bar_charts, pca_chart, holdout_chart,
    model_axis_chart,
)


# --------------------------------------------------------------------------- section


def summary_table(inputs: PageInputs) -> str:
    """The results table of docs/spacetime.md as HTML: best-layer R² and its interval beside the controls."""
    summary = _summary(inputs)
    if summary is None:
        return ""
    head = ["dataset", "model", "best layer", "test R² [95 % CI]", "Spearman", "prox. error",
            *(CONTROL_NAMES[c] for c in CONTROLS), "MLP R² (mean of seeds)"]
    marks = {Outcome.BEATS: " ✓", Outcome.BEATEN: " ✗", Outcome.NOT_ESTABLISHED: " ?", Outcome.NOT_MEASURED: ""}
    adds = {Sign.ABOVE: " +", Sign.BELOW: " −", Sign.NOT_ESTABLISHED: " ·"}
    rows = []
    for ds, model, runs in _main_runs(summary, inputs.datasets):
        m = runs["main"]
        cells = [_title(ds), model, f"{m.best_layer} / {m.n_layers - 1}",
                 f"{m.r2:.3f} [{m.r2_ci_low:.3f}, {m.r2_ci_high:.3f}]", f"{m.spearman:.3f}", f"{m.prox_error:.3f}"]
        for v in judge(m.beats or {}, m.controls.model_dump(), m.adds):  # the report's rule: the paired intervals
            cells.append("—" if v.control_r2 is None else
                         f"{v.control_r2:.3f}" + marks[v.outcome] + ("" if v.adds is None else adds[v.adds_sign]))
        cells.append("—" if m.mlp_r2 is None else f"{m.mlp_r2:.3f}")
        rows.append(cells)
    return html_table(head, rows, "Paired 95 % bootstrap interval of probe R² minus the control's on the same test "
                      "entities: ✓ above 0 (the probe beats it), ✗ below 0 (the control beats the probe), ? includes 0 "
                      "(not established). Then what the probe's predictions add to the control's (paired interval of "
                      "the R² gain): + above 0 (the activations add to it), · not established.")


INTRO = ("<p>Linear probes on the residual stream at the last entity token, test split, beside the controls on the "
         "same split (Gurnee &amp; Tegmark).</p>")


def section(inputs: PageInputs) -> Section | None:
    """The space-and-time study: the results table and every chart whose tables exist (None: none do)."""
    charts = [chart for make in CHART_MAKERS for chart in make(inputs)]
    if not charts:
        return None
    return Section("spacetime", "Space and time", INTRO + summary_table(inputs), charts)
