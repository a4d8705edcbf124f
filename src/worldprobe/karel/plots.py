"""Figures of the Karel study (PNG, matplotlib's non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..plots import save_figure  # noqa: E402
from .probes import BASELINES, PROBE_KINDS  # noqa: E402
from .traces import OFFSETS  # noqa: E402

OFFSET_NAMES = {0: "current", 1: "+1", 2: "+2"}
FRAME_NAMES = {"absolute": "facing", "relative": "rotation since input"}
DPI = 120


def loss_plot(loss: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(loss["step"], loss["train_loss"], label="train (mean since last row)")
    ax.plot(loss["step"], loss["val_loss"], label="val")
    ax.set(xlabel="training step", ylabel="next-token loss", title="LM loss")
    ax.legend()
    save_figure(fig, path, DPI)


def accuracy_plot(accuracy: pd.DataFrame, chance: dict, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(accuracy["step"], accuracy["accuracy_spec"], "o-", label="spec examples")
    ax.plot(accuracy["step"], accuracy["accuracy_all"], "s-", label="spec + held-out")
    ax.axhline(chance["constant_spec"], color="gray", ls="--", label=f"best constant program ({' '.join(chance['constant_program'])})")
    ax.axhline(chance["random_spec"], color="gray", ls=":", label="random program (training prior)")
    ax.set(xlabel="training step", ylabel="synthesis accuracy (test)", ylim=(0, 1), title="Generation accuracy")
    ax.legend(fontsize=8)
    save_figure(fig, path, DPI)


def lengths_plot(accuracy: pd.DataFrame, by_length: pd.DataFrame, path: Path) -> None:
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(accuracy["step"], accuracy["mean_generated_length"], "o-", label="generated")
    a.plot(accuracy["step"], accuracy["mean_reference_length"], "--", color="gray", label="reference")
    a.set(xlabel="training step", ylabel="mean program length (test)", title="Program length")
    a.legend()
    last = by_length[by_length["step"] == by_length["step"].max()]
    b.bar(last["reference_length"] - 0.2, last["accuracy_spec"].astype(float), 0.4, label="accuracy (spec)")
    b2 = b.twinx()
    b2.plot(last["reference_length"], last["mean_generated_length"].astype(float), "ko-", label="generated length")
    b2.plot(last["reference_length"], last["reference_length"], "k:", label="= reference")
    b.set(xlabel="reference program length", ylabel="accuracy", ylim=(0, 1), title=f"By length, step {int(last['step'].max())}")
    top = max(last["reference_length"].max(), last["mean_generated_length"].astype(float).max())
    b2.set(ylabel="mean generated length", ylim=(0, 1.25 * top))
    b.legend(loc="upper left", fontsize=8)
    b2.legend(loc="lower right", fontsize=8)
    save_figure(fig, path, DPI)


def content_plot(semantics: pd.DataFrame, frame: str, feature: str, path: Path) -> None:
    """Semantic content (original semantics) vs step per offset, with the baselines."""
    orig = semantics[(semantics["semantics"] == "original") & (semantics["frame"] == frame)]
    fig, axes = plt.subplots(1, len(OFFSETS), figsize=(4 * len(OFFSETS), 3.6), sharey=True)
    for ax, o in zip(axes, OFFSETS):
        at = orig[orig["offset"] == o]
        for probe in PROBE_KINDS:
            g = at[(at["probe"] == probe) & (at["feature"] == feature)].sort_values("step")
            ax.plot(g["step"], g["accuracy"].astype(float), "o-", label=probe)
        for i, b in enumerate(BASELINES):
            g = at[at["probe"] == b].sort_values("step")
            ax.plot(g["step"], g["accuracy"].astype(float), "--", color=f"C{len(PROBE_KINDS) + i}", label=f"baseline: {b}")
        ax.set(title=f"{FRAME_NAMES[frame]}, {OFFSET_NAMES[o]}", xlabel="training step", ylim=(0, 1))
    axes[0].set_ylabel(f"probe accuracy (test), {feature}")
    axes[-1].legend(fontsize=7)
    save_figure(fig, path, DPI)


def scatter_plot(accuracy: pd.DataFrame, semantics: pd.DataFrame, fits: list[dict], frame: str, feature: str,
                 path: Path) -> None:
    orig = semantics[(semantics["semantics"] == "original") & (semantics["frame"] == frame)
                     & (semantics["feature"] == feature)]
    merged = orig.merge(accuracy[["step", "accuracy_spec"]], on="step")
    fig, axes = plt.subplots(1, len(OFFSETS), figsize=(4 * len(OFFSETS), 3.6), sharey=True)
    for ax, o in zip(axes, OFFSETS):
        for probe in PROBE_KINDS:
            g = merged[(merged["probe"] == probe) & (merged["offset"] == o)]
            fit = next(f["content"] for f in fits
                       if (f["frame"], f["feature"], f["probe"], f["offset"]) == (frame, feature, probe, o))
            label = probe if fit["r2"] is None else f"{probe}: R²={fit['r2']:.2f}, p={fit['p']:.1e}"
            dots = ax.scatter(g["accuracy"].astype(float), g["accuracy_spec"], s=14, label=label)
            if fit["r2"] is not None:
                xs = np.linspace(g["accuracy"].min(), g["accuracy"].max(), 2)
                ax.plot(xs, fit["intercept"] + fit["slope"] * xs, color=dots.get_facecolor()[0])
        ax.set(title=f"{FRAME_NAMES[frame]}, {OFFSET_NAMES[o]}", xlabel="semantic content (probe accuracy)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("generation accuracy (test, spec)")
    save_figure(fig, path, DPI)


def intervention_plot(summary: dict, alternatives: list[str], frame: str, feature: str, path: Path) -> None:
    """Original vs alternative semantics, untrained and final model, per probe and offset."""
    fig, axes = plt.subplots(1, len(PROBE_KINDS), figsize=(4.5 * len(PROBE_KINDS), 3.6), sharey=True)
    names = ["original", *alternatives]
    width = 0.8 / (2 * len(names))
    for ax, probe in zip(axes, PROBE_KINDS):
        for j, (when, hatch) in enumerate((("untrained", "//"), ("final", ""))):
            block = summary["at"][when]
            for i, s in enumerate(names):
                vals = [block[f"{frame}/{feature}/{probe}/offset{o}"][s] for o in OFFSETS]
                xs = np.arange(len(OFFSETS)) + (j * len(names) + i - len(names) + 0.5) * width
                ax.bar(xs, [np.nan if v is None else v for v in vals], width, hatch=hatch, color=f"C{i}",
                       alpha=0.5 if when == "untrained" else 1.0, label=f"{s} ({when})")
        ax.set_xticks(range(len(OFFSETS)), [OFFSET_NAMES[o] for o in OFFSETS])
        ax.set(title=f"{probe}, {FRAME_NAMES[frame]}", ylim=(0, 1))
    axes[0].set_ylabel("probe accuracy (test)")
    axes[-1].legend(fontsize=7)
    save_figure(fig, path, DPI)


def intervention_training_plot(semantics: pd.DataFrame, alternatives: list[str], frame: str, feature: str,
                               path: Path) -> None:
    """Original vs alternative semantic content over training: rows = probe kinds, columns = offsets."""
    semantics = semantics[semantics["frame"] == frame]
    fig, axes = plt.subplots(len(PROBE_KINDS), len(OFFSETS), figsize=(4 * len(OFFSETS), 3 * len(PROBE_KINDS)),
                             sharex=True, sharey=True, squeeze=False)
    for r, probe in enumerate(PROBE_KINDS):
        for c, o in enumerate(OFFSETS):
            ax = axes[r, c]
            for s in ["original", *alternatives]:
                g = semantics[(semantics["probe"] == probe) & (semantics["feature"] == feature)
                              & (semantics["semantics"] == s) & (semantics["offset"] == o)].sort_values("step")
                ax.plot(g["step"], g["accuracy"].astype(float), "o-", ms=3, label=s)
            ax.set(title=f"{probe}, {FRAME_NAMES[frame]}, {OFFSET_NAMES[o]}", ylim=(0, 1))
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    axes[0, 0].legend(fontsize=7)
    save_figure(fig, path, DPI)
