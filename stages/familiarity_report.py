"""Stage familiarity_report: the familiarity figure and table over every dataset.

Usage: python stages/familiarity_report.py
Reads metrics/familiarity/*.json and metrics/familiarity_probes/*.json; writes reports/familiarity.md,
plots/familiarity/summary.csv and plots/familiarity/figures/familiarity.png.
"""

from pathlib import Path

from worldprobe.config import load_params
from worldprobe.familiarity.probes import FamiliarityProbeReport
from worldprobe.familiarity.report import familiarity_figure, markdown_report, summary_table
from worldprobe.io import atomic_path, read_json


def main() -> None:
    datasets = list(load_params().data.datasets)
    summaries = {ds: read_json(Path("metrics/familiarity") / f"{ds}.json") for ds in datasets}
    reports = {ds: FamiliarityProbeReport.load(Path("metrics/familiarity_probes") / f"{ds}.json") for ds in datasets}
    with atomic_path("plots/familiarity/summary.csv") as tmp:
        summary_table(reports).to_csv(tmp, index=False)
    with atomic_path("plots/familiarity/figures", directory=True) as out:
        familiarity_figure(reports, out / "familiarity.png")
    text = markdown_report(summaries, reports)
    with atomic_path("reports/familiarity.md") as tmp:
        tmp.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
