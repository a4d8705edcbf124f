"""``docs/causal.md``: the causal test's method and results, every number from ``metrics/intervention``.

:func:`render` reads only committed files under ``root`` (the metrics of every dataset the test ran on)
and fills ``doc.md.j2``; :func:`summary` is the README's one-paragraph verdict. The verdicts come from
the paired intervals the intervene stage wrote (probe slope minus a control's absolute slope over the
same entities), never from a threshold chosen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..markdown import num, pct, render_template
from ..stats import Sign, interval_sign
from .intervention import UNRELATED_PROMPTS
from .outputs import Comparison, Effect, InterventionMetrics, Propagation, Specificity
from .readouts import BIRTH_PREFIX, BIRTH_QUESTION, COUNTRY_PREFIX, COUNTRY_QUESTION

TEMPLATE = Path(__file__).with_name("doc.md.j2")

DOC_PATH = Path("docs/causal.md")
METRICS_DIR = Path("metrics/intervention")
FIGURES_DIR = Path("plots/intervention/figures")
CONTROLS = ("random", "orthogonal", "random_weights")
CONTROL_NAMES = {"random": "random directions", "orthogonal": "the orthogonal direction",
                 "random_weights": "the random-weights model"}
READOUT_UNITS = {"latitude": "°", "longitude": "°", "year": " years"}
READOUT_NAMES = {"CountryReadout": "country readout", "YearReadout": "year readout"}


def n_examples(prefix: str, question: str) -> int:
    """Worked examples in a few-shot prefix: the occurrences of the question's fixed text."""
    return prefix.count(max(question.split("{entity}"), key=len))


@dataclass(frozen=True)
class Edit:
    """One edited target at one layer: the probe's effect beside its controls."""

    target: str
    layer: int
    own: Effect  # the probe edit on its own target's readout
    cross: list[Effect]  # the probe edit on the other targets' readouts
    mean_difference: Effect
    comparisons: dict[str, Comparison]  # by control
    specificity: Specificity
    propagation: Propagation

    def beats(self, control: str) -> bool:
        c = self.comparisons[control]
        return c.lo is not None and interval_sign(c.lo, c.hi) is Sign.ABOVE

    def measurable(self, control: str) -> bool:
        return self.comparisons[control].difference is not None

    @property
    def established(self) -> bool:
        """The probe moves its readout more than random and orthogonal directions and than every
        other control that could be measured."""
        return all(self.beats(c) for c in CONTROLS if c in ("random", "orthogonal") or self.measurable(c))

    @property
    def verdict(self) -> str:
        beaten = [CONTROL_NAMES[c] for c in CONTROLS if self.beats(c)]
        unmeasured = [CONTROL_NAMES[c] for c in CONTROLS if not self.measurable(c)]
        tied = [CONTROL_NAMES[c] for c in CONTROLS if self.measurable(c) and not self.beats(c)]
        parts = []
        if self.established:
            parts.append("**probe larger than every control**")
        elif beaten:
            parts.append(f"larger than {_join(beaten, 'and')}, not than {_join(tied)}")
        elif tied:
            parts.append(f"not distinguishable from {_join(tied)}")
        if unmeasured:
            parts.append(f"{_join(unmeasured)} not measurable")
        return "; ".join(parts)

    @property
    def kl_ratio(self) -> float | None:
        s = self.specificity
        return None if s.kl_probe is None or not s.kl_random else s.kl_probe / s.kl_random

    @property
    def moves_nothing(self) -> bool:
        """No edit at this layer, probe or control, changed any entity's answer (a discrete readout)."""
        return self.own.slope == 0 and self.own.slope_lo == 0 and self.own.slope_hi == 0 and all(
            c.difference in (0, None) for c in self.comparisons.values())


def _join(items: list[str], conjunction: str = "or") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


@dataclass(frozen=True)
class Study:
    """One dataset's causal test."""

    metrics: InterventionMetrics
    edits: list[Edit]
    figure: str  # relative to docs/

    @property
    def targets(self) -> list[str]:
        return list(dict.fromkeys(e.target for e in self.edits))

    @property
    def established_layers(self) -> list[int]:
        """Layers where the edit of every target beats every control."""
        return [layer for layer in self.metrics.layers if all(e.established for e in self.edits if e.layer == layer)]

    @property
    def readings_per_entity(self) -> int:
        """Edited prompts the readout runs per entity (probe at every Δ, controls at theirs), plus the unedited one."""
        m = self.metrics
        per_layer = len(m.deltas) + len(m.control_deltas) * (2 + m.n_random)  # orthogonal, mean difference, random
        return per_layer * len(m.layers) * len(self.targets) + 1

    def edits_at(self, layer: int) -> list[Edit]:
        return [e for e in self.edits if e.layer == layer]

    @property
    def other_layers(self) -> list[int]:
        return [layer for layer in self.metrics.layers if layer not in self.established_layers]

    @property
    def readout_name(self) -> str:
        return READOUT_NAMES[self.metrics.readout]

    @property
    def top1_correct(self) -> int | None:
        """Entities whose unedited top-1 country is right (country readout only)."""
        share = self.metrics.baseline.get("top1_country_correct")
        return None if share is None else round(share * self.metrics.n_entities)

    def kl_ratios(self, layer: int) -> list[float]:
        return [e.kl_ratio for e in self.edits_at(layer) if e.kl_ratio is not None]

    @property
    def verdict(self) -> str:
        layers = self.established_layers
        if not layers:
            return f"no edited layer ({_layers(self.metrics.layers)}) where the probe edit beats every control"
        rest = self.other_layers
        text = f"the probe edit beats every control at layer{'s' if len(layers) > 1 else ''} {_layers(layers)}"
        return text + (f", not at {_layers(rest)}" if rest else "")

    @property
    def finding(self) -> str:
        """The README's account: the claim with its test count, its size, its specificity and what it rests on."""
        m = self.metrics
        layers = self.established_layers
        if not layers:
            return self.verdict
        parts = []
        for layer in layers:
            edits = self.edits_at(layer)
            ratios = self.kl_ratios(layer)
            sizes = _join([f"{pct(e.own.slope_in_sd, 1)} ({e.target})" for e in edits], "and")
            parts.append(
                f"at layer {layer} the probe edit moves the {self.readout_name} more than every control (paired "
                f"intervals above 0; {len(self.edits)} layer × target tests, uncorrected), by {sizes} of the nominal "
                f"shift, and changes the next token on unrelated prompts {num(min(ratios), 0)}–{num(max(ratios), 0)}× "
                "as much as a random direction")
        text = "; ".join(parts)
        if self.other_layers:
            text += f"; nothing is established at layer{'s' if len(self.other_layers) > 1 else ''} {_layers(self.other_layers)}"
        if self.top1_correct is not None:
            text += f"; the unedited readout picks the right country for only {self.top1_correct} of {m.n_entities}"
        return text


def _layers(layers: list[int]) -> str:
    return _join([str(layer) for layer in layers], "and")


def _study(m: InterventionMetrics, root: Path) -> Study:
    effects = m.all_entities.effects
    edits = []
    for target in dict.fromkeys(c.edited_target for c in m.all_entities.comparisons):
        for layer in m.layers:
            def effect(kind: str, readout: str, model: str = "main") -> Effect:
                return next(e for e in effects if (e.model, e.kind, e.edited_target, e.readout, e.layer)
                            == (model, kind, target, readout, layer))
            edits.append(Edit(
                target=target, layer=layer, own=effect("probe", target),
                cross=[e for e in effects if (e.model, e.kind, e.edited_target, e.layer) == ("main", "probe", target, layer)
                       and e.readout != target],
                mean_difference=effect("mean_difference", target),
                comparisons={c.versus: c for c in m.all_entities.comparisons if (c.edited_target, c.layer) == (target, layer)},
                specificity=next(s for s in m.specificity if (s.edited_target, s.layer) == (target, layer)),
                propagation=next(p for p in m.propagation if (p.edited_target, p.layer) == (target, layer)),
            ))
    figure = FIGURES_DIR / f"{m.dataset}.png"
    if not (root / figure).is_file():
        raise FileNotFoundError(f"{root / figure}: the intervene stage's figure is missing")
    return Study(metrics=m, edits=edits, figure=f"../{figure}")


def load_studies(root: Path = Path(".")) -> dict[str, Study]:
    """Every dataset with committed intervention metrics, by name."""
    paths = sorted((root / METRICS_DIR).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"{root / METRICS_DIR}: no intervention metrics (run the intervene stage first)")
    return {p.stem: _study(InterventionMetrics.load(p), root) for p in paths}


def render(root: Path = Path(".")) -> str:
    studies = load_studies(root)
    return render_template(TEMPLATE, studies=studies, units=READOUT_UNITS, control_names=CONTROL_NAMES,
                           n_unrelated=len(UNRELATED_PROMPTS),
                           n_country_examples=n_examples(COUNTRY_PREFIX, COUNTRY_QUESTION),
                           n_birth_examples=n_examples(BIRTH_PREFIX, BIRTH_QUESTION))


def summary(root: Path = Path(".")) -> str:
    """One or two sentences of the verdicts, for the README."""
    studies = load_studies(root)
    parts = [f"{name} ({s.metrics.n_entities} entities): {s.finding}" for name, s in studies.items()]
    models = sorted({s.metrics.model for s in studies.values()})
    return (f"**Causal test** ({', '.join(models)}): does moving the residual stream along the probe direction move the "
            f"model's answer more than random directions, an orthogonal direction and the random-weights model, on "
            f"paired intervals over the same entities? {'; '.join(parts)}.")

