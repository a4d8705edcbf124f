"""The results page: every chart of the committed results of all four studies, nothing loaded from outside,
charts as functions, every number from the committed files."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from worldprobe.causal.outputs import InterventionMetrics
from worldprobe.config import load_params
from worldprobe.familiarity.probes import FamiliarityProbeReport
from worldprobe.io import OutputError
from worldprobe.karel.analysis import RegressionSummary
from worldprobe.site.page import write_results_page
from worldprobe.spacetime.page import MAX_POINTS

DATASETS = list(load_params(REPO / "params.yaml").data.datasets)
SECTIONS = {
    "spacetime": ["depth", "learning_curve", "map_world", "map_us", "map_nyc", "years_people", "years_art",
                  "years_headlines", "prompts", "probe_kinds", "pca", "holdout"],
    "familiarity": ["familiarity_deciles", "familiarity_types", "familiarity_split", "familiarity_knowledge"],
    "causal": ["causal_layers", "causal_dose"],
    "karel": ["karel_accuracy", "karel_content", "karel_control", "karel_regression"],
}
CHARTS = [key for keys in SECTIONS.values() for key in keys]


@pytest.fixture(scope="module")
def page(tmp_path_factory, snapshot_dir) -> tuple[Path, list]:
    """The page of the committed results, written to a temporary file."""
    path = tmp_path_factory.mktemp("page") / "index.html"
    sections = write_results_page(DATASETS, snapshot_dir / "shapes", root=REPO, path=path)
    return path, sections


def specs_of(text: str) -> dict:
    return json.loads(re.search(r"^const specs = (.*);$", text, re.M).group(1))


def test_every_chart_of_the_results_is_on_the_page(page):
    path, sections = page
    assert {s.key: [c.key for c in s.charts] for s in sections} == SECTIONS
    text = path.read_text()
    specs = specs_of(text)
    assert list(specs) == sorted(CHARTS)  # JSON keys sorted: the page is byte-stable
    assert all(f'<section id="{key}">' in text for key in SECTIONS)
    captions = {c.key: c.caption for s in sections for c in s.charts}
    for ds in ("world", "us", "nyc"):  # every test entity up to MAX_POINTS, above it a sample that says so
        test = pd.read_csv(REPO / f"plots/probes/{ds}/predictions.csv")
        drawn = specs[f"map_{ds}"]["layer"][1]["data"]["values"]
        assert len(drawn) == min(len(test), MAX_POINTS)
        assert {p["id"] for p in drawn} <= set(test["id"])
        assert captions[f"map_{ds}"].startswith(f"{len(drawn):,} " + ("test" if len(drawn) == len(test) else f"of the {len(test):,}"))
    assert path.stat().st_size < 4_000_000
    for key in ("map_nyc", "years_art"):  # the probe's predictions only: the controls' stay in predictions.csv
        fields = set().union(*(row.keys() for row in specs[key]["layer"][1]["data"]["values"]))
        assert "pred_year" in fields or "pred_longitude" in fields
        assert not any("_pred_" in f for f in fields) and "split_group" not in fields


def test_the_new_sections_chart_the_committed_metrics(page):
    specs = specs_of(page[0].read_text())
    # familiarity: one dot per (dataset, predictor, group) the reports score, at the reported R²
    split = {(r["dataset"], r["predictor"], r["group"]): r["r2"] for r in specs["familiarity_split"]["data"]["values"]}
    for ds in DATASETS:
        rep = FamiliarityProbeReport.load(REPO / f"metrics/familiarity_probes/{ds}.json")
        for s in rep.split:
            for g, m in s.groups.items():
                if m is not None:
                    assert split[(ds, s.predictor, g)] == pytest.approx(m.r2.value, abs=1e-4)
    # causal: the probe's slope at every edited layer, with its interval
    layers = specs["causal_layers"]["data"]["values"]
    for ds in ("world", "people"):
        m = InterventionMetrics.load(REPO / f"metrics/intervention/{ds}.json")
        probe = [e for e in m.all_entities.effects if e.model == "main" and e.kind == "probe" and e.readout == e.edited_target]
        drawn = {(r["panel"].split(" (")[0], r["layer"], r["series"]): r for r in layers}
        for e in probe:
            row = drawn[(f"{ds}: edit {e.edited_target}", e.layer, "probe direction")]
            assert (row["slope"], row["lo"], row["hi"]) == pytest.approx((e.slope, e.slope_lo, e.slope_hi), abs=1e-4)
        # the dose table's layer is named in its panel, and the probe's curve is the committed table's
        panels = {r["panel"] for r in specs["causal_dose"]["data"]["values"] if r["panel"].startswith(f"{ds}:")}
        assert panels and all(p.endswith(f"layer {m.dose_layer}") for p in panels)
    world_lat = pd.read_csv(REPO / "plots/intervention/world/latitude.csv")
    curve = [r["change"] for r in specs["causal_dose"]["data"]["values"]
             if r["panel"].startswith("world: edit latitude") and r["series"] == "probe direction"]
    assert curve == pytest.approx(world_lat["probe"].round(4).tolist())
    # the named layer is the table's: its probe curve's least-squares slope is that layer's mean slope per entity
    m = InterventionMetrics.load(REPO / "metrics/intervention/world.json")
    at_dose = {e.layer: e.slope for e in m.all_entities.effects
               if e.model == "main" and e.kind == "probe" and e.edited_target == e.readout == "latitude"}
    delta = world_lat["delta_sd"] - world_lat["delta_sd"].mean()
    assert (delta * world_lat["probe"]).sum() / (delta**2).sum() == pytest.approx(at_dose[m.dose_layer], rel=1e-6)
    assert min(abs(at_dose[m.dose_layer] - v) for k, v in at_dose.items() if k != m.dose_layer) > 1e-3
    # Karel: synthesis accuracy at every checkpoint, and each regression line through its fit
    accuracy = pd.read_csv(REPO / "plots/karel/accuracy.csv")
    drawn = [r for r in specs["karel_accuracy"]["layer"][0]["data"]["values"] if r["series"] == "spec examples"]
    assert [r["accuracy"] for r in drawn] == pytest.approx(accuracy["accuracy_spec"].tolist())
    fits = RegressionSummary.load(REPO / "metrics/karel/regression.json").fits
    lines = [r for r in specs["karel_regression"]["data"]["values"] if "fit_x" in r]
    assert lines
    for r in lines:
        fit = fits[r["fit"]]
        assert r["r2"] == pytest.approx(fit.content.r2, abs=1e-4)
        assert r["fit_y"] == pytest.approx(fit.content.intercept + fit.content.slope * r["fit_x"], abs=1e-3)


def test_section_text_follows_the_metrics(tmp_path, snapshot_dir):
    """A changed metric changes the page: nothing in a section's text is typed by hand."""
    for folder in ("metrics/familiarity", "metrics/familiarity_probes", "metrics/intervention"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    before = write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    path = tmp_path / "metrics/intervention/world.json"
    m = InterventionMetrics.load(path)
    comparison = m.all_entities.comparisons[0].model_copy(update={"verdict": "a verdict the metrics now hold"})
    changed = m.model_copy(update={"all_entities": m.all_entities.model_copy(
        update={"comparisons": [comparison, *m.all_entities.comparisons[1:]]}), "deltas": [-3.5, 3.5]})
    changed.save(path)
    after = write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    text = {s.key: s.text for s in after}
    assert "a verdict the metrics now hold" in text["causal"] and "Δ = -3.5, 3.5" in text["causal"]
    assert [s.key for s in before] == [s.key for s in after] == ["familiarity", "causal"]


def test_page_loads_nothing_from_outside(page):
    text = page[0].read_text()
    assert "window.vegaEmbed" in text  # the library is inline
    markup = re.sub(r"<script>.*?</script>", "<script></script>", text, flags=re.S)  # the HTML around the scripts
    assert markup.count("<script></script>") == 2
    assert not re.search(r"\ssrc=|<link\b|@import|url\(", markup)


def test_charts_whose_tables_are_absent_are_left_out(tmp_path, snapshot_dir):
    with pytest.raises(OutputError, match="no result files"):
        write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    (tmp_path / "plots/spacetime").mkdir(parents=True)
    shutil.copy(REPO / "plots/spacetime/pca.csv", tmp_path / "plots/spacetime/pca.csv")
    (tmp_path / "plots/karel").mkdir(parents=True)
    shutil.copy(REPO / "plots/karel/accuracy.csv", tmp_path / "plots/karel/accuracy.csv")
    sections = write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    assert {s.key: [c.key for c in s.charts] for s in sections} == {"spacetime": ["pca"], "karel": ["karel_accuracy"]}
    assert list(specs_of((tmp_path / "reports/index.html").read_text())) == ["karel_accuracy", "pca"]


def test_dvc_plots_template_inlines_the_scripts_instead_of_the_cdn():
    from dvc_render.html import HTML

    from worldprobe.site.page import dvc_plots_template

    template = dvc_plots_template()
    assert "{plot_divs}" in template and "{scripts}" not in template and "window.vegaEmbed" in template
    # DVC adds its CDN <script> tags where a template says {scripts}: this one has nowhere to put them
    page = HTML(template).with_scripts('<script src="https://cdn.example/vega.js"></script>').with_element("<div id=p></div>")
    assert "cdn.example" not in page.embed() and "<div id=p></div>" in page.embed()
