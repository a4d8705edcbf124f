"""Summarise the space-and-time study: metrics/spacetime/summary.json, plot tables, PNG figures,
the study report docs/spacetime.md and the self-contained results page reports/index.html.

Usage: python stages/report.py
"""

from pathlib import Path

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.spacetime import docs
from worldprobe.spacetime.report import build_report
from worldprobe.spacetime.webpage import write_results_page


def main() -> None:
    params = load_params()
    shapes_dir = Path(params.data.snapshot_dir) / "shapes"
    build_report(datasets=list(params.data.datasets), shapes_dir=shapes_dir)
    with atomic_path(docs.DOC_PATH) as tmp:
        tmp.write_text(docs.render())
    write_results_page(datasets=list(params.data.datasets), shapes_dir=shapes_dir)


if __name__ == "__main__":
    main()
