"""What the intervene stage writes: ``metrics/intervention/<dataset>.json`` (:class:`InterventionMetrics`)."""

from __future__ import annotations

import numpy as np
from pydantic import field_validator

from ..io import Output

Num = float | None  # None: not measurable (e.g. no entity with a parsed year), never NaN in the JSON


class Metric(Output):
    """A record whose NaN floats are stored as None (JSON has no NaN)."""

    @field_validator("*", mode="before")
    @classmethod
    def _nan_to_none(cls, value):
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, list):
            return [None if isinstance(v, float) and not np.isfinite(v) else v for v in value]
        if isinstance(value, dict):
            return {k: None if isinstance(v, float) and not np.isfinite(v) else v for k, v in value.items()}
        return value


class Effect(Metric):
    """How far one kind of edit moves one readout quantity, per Δ (target standard deviations)."""

    model: str  # main | random_weights
    kind: str  # probe | mean_difference | orthogonal | random
    edited_target: str
    readout: str
    layer: int
    n_entities: int
    slope: Num  # readout units per Δ, mean over entities (and over random directions)
    slope_lo: Num  # 95% bootstrap interval over entities
    slope_hi: Num
    slope_in_sd: Num  # slope / the readout quantity's train std: 1 = the probe's nominal shift
    spearman: Num  # Δ vs each entity's change from its own Δ = 0, pooled
    frac_intended: Num  # entities whose slope is positive (the probe's intended sign)
    direction_slopes: list[Num] | None = None  # random: the mean slope of each random direction


class Comparison(Metric):
    """Paired over the same entities: the probe's slope minus a control's absolute slope."""

    edited_target: str
    layer: int
    versus: str  # random | orthogonal | random_weights
    n_entities: int
    difference: Num
    lo: Num
    hi: Num
    verdict: str


class Specificity(Metric):
    """Mean KL(unedited || edited) of the next token on unrelated prompts, edit at the largest |Δ|."""

    edited_target: str
    layer: int
    delta_sd: Num
    kl_probe: Num
    kl_random: Num  # mean over random directions of equal norm
    kl_random_max: Num


class Propagation(Metric):
    """The edit's effect on a later layer's probe, read on the probe's own (main) prompt."""

    edited_target: str
    layer: int
    read_layer: int
    slope_probe: Num  # later probe's reading, in its target standard deviations, per Δ
    slope_probe_lo: Num
    slope_probe_hi: Num
    slope_random: Num  # mean |slope| over random directions


class Results(Metric):
    effects: list[Effect]
    comparisons: list[Comparison]


class InterventionMetrics(Metric):
    dataset: str
    model: str
    readout: str
    n_entities: int  # test entities edited
    entity_ids: list[str]
    best_layer: int  # highest mean train leave-one-out R^2 of the probes
    layers: list[int]
    deltas: list[float]
    control_deltas: list[float]
    n_random: int
    baseline: dict[str, Num]  # unedited readout quality on these entities
    all_entities: Results
    known_entities: Results | None  # entities the familiarity stage labels known (when enabled)
    n_known: int | None
    specificity: list[Specificity]
    propagation: list[Propagation]
    runtime_s: float

    @property
    def dose_layer(self) -> int:
        """The layer of the dose-response tables and figure: the best layer where it was edited, else
        the middle edited layer (the best layer can be the last, after which no edit reaches the answer).
        Derived, not stored, so that metrics written before it existed tell it too."""
        return self.best_layer if self.best_layer in self.layers else self.layers[len(self.layers) // 2]
