"""``docs/familiarity.md``: the familiarity study's method (``doc.md.j2``) with every number and verdict
filled in from the committed metrics (``metrics/familiarity``, ``metrics/familiarity_probes``), and the
paragraph the README carries. Pure: reads files under ``root``, runs no model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..markdown import render_template
from ..registry import DATASETS
from ..spacetime.outputs import ProbeMetrics
from ..stats import Sign, interval_sign
from .labels import FamiliaritySummary, readable_criterion
from .probes import (
    KNOWLEDGE_BASELINES,
    Difference,
    FamiliarityProbeReport,
    GroupMetrics,
    Interval,
    KnowledgeProbe,
    MatchedN,
)
from .report import markdown_report

DOC_PATH = Path("docs/familiarity.md")
TEMPLATE = Path(__file__).with_name("doc.md.j2")
FIGURE = Path("plots/familiarity/figures/familiarity.png")
BASELINES = KNOWLEDGE_BASELINES
BASELINE_NAMES = {"surprisal": "its surprisal", "popularity": "its popularity", "surprisal+popularity": "both",
                  "answer_prior": "the rate of known entities with its gold answer", "name_tfidf": "its spelling (TF-IDF)"}


@dataclass(frozen=True)
class Study:
    """One dataset's labels (``metrics/familiarity``) and split probes (``metrics/familiarity_probes``)."""

    name: str
    labels: FamiliaritySummary
    probes: FamiliarityProbeReport
    split_group: str | None  # the group the space-and-time split holds out (metrics/probes), None: entities

    @property
    def label_beats_constant(self) -> bool:
        """Is the label's known rate above what a constant answer would score? At or below it, the label is
        not shown to measure knowledge."""
        return self.labels.fraction_known_test > self.labels.chance_known

    @property
    def criterion(self) -> str:
        return readable_criterion(self.labels.criterion)

    @property
    def resamples_entities_across_groups(self) -> bool:
        """Intervals that resampled entities (``resampled`` None: written when every run did) although the
        split holds whole groups out: too narrow."""
        return self.split_group is not None and self.probes.resampled in (None, "entity")

    def probe_group(self, group: str) -> GroupMetrics | None:
        return next(s for s in self.probes.split if s.predictor == "probe").groups.get(group)

    def difference(self, a: str, b: str, metric: str) -> Difference | None:
        return next((d for d in self.probes.differences if (d.a, d.b, d.metric) == (a, b, metric)), None)


def load_studies(root: Path) -> list[Study]:
    """Every dataset with familiarity metrics: the built-in ones in the registry's order, then one's own."""
    names = sorted(p.stem for p in (root / "metrics" / "familiarity_probes").glob("*.json"))
    order = list(DATASETS)
    names.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
    return [Study(n, FamiliaritySummary.load(root / "metrics" / "familiarity" / f"{n}.json"),
                  FamiliarityProbeReport.load(root / "metrics" / "familiarity_probes" / f"{n}.json"),
                  ProbeMetrics.load(root / "metrics" / "probes" / f"{n}.json").validity.split_group) for n in names]


def not_knowledge(studies: list[Study]) -> str:
    """The sentence naming the datasets whose label does not beat a constant answer ("" when none)."""
    names = [s.name for s in studies if not s.label_beats_constant]
    if not names:
        return ""
    return (f"On {', '.join(names)} the known rate is at or below a constant answer's, so the label is not shown "
            "to measure knowledge there.")


def provisional(studies: list[Study]) -> str:
    """The sentence naming the datasets whose intervals resampled entities across held-out groups."""
    flagged = [s for s in studies if s.resamples_entities_across_groups]
    if not flagged:
        return ""
    return (f"{' and '.join(s.name for s in flagged)} intervals resample entities although their split holds out "
            f"{' / '.join(s.split_group for s in flagged)} groups; their verdicts are provisional until "
            "familiarity_probes reruns (the code now resamples the groups).")


def _pct(fraction: float) -> str:
    return f"{100 * fraction:.1f} %"


def _number(value: float, unit: str) -> str:
    """A difference in its unit's precision: R² and AUROC to 3 decimals, km and years to 1."""
    return f"{value:+,.1f}" if unit in ("km", "years") else f"{value:+.3f}"


def _diff(d: Difference | None, unit: str = "") -> str:
    if d is None or d.value is None:
        return "—"
    interval = "" if d.lo is None else f" [{_number(d.lo, unit)}, {_number(d.hi, unit)}]"
    return f"{_number(d.value, unit)}{f' {unit}' if unit else ''}{interval} ({d.verdict})"


def _interval(iv: Interval | None) -> str:
    if iv is None or iv.value is None:
        return "—"
    return f"{iv.value:.3f}" + ("" if iv.lo is None else f" [{iv.lo:.3f}, {iv.hi:.3f}]")


def _rho(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(studies: list[Study]) -> list[str]:
    """The results at a glance: one column per dataset."""
    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [row("", [s.name for s in studies]), "|---|" + "---|" * len(studies)]
    lines.append(row("known (test)", [f"{_pct(s.labels.fraction_known_test)} ({s.probes.n_test_known}/"
                                      f"{s.probes.n_test})" for s in studies]))
    lines.append(row("a constant answer would be \"known\"", [_pct(s.labels.chance_known) for s in studies]))
    lines.append(row("probe R² known / unknown", [
        f"{_interval(k.r2 if (k := s.probe_group('known')) else None)} / "
        f"{_interval(u.r2 if (u := s.probe_group('unknown')) else None)}" for s in studies]))
    lines.append(row("probe − surface on known (R², paired)", [_diff(s.difference("probe", "surface", "r2"))
                                                                for s in studies]))
    lines.append(row("within-block Spearman, probe / surface: known; unknown", [
        "; ".join(f"{_rho(s.probes.within_block[g].spearman.get('probe'))} / "
                  f"{_rho(s.probes.within_block[g].spearman.get('surface'))}" for g in ("known", "unknown"))
        + f" ({s.probes.within_block['all'].block})" for s in studies]))
    lines.append(row("knowledge probe AUROC (layer) vs " + " / ".join(BASELINES), [
        f"{_interval(k.test_auroc)} ({k.layer}) vs " + " / ".join(
            _interval(k.baselines.get(b)) for b in BASELINES)
        if isinstance(k := s.probes.knowledge_probe, KnowledgeProbe) else k for s in studies]))
    return lines


def _unit(s: Study) -> str:
    return (s.probe_group("all") or s.probe_group("known")).mae_unit


def finding(s: Study) -> str:
    """What one dataset shows, every verdict from its paired interval."""
    unit = _unit(s)
    text = (f"**{s.name}**: {_pct(s.labels.fraction_known_test)} of the labelled test entities known, against "
            f"{_pct(s.labels.chance_known)} for a constant answer"
            + ("" if s.label_beats_constant else ": at or below it, so the label is not shown to measure knowledge")
            + f". Probe R² known − unknown "
            f"{_diff(s.difference('known', 'unknown', 'r2'))}; mean error known − unknown "
            f"{_diff(s.difference('known', 'unknown', 'mae'), unit)}. On the known entities, probe − surface R² "
            f"{_diff(s.difference('probe', 'surface', 'r2'))}, error {_diff(s.difference('probe', 'surface', 'mae'), unit)}.")
    within = s.probes.within_block
    text += (f" Within a {within['all'].block}, Spearman probe / surface on known entities "
             f"{_rho(within['known'].spearman.get('probe'))} / {_rho(within['known'].spearman.get('surface'))} "
             f"({within['known'].n:,} in blocks of ≥ {within['known'].min_test}), on unknown "
             f"{_rho(within['unknown'].spearman.get('probe'))} / {_rho(within['unknown'].spearman.get('surface'))} "
             f"({within['unknown'].n:,}; point estimates without interval).")
    if isinstance(m := s.probes.matched_n, MatchedN):
        text += (f" A probe trained on the {m.n_train:,} known labelled train entities against random subsets of the "
                 "same size: " + "; ".join(f"on {d.on} {_diff(d)}" for d in m.differences) + ".")
    if isinstance(k := s.probes.knowledge_probe, KnowledgeProbe):
        text += (f" Knowledge probe (layer {k.layer}) AUROC {_interval(k.test_auroc)}; against "
                 + "; ".join(f"{d.b} {_diff(d)}" for d in k.differences) + ".")
        if k.C_grid_edge_layers:
            text += (f" Its penalty C sits at an end of the grid in {len(k.C_grid_edge_layers)} of {len(k.layers)} "
                     f"layers{' (the chosen one included)' if k.layer in k.C_grid_edge_layers else ''}.")
    else:
        text += f" Knowledge probe: {k}."
    return text


def render(root: Path = Path(".")) -> str:
    studies = load_studies(root)
    return render_template(
        TEMPLATE,
        studies=studies,
        pct=_pct,
        table=table(studies),
        provisional=provisional(studies),
        findings=[finding(s) for s in studies],
        full_table=markdown_report({s.name: s.labels.model_dump() for s in studies}, {s.name: s.probes for s in studies}),
        figure=Path("..") / FIGURE,
    )


def summary(root: Path = Path(".")) -> str:
    """The README's paragraph: how much the model knows, and where knowing changes the probe."""
    studies = load_studies(root)
    known = ", ".join(f"{s.name} {_pct(s.labels.fraction_known_test)} (constant answer "
                      f"{_pct(s.labels.chance_known)})" for s in studies)
    by_verdict: dict[str, list[str]] = {}
    for s in studies:
        d = s.difference("known", "unknown", "r2")
        if d is not None and d.value is not None:
            by_verdict.setdefault(d.verdict, []).append(s.name)
    split = "; ".join(f"{verdict} on {', '.join(names)}" for verdict, names in by_verdict.items())
    mae = "; ".join(f"{s.name} {_diff(d, _unit(s))}" for s in studies
                    if (d := s.difference("known", "unknown", "mae")) is not None and d.value is not None)
    decodable = [s.name for s in studies if isinstance(k := s.probes.knowledge_probe, KnowledgeProbe)
                 and {d.b for d in k.differences if d.lo is not None and interval_sign(d.lo, d.hi) is Sign.ABOVE} == set(BASELINES)]
    return (f"**Familiarity** (does the model know the entity? a few-shot question per labelled entity): known "
            f"test entities {known}. {not_knowledge(studies)} Probe R² on known − unknown entities, paired (R² is "
            f"measured against each subset's own spread, so read the mean error beside it): {split}. Mean error "
            f"known − unknown: {mae}. A logistic probe on "
            "the residual stream predicts whether the model knows the entity better than "
            + ", ".join(BASELINE_NAMES[b] for b in BASELINES[:-1]) + f" and {BASELINE_NAMES[BASELINES[-1]]} on "
            f"{', '.join(decodable) or 'no dataset'}. Details: [{DOC_PATH}]({DOC_PATH}).")
