"""The self-contained results page ``reports/index.html``: every study's section, interactive, readable offline.

Each study builds its own :class:`~worldprobe.charts.Section` from its committed files (``<study>/page.py``);
this module puts them on one page. Vega, Vega-Lite and Vega-Embed come inlined from
``vl-convert-python``'s bundle, every data point is inlined in the specs, and the page loads nothing
else (no CDN, no font, no image), so a clone opens it from disk without a network.
``tests/integration/site/test_page_browser.py`` checks that in Chromium.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import vl_convert

from ..causal import page as causal_page
from ..charts import PageInputs, Section
from ..familiarity import page as familiarity_page
from ..io import OutputError, atomic_path
from ..karel import page as karel_page
from ..spacetime import page as spacetime_page

PAGE_PATH = Path("reports/index.html")
VEGA_LITE_VERSION = "6.4"  # the bundle and the specs' schema must agree
DVC_VEGA_LITE_VERSION = "5.21"  # DVC's plot templates are Vega-Lite 5 specs
# vega-embed's menu: exporting the chart works offline; the source and editor links would leave the page
EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False, "compiled": False, "editor": False}}

# the studies in the page's order; each returns its section, or None when none of its files exist
SECTION_MAKERS: tuple[Callable[[PageInputs], Section | None], ...] = (
    spacetime_page.section, familiarity_page.section, causal_page.section, karel_page.section,
)

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.4rem; margin-top: 3rem; border-bottom: 2px solid #bbb; }
h3 { font-size: 1.1rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table.results { border-collapse: collapse; font-size: 13px; margin: .5rem 0; } .results td, .results th { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
.results td:first-child, .results th:first-child, .results td:nth-child(2) { text-align: left; } .note, .caption { color: #555; font-size: 13px; }
nav a { margin-right: .8rem; } nav.sections a { font-weight: 600; } .chart { margin: .5rem 0 1rem; }
"""


def inline_bundle(vl_version: str) -> str:
    """Vega, Vega-Lite ``vl_version`` and Vega-Embed as one script body, defining ``window.vegaEmbed``."""
    bundle = vl_convert.javascript_bundle(vl_version=vl_version)
    return bundle.replace("</script", "<\\/script")  # never present today; an inline script must not contain it


def dvc_plots_template(vl_version: str = DVC_VEGA_LITE_VERSION) -> str:
    """An HTML template for ``dvc plots show --html-template`` with the Vega scripts inline instead of from a CDN.

    DVC puts its CDN ``<script>`` tags where a template says ``{scripts}``; this one has no such
    placeholder, only ``{plot_divs}`` (and ``{refresh_tag}``), so the page DVC writes loads nothing.
    """
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n{refresh_tag}\n<title>DVC Plot</title>\n"
        f"<script>{inline_bundle(vl_version)}</script>\n"
        "<style>table { border-spacing: 15px; }</style>\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n"
    )


def _section_html(section: Section) -> str:
    nav = " ".join(f'<a href="#{c.key}-title">{html.escape(c.title.split(":")[0])}</a>' for c in section.charts)
    charts = "\n".join(
        f'<h3 id="{c.key}-title">{html.escape(c.title)}</h3><p class=caption>{html.escape(c.caption)}</p>'
        f'<div class=chart id="{c.key}"></div>'
        for c in section.charts
    )
    return (f'<section id="{section.key}">\n<h2>{html.escape(section.title)}</h2>\n{section.text}\n'
            f"<nav>{nav}</nav>\n{charts}\n</section>")


def render_page(sections: Sequence[Section]) -> str:
    """The whole page as one string: style, bundle, specs and the call that embeds them, all inline."""
    bundle = inline_bundle(VEGA_LITE_VERSION)
    schema = f"https://vega.github.io/schema/vega-lite/v{VEGA_LITE_VERSION.split('.')[0]}.json"  # an id, never fetched
    specs = {c.key: {"$schema": schema, **c.spec} for s in sections for c in s.charts}
    # "</" would end the inline <script> early if a label ever contained "</script>"
    specs_js = json.dumps(specs, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    nav = " ".join(f'<a href="#{s.key}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(_section_html(s) for s in sections)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>worldprobe: results</title>
<style>{STYLE}</style>
<script>{bundle}</script>
</head>
<body>
<h1>worldprobe: what do small models represent, and does it matter?</h1>
<p>Four studies, one page: space and time probes, what the model knows (familiarity), whether editing along a
probe direction changes what the model says (the causal test), and semantic content in a Karel program synthesiser.
Generated by the <code>site</code> stage (<code>dvc repro site</code>) from the committed metrics; every script is
inline, so this page needs no network.</p>
<nav class=sections>{nav}</nav>
{body}
<script>
const specs = {specs_js};
const options = {json.dumps(EMBED_OPTIONS, sort_keys=True)};
for (const [key, spec] of Object.entries(specs)) {{
  vegaEmbed("#" + key, spec, options).catch((error) => console.error(key, error));
}}
</script>
</body>
</html>
"""


def build_sections(inputs: PageInputs) -> list[Section]:
    return [s for make in SECTION_MAKERS if (s := make(inputs)) is not None]


def write_results_page(datasets: Sequence[str], shapes_dir: Path, root: Path = Path("."), path: Path = PAGE_PATH) -> list[Section]:
    """Write ``reports/index.html`` from the committed files under ``root``; returns the sections it holds."""
    sections = build_sections(PageInputs(root, list(datasets), shapes_dir))
    if not sections:
        raise OutputError(f"{root}: no result files to chart (run the studies' report stages first)")
    with atomic_path(root / path) as tmp:
        tmp.write_text(render_page(sections), encoding="utf-8")
    return sections
