"""The results page in a real browser: headless Chromium (Debian's ``chromium``) opens it from disk.

Checks that every chart drew its marks, that the console stayed free of errors, that no request left
the machine, and that hovering a place on the map names it. Skips where Chromium is not installed
(``apt-get install chromium``; ``.ci/run`` installs it, so CI always runs this test).
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest
from scipy.spatial import cKDTree

from tests.conftest import REPO
from tests.unit.site.test_page import CHARTS, page, specs_of  # noqa: F401  (the page fixture)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as pw:
        # the system browser: playwright downloads nothing
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def test_page_renders_offline_in_chromium(browser, page):  # noqa: F811
    path, _ = page
    tab = browser.new_page()
    requests, errors = [], []
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(path.as_uri())
    # every chart of every study: an svg whose mark groups hold drawn items (a path, a line, a symbol...)
    tab.wait_for_function(
        "keys => keys.every(k => document.querySelector('#' + k + ' svg.marks g.role-mark'))", arg=CHARTS, timeout=60_000
    )
    items = {key: tab.evaluate("k => document.querySelectorAll('#' + k + ' g.role-mark > *').length", key) for key in CHARTS}
    assert all(count > 0 for count in items.values()), items
    assert tab.evaluate("[...document.querySelectorAll('section')].map(s => s.id)") == ["spacetime", "familiarity", "causal", "karel"]
    # the world map: one dot per drawn test entity at its true and at its predicted position
    drawn_ids = [p["id"] for p in specs_of(path.read_text())["map_world"]["layer"][1]["data"]["values"]]
    assert tab.evaluate("document.querySelectorAll('#map_world g.mark-symbol > path').length") == 2 * len(drawn_ids)
    assert errors == []
    assert requests == [path.as_uri()], "the page requested more than itself"

    # hover the drawn true position farthest from any other, so that no neighbour's dot lies over it
    world = pd.read_csv(REPO / "plots/probes/world/predictions.csv").set_index("id").loc[drawn_ids].reset_index()
    distances, _ = cKDTree(world[["longitude", "latitude"]]).query(world[["longitude", "latitude"]], k=2)
    loneliest = int(distances[:, 1].argmax())
    tab.locator("#map_world g.mark-symbol").nth(1).locator("path").nth(loneliest).hover(force=True)
    tooltip = tab.locator("#vg-tooltip-element.visible")
    tooltip.wait_for(timeout=10_000)
    assert world["text"][loneliest] in tooltip.inner_text() and "predicted latitude" in tooltip.inner_text()
    assert errors == []


def test_dvc_plots_show_with_the_offline_template_renders_offline(browser, tmp_path):
    template, out = tmp_path / "offline_plots.html", tmp_path / "plots"
    subprocess.run([sys.executable, str(REPO / "scripts/offline_plots_template.py"), str(template)], check=True)
    subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--html-template", str(template), "-o", str(out)],
                   cwd=REPO, check=True, capture_output=True)
    tab = browser.new_page()
    requests, errors = [], []
    tab.on("request", lambda request: requests.append(request.url))
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto((out / "index.html").as_uri())
    # the dvc.yaml plots of the study, drawn by the inlined Vega (PNG figures are <img> of files beside the page)
    tab.wait_for_function("document.querySelectorAll('#spacetime_depth_world svg g.role-mark, "
                          "#spacetime_depth_world canvas').length > 0", timeout=60_000)
    drawn = tab.evaluate("[...document.querySelectorAll('div[id^=spacetime_]')].map(d => d.querySelector('canvas, svg.marks') !== null)")
    assert len(drawn) == 10 and all(drawn)
    assert errors == []
    assert all(url.startswith((out.as_uri() + "/")) for url in requests), requests
