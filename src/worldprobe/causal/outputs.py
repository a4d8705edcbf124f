"""What the intervene stage writes: ``metrics/intervention/<dataset>.json`` (:class:`InterventionMetrics`).

Every edit is sized relative to the residual stream it is added to: ``ratio`` = ‖δ‖ / the median norm
of the unedited residual at the edited position and layer. ``delta_sd`` is what that edit means to the
probe (its reading moves by ``delta_sd`` target standard deviations), so a null is never "the edit was
tiny" in disguise. Effects are antisymmetric: half the difference between the change at +δ and at −δ,
so what any large edit does to the answer whatever its sign (a drift towards a default answer)
cancels.
"""

from __future__ import annotations

import numpy as np
from pydantic import field_validator

from ..io import Output

Num = float | None  # None: not measurable (e.g. no entity in a subset), never NaN in the JSON


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


class EditSize(Metric):
    """How large the edits at one layer and relative size are, in the residual's and in the probe's units."""

    edited_target: str
    layer: int
    ratio: float  # ‖δ‖ / median ‖residual‖ at the edited position (unedited readout prompt, these entities)
    edit_norm: float  # ‖δ‖
    residual_norm: float  # the median ‖residual‖
    delta_sd: float  # the probe's reading moves by this many target standard deviations


class Effect(Metric):
    """What one kind of edit of one target, at one layer and size, does to one readout quantity."""

    subset: str  # all | in_range | correct (see InterventionMetrics.subsets)
    kind: str  # probe | random | orthogonal
    edited_target: str
    readout: str  # the quantity read; != edited_target: a side effect
    layer: int
    ratio: float
    n_entities: int
    effect: Num  # mean over entities of (change at +δ - change at -δ) / 2, readout units; controls: of its |·|
    lo: Num  # 95 % bootstrap interval over entities
    hi: Num
    slope: Num  # effect / delta_sd: readout units per target standard deviation of the probe's reading
    frac_intended: Num  # entities whose effect is positive (the probe's intended sign)


class Comparison(Metric):
    """Paired over the same entities: the probe's effect on its own target minus a control's |effect|."""

    subset: str
    edited_target: str
    layer: int
    ratio: float
    versus: str  # random | orthogonal
    n_entities: int
    difference: Num
    lo: Num
    hi: Num
    sign: str  # worldprobe.stats.Sign value of [lo, hi]


class Specificity(Metric):
    """The edit's effect per unit of collateral change: effect / KL(unedited || edited) of the next token on
    unrelated prompts (edit at their last token, +δ). A ratio over two resampled means: entities for the
    effect, prompts for the KL, both drawn anew in each resample."""

    edited_target: str
    layer: int
    ratio: float
    kind: str  # probe | random | orthogonal
    kl: Num  # mean over the unrelated prompts, nats
    effect_per_kl: Num  # |effect| on the edited target's readout per nat (controls: mean |effect|)
    lo: Num
    hi: Num


class SpecificityComparison(Metric):
    """Probe effect-per-KL minus a control's, over the same resamples of entities and prompts."""

    edited_target: str
    layer: int
    ratio: float
    versus: str
    difference: Num
    lo: Num
    hi: Num
    sign: str


class Ablation(Metric):
    """Mean-ablation of a subspace at one layer: does what the model answers get worse?

    The component of each entity's residual along the subspace is set to these entities' mean there
    (the readout prompt's own mean), at the edited position.
    """

    subset: str
    layer: int
    subspace: str  # probe (the probe directions of every target, then iterated nullspace probes) | random |
    #                all (the whole residual: the positive control, an instrument check that the position matters)
    dim: int
    n_entities: int
    accuracy: Num  # readout right after ablation (world: top-1 country; people: the century)
    accuracy_drop: Num  # unablated accuracy minus ablated, same entities
    error_increase: Num  # mean increase of the readout's error (world: km of the expected place; people: years)
    error_lo: Num
    error_hi: Num


class AblationComparison(Metric):
    """Paired over entities: the probe subspace's increase of the readout error minus a random subspace's."""

    subset: str
    layer: int
    dim: int
    n_entities: int
    difference: Num
    lo: Num
    hi: Num
    sign: str


class InterventionMetrics(Metric):
    dataset: str
    model: str
    readout: str  # CountryReadout | CenturyReadout
    n_entities: int  # test entities edited
    entity_ids: list[str]
    subsets: dict[str, int]  # entities in each reported subset: all, in_range (truth among the readout's
    #                          answers), correct (the unedited readout is right)
    best_layer: int  # highest mean train leave-one-out R^2 of the probes (for reference; every sweep layer is edited)
    layers: list[int]
    ratios: list[float]
    control_ratios: list[float]
    inlp_iterations: int  # nullspace probes per target in the ablated probe subspace
    baseline: dict[str, Num]  # unedited readout quality on these entities
    edit_sizes: list[EditSize]
    effects: list[Effect]
    comparisons: list[Comparison]
    specificity: list[Specificity]
    specificity_comparisons: list[SpecificityComparison]
    ablation: list[Ablation]
    ablation_comparisons: list[AblationComparison]
    readings: int  # edited readout rows run (all conditions, all entities)
    runtime_s: float
