"""Verdicts: does the headline probe beat each control? A control is beaten when its test R² lies
below the probe's 95 % bootstrap interval on the same split (see :mod:`worldprobe.summary`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from .outputs import SummaryControls

CONTROLS = tuple(SummaryControls.model_fields)  # surface, layer0, random_weights
CONTROL_NAMES = {"surface": "surface form (TF-IDF)", "layer0": "layer 0 (embeddings)", "random_weights": "random weights"}


class Outcome(Enum):
    BEATS = "beats"
    INDISTINGUISHABLE = "within the probe's 95 % interval"
    BEATEN = "is beaten by"
    NOT_MEASURED = "not measured"


@dataclass(frozen=True)
class Verdict:
    control: str
    control_r2: float | None
    outcome: Outcome


def judge(r2_ci: tuple[float, float], controls: Mapping[str, float | None]) -> list[Verdict]:
    """Does the probe beat each control? Beats: the control's R² lies below the probe's interval."""
    low, high = r2_ci
    verdicts = []
    for name in CONTROLS:
        value = controls.get(name)
        if value is None:
            outcome = Outcome.NOT_MEASURED
        elif value < low:
            outcome = Outcome.BEATS
        elif value > high:
            outcome = Outcome.BEATEN
        else:
            outcome = Outcome.INDISTINGUISHABLE
        verdicts.append(Verdict(name, value, outcome))
    return verdicts


def plain_verdict(kind: str, model: str, verdicts: list[Verdict]) -> str:
    """One sentence a reader outside the field can act on."""
    what = "where places are" if kind == "place" else "when things happened"
    what_cap = what[0].upper() + what[1:]
    beaten = [CONTROL_NAMES[v.control] for v in verdicts if v.outcome is Outcome.BEATS]
    not_beaten = [v for v in verdicts if v.outcome in (Outcome.BEATEN, Outcome.INDISTINGUISHABLE)]
    missing = [CONTROL_NAMES[v.control] for v in verdicts if v.outcome is Outcome.NOT_MEASURED]
    if not not_beaten and not missing:
        return (
            f"The probe beats every control on the same split: {what_cap} can be read linearly from {model}'s "
            "activations better than from the entity's spelling, its input embedding or a random network's features."
        )
    parts = []
    if not_beaten:
        names = ", ".join(
            f"{CONTROL_NAMES[v.control]} ({'higher' if v.outcome is Outcome.BEATEN else 'within noise'})"
            for v in not_beaten
        )
        parts.append(f"the probe does not beat {names}")
    if beaten:
        parts.append(f"it does beat {', '.join(beaten)}")
    if missing:
        parts.append(f"{', '.join(missing)} not measured")
    claim = "Not established" if not_beaten else "Incomplete"
    return f"{claim}: {'; '.join(parts)}. This is no evidence that {model} represents {what} beyond these controls."
