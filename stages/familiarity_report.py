"""Stage familiarity_report: the familiarity figure, table and study report over every dataset.

Usage: python stages/familiarity_report.py
Reads metrics/familiarity/*.json and metrics/familiarity_probes/*.json; writes docs/familiarity.md,
plots/familiarity/summary.csv and plots/familiarity/figures/familiarity.png.
"""

from pathlib import Path

from worldprobe.config import load_params
from worldprobe.familiarity import docs
from worldprobe.familiarity.probes import FamiliarityProbeReport
from worldprobe.familiarity.report import familiarity_figure, summary_table
from worldprobe.io import atomic_path


def main() -> None:
    datasets = list(load_params().data.datasets)
    reports = {ds: FamiliarityProbeReport.load(Path("metrics/familiarity_probes") / f"{ds}.json") for ds in datasets}
    with atomic_path("plots/familiarity/summary.csv") as tmp:
        summary_table(reports).to_csv(tmp, index=False)
    with atomic_path("plots/familiarity/figures", directory=True) as out:
        familiarity_figure(reports, out / "familiarity.png")
    with atomic_path(docs.DOC_PATH) as tmp:
        tmp.write_text(docs.render())


if __name__ == "__main__":
    main()
