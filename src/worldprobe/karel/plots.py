"""Figures of the Karel study (PNG, matplotlib's non-interactive backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..figures import plt, save_figure
from .analysis import TEXT_SCORES, regression_key
from .content import CONTROLS, NON_ORACLE, NULLS, ORACLES, SYNTAX
from .probes import PROBE_KINDS

FRAME_NAMES = {"absolute": "facing", "relative": "rotation since input"}
CONTROL_NAMES = {"control": "positive control (input 0's facing at its grid)",
                 "earlier_action": "distance control (action k-2)", "heldout": "negative control (held-out input)"}
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


def _offset_name(o: int) -> str:
    return {-1: "read (-1)", 0: "current"}.get(o, f"+{o}")


def _offsets(table: pd.DataFrame) -> list[int]:
    return sorted(int(o) for o in table["offset"].dropna().unique())


def _line(ax, g: pd.DataFrame, fmt: str, **kw) -> None:
    g = g.sort_values("step")
    ax.plot(g["step"], g["accuracy"].astype(float), fmt, ms=3, **kw)


def content_plot(semantics: pd.DataFrame, frame: str, feature: str, path: Path) -> None:
    """Direct facing probes (original semantics) vs step per offset, beside the text-only scores
    (baselines that need no hidden state, dashed; the nulls' linear probes on the tokens, dash-dot)
    and the oracle baselines (dotted)."""
    orig = semantics[(semantics["semantics"] == "original") & (semantics["frame"] == frame)
                     & (semantics["target"] == "facing")]
    offsets = _offsets(orig)
    fig, axes = plt.subplots(1, len(offsets), figsize=(4 * len(offsets), 3.6), sharey=True, squeeze=False)
    for ax, o in zip(axes[0], offsets):
        at = orig[orig["offset"] == o]
        for probe in PROBE_KINDS:
            _line(ax, at[(at["probe"] == probe) & (at["feature"] == feature)], "o-", label=probe)
        others = [(b, at[at["probe"] == b], "--") for b in NON_ORACLE]
        others += [(f"text null: {n}", at[(at["probe"] == SYNTAX) & (at["feature"] == n)], "-.") for n in NULLS]
        others += [(f"oracle: {b}", at[at["probe"] == b], ":") for b in ORACLES]
        for i, (name, g, style) in enumerate(others):
            _line(ax, g, style, color=f"C{len(PROBE_KINDS) + i}", label=name)
        ax.set(title=f"{FRAME_NAMES[frame]}, {_offset_name(o)}", xlabel="training step", ylim=(0, 1))
    axes[0, 0].set_ylabel(f"probe accuracy (test), {feature}")
    axes[0, -1].legend(fontsize=7)
    save_figure(fig, path, DPI)


def decomposition_plot(semantics: pd.DataFrame, feature: str, path: Path) -> None:
    """Absolute facing of input 0 directly and in parts, per offset: the direct probe, the composed
    score (initial facing + rotation, mod 4) and its two parts, the positive control and the best
    text-only score of the absolute facing (no oracle)."""
    orig = semantics[(semantics["semantics"] == "original")]
    mine = orig[orig["feature"] == feature]
    offsets = _offsets(mine)
    fig, axes = plt.subplots(1, len(offsets), figsize=(4 * len(offsets), 3.8), sharey=True, squeeze=False)
    text = orig["probe"].isin(TEXT_SCORES) | (orig["probe"] == SYNTAX)
    best = (orig[text & (orig["frame"] == "absolute") & (orig["target"] == "facing")]
            .groupby(["step", "offset"], as_index=False)["accuracy"].max())
    for ax, o in zip(axes[0], offsets):
        for j, probe in enumerate(PROBE_KINDS):
            style = "-" if probe == "linear" else ":"
            parts = [("direct", mine[(mine["target"] == "facing") & (mine["frame"] == "absolute")], "C0"),
                     ("composed", mine[mine["target"] == "composed"], "C1"),
                     ("rotation", mine[(mine["target"] == "facing") & (mine["frame"] == "relative")], "C2")]
            for name, g, colour in parts:
                _line(ax, g[(g["probe"] == probe) & (g["offset"] == o)], "o" + style, color=colour, label=f"{name} ({probe})")
            for name, target, colour in (("initial facing", "initial_0", "C3"), ("control", "control", "C4")):
                _line(ax, mine[(mine["target"] == target) & (mine["probe"] == probe)], "s" + style, color=colour,
                      label=f"{name} ({probe})")
        _line(ax, best[best["offset"] == o], "k--", label="best text-only score (absolute)")
        ax.set(title=f"input 0's facing, {_offset_name(o)}", xlabel="training step", ylim=(0, 1.02))
    axes[0, 0].set_ylabel(f"accuracy (test), {feature}")
    axes[0, -1].legend(fontsize=6, loc="lower right")
    save_figure(fig, path, DPI)


def scatter_plot(accuracy: pd.DataFrame, semantics: pd.DataFrame, fits: dict, probe_set: str, frame: str,
                 feature: str, path: Path, target: str = "facing") -> None:
    """Generation accuracy against semantic content per checkpoint, with the fitted lines."""
    orig = semantics[(semantics["semantics"] == "original") & (semantics["frame"] == frame)
                     & (semantics["feature"] == feature) & (semantics["target"] == target)]
    merged = orig.merge(accuracy[["step", "accuracy_spec"]], on="step")
    offsets = _offsets(merged)
    fig, axes = plt.subplots(1, len(offsets), figsize=(4 * len(offsets), 3.6), sharey=True, squeeze=False)
    for ax, o in zip(axes[0], offsets):
        for probe in PROBE_KINDS:
            g = merged[(merged["probe"] == probe) & (merged["offset"] == o)]
            fit = fits.get(regression_key(probe_set, frame, feature, probe, target, o))
            if g.empty or fit is None:
                continue
            fit = fit.content
            label = probe if fit.r2 is None else f"{probe}: R²={fit.r2:.2f}, slope {fit.slope:+.1f}"
            if fit.slope_low is not None:  # too few checkpoints for the interval (the MLPs' few)
                label += f" [{fit.slope_low:+.1f}, {fit.slope_high:+.1f}]"
            dots = ax.scatter(g["accuracy"].astype(float), g["accuracy_spec"], s=14, label=label)
            if fit.r2 is not None:
                xs = np.linspace(g["accuracy"].min(), g["accuracy"].max(), 2)
                ax.plot(xs, fit.intercept + fit.slope * xs, color=dots.get_facecolor()[0])
        ax.set(title=f"{target}, {FRAME_NAMES[frame]}, {_offset_name(o)}", xlabel="semantic content (probe accuracy)")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("generation accuracy (test, spec)")
    save_figure(fig, path, DPI)


def intervention_plot(summary, probe_set: str, frame: str, feature: str, path: Path) -> None:
    """Original vs alternative semantics, untrained and final model, per probe and offset."""
    checkpoints = summary.probe_sets[probe_set]
    names = ["original", *summary.alt_semantics]
    offsets = summary.offsets
    fig, axes = plt.subplots(1, len(PROBE_KINDS), figsize=(4.5 * len(PROBE_KINDS), 3.6), sharey=True, squeeze=False)
    width = 0.8 / (2 * len(names))
    for ax, probe in zip(axes[0], PROBE_KINDS):
        for j, (when, step) in enumerate((("untrained", summary.first_step), ("final", summary.final_step))):
            got = checkpoints[step].frames[frame].probes.get(feature, {}).get(probe, {})
            for i, s in enumerate(names):
                vals = [got.get(s, {}).get(o) for o in offsets]
                xs = np.arange(len(offsets)) + (j * len(names) + i - len(names) + 0.5) * width
                ax.bar(xs, [np.nan if v is None else v for v in vals], width, hatch="//" if when == "untrained" else "",
                       color=f"C{i}", alpha=0.5 if when == "untrained" else 1.0, label=f"{s} ({when})")
        ax.set_xticks(range(len(offsets)), [_offset_name(o) for o in offsets])
        ax.set(title=f"{probe}, {FRAME_NAMES[frame]}", ylim=(0, 1))
    axes[0, 0].set_ylabel("probe accuracy (test)")
    axes[0, -1].legend(fontsize=7)
    save_figure(fig, path, DPI)


def intervention_training_plot(semantics: pd.DataFrame, alternatives: list[str], frame: str, feature: str,
                               path: Path) -> None:
    """Original vs alternative semantic content over training: rows = probe kinds, columns = offsets."""
    semantics = semantics[(semantics["frame"] == frame) & (semantics["target"] == "facing")
                          & (semantics["feature"] == feature)]
    offsets = _offsets(semantics)
    fig, axes = plt.subplots(len(PROBE_KINDS), len(offsets), figsize=(4 * len(offsets), 3 * len(PROBE_KINDS)),
                             sharex=True, sharey=True, squeeze=False)
    for r, probe in enumerate(PROBE_KINDS):
        for c, o in enumerate(offsets):
            ax = axes[r, c]
            for s in ["original", *alternatives]:
                _line(ax, semantics[(semantics["probe"] == probe) & (semantics["semantics"] == s)
                                    & (semantics["offset"] == o)], "o-", label=s)
            ax.set(title=f"{probe}, {FRAME_NAMES[frame]}, {_offset_name(o)}", ylim=(0, 1))
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    axes[0, 0].legend(fontsize=7)
    save_figure(fig, path, DPI)


def tests_plot(tests: pd.DataFrame, test: str, feature: str, path: Path) -> None:
    """The paired tests over training (one probe set): the probe's accuracy minus each text-only null's
    (``beats``) or its intervention gap minus the null's (``intervention``, one line per alternative
    and null), with 95 % intervals; rows = frames, columns = offsets."""
    mine = tests[(tests["test"] == test) & (tests["feature"] == feature)]
    frames, offsets = sorted(mine["frame"].unique()), _offsets(mine)
    fig, axes = plt.subplots(len(frames), len(offsets), figsize=(4 * len(offsets), 3 * len(frames)), sharex=True,
                             sharey=True, squeeze=False)
    for r, frame in enumerate(frames):
        for c, o in enumerate(offsets):
            ax = axes[r, c]
            at = mine[(mine["frame"] == frame) & (mine["offset"] == o)]
            for i, ((s, null), g) in enumerate(at.groupby(["semantics", "null"])):
                g = g.sort_values("step")
                name = null if test == "beats" else f"{s} vs {null}"
                ax.plot(g["step"], g["diff"], "o-", ms=3, color=f"C{i}", label=name)
                ax.fill_between(g["step"], g["ci_low"], g["ci_high"], color=f"C{i}", alpha=0.2)
            ax.axhline(0, color="k", lw=0.8)
            ax.set(title=f"{FRAME_NAMES[frame]}, {_offset_name(o)}")
    for ax in axes[-1]:
        ax.set_xlabel("training step")
    what = "probe − text null" if test == "beats" else "gap (original − alternative) − the null's gap"
    for ax in axes[:, 0]:
        ax.set_ylabel(f"{what}, {feature}", fontsize=8)
    axes[0, -1].legend(fontsize=7)
    save_figure(fig, path, DPI)


def controls_plot(semantics: pd.DataFrame, path: Path) -> None:
    """The three controls over training (one probe set): each probe per feature set, and the majority class."""
    fig, axes = plt.subplots(1, len(CONTROLS), figsize=(4.5 * len(CONTROLS), 3.6), sharey=True, squeeze=False)
    for ax, name in zip(axes[0], CONTROLS):
        at = semantics[semantics["target"] == name]
        for i, ((feature, probe), g) in enumerate(at[at["probe"].isin(PROBE_KINDS)].groupby(["feature", "probe"])):
            _line(ax, g, "o-", color=f"C{i}", label=f"{probe}, {feature}")
        _line(ax, at[at["probe"] == "majority"], "k--", label="majority class")
        ax.set(title=CONTROL_NAMES[name], xlabel="training step", ylim=(0, 1.02))
    axes[0, 0].set_ylabel("accuracy (test)")
    axes[0, -1].legend(fontsize=7)
    save_figure(fig, path, DPI)
