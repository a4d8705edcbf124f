"""The familiarity section of the results page: what the model knows, and whether the probes do better on it.

Reads ``metrics/familiarity/<ds>.json`` (:class:`~.labels.FamiliaritySummary`: the known fraction by
popularity decile and entity type) and ``metrics/familiarity_probes/<ds>.json``
(:class:`~.probes.FamiliarityProbeReport`: probe and control R² on known / unknown test entities with
95 % bootstrap intervals, and the knowledge probe's AUROC per layer beside its baselines).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..charts import Chart, PageInputs, Section, html_table, interval, records
from .labels import FamiliaritySummary
from .probes import GROUPS, FamiliarityProbeReport, KnowledgeProbe

R2_FLOOR = -0.5  # a group with a narrow spread (e.g. known people) can have any negative R²: the axis stops here


def _dataset_pick(values: list[str]) -> dict[str, Any]:
    return {"name": "fam_ds", "value": values[0], "bind": {"input": "select", "options": values, "name": "dataset "}}


def known_charts(labels: dict[str, FamiliaritySummary]) -> list[Chart]:
    """The known fraction by popularity decile (every dataset with a popularity) and by entity type."""
    charts = []
    deciles = pd.DataFrame([{"dataset": ds, "decile": int(g.group), "fraction_known": g.fraction_known, "n": g.n,
                             "popularity_min": g.popularity_min, "popularity_max": g.popularity_max}
                            for ds, s in labels.items() for g in s.by_popularity_decile or []])
    if not deciles.empty:
        charts.append(Chart("familiarity_deciles", "Known fraction by popularity decile",
                            "Every labelled entity of the datasets with a popularity (page views), in deciles of it "
                            "(1 = least popular). Hover a point for its size and popularity range; click a legend entry "
                            "to highlight a dataset.", {
            "data": {"values": records(deciles)},
            "width": 560,
            "height": 300,
            "params": [{"name": "fam_pick", "select": {"type": "point", "fields": ["dataset"]}, "bind": "legend"}],
            "mark": {"type": "line", "point": True},
            "encoding": {
                "x": {"field": "decile", "type": "quantitative", "title": "popularity decile (1 = least popular)",
                      "scale": {"domain": [1, 10]}, "axis": {"tickMinStep": 1}},
                "y": {"field": "fraction_known", "type": "quantitative", "title": "fraction known", "scale": {"domain": [0, 1]}},
                "color": {"field": "dataset", "type": "nominal", "sort": list(labels)},
                "opacity": {"condition": {"param": "fam_pick", "value": 1}, "value": 0.1},
                "tooltip": [{"field": "dataset"}, {"field": "decile"}, {"field": "n", "title": "entities"},
                            {"field": "fraction_known", "format": ".3f", "title": "fraction known"},
                            {"field": "popularity_min", "format": ",.0f", "title": "popularity from"},
                            {"field": "popularity_max", "format": ",.0f", "title": "popularity to"}],
            },
        }))
    types = pd.DataFrame([{"dataset": ds, "entity_type": g.group, "fraction_known": g.fraction_known, "n": g.n,
                           "chance": s.chance_known}
                          for ds, s in labels.items() for g in s.by_entity_type])
    if not types.empty:
        x = {"type": "quantitative", "scale": {"domain": [0, 1]}, "title": "fraction known"}
        charts.append(Chart("familiarity_types", "Known fraction by entity type",
                            "Every labelled entity, by entity type; the dashed line is how often a constant answer "
                            "(the train split's most common gold answer) would count as known. Choose the dataset below "
                            "the chart.", {
            "data": {"values": records(types)},
            "params": [_dataset_pick(list(labels))],
            "transform": [{"filter": "datum.dataset == fam_ds"}],
            "width": 520,
            "height": {"step": 18},
            "layer": [
                {"mark": "bar",
                 "encoding": {"y": {"field": "entity_type", "type": "nominal", "sort": "-x", "title": None},
                              "x": {"field": "fraction_known", **x},
                              "tooltip": [{"field": "dataset"}, {"field": "entity_type", "title": "type"},
                                          {"field": "n", "title": "entities"},
                                          {"field": "fraction_known", "format": ".3f", "title": "fraction known"}]}},
                {"mark": {"type": "rule", "strokeDash": [4, 4], "color": "#444"},
                 "encoding": {"x": {"aggregate": "max", "field": "chance", **x},
                              "tooltip": [{"aggregate": "max", "field": "chance", "format": ".3f",
                                           "title": "constant answer known"}]}},
            ],
        }))
    return charts


def split_chart(reports: dict[str, FamiliarityProbeReport]) -> list[Chart]:
    """R² of the probe and each control on all / known / unknown test entities, with 95 % bootstrap intervals."""
    rows = pd.DataFrame([{"dataset": ds, "predictor": s.predictor, "group": g, "n": m.n, "r2": m.r2.value,
                          "lo": m.r2.lo, "hi": m.r2.hi, "layer": s.layer}
                         for ds, rep in reports.items() for s in rep.split for g, m in s.groups.items()
                         if m is not None and m.r2.value is not None])
    if rows.empty:
        return []
    predictors = list(dict.fromkeys(rows["predictor"]))
    x = {"type": "quantitative", "title": f"test R² (95 % bootstrap; axis stops at {R2_FLOOR})",
         "scale": {"domain": [R2_FLOOR, 1], "clamp": True}}
    y = {"field": "dataset", "type": "nominal", "sort": list(reports), "title": None}
    tooltip = [{"field": "dataset"}, {"field": "predictor"}, {"field": "layer"}, {"field": "group"},
               {"field": "n", "title": "test entities"}, {"field": "r2", "format": ".3f", "title": "test R²"},
               {"field": "lo", "format": ".3f", "title": "95 % from"}, {"field": "hi", "format": ".3f", "title": "95 % to"}]
    colour = {"field": "group", "type": "nominal", "sort": list(GROUPS), "title": "test entities"}
    return [Chart("familiarity_split", "Probe R² on known and unknown test entities, beside the controls",
                  "One panel per predictor: the probe at its best layer and the controls, each scored on all test "
                  "entities and on those the model knows and does not know, with 95 % bootstrap intervals. Hover for "
                  "the values (the axis is clamped; the tooltip is not).", {
        "data": {"values": records(rows)},
        "facet": {"column": {"field": "predictor", "type": "nominal", "sort": predictors, "title": None}},
        "spec": {
            "width": 230,
            "height": {"step": 14},
            "encoding": {"y": y, "yOffset": {"field": "group", "sort": list(GROUPS)}, "color": colour},
            "layer": [
                {"mark": "rule", "encoding": {"x": {"field": "lo", **x}, "x2": {"field": "hi"}, "tooltip": tooltip}},
                {"mark": {"type": "point", "filled": True, "size": 40},
                 "encoding": {"x": {"field": "r2", **x}, "tooltip": tooltip}},
            ],
        },
    })]


def _knowledge_rows(ds: str, kp: KnowledgeProbe) -> list[dict[str, Any]]:
    """The probe's AUROC per layer, and each baseline (no layer) as a band across every layer."""
    layers = [layer.layer for layer in kp.layers]
    rows = [{"dataset": ds, "series": series, "layer": layer.layer, "auroc": value}
            for layer in kp.layers
            for series, value in (("probe, test", layer.test_auroc), ("probe, train CV", layer.train_cv_auroc))]
    rows += [{"dataset": ds, "series": f"baseline: {name}", "layer": at, "auroc": iv.value, "lo": iv.lo, "hi": iv.hi}
             for name, iv in kp.baselines.items() if iv is not None and iv.value is not None
             for at in (min(layers), max(layers))]
    rows.append({"dataset": ds, "series": "probe, test", "layer": kp.layer, "auroc": kp.test_auroc.value,
                 "lo": kp.test_auroc.lo, "hi": kp.test_auroc.hi, "chosen": True})
    return rows


def knowledge_chart(reports: dict[str, FamiliarityProbeReport]) -> list[Chart]:
    """The knowledge probe's AUROC per layer, its chosen layer's interval, and its baselines."""
    rows = pd.DataFrame([row for ds, rep in reports.items() if isinstance(rep.knowledge_probe, KnowledgeProbe)
                         for row in _knowledge_rows(ds, rep.knowledge_probe)])
    if rows.empty:
        return []
    y = {"type": "quantitative", "title": "AUROC (known vs unknown)", "scale": {"zero": False}}
    x = {"field": "layer", "type": "quantitative", "title": "layer"}
    tooltip = [{"field": "dataset"}, {"field": "series"}, {"field": "layer"},
               {"field": "auroc", "format": ".3f", "title": "AUROC"},
               {"field": "lo", "format": ".3f", "title": "95 % from"}, {"field": "hi", "format": ".3f", "title": "95 % to"}]
    colour = {"field": "series", "type": "nominal", "title": "click to highlight"}
    opacity = {"condition": {"param": "kp_pick", "value": 1}, "value": 0.1}
    return [Chart("familiarity_knowledge", "Knowledge probe: AUROC of known against unknown, against its baselines",
                  "A logistic probe reads from the activations whether the model knows the entity; its layer is chosen "
                  "by train cross-validation (the dot, with its 95 % bootstrap interval on the test entities). The "
                  "baselines use no activations: the answer's surprisal, the popularity, both, the rate of known "
                  "entities with the same gold answer, and the entity string's TF-IDF n-grams; their bands are "
                  "95 % intervals. Click a legend entry to highlight a series.", {
        "data": {"values": records(rows)},
        "facet": {"field": "dataset", "type": "nominal", "sort": list(reports), "title": None},
        "columns": 3,
        "spec": {
            "width": 250,
            "height": 170,
            "layer": [
                {"transform": [{"filter": "isValid(datum.lo) && !datum.chosen"}],
                 "mark": {"type": "area", "opacity": 0.15},
                 "encoding": {"x": x, "y": {"field": "lo", **y}, "y2": {"field": "hi"}, "color": colour}},
                {"transform": [{"filter": "!datum.chosen"}],
                 "params": [{"name": "kp_pick", "select": {"type": "point", "fields": ["series"]}, "bind": "legend"}],
                 "mark": {"type": "line", "point": {"size": 12}},
                 "encoding": {"x": x, "y": {"field": "auroc", **y}, "color": colour, "opacity": opacity,
                              "tooltip": tooltip}},
                {"transform": [{"filter": "datum.chosen"}],
                 "mark": {"type": "rule", "strokeWidth": 2, "color": "black"},
                 "encoding": {"x": x, "y": {"field": "lo", **y}, "y2": {"field": "hi"}, "tooltip": tooltip}},
                {"transform": [{"filter": "datum.chosen"}],
                 "mark": {"type": "point", "filled": True, "size": 50, "color": "black"},
                 "encoding": {"x": x, "y": {"field": "auroc", **y}, "tooltip": tooltip}},
            ],
        },
        "resolve": {"scale": {"y": "independent"}},
    })]


def _verdict(rep: FamiliarityProbeReport, a: str, b: str) -> str:
    """The report's verdict on the R² difference ``a`` minus ``b`` (the probe's, on its test entities)."""
    found = [d for d in rep.differences if d.metric == "r2" and d.a == a and d.b == b]
    return found[0].verdict if found else "—"


def _best_baseline(kp: KnowledgeProbe) -> str:
    measured = {name: iv for name, iv in kp.baselines.items() if iv is not None and iv.value is not None}
    if not measured:
        return "—"
    name, iv = max(measured.items(), key=lambda item: item[1].value)
    return f"{name}: {interval(iv.value, iv.lo, iv.hi)}"


def summary_table(labels: dict[str, FamiliaritySummary], reports: dict[str, FamiliarityProbeReport]) -> str:
    head = ["dataset", "labelled", "known", "constant answer known", "probe R² known", "probe R² unknown",
            "known vs unknown", "knowledge probe AUROC", "best baseline AUROC"]
    rows = []
    for ds in dict.fromkeys([*labels, *reports]):
        s, rep = labels.get(ds), reports.get(ds)
        probe = next((p for p in rep.split if p.predictor == "probe"), None) if rep else None
        r2 = {g: (probe.groups.get(g) if probe else None) for g in ("known", "unknown")}
        kp = rep.knowledge_probe if rep and isinstance(rep.knowledge_probe, KnowledgeProbe) else None
        rows.append([
            ds, f"{s.n_labelled:,}" if s else "—", f"{s.fraction_known:.3f}" if s else "—",
            f"{s.chance_known:.3f}" if s else "—",
            *(interval(m.r2.value, m.r2.lo, m.r2.hi) if m else "—" for m in r2.values()),
            _verdict(rep, "known", "unknown") if rep else "—",
            f"{interval(kp.test_auroc.value, kp.test_auroc.lo, kp.test_auroc.hi)} (layer {kp.layer})" if kp else "—",
            _best_baseline(kp) if kp else "—",
        ])
    return html_table(head, rows, "Known: the model's answer to a few-shot question is right (metrics/familiarity). "
                      "R² and AUROC on the test entities with 95 % bootstrap intervals (metrics/familiarity_probes).")


INTRO = ("<p>Does the model know the entity, and is the probe better on entities it knows? A few-shot question labels "
         "each entity known or unknown; the probes of the space-and-time study are scored on each group.</p>")


def section(inputs: PageInputs) -> Section | None:
    labels = inputs.outputs("metrics/familiarity", FamiliaritySummary)
    reports = inputs.outputs("metrics/familiarity_probes", FamiliarityProbeReport)
    if not labels and not reports:
        return None
    charts = [*known_charts(labels), *split_chart(reports), *knowledge_chart(reports)]
    return Section("familiarity", "Familiarity: what the model knows", INTRO + summary_table(labels, reports), charts)
