"""Summarise the space-and-time study: metrics/spacetime/summary.json, plot tables, PNG figures and results.md.

Usage: python stages/report.py
"""

from pathlib import Path

from worldprobe.config import load_params
from worldprobe.spacetime.report import build_report


def main() -> None:
    params = load_params()
    build_report(datasets=list(params.data.datasets), shapes_dir=Path(params.data.snapshot_dir) / "shapes")


if __name__ == "__main__":
    main()
