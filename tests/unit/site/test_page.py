"""The results page: every chart of the committed results of all four studies, nothing loaded from outside,
charts as functions, every number from the committed files."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import vl_convert

from tests.conftest import REPO
from worldprobe.causal import page as causal_page
from worldprobe.causal.docs import Study
from worldprobe.causal.outputs import InterventionMetrics
from worldprobe.config import load_params
from worldprobe.familiarity.probes import FamiliarityProbeReport
from worldprobe.io import OutputError, read_json
from worldprobe.registry import DATASETS as REGISTRY
from worldprobe.charts import PageInputs
from worldprobe.karel import page as karel_page
from worldprobe.karel.analysis import RegressionSummary, regression_key, regressions
from worldprobe.karel.content import CONTROLS, NON_ORACLE, NULLS, ORACLES, SYNTAX
from worldprobe.karel.plots import CONTROL_NAMES, FRAME_NAMES
from worldprobe.site.page import VEGA_LITE_VERSION, write_results_page
from worldprobe.stats import interval_sign
from worldprobe.spacetime.page import MAX_POINTS

DATASETS = list(load_params(REPO / "params.yaml").data.datasets)
SECTIONS = {
    "spacetime": ["depth", "learning_curve", "map_world", "map_us", "map_nyc", "years_people", "years_art",
                  "years_headlines", "prompts", "probe_kinds", "pca", "holdout", "models"],
    "familiarity": ["familiarity_deciles", "familiarity_types", "familiarity_split", "familiarity_knowledge"],
    "causal": ["causal_sweep", "causal_ablation"],
    "karel": ["karel_accuracy", "karel_content", "karel_tests", "karel_control", "karel_regression"],
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


def test_the_model_axis_chart_draws_each_models_committed_r2(page):
    values = specs_of(page[0].read_text())["models"]["data"]["values"]
    for ds in DATASETS:
        for model in read_json(REPO / f"metrics/models/{ds}.json")["models"]:
            drawn = [v for v in values if (v["dataset"], v["model"], v["series"]) ==
                     (REGISTRY[ds].title, model["name"], "probe (best layer)")]
            assert len(drawn) == 1 and drawn[0]["n_params"] == model["n_params"]
            assert drawn[0]["r2"] == pytest.approx(model["r2"], abs=1e-4)


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
    lines = karel_lines(specs["karel_regression"])
    assert lines
    assert_lines_are_the_fits(lines, RegressionSummary.load(REPO / "metrics/karel/regression.json"))


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


# ----------------------------------------------------------------------------- Karel, from frames made by hand

KAREL_STEPS = (0, 10, 20)
KAREL_SETS = ("generated", "teacher_forced")


def karel_semantics() -> pd.DataFrame:
    """plots/karel/semantics.csv by hand: both probe sets, two offsets, every kind of row; accuracies with 3
    decimals, which the page's 3 significant digits keep."""
    rng = np.random.default_rng(0)
    rows = []

    def add(probe_set, step, target, offset, feature, probe, frame="absolute", semantics="original"):
        rows.append({"step": step, "probe_set": probe_set, "frame": frame, "semantics": semantics, "target": target,
                     "offset": offset, "feature": feature, "probe": probe,
                     "accuracy": round(rng.uniform(0.1, 0.99), 3), "n_test": 100, "valid": True if probe == "mlp" else None})

    for probe_set in KAREL_SETS:
        for step in KAREL_STEPS:
            for frame in ("absolute", "relative"):
                for offset in (0.0, 1.0):
                    facing = {"probe_set": probe_set, "step": step, "target": "facing", "offset": offset, "frame": frame}
                    for feature in ("mean", "concat", "layer_0"):  # per-layer: content only, left off the page
                        add(**facing, feature=feature, probe="linear")
                    for feature in ("mean", "concat"):  # probed under the alternative too: the page's inputs
                        add(**facing, feature=feature, probe="linear", semantics="flip")
                    if probe_set == "generated" and step != 10:  # MLPs at some checkpoints only
                        add(**facing, feature="mean", probe="mlp")
                    for baseline in (*NON_ORACLE, *ORACLES):
                        add(**facing, feature=None, probe=baseline)
                    for null in NULLS:
                        add(**facing, feature=null, probe=SYNTAX)
                    if frame == "absolute":
                        add(probe_set, step, "composed", offset, "mean", "linear")
            for target, offset in [("initial_0", None), *((c, 0.0 if c == "heldout" else None) for c in CONTROLS)]:
                for feature in ("mean", "layer_0"):
                    add(probe_set, step, target, offset, feature, "linear")
                add(probe_set, step, target, offset, None, "majority")
    return pd.DataFrame(rows)


def karel_tests() -> pd.DataFrame:
    """plots/karel/tests.csv by hand: the beats tests of both probe sets, and an intervention test the page leaves out."""
    rng = np.random.default_rng(1)
    rows = []
    for probe_set in KAREL_SETS:
        for step in KAREL_STEPS:
            for test, semantics in (("beats", "original"), ("intervention", "flip")):
                for feature in ("mean", "concat"):
                    for frame in ("absolute", "relative"):
                        for offset in (0, 1):
                            for null in ("tokens", "counts", "prefix"):
                                diff = round(rng.uniform(-0.5, 0.5), 3)
                                low, high = round(diff - 0.15, 3), round(diff + 0.15, 3)
                                rows.append({"step": step, "probe_set": probe_set, "test": test, "feature": feature,
                                             "frame": frame, "semantics": semantics, "offset": offset, "null": null,
                                             "diff": diff, "ci_low": low, "ci_high": high,
                                             "verdict": interval_sign(low, high).value, "n_test": 100})
    return pd.DataFrame(rows)


def karel_accuracy() -> pd.DataFrame:
    return pd.DataFrame({"step": KAREL_STEPS, "accuracy_spec": [0.0, 0.3, 0.6], "accuracy_all": [0.0, 0.2, 0.5]})


def karel_long(spec: dict) -> pd.DataFrame:
    """A chart's wide CSV back in long form, as its fold and split transforms read it: one row per probe set,
    checkpoint and series, its keys in their own columns (a missing one empty)."""
    table = pd.read_csv(io.StringIO(spec["data"]["values"]), keep_default_na=False, na_values=[""])
    fold = next(t for t in spec["transform"] if "fold" in t)
    keys = [t["as"] for t in spec["transform"] if t.get("calculate", "").startswith("split(")]
    long = table.melt(id_vars=["probe_set", "step"], value_vars=fold["fold"], var_name="key", value_name=fold["as"][1])
    long = long.dropna(subset=[fold["as"][1]])
    return long.join(long["key"].str.split(karel_page.SEP, expand=True).set_axis(keys, axis=1))


def karel_lines(spec: dict) -> list[dict]:
    """The fits a regression chart draws its lines from."""
    return next(t["from"]["data"]["values"] for t in spec["transform"] if "lookup" in t)


def assert_lines_are_the_fits(lines: list[dict], regression: RegressionSummary) -> None:
    for r in lines:
        fit = regression.fits[r["name"]]
        assert fit.steps == "all" and r["fit"].startswith(fit.probe_set + karel_page.SEP)  # its dots' probe set
        assert (r["r2"], r["slope"], r["intercept"]) == pytest.approx(
            (fit.content.r2, fit.content.slope, fit.content.intercept), abs=1e-4)
        assert r.get("r2_above_text") == (None if fit.above_text.r2 is None else pytest.approx(fit.above_text.r2, abs=1e-4))


def drawn(spec: dict) -> dict[str, int]:
    """The items of every data mark Vega draws from a chart in its default view (legends and axes left out)."""
    counts: dict[str, int] = {}

    def walk(node):
        if isinstance(node, dict):
            if node.get("role") == "mark" and node.get("marktype"):
                counts[node["marktype"]] = counts.get(node["marktype"], 0) + len(node.get("items", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(vl_convert.vegalite_to_scenegraph(spec, vl_version=VEGA_LITE_VERSION))
    return counts


@pytest.fixture(scope="module")
def karel_charts() -> dict:
    semantics, accuracy = karel_semantics(), karel_accuracy()
    regression = regressions(accuracy, semantics, n_boot=20, seed=0)
    charts = [*karel_page.content_chart(semantics), *karel_page.tests_chart(karel_tests()),
              *karel_page.control_chart(semantics), *karel_page.regression_chart(accuracy, semantics, regression)]
    return {"specs": {c.key: c.spec for c in charts}, "semantics": semantics, "regression": regression}


def test_karel_charts_show_one_probe_set_at_a_time(karel_charts):
    """Every chart of the probes has a probe-set selector, the generated programs first, and draws that set only."""
    for key, spec in karel_charts["specs"].items():
        pick = next(p for p in spec["params"] if p["bind"]["name"] == "probe set ")
        assert (pick["value"], pick["bind"]["options"]) == ("generated", ["generated", "teacher_forced"]), key
        assert spec["transform"][0] == {"filter": f"datum.probe_set == {pick['name']}"}, key


def test_karel_content_chart_holds_every_series_beside_the_text_nulls(karel_charts):
    semantics = karel_charts["semantics"]
    long = karel_long(karel_charts["specs"]["karel_content"])
    orig = semantics[(semantics["semantics"] == "original") & semantics["target"].isin(["facing", "composed"])]
    shown = orig[~orig["feature"].isin(["layer_0"])]  # per-layer inputs are left off the page
    assert len(long) == len(shown)
    assert set(long["feature"]) == {"mean", "concat", ""}  # the nulls and baselines read no activations
    series = set(long["series"])
    assert series == {"probe: linear", "probe: mlp", "composed (initial + rotation): linear", "text null: tokens",
                      "text null: counts", "baseline: majority", "baseline: initial", "baseline: prefix",
                      "oracle: unchanged", "oracle: current"}
    null = shown[(shown["probe"] == SYNTAX) & (shown["feature"] == "tokens")]
    got = long[long["series"] == "text null: tokens"]
    assert sorted(got["accuracy"]) == sorted(null["accuracy"])
    mlp = long[long["series"] == "probe: mlp"]
    assert set(mlp["probe_set"]) == {"generated"} and set(mlp["step"]) == {0, 20}


def test_karel_control_chart_shows_the_three_controls_and_their_majority(karel_charts):
    spec = karel_charts["specs"]["karel_control"]
    long = karel_long(spec)
    assert set(long["target"]) == {*CONTROLS, "initial_0"}
    for _, g in long.groupby(["probe_set", "step", "target"]):
        assert set(g["series"]) == {"probe: linear", "baseline: majority"}
    names = spec["facet"]["column"]["sort"]
    assert names == [CONTROL_NAMES[c] for c in CONTROLS] + ["initial facing, spec input 0"]


def test_karel_tests_chart_draws_the_beats_tests_with_their_intervals(karel_charts):
    spec, sep = karel_charts["specs"]["karel_tests"], karel_page.SEP
    table = pd.read_csv(io.StringIO(spec["data"]["values"]), dtype=str)
    cells = table.melt(id_vars=["probe_set", "step"], var_name="column").dropna(subset=["value"])
    parts = cells["column"].str.split(sep, n=4, expand=True)  # frame, offset, feature, null, and what of the test
    got = cells.assign(step=cells["step"].astype(int), series=parts[[0, 1, 2, 3]].agg(sep.join, axis=1),
                       what=parts[4].fillna("diff"))
    got = got.pivot(index=["probe_set", "step", "series"], columns="what", values="value")
    beats = karel_tests().query("test == 'beats'")  # the intervention tests stay in tests.csv
    names = {"tokens": "text null: tokens", "counts": "text null: counts", "prefix": "baseline: prefix"}
    want = beats.assign(series=beats["frame"].map(FRAME_NAMES) + sep + beats["offset"].map({0: "current (0)", 1: "+1"})
                        + sep + beats["feature"] + sep + beats["null"].map(names),
                        verdict=beats["verdict"].map(karel_page.VERDICTS)).set_index(["probe_set", "step", "series"])
    assert sorted(got.index) == sorted(want.index)
    got = got.loc[want.index]
    numbers = ["diff", "ci_low", "ci_high"]
    assert got[numbers].astype(float).to_numpy() == pytest.approx(want[numbers].to_numpy())
    assert got["verdict"].tolist() == want["verdict"].tolist()
    assert spec["facet"]["row"]["field"] == "frame" and spec["facet"]["column"]["field"] == "offset"
    layers = spec["spec"]["layer"]
    assert [layer["mark"]["type"] for layer in layers] == ["errorband", "line", "rule"]
    assert layers[0]["encoding"]["color"]["field"] == "null" and layers[2]["encoding"]["y"]["datum"] == 0


def test_karel_regression_chart_draws_the_fits_over_every_checkpoint(karel_charts):
    spec, regression = karel_charts["specs"]["karel_regression"], karel_charts["regression"]
    lines = karel_lines(spec)
    assert {r["name"] for r in lines} == {k for k, f in regression.fits.items() if f.steps == "all" and
                                          f.content.r2 is not None and f.feature in ("mean", "concat")}
    assert {r["fit"].split(karel_page.SEP)[0] for r in lines} == set(KAREL_SETS)
    assert_lines_are_the_fits(lines, regression)
    tooltip = spec["spec"]["layer"][1]["encoding"]["tooltip"]
    assert {"field": "r2_above_text", "format": ".3f", "title": "R² on the margin over the best text-only score"} in tooltip


def test_karel_charts_draw_their_default_view(karel_charts):
    """Vega itself reads the CSV back: the generated programs, probe input mean, every series of the data."""
    specs, semantics = karel_charts["specs"], karel_charts["semantics"]
    content = semantics[(semantics["probe_set"] == "generated") & (semantics["semantics"] == "original")
                        & semantics["target"].isin(["facing", "composed"])
                        & (semantics["feature"].isin(["mean", *NULLS]) | semantics["feature"].isna())]
    assert drawn(specs["karel_content"])["symbol"] == len(content)
    tests = drawn(specs["karel_tests"])
    beats = karel_tests().query("test == 'beats' & probe_set == 'generated' & feature == 'mean'")
    assert tests["area"] == tests["symbol"] == len(beats)
    assert drawn(specs["karel_control"])["symbol"] == len(KAREL_STEPS) * 4 * 2  # a probe and the majority, 4 panels
    # the absolute facing: a dot per checkpoint and offset of each probe, a line through those with a fit
    dots = semantics[(semantics["probe_set"] == "generated") & (semantics["semantics"] == "original")
                     & (semantics["target"] == "facing") & (semantics["frame"] == "absolute")
                     & (semantics["feature"] == "mean") & semantics["probe"].isin(["linear", "mlp"])]
    fits = karel_charts["regression"].fits
    fitted = [fits[regression_key("generated", "absolute", "mean", p, "facing", int(o))].content.r2 is not None
              for p, o in zip(dots["probe"], dots["offset"])]
    assert 0 < sum(fitted) < len(dots)  # the MLPs of two checkpoints make no fit
    assert drawn(specs["karel_regression"]) == {"symbol": len(dots), "line": sum(fitted)}


def test_karel_section_reads_the_tests_when_present(tmp_path, snapshot_dir):
    folder = tmp_path / "plots/karel"
    folder.mkdir(parents=True)
    semantics, accuracy = karel_semantics(), karel_accuracy()
    semantics.to_csv(folder / "semantics.csv", index=False)
    accuracy.to_csv(folder / "accuracy.csv", index=False)
    karel_tests().to_csv(folder / "tests.csv", index=False)
    regressions(accuracy, semantics, n_boot=20, seed=0).save(tmp_path / "metrics/karel/regression.json")
    inputs = PageInputs(tmp_path, [], snapshot_dir / "shapes")
    section = karel_page.section(inputs)
    assert [c.key for c in section.charts] == SECTIONS["karel"]
    assert "R² above the best text-only score" in section.text
    (folder / "tests.csv").unlink()
    assert "karel_tests" not in [c.key for c in karel_page.section(inputs).charts]
