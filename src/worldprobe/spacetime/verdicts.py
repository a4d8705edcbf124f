"""Verdicts: does the headline probe beat each control, and do its activations add to it? Each from a
paired 95 % bootstrap interval on the same test entities, read by the project's verdict rule
(:func:`worldprobe.stats.interval_sign`). *Beats* (:mod:`worldprobe.spacetime.validity`): probe R² minus
control R², head to head. *Adds to* (:mod:`worldprobe.spacetime.incremental`): the R² the probe's predictions
add to the control's. A control can beat the probe head to head while the probe still adds to it (each
holds something the other lacks), so the sentences say which of the two holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from ..stats import PairedDifference, Sign, interval_sign
from .outputs import BlockChecks, SummaryControls, Validity

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
    adds: PairedDifference | None = None  # what the probe's predictions add to the control's, paired interval

    @property
    def adds_sign(self) -> Sign | None:
        return None if self.adds is None else interval_sign(self.adds.ci_low, self.adds.ci_high)


def judge(differences: Mapping[str, PairedDifference], controls: Mapping[str, float | None],
          adds: Mapping[str, PairedDifference] | None = None) -> list[Verdict]:
    """Does the probe beat each control (``differences``: probe - control; absent: not measured), and what
    does it add to each (``adds``, where measured)?"""
    verdicts = []
    for name in CONTROLS:
        d = differences.get(name)
        outcome = Outcome.NOT_MEASURED if d is None else _OUTCOME[interval_sign(d.ci_low, d.ci_high)]
        verdicts.append(Verdict(name, controls.get(name), d, outcome, (adds or {}).get(name)))
    return verdicts


def interval_text(d: PairedDifference, digits: int = 3) -> str:
    return f"{d.diff:+.{digits}f} [{d.ci_low:+.{digits}f}, {d.ci_high:+.{digits}f}]"


def _paired(d: PairedDifference) -> str:
    return f"Δ {interval_text(d)}"


def _names(verdicts: list[Verdict], show) -> str:
    return ", ".join(f"{CONTROL_NAMES[v.control]} ({show(v)})" for v in verdicts)


def _head_to_head(verdicts: list[Verdict]) -> str:
    by_outcome = {o: [v for v in verdicts if v.outcome is o] for o in Outcome}
    parts = []
    if beaten_by := by_outcome[Outcome.BEATEN]:
        parts.append(f"{_names(beaten_by, lambda v: _paired(v.difference))} "
                     f"{'beats' if len(beaten_by) == 1 else 'beat'} the probe")
    if open_ := by_outcome[Outcome.NOT_ESTABLISHED]:
        parts.append(f"the probe does not beat {_names(open_, lambda v: _paired(v.difference) + ', includes 0')}")
    if beats := by_outcome[Outcome.BEATS]:
        parts.append(f"the probe beats {', '.join(CONTROL_NAMES[v.control] for v in beats)}")
    if missing := by_outcome[Outcome.NOT_MEASURED]:
        parts.append(f"{', '.join(CONTROL_NAMES[v.control] for v in missing)} not measured")
    return "; ".join(parts)


def _beyond(measured: list[Verdict]) -> str:
    adds = [v for v in measured if v.adds_sign is Sign.ABOVE]
    nothing = [v for v in measured if v.adds_sign is not Sign.ABOVE]
    parts = []
    if adds:
        parts.append(f"the probe adds to {_names(adds, lambda v: 'ΔR² ' + interval_text(v.adds))}")
    if nothing:
        parts.append(f"adds nothing established to {_names(nothing, lambda v: 'ΔR² ' + interval_text(v.adds))}")
    return "; ".join(parts)


def plain_verdict(kind: str, model: str, verdicts: list[Verdict], validity: Validity | None = None,
                  block: BlockChecks | None = None, within_block: Mapping[str, PairedDifference] | None = None) -> str:
    """Sentences a reader outside the field can act on: whether the probe beats each control and whether it
    adds to each, worded by the paired intervals' signs; then what the block, the order within it and the
    eras say (``validity``, ``block``, ``within_block``)."""
    what = "where places are" if kind == "place" else "when things happened"
    measured = [v for v in verdicts if v.adds is not None]
    beats_all = all(v.outcome is Outcome.BEATS for v in verdicts)
    adds_all = bool(measured) and len(measured) == len(verdicts) and all(v.adds_sign is Sign.ABOVE for v in measured)
    if beats_all and adds_all:
        text = (f"The probe beats every control and adds to each (paired 95 % intervals above 0): {what} can be "
                f"read linearly from {model}'s activations better than from the entity's spelling, its input "
                "embedding or a random network's features, and the probe holds information about it that none "
                "of them holds.")
    else:
        lead = ("Against the hypothesis head to head" if any(v.outcome is Outcome.BEATEN for v in verdicts) else
                "Not established head to head" if any(v.outcome is Outcome.NOT_ESTABLISHED for v in verdicts) else
                "Head to head")
        text = f"{lead}: {_head_to_head(verdicts)}."
        if measured:
            text += f" Beyond each control, {_beyond(measured)}."
        if adds_all:
            text += (f" So {model}'s activations hold information about {what} that no control holds, even where "
                     "a control predicts as well or better on its own.")
        else:
            lacking = [v for v in verdicts if v.adds_sign is not Sign.ABOVE]
            text += (f" This is no evidence that {model} represents {what} beyond "
                     f"{', '.join(CONTROL_NAMES[v.control] for v in lacking)}.")
    extra = [] if validity is None else validity_sentences(kind, validity, block, within_block)
    return " ".join([text, *extra])


def validity_sentences(kind: str, validity: Validity, block: BlockChecks | None = None,
                       within_block: Mapping[str, PairedDifference] | None = None) -> list[str]:
    """What the block and the eras say about the headline R²: the probe against the block and what it adds
    to it, how the probe orders entities within a block beside each control, and its R² per era."""
    sentences, wb = [], validity.within_block
    if block is not None:
        sentences.append(block_sentence(block, validity.r2_beyond_group))
    probe_rho = wb.spearman.get("probe")
    if probe_rho is not None:
        interval = ("" if wb.probe_spearman_ci_low is None
                    else f" [{wb.probe_spearman_ci_low:.3f}, {wb.probe_spearman_ci_high:.3f}]")
        entities = "places" if kind == "place" else "entities"
        text = f"Within a {wb.block} the probe orders {entities} at Spearman {probe_rho:.3f}{interval}"
        if within_block:
            text += "; against each control's order (probe − control, paired): " + "; ".join(
                f"{CONTROL_NAMES[name]} {interval_text(d)}, {_WITHIN[interval_sign(d.ci_low, d.ci_high)]}"
                for name, d in ((n, within_block[n]) for n in CONTROLS if n in within_block))
        sentences.append(text + ".")
    if validity.eras:
        sentences.append("By era, the probe's R² (Spearman, n): " + "; ".join(
            f"{era.replace('_', ' ')} {e.r2:.3f} ({e.spearman:.3f}, {e.n:,})"
            for era, e in validity.eras.items() if e.r2 is not None and e.spearman is not None) + ".")
    return sentences


def _plural(noun: str) -> str:
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


_WITHIN = {Sign.ABOVE: "the probe orders better", Sign.BELOW: "the control orders better",
           Sign.NOT_ESTABLISHED: "neither established"}


def block_sentence(block: BlockChecks, one_penalty: PairedDifference | None = None) -> str:
    """The probe against an oracle told each test place's block, what the probe adds to it (its share of
    what the block leaves unexplained), how much of the blocks' spread the probe reads, the ridge with the
    block unpenalised, the one-hot ridge whose single penalty also shrinks the block term, and the unseen
    and missing blocks."""
    b = block.block
    beats = interval_sign(block.beats.ci_low, block.beats.ci_high)
    head = {Sign.ABOVE: "the probe beats it", Sign.BELOW: "it beats the probe",
            Sign.NOT_ESTABLISHED: "neither is established above the other"}[beats]
    text = (f"An oracle told each test place's {b} (that {b}'s train mean) reaches R² {block.oracle_r2:.3f}: {head} "
            f"(Δ {interval_text(block.beats)}).")
    if interval_sign(block.adds.ci_low, block.adds.ci_high) is Sign.ABOVE:
        share = "" if block.beyond_block_share is None else (
            f", {block.beyond_block_share:.1%} of the variance the {b} leaves unexplained")
        text += (f" Given the {b}, the probe's prediction adds ΔR² {interval_text(block.adds, 4)}{share}: it places "
                 f"within a {b}.")
    else:
        text += (f" Given the {b}, what the probe's prediction adds is not established (ΔR² "
                 f"{interval_text(block.adds, 4)}).")
    if block.block_read_r2 is not None:
        text += (f" Its predictions explain {block.block_read_r2:.2f} of the variance of the test {_plural(b)}' means, so it "
                 f"reads the {b} only in part.")
    fe = block.fixed_effects
    share = "" if fe.share is None else f" ({fe.share:.1%} of what the {b} leaves unexplained)"
    fe_sign = {Sign.ABOVE: "established", Sign.BELOW: "the activations make it worse",
               Sign.NOT_ESTABLISHED: "not established"}[interval_sign(fe.gain.ci_low, fe.gain.ci_high)]
    text += (f" A ridge on the activations with the {b} as an unpenalised term ({b} fixed effects) gains ΔR² "
             f"{interval_text(fe.gain, 4)} over the {b}'s train means{share}: {fe_sign}.")
    if one_penalty is not None:
        text += (f" A ridge on the {b}'s one-hot plus the activations, one penalty for both (which shrinks the {b} "
                 f"term too), gains ΔR² {interval_text(one_penalty, 4)} over the one-hot alone.")
    counts = []
    if block.unseen_test_blocks:
        counts.append(f"{block.unseen_test_blocks} test {_plural(b)} ({block.unseen_test_entities} places) have no train "
                      "place, so the oracle gives them the overall train mean")
    if block.missing_block_entities:
        counts.append(f"{block.missing_block_entities} test places with no {b} form a {b} of their own")
    return text + ("" if not counts else " " + "; ".join(counts)[0].upper() + "; ".join(counts)[1:] + ".")
