"""Does the model know the entity? Behavioural familiarity labels, and every probe result split by them.

Gurnee & Tegmark name their own main confound: many entities are unknown to the model and pollute the
activation datasets. Here the model is asked, with a few-shot question through the shared
:mod:`worldprobe.lm.readout`:

* **places**: "Q: In which country is {entity}?\\nA:" (world; US state for ``us``, borough for ``nyc``).
  Every candidate answer of the dataset (the values of its first group column held by at least
  ``min_candidate_entities`` entities) is scored by its log-probability as the continuation
  (``score: distinct``, the default: of its shortest token prefix that no other candidate shares, so
  "United Kingdom" is " United" + " Kingdom" and "Japan" is " Japan"; multi-token prefixes token by token). *known* = the gold answer scores strictly above every other
  candidate (a tie is not knowledge); ``margin`` = best gold score minus best other score;
  ``rank`` = 1 + the number of other candidates scoring at least as well as the gold one (top-k =
  rank <= k). For world the DBpedia country column is canonicalised (``UK`` and ``United_Kingdom``
  are one answer; English counties are England) and the four UK nations count as one answer class
  (a Scottish place answered "United Kingdom" is known).
* **time**: "Q: In what year was {entity} born?\\nA:" (release year for art, publication year for
  headlines), answered greedily and parsed (:func:`worldprobe.lm.readout.parse_year`); *known* = within
  ``year_tolerance`` years of the true calendar year. No margin (``NaN``): ``answer_error`` is |answer - truth|.

An answer that cannot be read (no year in the text, a prompt the readout refuses, a gold answer
outside the candidate set) is a counted *unknown*, never an error. The few-shot examples are train
entities that are never labelled themselves, each with a different answer, drawn with the seed; so
no labelled entity ever sees its own answer in the prompt. ``surprisal`` is the mean negative
log-probability of the entity's own tokens in the question prompt.

Labelled: seeded samples of ``test_sample`` test entities (the split metrics) and ``train_sample``
train entities (the known-only probe and the knowledge probe), to keep the readout within the
pipeline's time budget; with ``data.datasets.<ds>.familiarity: known | unknown`` every entity but the
few-shot examples, since the filtered study trains and tests on them.

Where the filter acts (no cycle): ``familiarity@ds`` needs only the model and the entity table; the
``probes`` and ``generalization`` stages read its labels and keep the entities the filter selects
(:func:`worldprobe.spacetime.inputs.filter_probe_data`); activations stay computed for every entity, so switching the filter
never recomputes them beyond DVC's parameter check.

Outputs: ``data/familiarity/<ds>.parquet`` (:data:`LABEL_COLUMNS`), ``metrics/familiarity/<ds>.json``
(:class:`FamiliaritySummary`), and from the ``familiarity_probes`` stage
``metrics/familiarity_probes/<ds>.json`` (:mod:`worldprobe.familiarity.probes`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..config import FamiliarityConfig
from ..countries import UNITED_KINGDOM, country_name
from ..io import Output
from ..lm.readout import FewShotReadout, parse_year

LABEL_COLUMNS = ("id", "split", "text", "entity_type", "popularity", "known", "known_top_k", "answer", "gold",
                 "margin", "rank", "answer_error", "gold_in_candidates", "readable", "surprisal")

# --------------------------------------------------------------------------- questions and answers

PLACE_QUESTIONS = {
    "world": "In which country is {entity}?",
    "us": "In which US state is {entity}?",
    "nyc": "In which borough of New York City is {entity}?",
}
TIME_QUESTIONS = {
    "people": "In what year was {entity} born?",
    "art": "In what year was {entity} released?",
    # the headline on its own line: a headline ending in "?" or a quote would merge with a "?" after it
    "headlines": "In what year did The New York Times publish this headline?\n{entity}",
}
GENERIC_QUESTIONS = {"place": "Where is {entity}?", "time": "In what year was {entity}?"}

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida", "GA": "Georgia",
    "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas",
    "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts",
    "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri", "MT": "Montana",
    "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico",
    "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma",
    "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington",
    "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming", "PR": "Puerto Rico",
}
# Answers that name the same place for this question: any member counts for any other.
ANSWER_CLASSES = {"world": [UNITED_KINGDOM]}


def canonical_answer(dataset: str, value) -> str | None:
    """The answer a model would give for a group value (``United_Kingdom`` -> ``United Kingdom``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).replace("_", " ").strip()
    if dataset == "us":
        return US_STATES.get(text.upper(), text)
    if dataset == "world":
        return country_name(text)
    return text


@dataclass(frozen=True)
class Question:
    """The few-shot question of one dataset: ``Q: <template>\\nA: <answer>``."""

    dataset: str
    kind: Literal["place", "time"]
    template: str  # with {entity}

    @classmethod
    def for_dataset(cls, dataset: str, kind: str) -> Question:
        table = PLACE_QUESTIONS if kind == "place" else TIME_QUESTIONS
        return cls(dataset, kind, table.get(dataset, GENERIC_QUESTIONS[kind]))

    @property
    def prompt(self) -> str:
        return f"Q: {self.template}\nA:"

    def example(self, entity: str, answer: str) -> str:
        return f"{self.prompt.format(entity=entity)} {answer}\n\n"


def calendar_year(year: float) -> int:
    """The calendar year of a fractional year (art and headlines carry the day as a fraction)."""
    return int(math.floor(year))


def year_text(year: int) -> str:
    return f"{-year} BC" if year < 0 else str(year)


def gold_answers(table: pd.DataFrame, dataset: str, kind: str, group: str | None) -> pd.Series:
    """Per entity the answer the question expects: a canonical place name, or the calendar year."""
    if kind == "time":
        return table["year"].map(calendar_year)
    if group is None or group not in table.columns:
        raise ValueError(f"{dataset}: a place dataset needs a group column (country, state, ...) to ask about")
    return table[group].map(lambda v: canonical_answer(dataset, v))


def candidate_set(gold: pd.Series, min_entities: int) -> list[str]:
    """Answers held by at least ``min_entities`` entities of the whole table, most common first."""
    counts = gold.dropna().value_counts()
    return sorted(counts[counts >= min_entities].index, key=lambda a: (-counts[a], a))


# --------------------------------------------------------------------------- which entities


def choose_entities(table: pd.DataFrame, gold: pd.Series, cfg: FamiliarityConfig, seed: int, label_all: bool,
                    candidates: Sequence[str] | None = None) -> tuple[np.ndarray, list[int]]:
    """(mask of entities to label, row indices of the few-shot examples), both seeded.

    ``test_sample`` test and ``train_sample`` train entities (None or ``label_all``: all of them).
    Shots come from train entities outside the labelled sample, each with a different answer (a
    candidate, for places), so no labelled entity sees its own answer and the prompt favours no answer.
    """
    rng = np.random.default_rng(seed)
    train = rng.permutation(np.flatnonzero((table["split"] == "train").to_numpy()))
    test = rng.permutation(np.flatnonzero((table["split"] == "test").to_numpy()))
    # shots first, from the train permutation's end, so that the sample does not depend on cfg.shots
    shots, seen = [], set()
    allowed = None if candidates is None else set(candidates)
    for row in train[::-1]:
        if len(shots) == cfg.shots:
            break
        answer = gold.iloc[row]
        if answer is None or answer in seen or (allowed is not None and answer not in allowed):
            continue
        shots.append(int(row))
        seen.add(answer)
    rest = [r for r in train if r not in set(shots)]
    if label_all and shots:
        print(f"note: {len(shots)} train entities serve as few-shot examples and stay unlabelled", file=sys.stderr)
    labelled = np.zeros(len(table), bool)
    for rows, n in ((rest, cfg.train_sample), (test, cfg.test_sample)):
        labelled[rows if label_all or n is None else rows[:n]] = True
    return labelled, shots


# --------------------------------------------------------------------------- reading the answers

def place_labels(scores: np.ndarray, gold: Sequence[str | None], candidates: Sequence[str], dataset: str,
                 top_k: int) -> pd.DataFrame:
    """Known / top-k / answer / margin / rank from ``(n, n_candidates)`` candidate scores (NaN row = unreadable)."""
    candidates = list(candidates)
    classes = ANSWER_CLASSES.get(dataset, [])
    rows = []
    for score, g in zip(scores, gold):
        readable = bool(np.isfinite(score).all())
        in_set = g is not None and g in candidates
        row = {"answer": candidates[int(np.argmax(score))] if readable else None, "gold": g,
               "gold_in_candidates": in_set, "readable": readable, "known": False, "known_top_k": False,
               "margin": np.nan, "rank": np.nan}
        if readable and in_set:
            same = next((c for c in classes if g in c), {g})
            right = np.array([c in same for c in candidates])
            best_right, best_wrong = score[right].max(), score[~right].max() if (~right).any() else -np.inf
            rank = 1 + int((score[~right] >= best_right).sum())
            row.update(margin=float(best_right - best_wrong), rank=rank, known=bool(best_right > best_wrong),
                       known_top_k=rank <= top_k)
        rows.append(row)
    return pd.DataFrame(rows)


def year_labels(answers: Sequence[str | None], gold: Sequence[int], tolerance: float) -> pd.DataFrame:
    rows = []
    for text, g in zip(answers, gold):
        year = parse_year(text) if text is not None else None
        error = abs(year - g) if year is not None else np.nan
        rows.append({"answer": text, "gold": str(g), "answer_year": year, "answer_error": error,
                     "known": bool(year is not None and error <= tolerance), "readable": text is not None,
                     "gold_in_candidates": True, "margin": np.nan, "rank": np.nan})
    return pd.DataFrame(rows)


@dataclass
class Labels:
    table: pd.DataFrame  # LABEL_COLUMNS (+ answer_year for time)
    question: Question
    prefix: str
    shot_ids: list[str]
    candidates: list[str] | None
    chance_answer: str | int  # the most common gold answer of the whole train split (a constant guess)
    seconds: float


def label_entities(readout_for: Callable[[str, str], FewShotReadout], table: pd.DataFrame, dataset: str, kind: str,
                   group: str | None, cfg: FamiliarityConfig, seed: int, label_all: bool) -> Labels:
    """Ask the model about the chosen entities (see the module docstring) and label each.

    ``readout_for(prefix, question)`` builds the readout (a factory, so tests can pass a tiny model).
    """
    start = time.perf_counter()
    table = table.reset_index(drop=True)
    question = Question.for_dataset(dataset, kind)
    gold = gold_answers(table, dataset, kind, group)
    candidates = candidate_set(gold, cfg.min_candidate_entities) if kind == "place" else None
    if candidates is not None and len(candidates) < 2:
        raise ValueError(f"{dataset}: {len(candidates)} candidate answers; lower familiarity.min_candidate_entities")
    labelled, shots = choose_entities(table, gold, cfg, seed, label_all, candidates)
    answer_of = (lambda g: str(g)) if kind == "place" else year_text
    prefix = "".join(question.example(table["text"].iloc[r], answer_of(gold.iloc[r])) for r in shots)
    readout = readout_for(prefix, question.prompt)
    rows = table[labelled].reset_index(drop=True)
    texts = rows["text"].astype(str).tolist()
    ok = readout.usable(texts)  # a prompt the readout refuses (blank, merged last token): a counted unknown
    asked = [t for t, good in zip(texts, ok) if good]
    surprisal = np.empty(len(asked))  # filled by the answer's own passes
    if kind == "place":
        scores = np.full((len(texts), len(candidates)), np.nan)
        scores[ok] = readout.score_candidates(asked, candidates, normalize=cfg.score, surprisal=surprisal)
        out = place_labels(scores, gold[labelled].tolist(), candidates, dataset, cfg.top_k)
        out["answer_error"] = np.nan
    else:
        answers = iter(readout.generate(asked, max_new_tokens=cfg.max_new_tokens, surprisal=surprisal))
        out = year_labels([next(answers) if good else None for good in ok], gold[labelled].tolist(),
                          cfg.tolerance(dataset))
        out["known_top_k"] = out["known"]
    out["surprisal"] = np.nan
    out.loc[ok, "surprisal"] = surprisal
    for col in ("id", "split", "text", "entity_type", "popularity"):
        out[col] = rows[col].to_numpy()
    out["popularity"] = out["popularity"].astype(float)
    out = out[list(LABEL_COLUMNS) + [c for c in out.columns if c not in LABEL_COLUMNS]]
    train_gold = gold[(table["split"] == "train").to_numpy()].dropna()
    chance = (train_gold if len(train_gold) else gold.dropna()).mode().iloc[0]
    return Labels(out, question, prefix, table["id"].iloc[shots].astype(str).tolist(), candidates, chance,
                  time.perf_counter() - start)


# --------------------------------------------------------------------------- the summary


class GroupFraction(Output):
    group: str
    n: int
    fraction_known: float
    popularity_min: float | None = None
    popularity_max: float | None = None


class FamiliaritySummary(Output):
    """``metrics/familiarity/<ds>.json``: how much of the dataset the model knows."""

    dataset: str
    kind: Literal["place", "time"]
    question: str
    prefix: str
    shot_ids: list[str]
    candidates: list[str] | None
    criterion: str
    n_labelled: int
    n_test: int
    n_train: int
    fraction_known: float  # over all labelled entities
    fraction_known_test: float
    fraction_known_top_k: float | None  # places only
    chance_known: float  # a constant answer (the train split's most common gold answer) would be "known" this often
    chance_answer: str
    n_unreadable: int  # prompt refused or no year parsed: counted unknown
    n_gold_outside_candidates: int
    by_entity_type: list[GroupFraction]
    by_popularity_decile: list[GroupFraction] | None  # None: the dataset has no popularity
    seconds: float


def popularity_deciles(popularity: pd.Series) -> pd.Series | None:
    """Decile (1 = least popular) of each entity with a popularity, by rank so ties are split evenly."""
    pop = popularity.astype(float)
    if pop.notna().sum() < 10:
        return None
    return pd.Series(pd.qcut(pop.rank(method="first"), 10, labels=False) + 1, index=pop.index)


def _fractions(frame: pd.DataFrame, by: pd.Series) -> list[GroupFraction]:
    out = []
    for key, part in frame.groupby(by, sort=True):
        pop = part["popularity"].astype(float)
        out.append(GroupFraction(group=str(int(key)) if isinstance(key, float) else str(key), n=len(part),
                                 fraction_known=float(part["known"].mean()),
                                 popularity_min=None if pop.isna().all() else float(pop.min()),
                                 popularity_max=None if pop.isna().all() else float(pop.max())))
    return out


# ``familiarity.score`` in words, for the report: the stored criterion names the option, as the stage has
# always written it (a new wording would change every committed familiarity metric for no result).
SCORE_PHRASES = {
    "distinct": "log-probability of its shortest token prefix no other candidate shares",
    "sum": "summed log-probability of its tokens",
    "mean": "mean log-probability of its tokens",
}


def readable_criterion(criterion: str) -> str:
    """A stored ``criterion`` in words: the score's option ("(distinct of token log-probabilities)") spelled
    out, and "within 1 years" in the singular."""
    for option, phrase in SCORE_PHRASES.items():
        criterion = criterion.replace(f"({option} of token log-probabilities)", f"({phrase})")
    return criterion.replace("within 1 years", "within 1 year")


def summarize(labels: Labels, dataset: str, kind: str, cfg: FamiliarityConfig) -> FamiliaritySummary:
    t = labels.table
    test = t["split"] == "test"
    mode = labels.chance_answer
    if kind == "place":
        criterion = (f"the gold answer scores strictly above every other of {len(labels.candidates)} candidates "
                     f"({cfg.score} of token log-probabilities); top-k: rank <= {cfg.top_k}")
        chance = float((t["gold"] == mode).mean())
    else:
        tol = cfg.tolerance(dataset)
        criterion = f"greedy answer parsed as a year within {tol:g} years of the true calendar year"
        chance = float((t["gold"].astype(int) - int(mode)).abs().le(tol).mean())
    deciles = popularity_deciles(t["popularity"])
    return FamiliaritySummary(
        dataset=dataset, kind=kind, question=labels.question.prompt, prefix=labels.prefix, shot_ids=labels.shot_ids,
        candidates=labels.candidates, criterion=criterion, n_labelled=len(t), n_test=int(test.sum()),
        n_train=int((~test).sum()), fraction_known=float(t["known"].mean()),
        fraction_known_test=float(t.loc[test, "known"].mean()),
        fraction_known_top_k=float(t["known_top_k"].mean()) if kind == "place" else None,
        chance_known=chance, chance_answer=str(mode),
        n_unreadable=int((~t["readable"] | (t["answer_error"].isna() & (kind == "time"))).sum()),
        n_gold_outside_candidates=int((~t["gold_in_candidates"]).sum()),
        by_entity_type=_fractions(t, t["entity_type"]),
        by_popularity_decile=None if deciles is None else _fractions(t[deciles.notna()], deciles.dropna()),
        seconds=labels.seconds,
    )
