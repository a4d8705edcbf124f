"""The results page: every chart of the committed results of all four studies, nothing loaded from outside,
charts as functions, every number from the committed files."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from worldprobe.causal import page as causal_page
from worldprobe.causal.docs import Study
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
    "causal": ["causal_sweep", "causal_ablation"],
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
    # causal: every edit's effect on its own readout at every layer and ratio (the probe and both controls), with
    # its interval, the edit's size and the paired comparison; and both subspaces' ablation at every layer (the page
    # rounds to 3 significant figures)
    near = {"rel": 5e-3, "abs": 1e-4}
    sweep = {(r["panel"], r["layer"], r["ratio"], r["kind"]): r for r in specs["causal_sweep"]["data"]["values"]}
    ablation = {(r["panel"].split(" (")[0], int(r["panel"].rsplit("dim ", 1)[1]), r["layer"], r["subspace"]): r
                for r in specs["causal_ablation"]["data"]["values"]}
    for ds in ("world", "people"):
        m = InterventionMetrics.load(REPO / f"metrics/intervention/{ds}.json")
        sizes = {(s.edited_target, s.layer, s.ratio): s.delta_sd for s in m.edit_sizes}
        paired = {(c.edited_target, c.layer, c.ratio, c.versus): c for c in m.comparisons if c.subset == "all"}
        own = [e for e in m.effects if e.subset == "all" and e.readout == e.edited_target and e.effect is not None]
        assert {e.kind for e in own} == {"probe", "random", "orthogonal"}
        assert {e.ratio for e in own if e.kind == "probe"} == set(m.ratios)
        for e in own:
            row = sweep.pop((f"{ds}: edit {e.edited_target}", e.layer, f"{e.ratio:g}", e.kind))
            assert (row["effect"], row["lo"], row["hi"]) == pytest.approx((e.effect, e.lo, e.hi), **near)
            if e.kind == "probe":
                assert row["sd"] == pytest.approx(sizes[(e.edited_target, e.layer, e.ratio)], **near)
            else:
                c = paired[(e.edited_target, e.layer, e.ratio, e.kind)]
                assert (row["diff"], row["verdict"]) == (pytest.approx(c.difference, **near), c.sign)
        verdicts = {(c.layer, c.dim): c for c in m.ablation_comparisons if c.subset == "all"}
        assert {a.subspace for a in m.ablation} == {"probe", "random", "all"}
        for a in (a for a in m.ablation if a.subset == "all"):
            row = ablation.pop((ds, a.dim, a.layer, causal_page.SUBSPACES[a.subspace]))
            assert (row["error_increase"], row["lo"], row["hi"]) == pytest.approx((a.error_increase, a.error_lo, a.error_hi), **near)
            assert row.get("verdict") == (verdicts[(a.layer, a.dim)].sign if a.subspace == "probe" else None)
    assert not sweep and not ablation  # nothing drawn that the metrics do not hold (no side effect, no subset)
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
    first = next(c for c in m.comparisons if c.subset == "all" and c.edited_target == "latitude")
    key = (first.subset, first.edited_target, first.layer, first.ratio)
    comparisons = [c.model_copy(update={"difference": 7.25, "lo": 3.5, "hi": 11.0, "sign": "above 0"})
                   if (c.subset, c.edited_target, c.layer, c.ratio) == key else c for c in m.comparisons]
    ablated = [c.model_copy(update={"difference": 123.45, "lo": 100.0, "hi": 150.0, "sign": "above 0"})
               if c == m.ablation_comparisons[0] else c for c in m.ablation_comparisons]
    sizes = [s.model_copy(update={"delta_sd": 9876.5}) if s == m.edit_sizes[0] else s for s in m.edit_sizes]  # the largest
    m.model_copy(update={"comparisons": comparisons, "ablation_comparisons": ablated, "edit_sizes": sizes}).save(path)
    after = write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    text = {s.key: s.text for s in after}
    before_text = {s.key: s.text for s in before}
    assert "123.45 [100.00, 150.00]" in text["causal"] and "123.45 [100.00, 150.00]" not in before_text["causal"]
    assert "9876.50 target sd" in text["causal"] and "9876.50 target sd" not in before_text["causal"]

    def verdict(page_text: str) -> str:
        """The verdict table's cell of the changed edit."""
        layers = [int(n) for n in re.findall(r"<th>layer (\d+)</th>", page_text)]
        row = re.search(rf"<tr><td>world</td><td>latitude</td><td>{first.ratio:g}</td>((?:<td>[^<]*</td>)+)</tr>", page_text)
        return re.findall(r"<td>([^<]*)</td>", row.group(1))[layers.index(first.layer)]
    assert verdict(text["causal"]) == "both"
    assert verdict(before_text["causal"]) == Study(metrics=m, figure="").edit("latitude", first.layer, first.ratio).plain_verdict.replace(
        "beats both controls", "both")
    changed = Study(metrics=InterventionMetrics.load(path), figure="")
    assert first.layer in changed.beating_layers("latitude", first.ratio)
    assert html.escape(changed.target_sentence("latitude")) in text["causal"]
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
