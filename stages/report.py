"""Summarise the space-and-time study: metrics/spacetime/summary.json, plot tables, PNG figures and
the study report docs/spacetime.md.

Usage: python stages/report.py
"""

from pathlib import Path

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.spacetime import docs
from worldprobe.spacetime.report import build_report


def main() -> None:
    params = load_params()
    shapes_dir = Path(params.data.snapshot_dir) / "shapes"
    build_report(datasets=list(params.data.datasets), shapes_dir=shapes_dir)
    with atomic_path(docs.DOC_PATH) as tmp:
        tmp.write_text(docs.render())


if __name__ == "__main__":
    main()
