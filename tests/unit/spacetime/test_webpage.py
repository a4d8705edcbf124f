"""The results page: every chart of the committed results, nothing loaded from outside, charts as functions."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO
from worldprobe.config import load_params
from worldprobe.io import OutputError
from worldprobe.spacetime.webpage import MAX_POINTS, write_results_page

DATASETS = list(load_params(REPO / "params.yaml").data.datasets)
CHARTS = ["depth", "learning_curve", "map_world", "map_us", "map_nyc", "years_people", "years_art", "years_headlines",
          "prompts", "probe_kinds", "pca", "holdout"]


@pytest.fixture(scope="module")
def page(tmp_path_factory, snapshot_dir) -> tuple[Path, list]:
    """The page of the committed results, written to a temporary file."""
    path = tmp_path_factory.mktemp("page") / "index.html"
    charts = write_results_page(DATASETS, snapshot_dir / "shapes", root=REPO, path=path)
    return path, charts


def specs_of(text: str) -> dict:
    return json.loads(re.search(r"^const specs = (.*);$", text, re.M).group(1))


def test_every_chart_of_the_results_is_on_the_page(page):
    path, charts = page
    assert [c.key for c in charts] == CHARTS
    specs = specs_of(path.read_text())
    assert list(specs) == sorted(CHARTS)  # JSON keys sorted: the page is byte-stable
    captions = {c.key: c.caption for c in charts}
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


def test_page_loads_nothing_from_outside(page):
    text = page[0].read_text()
    assert "window.vegaEmbed" in text  # the library is inline
    markup = re.sub(r"<script>.*?</script>", "<script></script>", text, flags=re.S)  # the HTML around the scripts
    assert markup.count("<script></script>") == 2
    assert not re.search(r"\ssrc=|<link\b|@import|url\(", markup)


def test_charts_whose_tables_are_absent_are_left_out(tmp_path, snapshot_dir):
    with pytest.raises(OutputError, match="no result tables"):
        write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    (tmp_path / "plots/spacetime").mkdir(parents=True)
    shutil.copy(REPO / "plots/spacetime/pca.csv", tmp_path / "plots/spacetime/pca.csv")
    charts = write_results_page(DATASETS, snapshot_dir / "shapes", root=tmp_path)
    assert [c.key for c in charts] == ["pca"]
    assert list(specs_of((tmp_path / "reports/index.html").read_text())) == ["pca"]


def test_dvc_plots_template_inlines_the_scripts_instead_of_the_cdn():
    from dvc_render.html import HTML

    from worldprobe.spacetime.webpage import dvc_plots_template

    template = dvc_plots_template()
    assert "{plot_divs}" in template and "{scripts}" not in template and "window.vegaEmbed" in template
    # DVC adds its CDN <script> tags where a template says {scripts}: this one has nowhere to put them
    page = HTML(template).with_scripts('<script src="https://cdn.example/vega.js"></script>').with_element("<div id=p></div>")
    assert "cdn.example" not in page.embed() and "<div id=p></div>" in page.embed()
