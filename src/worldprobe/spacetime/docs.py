"""``docs/spacetime.md``: the space-and-time study's method (``doc.md.j2``) with every number and verdict
filled in from the committed metrics (``metrics/data``, ``metrics/probes``, ``metrics/generalization``,
``metrics/learning_curve``, ``metrics/spacetime/summary.json``, ``plots/probes/*/predictions.csv``), and
the one-paragraph summary the README carries. Pure: reads files under ``root``, runs no model."""

from __future__ import annotations

from pathlib import Path

from ..markdown import render_template
from ..records import DataReport
from ..registry import DATASETS
from ..stats import Sign, interval_sign
from .outputs import PairedDifference, SpacetimeSummary
from .report import (
    FIGURES_DIR,
    SUMMARY_PATH,
    DatasetResult,
    figure_names,
    load_axes,
    load_dataset,
    results_markdown,
)
from .verdicts import CONTROL_NAMES, Outcome, interval_text

DOC_PATH = Path("docs/spacetime.md")
TEMPLATE = Path(__file__).with_name("doc.md.j2")
GAP_UNCHANGED = 0.005  # a learning-curve gap that moves less than this (R²) "stays", below the printed precision


def load_results(root: Path) -> list[DatasetResult]:
    """Every dataset of the committed summary: the built-in ones in the registry's order, then one's own."""
    names = SpacetimeSummary.load(root / SUMMARY_PATH).root
    order = list(DATASETS)
    return [load_dataset(root, name)
            for name in sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))]


def _interval(d: PairedDifference) -> str:
    return f"{d.diff:+.3f} [{d.ci_low:+.3f}, {d.ci_high:+.3f}]"


def _established(d: PairedDifference) -> str:
    return {Sign.ABOVE: "established above 0", Sign.BELOW: "established below 0",
            Sign.NOT_ESTABLISHED: "not established (the interval includes 0)"}[interval_sign(d.ci_low, d.ci_high)]


def data_rows(root: Path, results: list[DatasetResult]) -> list[dict]:
    """The build's counts per dataset (``metrics/data``), with the filter rules that removed rows."""
    rows = []
    for r in results:
        report = DataReport.load(root / "metrics" / "data" / f"{r.name}.json")
        rules = ", ".join(f"{n:,} {rule.replace('_', ' ')}" for rule, n in report.filtered.items() if n)
        rows.append({"title": r.title, "report": report, "filtered": f"{report.filtered_total:,}"
                     + (f" ({rules})" if rules else "")})
    return rows


def split_rules(rows: list[dict], results: list[DatasetResult]) -> str:
    """How each dataset whose intervals resample test entities drew its split (``split_rule``), grouped by rule."""
    by_rule: dict[str, list[str]] = {}
    for row, r in zip(rows, results):
        if r.validity.split_group is None:
            by_rule.setdefault(row["report"].split_rule, []).append(r.title)
    return "; ".join(f"{', '.join(titles)}: {rule}" for rule, titles in by_rule.items())


def _curve_sentence(r: DatasetResult) -> str:
    """Probe − surface along the nested learning curve: the gap at the smallest and the full train size."""
    points = [p for p in r.main.learning_curve or [] if p.r2 is not None and p.surface_r2 is not None]
    if len(points) < 2:
        return ""
    first, last = points[0], points[-1]
    gap_first, gap_last = first.r2 - first.surface_r2, last.r2 - last.surface_r2
    change = abs(gap_last) - abs(gap_first)
    if (gap_first > 0) != (gap_last > 0):
        trend = "changes sign"
    elif abs(change) < GAP_UNCHANGED:
        trend = "stays"
    else:
        trend = f"{'narrows' if change < 0 else 'widens'} by {abs(change):.3f}"
    crossing = r.main.learning_curve_crossings["surface"]
    where = ("the probe is above at every size from "
             f"{crossing.stays_above_from:,}" if crossing.stays_above_from is not None
             else "the probe is not above it at full size")
    return (f" On the nested learning curve, probe − surface R² is {gap_first:+.3f} at {first.n_train:,} training "
            f"entities and {gap_last:+.3f} at {last.n_train:,}: the gap {trend} with more data ({where}).")


def finding(r: DatasetResult) -> str:
    """One bullet of what the dataset shows beyond the verdicts: the block in short, the learning curve, the
    eras, the MLP, how firmly the best layer is chosen and the unit-sphere target; every figure from the metrics."""
    v, b = r.validity, r.main.block
    text = f"**{r.title}**: R² {r.main.r2:.3f} [{v.r2_ci_low:.3f}, {v.r2_ci_high:.3f}]."
    if b is not None:
        text += (f" The {b.block} oracle reaches R² {b.oracle_r2:.3f}; given the {b.block} the probe adds ΔR² "
                 f"{interval_text(b.adds, 4)}, {_established(b.adds)}"
                 + ("" if b.beyond_block_share is None else
                    f" ({b.beyond_block_share:.1%} of what the {b.block} leaves unexplained)")
                 + ("" if b.block_read_r2 is None else
                    f", and its predictions explain {b.block_read_r2:.2f} of the variance of the {b.block} means") + ".")
    text += _curve_sentence(r)
    if v.eras:
        text += " By era: " + "; ".join(
            f"{era.replace('_', ' ')}, n = {e.n:,}, R² {e.r2:.3f}, Spearman {e.spearman:.3f}"
            for era, e in v.eras.items() if e.r2 is not None and e.spearman is not None) + "."
    text += _mlp_sentence(r) + _layer_sentence(r) + _sphere_sentence(r)
    return text


_ABOVE_BELOW = {Sign.ABOVE: "above", Sign.BELOW: "below", Sign.NOT_ESTABLISHED: "no difference established"}


def _sign_word(d: PairedDifference) -> str:
    return _ABOVE_BELOW[interval_sign(d.ci_low, d.ci_high)]


def _mlp_sentence(r: DatasetResult) -> str:
    """The MLP probe against the ridge and against the same MLP on the strongest control's features."""
    m = r.main.mlp
    if m is None or r.main.mlp_r2 is None:
        return ""
    spread = "" if m.r2_sd is None else f", sd {m.r2_sd:.3f} over {m.seeds} seeds"
    text = (f" An MLP probe (one hidden layer; early stopping on {m.validation}) reaches R² {r.main.mlp_r2:.3f}"
            f"{spread}; MLP − ridge {_interval(m.minus_linear)}: {_sign_word(m.minus_linear)}.")
    if m.control_r2 is not None:
        text += (f" The same MLP on the features of the strongest control, {CONTROL_NAMES[m.control]} "
                 f"({m.control_features}), reaches {m.control_r2:.3f}; MLP on activations − MLP on that control "
                 f"{_interval(m.minus_control)}: {_sign_word(m.minus_control)}.")
    return text


def _layer_sentence(r: DatasetResult) -> str:
    share = r.main.best_layer_share
    if share is None:
        return ""
    return (f" Layer {r.main.best_layer} wins the train selection score in {share:.0%} of train resamples "
            "(the score recomputed on each; probes not refitted).")


def _sphere_sentence(r: DatasetResult) -> str:
    d = r.main.sphere
    if d is None:
        return ""
    word = {Sign.ABOVE: "raises", Sign.BELOW: "lowers", Sign.NOT_ESTABLISHED: "does not establish a change in"}[
        interval_sign(d.ci_low, d.ci_high)]
    return (f" Fitting points on the unit sphere (x, y, z) instead of longitude/latitude {word} the mean "
            f"proximity error (Δ {_interval(d)}).")


AXIS_COST_LOG = Path("benchmarks/model_axis.log")  # written by benchmarks/model_axis.py


def axis_cost(root: Path) -> str:
    """The model axis's measured cost, from the benchmark's log: its stages' total and the default run's
    time before and with it."""
    path = root / AXIS_COST_LOG
    if not path.is_file():
        return "its cost is not measured yet (`python benchmarks/model_axis.py`)."
    lines = path.read_text().splitlines()
    total = next(line for line in lines if line.startswith("total")).split(None, 1)[1]
    return (f"measured by `python benchmarks/model_axis.py` (`{AXIS_COST_LOG}`: {lines[0].lstrip('# ')}), its "
            f"stages took {total}; {lines[-1].lstrip('# ')}.")


def render(root: Path = Path(".")) -> str:
    results = load_results(root)
    rows = data_rows(root, results)
    return render_template(
        TEMPLATE,
        models=", ".join(f"`{m}`" for m in sorted({r.model for r in results})),
        n_layers=sorted({r.main.n_layers for r in results}),
        data=rows,
        n_entities=sum(r.n_train + r.n_test for r in results),
        results=results_markdown(results, [str(Path("..") / FIGURES_DIR / f) for f in figure_names(
            results, model_axis=bool(load_axes(root, [r.name for r in results])))], root),
        findings=[finding(r) for r in results],
        people_target=next((row["report"].target for row in rows if row["report"].dataset == "people"), None),
        entity_split_rules=split_rules(rows, results),
        axis_cost=axis_cost(root),
    )


def summary(root: Path = Path(".")) -> str:
    """The README's paragraph: per dataset, which controls the probe beats and which it adds to, from the
    paired intervals; then the place datasets against their block."""
    results = load_results(root)
    beats_all, beaten, open_, adds_all, adds_not = [], [], [], [], []
    for r in results:
        against = [CONTROL_NAMES[v.control] for v in r.verdicts if v.outcome is Outcome.BEATEN]
        unsettled = [CONTROL_NAMES[v.control] for v in r.verdicts
                     if v.outcome in (Outcome.NOT_ESTABLISHED, Outcome.NOT_MEASURED)]
        if against:
            beaten.append(f"{r.title} ({', '.join(against)})")
        elif unsettled:
            open_.append(f"{r.title} ({', '.join(unsettled)})")
        else:
            beats_all.append(r.title)
        if lacking := [v for v in r.verdicts if v.adds_sign is not Sign.ABOVE]:
            adds_not.append(f"{r.title} (" + "; ".join(
                CONTROL_NAMES[v.control] + ("" if v.adds is None else f", ΔR² {_interval(v.adds)}") for v in lacking) + ")")
        else:
            adds_all.append(r.title)
    clauses = []
    if beats_all:
        clauses.append(f"the probe beats all four controls on {', '.join(beats_all)}")
    if beaten:
        clauses.append(f"a control is above the probe on {', '.join(beaten)}")
    if open_:
        clauses.append(f"the probe is not established against {', '.join(open_)}")
    beyond = []
    if adds_all:
        beyond.append(f"the probe adds to every control on {', '.join(adds_all)}")
    if adds_not:
        beyond.append(f"what it adds is not established on {', '.join(adds_not)}")
    text = (f"**Space and time** (Gurnee & Tegmark; {', '.join(sorted({r.model for r in results}))}, every entity; "
            f"verdicts from paired 95 % intervals on the same test entities). Head to head, {'; '.join(clauses)}. "
            f"Beyond each control (what the probe's predictions add to the control's), {'; '.join(beyond)}.")
    blocks = [r for r in results if r.main.block is not None]
    if blocks:
        text += (" Most of a place probe's R² is its block: an oracle told each test place's true block, predicting "
                 "that block's train mean, reaches " + "; ".join(
                     f"R² {r.main.block.oracle_r2:.3f} on {r.title} ({r.main.block.block}), where the probe adds "
                     f"ΔR² {interval_text(r.main.block.adds, 4)}"
                     + f" ({_share(r.main.block.beyond_block_share)}{_fixed_effects_clause(r)})" for r in blocks) + ".")
    return text + _mlp_summary(results) + _axis_summary(root, results) + f" Details: [{DOC_PATH}]({DOC_PATH})."


def _axis_summary(root: Path, results: list[DatasetResult]) -> str:
    """Each model of the axis against ``model`` on matched entities, grouped by the paired interval's sign."""
    axes = load_axes(root, [r.name for r in results])
    if not axes:
        return ""
    titles = {r.name: r.title for r in results}
    first = next(iter(axes.values())).models[0]
    text = []
    for name in dict.fromkeys(m.name for a in axes.values() for m in a.models[1:]):
        found = [(ds, m) for ds, axis in axes.items() for m in axis.models if m.name == name]
        text.append(f"{name} ({found[0][1].n_params / 1e6:,.0f} M parameters) minus {first.name} "
                    f"({first.n_params / 1e6:,.0f} M): "
                    + _by_sign([(titles[ds], m.minus_model) for ds, m in found if m.minus_model is not None]))
    return (" Model axis (probe R² on the same seeded subsample of each dataset, paired; a comparison of "
            f"{len(text) + 1} models that differ in more than size, not a scaling law): " + ". ".join(text) + ".")


def _by_sign(labelled: list[tuple[str, PairedDifference]]) -> str:
    """The labels grouped by the sign of their paired interval, each with it: "above on A (…); below on B (…)"."""
    by_sign: dict[Sign, list[str]] = {}
    for label, d in labelled:
        by_sign.setdefault(interval_sign(d.ci_low, d.ci_high), []).append(f"{label} ({_interval(d)})")
    return "; ".join(f"{_ABOVE_BELOW[sign]} on {', '.join(names)}" for sign, names in by_sign.items())


def _share(share: float | None) -> str:
    return "share of what the block leaves unexplained undefined" if share is None else (
        f"{share:.1%} of what the block leaves unexplained")


def _fixed_effects_clause(r: DatasetResult) -> str:
    fe = r.main.block.fixed_effects
    return (f"; a ridge on the activations with the block as an unpenalised term gains ΔR² {interval_text(fe.gain, 4)}"
            f", {_share(fe.share)}")


def _mlp_summary(results: list[DatasetResult]) -> str:
    """Per paired interval's sign, the datasets where the MLP probe is above / below the ridge and above /
    below the same MLP on the strongest control's features."""
    measured = [r for r in results if r.main.mlp is not None and r.main.mlp_r2 is not None]
    if not measured:
        return ""

    seeds = sorted({r.main.mlp.seeds for r in measured})
    return (f" A one-hidden-layer MLP probe ({'/'.join(map(str, seeds))} seeds, mean R²) against the ridge, paired: "
            f"{_by_sign([(r.title, r.main.mlp.minus_linear) for r in measured])}. Against the same MLP on the "
            f"strongest control's features: {_by_sign([(r.title, r.main.mlp.minus_control) for r in measured])}.")
