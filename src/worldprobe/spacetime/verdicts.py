"""Verdicts: does the headline probe beat each control? From the paired 95 % bootstrap interval of probe
R² minus control R² on the same test entities (:mod:`worldprobe.spacetime.validity`), read by the project's
verdict rule (:func:`worldprobe.stats.interval_sign`): above 0, the probe beats the control; below 0, the control
beats the probe; straddling 0, neither is established."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ..stats import PairedDifference, Sign, interval_sign
from .outputs import SummaryControls, Validity

CONTROLS = tuple(SummaryControls.model_fields)  # surface, layer0, layer0_token_mean, random_weights
CONTROL_NAMES = {"surface": "surface form (TF-IDF)", "layer0": "layer 0 (last token)",
                 "layer0_token_mean": "layer 0 (entity token mean)", "random_weights": "random weights"}


class Outcome(Enum):  # the verdict rule's three signs in a control's words, and a control not run
    BEATS = "beats"
    NOT_ESTABLISHED = "not established (the paired interval includes 0)"
    BEATEN = "is beaten by"
    NOT_MEASURED = "not measured"


_OUTCOME = {Sign.ABOVE: Outcome.BEATS, Sign.BELOW: Outcome.BEATEN, Sign.NOT_ESTABLISHED: Outcome.NOT_ESTABLISHED}


@dataclass(frozen=True)
class Verdict:
    control: str
    control_r2: float | None
    difference: PairedDifference | None  # probe R² - control R², paired interval
    outcome: Outcome


def judge(differences: Mapping[str, PairedDifference], controls: Mapping[str, float | None]) -> list[Verdict]:
    """Does the probe beat each control? ``differences``: probe - control per control (absent: not measured)."""
    verdicts = []
    for name in CONTROLS:
        d = differences.get(name)
        outcome = Outcome.NOT_MEASURED if d is None else _OUTCOME[interval_sign(d.ci_low, d.ci_high)]
        verdicts.append(Verdict(name, controls.get(name), d, outcome))
    return verdicts


def _paired(d: PairedDifference) -> str:
    return f"Δ {d.diff:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"


def plain_verdict(kind: str, model: str, verdicts: list[Verdict], validity: Validity | None = None) -> str:
    """One sentence a reader outside the field can act on, worded by the paired intervals' signs, then what
    the block and the eras (``validity``) say about it."""
    what = "where places are" if kind == "place" else "when things happened"
    what_cap = what[0].upper() + what[1:]
    by_outcome = {o: [v for v in verdicts if v.outcome is o] for o in Outcome}
    beats = [CONTROL_NAMES[v.control] for v in by_outcome[Outcome.BEATS]]
    if len(beats) == len(verdicts):
        text = (
            f"The probe beats every control on the same test entities (paired 95 % intervals above 0): {what_cap} "
            f"can be read linearly from {model}'s activations better than from the entity's spelling, its input "
            "embedding or a random network's features."
        )
    else:
        parts = []
        if beaten_by := by_outcome[Outcome.BEATEN]:
            names = ", ".join(f"{CONTROL_NAMES[v.control]} ({_paired(v.difference)})" for v in beaten_by)
            parts.append(f"{names} {'beats' if len(beaten_by) == 1 else 'beat'} the probe")
        if open_ := by_outcome[Outcome.NOT_ESTABLISHED]:
            names = ", ".join(f"{CONTROL_NAMES[v.control]} ({_paired(v.difference)}, includes 0)" for v in open_)
            parts.append(f"the probe does not beat {names}")
        if beats:
            parts.append(f"the probe beats {', '.join(beats)}")
        if missing := by_outcome[Outcome.NOT_MEASURED]:
            parts.append(f"{', '.join(CONTROL_NAMES[v.control] for v in missing)} not measured")
        claim = ("Against the hypothesis" if beaten_by else "Not established" if open_ else "Incomplete")
        text = (f"{claim}: {'; '.join(parts)}. This is no evidence that {model} represents {what} beyond "
                "these controls.")
    return text if validity is None else " ".join([text, *validity_sentences(kind, validity)])


def validity_sentences(kind: str, validity: Validity) -> list[str]:
    """What the block and the eras say about the headline R²: what the activations add given the block,
    how the probe orders entities within a block beside the spelling, and its R² per era."""
    sentences, wb = [], validity.within_block
    if validity.r2_beyond_group is not None:
        sentences.append(beyond_block_sentence(wb.block, validity.r2_beyond_group, validity.group_mean_r2))
    probe_rho, surface_rho = wb.spearman.get("probe"), wb.spearman.get("surface")
    if probe_rho is not None:
        interval = ("" if wb.probe_spearman_ci_low is None
                    else f" [{wb.probe_spearman_ci_low:.3f}, {wb.probe_spearman_ci_high:.3f}]")
        surface = ("" if surface_rho is None else
                   f", surface form's {surface_rho:.3f} (no paired interval; which orders better is not established)")
        entities = "places" if kind == "place" else "entities"
        sentences.append(f"Within a {wb.block} the probe orders {entities} at Spearman {probe_rho:.3f}{interval}"
                         f"{surface}.")
    if validity.eras:
        sentences.append("By era, the probe's R² (Spearman, n): " + "; ".join(
            f"{era.replace('_', ' ')} {e.r2:.3f} ({e.spearman:.3f}, {e.n:,})"
            for era, e in validity.eras.items() if e.r2 is not None and e.spearman is not None) + ".")
    return sentences


def beyond_block_sentence(block: str, gain: PairedDifference, group_mean_r2: float | None = None) -> str:
    """What the activations add to the block's identity (``r2_beyond_group``), judged by its paired interval,
    beside an oracle told each test entity's true block (``group_mean_r2``: the train mean of that block)."""
    interval = f"ΔR² {gain.diff:+.3f} [{gain.ci_low:+.3f}, {gain.ci_high:+.3f}]"
    alone = ("" if group_mean_r2 is None else
             f"; an oracle told each test place's true {block} (that {block}'s train mean) reaches R² {group_mean_r2:.3f}")
    sign = interval_sign(gain.ci_low, gain.ci_high)
    if sign is Sign.ABOVE:
        return f"Given the {block}, the activations add to a ridge on the {block} alone ({interval}{alone})."
    effect = ("make a ridge on the {b} alone worse" if sign is Sign.BELOW else
              "add nothing measurable to a ridge on the {b} alone").format(b=block)
    return (f"Beyond the {block}: not established — the activations {effect} ({interval}{alone}), so the probe's "
            f"R² is, as far as this shows, knowing the {block}.")
