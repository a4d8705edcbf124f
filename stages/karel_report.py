"""Regression of generation accuracy on semantic content, the Karel figures and the study's report
-> metrics/karel/regression.json, plots/karel/figures/*.png, docs/karel.md."""

from pathlib import Path

import pandas as pd

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.karel import docs, plots
from worldprobe.karel.analysis import SemanticsSummary, regressions
from worldprobe.karel.outputs import KarelSynthesis

FIGURES = Path("plots/karel/figures")


def main() -> None:
    params = load_params()
    alts = list(params.karel.alt_semantics)
    accuracy = pd.read_csv("plots/karel/accuracy.csv")
    by_length = pd.read_csv("plots/karel/lengths.csv")
    semantics = pd.read_csv("plots/karel/semantics.csv")
    summary = SemanticsSummary.load("metrics/karel/semantics.json")
    chance = KarelSynthesis.load("metrics/karel/synthesis.json").chance.model_dump()
    fits = regressions(accuracy, semantics)
    fits.save("metrics/karel/regression.json")
    plots.loss_plot(pd.read_csv("plots/karel/loss.csv"), FIGURES / "loss.png")
    plots.accuracy_plot(accuracy, chance, FIGURES / "accuracy.png")
    plots.lengths_plot(accuracy, by_length, FIGURES / "lengths.png")
    full = sorted(semantics[semantics["semantics"] != "original"]["feature"].dropna().unique())
    for feature in sorted(semantics["feature"].dropna().unique()):
        for frame in sorted(semantics["frame"].unique()):
            plots.content_plot(semantics, frame, feature, FIGURES / f"content_{frame}_{feature}.png")
        if feature not in full:  # per-layer features: content only
            continue
        plots.decomposition_plot(semantics, feature, FIGURES / f"decomposition_{feature}.png")
        plots.scatter_plot(accuracy, semantics, fits.fits, "absolute", feature, FIGURES / f"scatter_composed_{feature}.png",
                           target="composed")
        for frame in sorted(semantics["frame"].unique()):
            name = f"{frame}_{feature}.png"
            plots.scatter_plot(accuracy, semantics, fits.fits, frame, feature, FIGURES / f"scatter_{name}")
            plots.intervention_plot(summary, frame, feature, FIGURES / f"intervention_{name}")
            plots.intervention_training_plot(semantics, alts, frame, feature, FIGURES / f"intervention_training_{name}")
    with atomic_path(docs.DOC_PATH) as tmp:  # after regression.json: the report reads it
        tmp.write_text(docs.render())
    print(f"karel report: {len(fits.fits)} regressions, figures in {FIGURES}")


if __name__ == "__main__":
    main()
