"""The causal-test section of the results page: does editing along a probe direction change what the model says?

Reads ``metrics/intervention/<ds>.json`` (:class:`~.outputs.InterventionMetrics`: the readout's
slope per Δ at every edited layer for the probe direction and each control, with 95 % bootstrap
intervals, and the paired comparisons) and ``plots/intervention/<ds>/<target>.csv`` (the mean change
of the readout at every Δ, at :attr:`~.outputs.InterventionMetrics.dose_layer`).
"""

from __future__ import annotations

import pandas as pd

from ..charts import Chart, PageInputs, Section, html_table, interval, records
from .directions import UNITS
from .outputs import InterventionMetrics

# (model, kind) of an effect -> its name on the page, in the legend's order
SERIES = {("main", "probe"): "probe direction", ("main", "mean_difference"): "difference of means",
          ("main", "orthogonal"): "orthogonal (top-PCA)", ("main", "random"): "random directions (mean)",
          ("random_weights", "probe"): "random-weights model"}
DOSE_COLUMNS = {"probe": "probe direction", "mean_difference": "difference of means",
                "orthogonal": "orthogonal (top-PCA)", "random_mean": "random directions (mean)",
                "random_weights": "random-weights model"}


def _panel(dataset: str, target: str) -> str:
    return f"{dataset}: edit {target} ({UNITS.get(target, 'target units')})"


def layer_chart(runs: dict[str, InterventionMetrics]) -> list[Chart]:
    """Slope of the edited quantity's readout per Δ at every edited layer, the probe beside each control."""
    rows = pd.DataFrame([{"panel": _panel(ds, e.edited_target), "layer": e.layer, "series": SERIES[(e.model, e.kind)],
                          "slope": e.slope, "lo": e.slope_lo, "hi": e.slope_hi, "slope_in_sd": e.slope_in_sd,
                          "frac_intended": e.frac_intended, "n": e.n_entities, "best": e.layer == m.best_layer}
                         for ds, m in runs.items() for e in m.all_entities.effects
                         if e.readout == e.edited_target and (e.model, e.kind) in SERIES and e.slope is not None])
    if rows.empty:
        return []
    order = list(SERIES.values())
    colour = {"field": "series", "type": "nominal", "sort": order, "title": None}
    y = {"type": "quantitative", "title": "readout change per Δ (95 % bootstrap)"}
    tooltip = [{"field": "panel", "title": "edit"}, {"field": "layer"}, {"field": "best", "title": "best probe layer"},
               {"field": "series"}, {"field": "slope", "format": ".4f", "title": "slope per Δ"},
               {"field": "lo", "format": ".4f", "title": "95 % from"}, {"field": "hi", "format": ".4f", "title": "95 % to"},
               {"field": "slope_in_sd", "format": ".4f", "title": "slope in readout std"},
               {"field": "frac_intended", "format": ".2f", "title": "entities moved the intended way"},
               {"field": "n", "title": "entities"}]
    return [Chart("causal_layers", "Dose-response per layer: the probe direction against its controls",
                  "The slope of the model's answer (its readout of the edited quantity) per Δ, mean over the edited "
                  "test entities, at each edited layer. Controls are edited at the probe edit's norm. Hover for the "
                  "interval and the fraction of entities that moved the intended way.", {
        **_panels(rows, [
            {"mark": "rule", "encoding": {"y": {"field": "lo", **y}, "y2": {"field": "hi"}, "tooltip": tooltip}},
            {"mark": {"type": "point", "filled": True, "size": 40},
             "encoding": {"y": {"field": "slope", **y}, "tooltip": tooltip}},
            {"mark": {"type": "rule", "color": "#888", "strokeDash": [4, 4]},
             "encoding": {"y": {"datum": 0, "type": "quantitative"}, "x": None, "xOffset": None, "color": None}},
        ], {"scale": {"x": "independent", "y": "independent"}},  # each dataset edits its own layers
            encoding={"x": {"field": "layer", "type": "ordinal", "title": "edited layer"},
                      "xOffset": {"field": "series", "sort": order}, "color": colour}),
    })]


def _panels(rows: pd.DataFrame, layers: list[dict], resolve: dict, encoding: dict | None = None) -> dict:
    """A Vega-Lite spec of one panel per edit (``panel``), three to a row, each drawing ``layers``."""
    spec = {"width": 250, "height": 200, **({"encoding": encoding} if encoding else {}), "layer": layers}
    return {"data": {"values": records(rows)}, "facet": {"field": "panel", "type": "nominal", "title": None},
            "columns": 3, "spec": spec, "resolve": resolve}


def dose_chart(inputs: PageInputs, runs: dict[str, InterventionMetrics]) -> list[Chart]:
    """Mean change of the readout at every Δ at the dose layer: the probe's curve, the controls at their Δ."""
    frames = []
    for ds, m in runs.items():
        for target in dict.fromkeys(e.edited_target for e in m.all_entities.effects):
            table = inputs.table(f"plots/intervention/{ds}/{target}.csv")
            if table is None:
                continue
            long = table.melt(id_vars="delta_sd", value_vars=[c for c in DOSE_COLUMNS if c in table],
                              var_name="series", value_name="change").dropna(subset=["change"])
            long = long.merge(table[["delta_sd", "random_min", "random_max"]], on="delta_sd", how="left")
            long.loc[long["series"] != "random_mean", ["random_min", "random_max"]] = None
            frames.append(long.assign(series=long["series"].map(DOSE_COLUMNS),
                                      panel=f"{_panel(ds, target)}, layer {m.dose_layer}"))
    if not frames:
        return []
    rows = pd.concat(frames, ignore_index=True)
    order = list(DOSE_COLUMNS.values())
    x = {"field": "delta_sd", "type": "quantitative", "title": "Δ (the probe's reading moved by Δ target std)"}
    y = {"type": "quantitative", "title": "mean change of the readout"}
    colour = {"field": "series", "type": "nominal", "sort": order, "title": None}
    tooltip = [{"field": "panel", "title": "edit"}, {"field": "series"}, {"field": "delta_sd", "title": "Δ"},
               {"field": "change", "format": ".4f", "title": "mean change"},
               {"field": "random_min", "format": ".4f", "title": "random directions from"},
               {"field": "random_max", "format": ".4f", "title": "random directions to"}]
    return [Chart("causal_dose", "Dose-response at one layer: the readout's change against Δ",
                  "The probe direction at every Δ, the controls at the largest Δ (the bar spans the random directions). "
                  "The panel names the edited layer.", {
        **_panels(rows, [
            {"transform": [{"filter": "isValid(datum.random_min)"}], "mark": {"type": "rule", "strokeWidth": 3},
             "encoding": {"x": x, "y": {"field": "random_min", **y}, "y2": {"field": "random_max"}, "color": colour,
                          "tooltip": tooltip}},
            {"mark": {"type": "line", "point": {"size": 40}},
             "encoding": {"x": x, "y": {"field": "change", **y}, "color": colour, "tooltip": tooltip}},
        ], {"scale": {"y": "independent"}}),
    })]


def summary_table(runs: dict[str, InterventionMetrics]) -> str:
    """Each paired comparison: the probe's slope minus a control's, with its verdict; and the edit sizes."""
    rows = [[ds, f"{c.edited_target}, layer {c.layer}" + (" (best)" if c.layer == m.best_layer else ""), c.versus,
             interval(c.difference, c.lo, c.hi, 4), c.verdict]
            for ds, m in runs.items() for c in m.all_entities.comparisons]
    sizes = "; ".join(
        f"{ds}: {m.n_entities} test entities, {m.readout}, probe edits at Δ = {', '.join(f'{d:g}' for d in m.deltas)}, "
        f"controls at Δ = {', '.join(f'{d:g}' for d in m.control_deltas)} ({m.n_random} random directions), "
        f"layers {', '.join(str(layer) for layer in m.layers)} (best probe layer {m.best_layer})"
        for ds, m in runs.items())
    return html_table(["dataset", "edit", "against", "slope difference [95 %]", "verdict"], rows,
                      f"Paired over the same entities: the probe's slope minus the control's absolute slope. Edit "
                      f"sizes, in standard deviations of the edited target: {sizes}.")


INTRO = ("<p>An edit of the residual stream along the probe direction moves the probe's reading by Δ standard deviations "
         "of its target; the readout is what the model then answers. If the model uses the direction, its answer moves "
         "with Δ, and more than under control edits of the same norm.</p>")


def section(inputs: PageInputs) -> Section | None:
    runs = inputs.outputs("metrics/intervention", InterventionMetrics)
    if not runs:
        return None
    return Section("causal", "The causal test: editing along the probe direction", INTRO + summary_table(runs),
                   [*layer_chart(runs), *dose_chart(inputs, runs)])
