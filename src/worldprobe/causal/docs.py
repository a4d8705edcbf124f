"""``docs/causal.md``: the causal test's method and results, every number from ``metrics/intervention``.

:func:`render` reads only committed files under ``root`` (the metrics of every dataset the test ran on,
and each dataset's figure) and fills ``doc.md.j2``; :func:`summary` is the README's one paragraph. Every
verdict is the ``sign`` the intervene stage stored for a paired interval over the same entities (the
probe's effect minus a control's |effect|, the probe subspace's ablation minus a random one's, effect per
KL minus a control's), read through :class:`~worldprobe.stats.Sign`; nothing here picks a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..markdown import num, render_template, sig, sig_interval
from ..stats import LEVEL, Sign, interval_sign
from .intervention import UNRELATED_PROMPTS
from .outputs import (
    Ablation,
    AblationComparison,
    Comparison,
    EditSize,
    Effect,
    InterventionMetrics,
    Specificity,
    SpecificityComparison,
)
from .readouts import (
    BIRTH_PREFIX,
    BIRTH_QUESTION,
    BIRTHPLACE_PREFIX,
    BIRTHPLACE_QUESTION,
    COUNTRY_PREFIX,
    COUNTRY_QUESTION,
)

TEMPLATE = Path(__file__).with_name("doc.md.j2")

DOC_PATH = Path("docs/causal.md")
METRICS_DIR = Path("metrics/intervention")
FIGURES_DIR = Path("plots/intervention/figures")
CONTROLS = ("random", "orthogonal")
CONTROL_NAMES = {"random": "a random direction", "orthogonal": "the orthogonal direction"}
READOUT_UNITS = {"latitude": "°", "longitude": "°", "year": " years"}
READOUT_NAMES = {"CountryReadout": "country readout", "CenturyReadout": "century readout"}
ERROR_UNITS = {"CountryReadout": " km", "CenturyReadout": " years"}
SUBSETS = ("all", "in_range", "correct")
SUBSET_NAMES = {"all": "all test entities", "in_range": "entities whose true answer is among the readout's answers",
                "correct": "entities the unedited readout answers right"}


def n_examples(prefix: str, question: str) -> int:
    """Worked examples in a few-shot prefix: the occurrences of the question's fixed text."""
    return prefix.count(max(question.split("{entity}"), key=len))


def _join(items: list[str], conjunction: str = "and") -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _layers(layers: list[int]) -> str:
    return f"layer{'s' if len(layers) > 1 else ''} {_join([str(layer) for layer in layers])}"


def _ratio(ratio: float) -> str:
    return f"{ratio:g}"


def _sign(record: Comparison | SpecificityComparison | AblationComparison) -> Sign:
    """The stored verdict, checked against its interval (a sign the interval does not support fails)."""
    sign = Sign(record.sign)
    expected = Sign.NOT_ESTABLISHED if record.lo is None or record.hi is None else interval_sign(record.lo, record.hi)
    if sign is not expected:
        raise ValueError(f"stored sign {sign.value!r} of {record!r} disagrees with its interval ({expected.value})")
    return sign


def _index(records, *fields):
    out = {}
    for r in records:
        key = tuple(getattr(r, f) for f in fields)
        if key in out:
            raise ValueError(f"two records for {dict(zip(fields, key))}")
        out[key] = r
    return out


def _get(index: dict, what: str, **key):
    try:
        return index[tuple(key.values())]
    except KeyError:
        raise KeyError(f"the metrics hold no {what} for {key}") from None


@dataclass(frozen=True)
class Edit:
    """The probe edit of one target at one layer and ratio on one subset, beside its controls."""

    target: str
    layer: int
    ratio: float
    size: EditSize
    own: Effect  # the probe edit on its own target's readout
    controls: dict[str, Effect]  # by control; empty at a ratio the controls were not run at
    comparisons: dict[str, Comparison]  # by control, the same

    @property
    def compared(self) -> bool:
        return bool(self.comparisons)

    def sign(self, control: str) -> Sign:
        return _sign(self.comparisons[control])

    @property
    def beats_both(self) -> bool:
        return self.compared and all(self.sign(c) is Sign.ABOVE for c in CONTROLS)

    @property
    def below_a_control(self) -> bool:
        return self.compared and any(self.sign(c) is Sign.BELOW for c in CONTROLS)

    @property
    def verdict(self) -> str:
        """:attr:`plain_verdict`, "beats both controls" in bold."""
        return f"**{self.plain_verdict}**" if self.beats_both else self.plain_verdict

    @property
    def plain_verdict(self) -> str:
        if not self.compared:
            return "no control at this ratio"
        if self.beats_both:
            return "beats both controls"
        signs = {c: self.sign(c) for c in CONTROLS}
        if all(sign is Sign.NOT_ESTABLISHED for sign in signs.values()):
            return "not established"
        words = {Sign.ABOVE: "above", Sign.BELOW: "below", Sign.NOT_ESTABLISHED: "not established vs"}
        return ", ".join(f"{words[sign]} {c}" for c, sign in signs.items())


@dataclass(frozen=True)
class Study:
    """One dataset's causal test."""

    metrics: InterventionMetrics
    figure: str  # relative to docs/

    # ----------------------------------------------------------------------- lookups

    @cached_property
    def _effects(self) -> dict:
        return _index(self.metrics.effects, "subset", "kind", "edited_target", "readout", "layer", "ratio")

    @cached_property
    def _comparisons(self) -> dict:
        return _index(self.metrics.comparisons, "subset", "edited_target", "layer", "ratio", "versus")

    @cached_property
    def _sizes(self) -> dict:
        return _index(self.metrics.edit_sizes, "edited_target", "layer", "ratio")

    @cached_property
    def _specificity(self) -> dict:
        return _index(self.metrics.specificity, "edited_target", "layer", "ratio", "kind")

    @cached_property
    def _specificity_comparisons(self) -> dict:
        return _index(self.metrics.specificity_comparisons, "edited_target", "layer", "ratio", "versus")

    @cached_property
    def _ablation(self) -> dict:
        return _index(self.metrics.ablation, "subset", "layer", "subspace", "dim")

    @cached_property
    def _ablation_comparisons(self) -> dict:
        return _index(self.metrics.ablation_comparisons, "subset", "layer", "dim")

    def effect(self, target: str, layer: int, ratio: float, kind: str = "probe", readout: str | None = None,
               subset: str = "all") -> Effect:
        return _get(self._effects, "effect", subset=subset, kind=kind, edited_target=target,
                    readout=readout or target, layer=layer, ratio=ratio)

    def size(self, target: str, layer: int, ratio: float) -> EditSize:
        return _get(self._sizes, "edit size", edited_target=target, layer=layer, ratio=ratio)

    def edit(self, target: str, layer: int, ratio: float, subset: str = "all") -> Edit:
        compared = ratio in self.metrics.control_ratios
        return Edit(
            target=target, layer=layer, ratio=ratio, size=self.size(target, layer, ratio),
            own=self.effect(target, layer, ratio, subset=subset),
            controls={c: self.effect(target, layer, ratio, kind=c, subset=subset) for c in CONTROLS} if compared else {},
            comparisons={c: _get(self._comparisons, "comparison", subset=subset, edited_target=target, layer=layer,
                                 ratio=ratio, versus=c) for c in CONTROLS} if compared else {})

    def edits(self, target: str, subset: str = "all", compared_only: bool = False) -> list[Edit]:
        """Layer by layer, ratio by ratio (only the control ratios with ``compared_only``)."""
        ratios = self.metrics.control_ratios if compared_only else self.metrics.ratios
        return [self.edit(target, layer, ratio, subset) for layer in self.metrics.layers for ratio in ratios]

    def specificity(self, target: str, layer: int, ratio: float, kind: str = "probe") -> Specificity:
        return _get(self._specificity, "specificity", edited_target=target, layer=layer, ratio=ratio, kind=kind)

    def specificity_comparison(self, target: str, layer: int, ratio: float, versus: str) -> SpecificityComparison:
        return _get(self._specificity_comparisons, "specificity comparison", edited_target=target, layer=layer,
                    ratio=ratio, versus=versus)

    def ablation(self, layer: int, subspace: str, dim: int, subset: str = "all") -> Ablation:
        return _get(self._ablation, "ablation", subset=subset, layer=layer, subspace=subspace, dim=dim)

    def ablation_comparison(self, layer: int, dim: int, subset: str = "all") -> AblationComparison:
        return _get(self._ablation_comparisons, "ablation comparison", subset=subset, layer=layer, dim=dim)

    # ----------------------------------------------------------------------- what was run

    @property
    def name(self) -> str:
        return self.metrics.dataset

    @property
    def targets(self) -> list[str]:
        """The edited targets, in the order the stage wrote their edit sizes."""
        return list(dict.fromkeys(s.edited_target for s in self.metrics.edit_sizes))

    @property
    def readouts(self) -> list[str]:
        """Every quantity the readout reports (a side effect is one of them other than the edited target)."""
        return list(dict.fromkeys(e.readout for e in self.metrics.effects))

    @property
    def readout_name(self) -> str:
        return READOUT_NAMES[self.metrics.readout]

    @property
    def error_unit(self) -> str:
        return ERROR_UNITS[self.metrics.readout]

    @property
    def subsets(self) -> list[str]:
        """The subsets reported, ``all`` first."""
        return [s for s in SUBSETS if s in self.metrics.subsets] + [s for s in self.metrics.subsets if s not in SUBSETS]

    @property
    def side_ratio(self) -> float:
        """The ratio the side-effect matrix is shown at: the largest control ratio."""
        return max(self.metrics.control_ratios)

    @property
    def has_side_effects(self) -> bool:
        return any(r not in self.targets for r in self.readouts) or len(self.targets) > 1

    def others(self, target: str) -> list[str]:
        return [r for r in self.readouts if r != target]

    # ----------------------------------------------------------------------- (i) where the edit beats the controls

    def beating_layers(self, target: str, ratio: float, subset: str = "all") -> list[int]:
        return [e.layer for e in self.edits(target, subset, compared_only=True) if e.ratio == ratio and e.beats_both]

    def below_layers(self, target: str, ratio: float, subset: str = "all") -> list[int]:
        return [e.layer for e in self.edits(target, subset, compared_only=True)
                if e.ratio == ratio and e.below_a_control]

    def beats_anywhere(self, target: str, subset: str = "all") -> bool:
        return any(self.beating_layers(target, r, subset) for r in self.metrics.control_ratios)

    def target_sentence(self, target: str, subset: str = "all") -> str:
        """Where the probe edit of ``target`` moves its own readout more than both controls (paired intervals
        above 0), ratio by ratio; where a control moves it more; and plainly where nothing is established."""
        m = self.metrics
        parts = [f"at {_layers(layers)} (ratio {_ratio(r)})" for r in m.control_ratios
                 if (layers := self.beating_layers(target, r, subset))]
        if parts:
            text = (f"the {target} edit beats both controls {_join(parts, 'and')}; at the other layers and control "
                    "ratios beating both is not established")
        else:
            text = (f"the {target} edit beats both controls at no layer ({_layers(m.layers)}) and no control ratio "
                    f"({_join([_ratio(r) for r in m.control_ratios])}): not established")
        below = [f"{_layers(layers)} (ratio {_ratio(r)})" for r in m.control_ratios
                 if (layers := self.below_layers(target, r, subset))]
        if below:
            text += f"; a control moves the readout more than the probe at {_join(below)}"
        return text

    @property
    def verdict(self) -> str:
        return "; ".join(self.target_sentence(t) for t in self.targets)

    # ----------------------------------------------------------------------- (ii) how large an edit it takes

    def smallest_ratio(self, target: str, subset: str = "all") -> float | None:
        return next((r for r in sorted(self.metrics.control_ratios) if self.beating_layers(target, r, subset)), None)

    def size_sentence(self, target: str) -> str:
        m = self.metrics
        ratio = self.smallest_ratio(target)
        if ratio is None:
            top = max(m.control_ratios)
            sds = [self.size(target, layer, top).delta_sd for layer in m.layers]
            return (f"no tested edit of {target} beats both controls, up to ratio {_ratio(top)} "
                    f"(‖δ‖ = {_ratio(top)} × the residual's median norm, which moves the probe's own reading by "
                    f"{sig(min(sds))}–{sig(max(sds))} sd across the layers): not a matter of the edit being too small "
                    "for the probe")
        layers = self.beating_layers(target, ratio)
        sds = [self.size(target, layer, ratio).delta_sd for layer in layers]
        smaller = [r for r in m.ratios if r < ratio]
        text = (f"the smallest control ratio at which the {target} edit beats both controls is {_ratio(ratio)} "
                f"(at {_layers(layers)}, where it moves the probe's reading by "
                + (f"{sig(sds[0])} sd" if len(sds) == 1 else f"{sig(min(sds))}–{sig(max(sds))} sd") + ")")
        if smaller:
            text += (f"; the smaller probe edits (ratio {_join([_ratio(r) for r in smaller])}) ran without controls, "
                     "so they are not tested against them")
        return text

    # ----------------------------------------------------------------------- (iii) does removing it matter

    def ablation_layers(self, sign: Sign, dim: int, subset: str = "all") -> list[int]:
        return [layer for layer in self.metrics.layers if _sign(self.ablation_comparison(layer, dim, subset)) is sign]

    @property
    def ablation_dims(self) -> list[int]:
        return sorted({a.dim for a in self.metrics.ablation_comparisons})

    def full_ablation(self, layer: int, subset: str = "all") -> Ablation:
        """The positive control: the whole residual at the position set to the entities' mean."""
        return _get(self._ablation, "ablation", subset=subset, layer=layer, subspace="all", dim=self.d_model)

    @property
    def d_model(self) -> int:
        return max(a.dim for a in self.metrics.ablation)

    def positive_control_layers(self, subset: str = "all") -> list[int]:
        """Layers where mean-ablating the whole residual raises the readout's error (interval above 0): only there
        can a subspace's ablation be expected to show anything."""
        return [layer for layer in self.metrics.layers
                if _ablation_sign(self.full_ablation(layer, subset)) is Sign.ABOVE]

    def positive_control_sentence(self, subset: str = "all") -> str:
        layers = self.positive_control_layers(subset)
        rest = [layer for layer in self.metrics.layers if layer not in layers]
        if not layers:
            return ("mean-ablating the whole residual at the entity's last token raises the readout's error at no layer "
                    "(not established anywhere): the answer does not depend on that position alone, so no subspace "
                    "ablation there could show that it is used")
        text = (f"mean-ablating the whole residual at the entity's last token (the positive control) raises the readout's "
                f"error at {_layers(layers)}")
        return text + (f", not at {_layers(rest)}, where a subspace's null says nothing" if rest else "")

    def ablation_sentence(self, subset: str = "all") -> str:
        """Per ablated dimension, the layers where removing the probe subspace raises the readout's error more
        (or less) than removing a random subspace of that dimension."""
        return "; ".join(self._ablation_clause(dim, subset) for dim in self.ablation_dims)

    def _ablation_clause(self, dim: int, subset: str) -> str:
        above, below = self.ablation_layers(Sign.ABOVE, dim, subset), self.ablation_layers(Sign.BELOW, dim, subset)
        what = f"the {dim}-dimensional probe subspace"
        if not above and not below:
            return (f"mean-ablating {what} raises the readout's error no more than a random subspace of the same "
                    f"dimension at any layer: not established at {_layers(self.metrics.layers)}")
        parts = []
        if above:
            parts.append(f"mean-ablating {what} raises the readout's error more than a random subspace of the same "
                         f"dimension at {_layers(above)}")
        if below:
            parts.append(f"{'less than' if above else f'mean-ablating {what} raises the error less than'} the random "
                         f"subspace at {_layers(below)}")
        rest = [layer for layer in self.metrics.layers if layer not in above + below]
        if rest:
            parts.append(f"not established at {_layers(rest)}")
        return ", ".join(parts)

    # ----------------------------------------------------------------------- (iv) what else moves

    def side_layers(self, target: str, readout: str) -> list[int]:
        """Layers where the probe edit of ``target`` moves ``readout`` (its interval excludes 0), at the side ratio."""
        return [layer for layer in self.metrics.layers
                if _excludes_zero(self.effect(target, layer, self.side_ratio, readout=readout))]

    def side_sentence(self, target: str) -> str:
        parts = []
        for readout in self.others(target):
            layers = self.side_layers(target, readout)
            parts.append(f"moves {readout} (interval excluding 0) at {_layers(layers)}" if layers else
                         f"moves {readout} at no layer: not established")
        return f"at ratio {_ratio(self.side_ratio)} the {target} edit " + _join(parts)

    # ----------------------------------------------------------------------- (v) specificity

    def specificity_layers(self, target: str, ratio: float, sign: Sign) -> list[int]:
        return [layer for layer in self.metrics.layers
                if all(_sign(self.specificity_comparison(target, layer, ratio, c)) is sign for c in CONTROLS)]

    def specificity_sentence(self, target: str) -> str:
        m = self.metrics
        above = [f"{_layers(layers)} (ratio {_ratio(r)})" for r in m.control_ratios
                 if (layers := self.specificity_layers(target, r, Sign.ABOVE))]
        below = [f"{_layers(layers)} (ratio {_ratio(r)})" for r in m.control_ratios
                 if (layers := self.specificity_layers(target, r, Sign.BELOW))]
        if not above and not below:
            return (f"per nat of next-token KL on unrelated prompts, the {target} edit moves its readout neither more nor "
                    "less than both controls at any layer and control ratio: not established")
        parts = []
        if above:
            parts.append(f"per nat of next-token KL on unrelated prompts the {target} edit moves its readout more than "
                         f"both controls at {_join(above)}")
        if below:
            parts.append(f"less than both at {_join(below)}" if above else
                         f"per nat of next-token KL on unrelated prompts the {target} edit moves its readout less than "
                         f"both controls at {_join(below)}")
        return "; ".join(parts) + "; not established against both elsewhere"

    # ----------------------------------------------------------------------- multiple comparisons

    def n_tests(self, subset: str = "all") -> int:
        """Paired edit comparisons on a subset (targets × layers × control ratios × controls)."""
        return sum(c.subset == subset for c in self.metrics.comparisons)

    @property
    def n_all_tests(self) -> int:
        m = self.metrics
        return len(m.comparisons) + len(m.specificity_comparisons) + len(m.ablation_comparisons)

    @property
    def chance_above(self) -> float:
        """Comparisons expected above 0 by chance alone on ``all`` if the probe did nothing anywhere."""
        return self.n_tests() * (1 - LEVEL) / 2

    # ----------------------------------------------------------------------- the README's account

    @property
    def finding(self) -> str:
        """The README's account, short: per target where the edit beats both controls at the smallest control ratio
        that shows it, where the position matters at all (the ablation's positive control), and whether removing
        the probe subspace hurts more than removing a random one there."""
        m = self.metrics
        parts = []
        for t in self.targets:
            ratio = self.smallest_ratio(t)
            parts.append(f"the {t} edit beats both controls at no layer" if ratio is None else
                         f"the {t} edit beats both controls at {_layers(self.beating_layers(t, ratio))} (ratio {_ratio(ratio)})")
        matters = self.positive_control_layers()
        hurts = sorted({layer for dim in self.ablation_dims for layer in self.ablation_layers(Sign.ABOVE, dim)
                        if layer in matters})
        if matters:
            parts.append(f"mean-ablating the whole residual at the entity's last token hurts the answer at "
                         f"{_layers(matters)}, and there ablating the probe subspace (dimension "
                         f"{_join([str(d) for d in self.ablation_dims], 'or')}) hurts it more than a random subspace "
                         + (f"only at {_layers(hurts)}" if hurts else "at none"))
        else:
            parts.append("mean-ablating the whole residual at the entity's last token hurts the answer at no layer, so "
                         "the ablation test has no power here")
        return (f"{'; '.join(parts)} ({self.n_tests()} uncorrected edit comparisons on {m.n_entities} entities, about "
                f"{num(self.chance_above, 1)} expected above 0 by chance)")


def _ablation_sign(a: Ablation) -> Sign:
    return Sign.NOT_ESTABLISHED if a.error_lo is None or a.error_hi is None else interval_sign(a.error_lo, a.error_hi)


def _excludes_zero(e: Effect | Comparison) -> bool:
    return e.lo is not None and e.hi is not None and interval_sign(e.lo, e.hi) is not Sign.NOT_ESTABLISHED


def _study(m: InterventionMetrics, root: Path) -> Study:
    figure = FIGURES_DIR / f"{m.dataset}.png"
    if not (root / figure).is_file():
        raise FileNotFoundError(f"{root / figure}: the intervene stage's figure is missing")
    return Study(metrics=m, figure=f"../{figure}")


def load_studies(root: Path = Path(".")) -> dict[str, Study]:
    """Every dataset with committed intervention metrics, by name."""
    paths = sorted((root / METRICS_DIR).glob("*.json"))
    if not paths:
        raise FileNotFoundError(f"{root / METRICS_DIR}: no intervention metrics (run the intervene stage first)")
    return {p.stem: _study(InterventionMetrics.load(p), root) for p in paths}


def render(root: Path = Path(".")) -> str:
    studies = load_studies(root)
    return render_template(TEMPLATE, studies=studies, units=READOUT_UNITS, control_names=CONTROL_NAMES,
                           controls=CONTROLS, subset_names=SUBSET_NAMES, level=LEVEL,
                           n_unrelated=len(UNRELATED_PROMPTS),
                           n_country_examples=n_examples(COUNTRY_PREFIX, COUNTRY_QUESTION),
                           n_birth_examples=n_examples(BIRTH_PREFIX, BIRTH_QUESTION),
                           n_birthplace_examples=n_examples(BIRTHPLACE_PREFIX, BIRTHPLACE_QUESTION), ratio=_ratio, ratios=lambda rs: ', '.join(map(_ratio, rs)),
                           sig_cell=_sig_cell, cap=_cap, points=_points, kinds=("probe", *CONTROLS))


def _points(share: float | None) -> str:
    """A difference of two shares in percentage points."""
    return "n/a" if share is None else f"{num(100 * share, 1, signed=True)} pp"


def _cap(text: str) -> str:
    """A generated sentence at the start of a line."""
    return text[:1].upper() + text[1:]


def _sig_cell(record, unit: str = "") -> str:
    """``value [lo, hi]`` of an effect or difference, or "n/a" where the subset had no entity."""
    value = record.effect if isinstance(record, Effect) else record.difference
    return f"{sig(value)}{unit if value is not None else ''} {sig_interval(record.lo, record.hi)}"


def summary(root: Path = Path(".")) -> str:
    """One paragraph of the verdicts, for the README."""
    studies = load_studies(root)
    parts = [f"{name.capitalize()} ({s.metrics.n_entities} entities): {s.finding}." for name, s in studies.items()]
    models = sorted({s.metrics.model for s in studies.values()})
    return (f"**Causal test** ({', '.join(models)}): does an edit of the residual stream along the probe direction "
            f"move the model's answer more than a random direction and a direction orthogonal to the probe of the "
            f"same size, on paired intervals over the same entities, and does mean-ablating the probe subspace hurt "
            f"the answer more than a random subspace? {' '.join(parts)}")
