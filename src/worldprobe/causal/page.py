"""The causal-test section of the results page: does editing along a probe direction change what the model says,
and does removing the probe subspace make its answer worse?

Reads ``metrics/intervention/<ds>.json`` (:class:`~.outputs.InterventionMetrics`): the antisymmetric effect of
every edit on its own readout at every layer and ratio (the probe, and a random and an orthogonal direction at
the control ratios) with 95 % bootstrap intervals, the paired comparisons with their stored sign, the edit
sizes, and the mean-ablation of the probe subspace beside a random one. Every chart and sentence shows all
test entities (subset ``all``); ``docs/causal.md`` has the subsets.
"""

from __future__ import annotations

import html

import pandas as pd

from ..charts import Chart, PageInputs, Section, html_table, interval, records
from .docs import ERROR_UNITS, Study
from .outputs import InterventionMetrics

SUBSET = "all"
KINDS = {"probe": "probe", "random": "random", "orthogonal": "orthogonal"}
SUBSPACES = {"probe": "probe subspace", "random": "random subspace", "all": "whole residual"}


def _panel(dataset: str, target: str) -> str:
    return f"{dataset}: edit {target}"


def _figures(column: pd.Series) -> pd.Series:
    """A float column to 3 significant figures: enough for a chart and its tooltips, and the page stays small."""
    if column.dtype.kind != "f":
        return column
    return column.map(lambda x: x if pd.isna(x) or x == 0 else float(f"{x:.3g}"))


def _panels(rows: pd.DataFrame, layers: list[dict], resolve: dict, encoding: dict | None = None) -> dict:
    """A Vega-Lite spec of one panel per ``panel``, three to a row, each drawing ``layers``."""
    spec = {"width": 250, "height": 200, **({"encoding": encoding} if encoding else {}), "layer": layers}
    return {"data": {"values": records(rows, sparse=True)}, "facet": {"field": "panel", "type": "nominal", "title": None},
            "columns": 3, "spec": spec, "resolve": resolve}


def sweep_chart(runs: dict[str, InterventionMetrics]) -> list[Chart]:
    """The effect of each edit on its own readout by layer: the probe at every ratio, the controls' |effect| at
    the control ratios; one panel per dataset and edited target."""
    rows = []
    for ds, m in runs.items():
        sizes = {(s.edited_target, s.layer, s.ratio): s.delta_sd for s in m.edit_sizes}
        paired = {(c.edited_target, c.layer, c.ratio, c.versus): c for c in m.comparisons if c.subset == SUBSET}
        for e in m.effects:
            if e.subset == SUBSET and e.readout == e.edited_target and e.kind in KINDS and e.effect is not None:
                row = {"panel": _panel(ds, e.edited_target), "layer": e.layer, "ratio": f"{e.ratio:g}",
                       "kind": KINDS[e.kind], "effect": e.effect, "lo": e.lo, "hi": e.hi}
                if e.kind == "probe":  # what the edit means to the probe, and how many entities moved its way
                    row.update(sd=sizes.get((e.edited_target, e.layer, e.ratio)), intended=e.frac_intended)
                elif (c := paired.get((e.edited_target, e.layer, e.ratio, e.kind))) is not None:
                    row.update(diff=c.difference, verdict=c.sign)
                rows.append(row)
    rows = pd.DataFrame(rows).apply(_figures)
    ratios = sorted(rows["ratio"].unique(), key=float)
    kinds = list(KINDS.values())
    x = {"field": "layer", "type": "quantitative", "title": "edited layer"}
    y = {"type": "quantitative", "title": "effect on the edited target's readout (95 % bootstrap)"}
    colour = {"field": "ratio", "type": "nominal", "sort": ratios, "title": "‖δ‖ / median ‖residual‖"}
    dash = {"field": "kind", "type": "nominal", "sort": kinds, "title": None, "legend": {"symbolType": "stroke"}}
    tooltip = [{"field": "panel", "title": "edit"}, {"field": "layer"}, {"field": "kind"}, {"field": "ratio"},
               {"field": "effect", "format": ".4f", "title": "effect"},
               {"field": "lo", "format": ".4f", "title": "95 % from"}, {"field": "hi", "format": ".4f", "title": "95 % to"},
               {"field": "sd", "format": ".3f", "title": "probe reading moved (target sd)"},
               {"field": "intended", "format": ".2f", "title": "entities moved the intended way"},
               {"field": "diff", "format": ".4f", "title": "probe − this control (paired)"},
               {"field": "verdict", "title": "its 95 % interval"}]
    return [Chart("causal_sweep", "Edits along the probe direction, layer by layer, against random and orthogonal ones",
                  "The antisymmetric effect of an edit (half the change at +δ minus the change at −δ) on the model's "
                  "answer for the edited quantity (degrees, years), mean over the test entities, at each edited layer. "
                  "Colour: the edit's size as a ratio of the residual's median norm; solid: the probe direction; "
                  "dashed: the |effect| of a random and an orthogonal direction. Hover for the intervals, how far the "
                  "edit moves the probe's own reading, and the paired difference from each control.", {
        **_panels(rows, _interval_layers("effect", y, tooltip, strokeDash=dash,
                                         detail=[{"field": "kind"}, {"field": "ratio"}]),
                  {"scale": {"y": "independent"}}, encoding={"x": x, "color": colour}),
    })]


def _interval_layers(value: str, y: dict, tooltip: list[dict], **line: dict) -> list[dict]:
    """A panel's layers: each point's 95 % interval as a rule, the points joined by a line (``line``: more of its
    encoding), and a dashed zero."""
    return [
        {"mark": {"type": "rule", "opacity": 0.6},
         "encoding": {"y": {"field": "lo", **y}, "y2": {"field": "hi"}, "tooltip": tooltip}},
        {"mark": {"type": "line", "point": {"size": 30}},
         "encoding": {"y": {"field": value, **y}, **line, "tooltip": tooltip}},
        {"mark": {"type": "rule", "color": "#888", "strokeDash": [4, 4]},
         "encoding": {"y": {"datum": 0, "type": "quantitative"}, "x": None, "color": None}},
    ]


def ablation_chart(runs: dict[str, InterventionMetrics]) -> list[Chart]:
    """The increase of the readout's error after mean-ablating the probe subspace, beside a random subspace of the
    same dimension, by layer; one panel per dataset."""
    rows = []
    for ds, m in runs.items():
        paired = {(c.layer, c.dim): c for c in m.ablation_comparisons if c.subset == SUBSET}
        for a in m.ablation:
            if a.subset == SUBSET and a.error_increase is not None:
                c = paired.get((a.layer, a.dim))
                row = {"panel": f"{ds} (error in{ERROR_UNITS[m.readout]}), dim {a.dim}", "layer": a.layer,
                       "subspace": SUBSPACES.get(a.subspace, a.subspace), "error_increase": a.error_increase,
                       "lo": a.error_lo, "hi": a.error_hi, "accuracy_drop": a.accuracy_drop}
                if a.subspace == "probe" and c is not None:
                    row.update(diff=c.difference, verdict=c.sign)  # its interval: the table below the charts
                rows.append(row)
    if not rows:
        return []
    rows = pd.DataFrame(rows).apply(_figures)
    order = list(SUBSPACES.values())
    y = {"type": "quantitative", "title": "increase of the readout's error (95 % bootstrap)"}
    tooltip = [{"field": "panel", "title": "dataset"}, {"field": "layer"}, {"field": "subspace"},
               {"field": "error_increase", "format": ".2f", "title": "error increase"},
               {"field": "lo", "format": ".2f", "title": "95 % from"}, {"field": "hi", "format": ".2f", "title": "95 % to"},
               {"field": "accuracy_drop", "format": ".3f", "title": "accuracy drop"},
               {"field": "diff", "format": ".2f", "title": "probe − random subspace (paired)"},
               {"field": "verdict", "title": "paired interval"}]
    return [Chart("causal_ablation", "Removing the probe subspace: does the answer get worse?",
                  "Mean-ablation at each layer (the component along the subspace set to the entities' mean): the probe "
                  "directions of every target with their iterated-nullspace probes, beside a random subspace of the "
                  "same dimension, and the whole residual set to its mean (the positive control: only where that hurts "
                  "can a subspace's removal show anything). Hover for the paired difference and its verdict.", {
        **_panels(rows, _interval_layers("error_increase", y, tooltip), {"scale": {"y": "independent"}},
            encoding={"x": {"field": "layer", "type": "quantitative", "title": "ablated layer"},
                      "color": {"field": "subspace", "type": "nominal", "sort": order, "title": None}}),
    })]


def _sizes(m: InterventionMetrics) -> str:
    sds = [s.delta_sd for s in m.edit_sizes]
    return (f"probe edits at ratio {', '.join(f'{r:g}' for r in m.ratios)}, controls at "
            f"{', '.join(f'{r:g}' for r in m.control_ratios)} (‖δ‖ / median ‖residual‖), moving the probe's own "
            f"reading by {min(sds):.2f} to {max(sds):.2f} target sd" if sds else "no edit sizes")


VERDICTS = {"beats both controls": "both"}  # short cells of the verdict table; any other verdict as it is


def summary_table(runs: dict[str, InterventionMetrics]) -> str:
    """The verdict of every edit at every layer and control ratio (the stored signs of its two paired intervals),
    the ablation's paired differences, and the edit sizes. The numbers behind each verdict are in the sweep
    chart's tooltips and in docs/causal.md."""
    layers = sorted({layer for m in runs.values() for layer in m.layers})
    rows = []
    for ds, m in runs.items():
        study = Study(metrics=m, figure="")
        for target in study.targets:
            for ratio in m.control_ratios:
                cells = {layer: study.edit(target, layer, ratio, SUBSET).plain_verdict for layer in m.layers}
                rows.append([ds, target, f"{ratio:g}",
                             *(VERDICTS.get(cells[layer], cells[layer]) if layer in cells else "" for layer in layers)])
    edits = html_table(["dataset", "edit", "ratio", *(f"layer {layer}" for layer in layers)], rows,
                       "Paired over the same entities: the probe's effect on its own readout minus the |effect| of a "
                       "random direction and of an orthogonal one; \"both\": both intervals above 0. Edit sizes: "
                       + "; ".join(f"{ds}: {m.n_entities} test entities, {m.readout}, {_sizes(m)}" for ds, m in runs.items())
                       + ".")
    ablation = html_table(
        ["dataset", "layer", "dimension", "probe − random subspace, error increase [95 %]", "verdict"],
        [[ds, str(c.layer), str(c.dim), interval(c.difference, c.lo, c.hi, 2), c.sign]
         for ds, m in runs.items() for c in m.ablation_comparisons if c.subset == SUBSET],
        "Mean-ablation, paired over the same entities: how much more the probe subspace's removal raises the "
        "readout's error than a random subspace's.")
    return edits + ablation


INTRO = ("<p>An edit of the residual stream along the probe direction, sized as a ratio of the residual's norm, at "
         "+δ and −δ; the readout is what the model then answers. If the model uses the direction, its answer moves "
         "more than under a random edit and an edit orthogonal to the probe of the same size. Removing the probe "
         "subspace (mean-ablation) asks the converse: does the answer get worse than when a random subspace is "
         "removed?</p>")


def _sentences(runs: dict[str, InterventionMetrics]) -> str:
    items = []
    for ds, m in runs.items():
        study = Study(metrics=m, figure="")
        text = "; ".join(study.target_sentence(t) for t in study.targets) + ". Ablation: " + study.ablation_sentence()
        items.append(f"<li><b>{html.escape(ds)}</b> ({m.n_entities} entities, {html.escape(m.model)}): "
                     f"{html.escape(text)} ({study.n_tests()} uncorrected comparisons).</li>")
    return f"<ul>{''.join(items)}</ul>"


def section(inputs: PageInputs) -> Section | None:
    runs = inputs.outputs("metrics/intervention", InterventionMetrics)
    if not runs:
        return None
    return Section("causal", "The causal test: editing along the probe direction, and removing it",
                   INTRO + _sentences(runs) + summary_table(runs), [*sweep_chart(runs), *ablation_chart(runs)])
