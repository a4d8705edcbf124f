"""Verdicts: does the headline probe beat each control? From the paired 95 % bootstrap interval of probe
R² minus control R² on the same test entities (:mod:`worldprobe.spacetime.validity`), read by the project's
verdict rule (:func:`worldprobe.stats.interval_sign`): above 0, the probe beats the control; below 0, the control
beats the probe; straddling 0, neither is established."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ..stats import PairedDifference, Sign, interval_sign
from .outputs import SummaryControls

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


def plain_verdict(kind: str, model: str, verdicts: list[Verdict]) -> str:
    """One sentence a reader outside the field can act on."""
    what = "where places are" if kind == "place" else "when things happened"
    what_cap = what[0].upper() + what[1:]
    beaten = [CONTROL_NAMES[v.control] for v in verdicts if v.outcome is Outcome.BEATS]
    not_beaten = [v for v in verdicts if v.outcome in (Outcome.BEATEN, Outcome.NOT_ESTABLISHED)]
    missing = [CONTROL_NAMES[v.control] for v in verdicts if v.outcome is Outcome.NOT_MEASURED]
    if not not_beaten and not missing:
        return (
            f"The probe beats every control on the same test entities (paired 95 % intervals above 0): {what_cap} "
            f"can be read linearly from {model}'s activations better than from the entity's spelling, its input "
            "embedding or a random network's features."
        )
    parts = []
    if not_beaten:
        names = ", ".join(
            f"{CONTROL_NAMES[v.control]} ({'higher' if v.outcome is Outcome.BEATEN else 'difference within noise'})"
            for v in not_beaten
        )
        parts.append(f"the probe does not beat {names}")
    if beaten:
        parts.append(f"it does beat {', '.join(beaten)}")
    if missing:
        parts.append(f"{', '.join(missing)} not measured")
    claim = "Not established" if not_beaten else "Incomplete"
    return f"{claim}: {'; '.join(parts)}. This is no evidence that {model} represents {what} beyond these controls."


def beyond_block_sentence(block: str, gain: PairedDifference, group_mean_r2: float | None = None) -> str:
    """What the activations add to the block's identity (``r2_beyond_group``), judged by its paired interval,
    beside what the block alone predicts (``group_mean_r2``, the train mean of each test entity's block)."""
    interval = f"ΔR² {gain.diff:+.3f} [{gain.ci_low:+.3f}, {gain.ci_high:+.3f}]"
    alone = "" if group_mean_r2 is None else f"; the {block} alone (its train mean) reaches R² {group_mean_r2:.3f}"
    sign = interval_sign(gain.ci_low, gain.ci_high)
    if sign is Sign.ABOVE:
        return f"Beyond the {block}: the activations add to a ridge on the {block} alone ({interval}{alone})."
    effect = ("make a ridge on the {b} alone worse" if sign is Sign.BELOW else
              "add nothing measurable to a ridge on the {b} alone").format(b=block)
    return (f"Beyond the {block}: not established — the activations {effect} ({interval}{alone}), so the probe's "
            f"R² is, as far as this shows, knowing the {block}.")
