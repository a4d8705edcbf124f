"""The probes summarised, generation accuracy regressed on semantic content, the Karel figures and the
study's report -> metrics/karel/{semantics,regression}.json, plots/karel/figures/<probe set>/*.png,
docs/karel.md."""

from pathlib import Path

import pandas as pd

from worldprobe.config import load_params
from worldprobe.io import atomic_path
from worldprobe.karel import docs, plots
from worldprobe.karel.analysis import invalid_mlp, regressions, summarize
from worldprobe.karel.content import ProbeSets
from worldprobe.karel.probes import PROBE_KINDS
from worldprobe.karel.outputs import KarelSynthesis

FIGURES = Path("plots/karel/figures")


def main() -> None:
    params = load_params()
    alts = list(params.karel.alt_semantics)
    accuracy = pd.read_csv("plots/karel/accuracy.csv")
    by_length = pd.read_csv("plots/karel/lengths.csv")
    semantics = pd.read_csv("plots/karel/semantics.csv")
    tests = pd.read_csv("plots/karel/tests.csv")
    sizes = ProbeSets.load("metrics/karel/probe_sets.json").sizes
    summary = summarize(semantics, tests, params.karel.profile, alts, sizes)
    summary.save("metrics/karel/semantics.json")
    chance = KarelSynthesis.load("metrics/karel/synthesis.json").chance.model_dump()
    fits = regressions(accuracy, semantics, params.karel.active_probing.bootstraps, params.seed)
    fits.save("metrics/karel/regression.json")
    plots.loss_plot(pd.read_csv("plots/karel/loss.csv"), FIGURES / "loss.png")
    plots.accuracy_plot(accuracy, chance, FIGURES / "accuracy.png")
    plots.lengths_plot(accuracy, by_length, FIGURES / "lengths.png")
    # the figures leave out the MLP scores that are no upper bound, as the metrics and the page do
    for probe_set, table in semantics[~invalid_mlp(semantics)].groupby("probe_set"):
        figures = FIGURES / probe_set
        paired = tests[tests["probe_set"] == probe_set]
        plots.controls_plot(table, figures / "controls.png")
        full = sorted(table[table["semantics"] != "original"]["feature"].dropna().unique())
        for feature in sorted(table[table["probe"].isin(PROBE_KINDS)]["feature"].dropna().unique()):
            for frame in sorted(table["frame"].unique()):
                plots.content_plot(table, frame, feature, figures / f"content_{frame}_{feature}.png")
            for test in sorted(set(paired[paired["feature"] == feature]["test"])):  # intervention: full_features only
                plots.tests_plot(paired, test, feature, figures / f"{test}_{feature}.png")
            if feature not in full:  # per-layer features: content only
                continue
            plots.decomposition_plot(table, feature, figures / f"decomposition_{feature}.png")
            plots.scatter_plot(accuracy, table, fits.fits, probe_set, "absolute", feature,
                               figures / f"scatter_composed_{feature}.png", target="composed")
            for frame in sorted(table["frame"].unique()):
                name = f"{frame}_{feature}.png"
                plots.scatter_plot(accuracy, table, fits.fits, probe_set, frame, feature, figures / f"scatter_{name}")
                plots.intervention_plot(summary, probe_set, frame, feature, figures / f"intervention_{name}")
                plots.intervention_training_plot(table, alts, frame, feature, figures / f"intervention_training_{name}")
    with atomic_path(docs.DOC_PATH) as tmp:  # after regression.json: the report reads it
        tmp.write_text(docs.render())
    print(f"karel report: {len(fits.fits)} regressions, figures in {FIGURES}")


if __name__ == "__main__":
    main()
