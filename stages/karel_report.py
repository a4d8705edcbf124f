"""Regression of generation accuracy on semantic content, and the Karel figures
-> metrics/karel/regression.json, plots/karel/figures/*.png."""

import json
from pathlib import Path

import pandas as pd

from worldprobe.config import load_params
from worldprobe.io import write_json
from worldprobe.karel import plots
from worldprobe.karel.analysis import regressions
from worldprobe.karel.outputs import KarelSynthesis

FIGURES = Path("plots/karel/figures")

if __name__ == "__main__":
    params = load_params()
    alts = list(params.karel.alt_semantics)
    accuracy = pd.read_csv("plots/karel/accuracy.csv")
    by_length = pd.read_csv("plots/karel/lengths.csv")
    semantics = pd.read_csv("plots/karel/semantics.csv")
    summary = json.load(open("metrics/karel/semantics.json"))
    chance = KarelSynthesis.load("metrics/karel/synthesis.json").chance.model_dump()
    fits = regressions(accuracy, semantics)
    write_json("metrics/karel/regression.json", {"fits": fits})
    plots.loss_plot(pd.read_csv("plots/karel/loss.csv"), FIGURES / "loss.png")
    plots.accuracy_plot(accuracy, chance, FIGURES / "accuracy.png")
    plots.lengths_plot(accuracy, by_length, FIGURES / "lengths.png")
    for frame in semantics["frame"].unique():
        for feature in sorted(semantics["feature"].dropna().unique()):
            name = f"{frame}_{feature}.png"
            plots.content_plot(semantics, frame, feature, FIGURES / f"content_{name}")
            plots.scatter_plot(accuracy, semantics, fits, frame, feature, FIGURES / f"scatter_{name}")
            plots.intervention_plot(summary, alts, frame, feature, FIGURES / f"intervention_{name}")
            plots.intervention_training_plot(semantics, alts, frame, feature, FIGURES / f"intervention_training_{name}")
    print(f"karel report: {len(fits)} regressions, figures in {FIGURES}")
