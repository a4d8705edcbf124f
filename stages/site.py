"""Write the results page of all four studies, reports/index.html (self-contained: inline Vega-Lite, opens offline),
from the committed metrics and plot tables of the space-and-time, familiarity, causal and Karel stages.

Usage: python stages/site.py
"""

from pathlib import Path

from worldprobe.config import load_params
from worldprobe.site.page import PAGE_PATH, write_results_page


def main() -> None:
    params = load_params()
    sections = write_results_page(datasets=list(params.data.datasets), shapes_dir=Path(params.data.snapshot_dir) / "shapes")
    print(f"wrote {PAGE_PATH}: " + ", ".join(f"{s.key} ({len(s.charts)} charts)" for s in sections))


if __name__ == "__main__":
    main()
