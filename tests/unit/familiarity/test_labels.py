"""Familiarity labels from the readout's answers: ties, answer classes, unreadable answers, the prompt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from worldprobe.config import FamiliarityConfig
from worldprobe.familiarity.labels import (
    SCORE_PHRASES,
    Question,
    candidate_set,
    canonical_answer,
    choose_entities,
    gold_answers,
    label_entities,
    place_labels,
    readable_criterion,
    summarize,
    year_labels,
)
from worldprobe.lm.readout import ReadoutError

CANDS = ["United Kingdom", "France", "England", "Japan"]


def test_canonical_answers():
    assert canonical_answer("world", "United_Kingdom") == "United Kingdom"
    assert canonical_answer("world", "UK") == canonical_answer("world", "United_Kingdom")
    assert canonical_answer("world", "Kent") == "England"
    assert canonical_answer("us", "CA") == "California"
    assert canonical_answer("nyc", "Staten Island") == "Staten Island"
    assert canonical_answer("world", float("nan")) is None


def test_place_labels_ties_classes_and_unreadable_rows():
    scores = np.array([
        [-1.0, -2.0, -3.0, -4.0],  # France gold, UK best: unknown, rank 2
        [-2.0, -1.0, -3.0, -4.0],  # France gold and best: known, margin 1
        [-1.0, -1.0, -3.0, -4.0],  # France ties with UK: a tie is not knowledge
        [-1.0, -2.0, -3.0, -4.0],  # England gold, "United Kingdom" best: the same answer class
        [np.nan] * 4,  # the readout refused the prompt
        [-1.0, -2.0, -3.0, -4.0],  # gold outside the candidate set
    ])
    gold = ["France", "France", "France", "England", "Japan", "Atlantis"]
    out = place_labels(scores, gold, CANDS, "world", top_k=2)
    assert out["known"].tolist() == [False, True, False, True, False, False]
    assert out["rank"].tolist()[:4] == [2, 1, 2, 1]
    assert out["known_top_k"].tolist() == [True, True, True, True, False, False]
    assert out["margin"].iloc[1] == pytest.approx(1.0) and out["margin"].iloc[2] == 0.0
    assert out["margin"].iloc[3] == pytest.approx(1.0)  # best of the class (UK) minus best other (France)
    assert out["answer"].tolist()[:2] == ["United Kingdom", "France"]
    assert not out["readable"].iloc[4] and pd.isna(out["answer"].iloc[4])
    assert out["gold_in_candidates"].tolist() == [True] * 5 + [False]


def test_year_labels_count_malformed_answers_as_unknown():
    answers = ["1815", "1830", "", "the 15th century", None, "384 BC", "sometime in 1999?"]
    gold = [1820, 1820, 1820, 1450, 1820, -384, 1999]
    out = year_labels(answers, gold, tolerance=5)
    assert out["known"].tolist() == [True, False, False, False, False, True, True]
    assert out["answer_error"].tolist()[:2] == [5, 10] and np.isnan(out["answer_error"].iloc[2])
    assert out["readable"].tolist() == [True, True, True, True, False, True, True]


def _table(n_train=40, n_test=10):
    n = n_train + n_test
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "id": [f"e{i}" for i in range(n)], "text": [f"Place {i}" for i in range(n)],
        "entity_type": rng.choice(["city", "lake"], n), "popularity": rng.lognormal(5, 1, n),
        "split": ["train"] * n_train + ["test"] * n_test,
        "country": rng.choice(["France", "Japan", "United_Kingdom", "Kent"], n),
        "year": rng.uniform(1800, 1900, n),
    })


def test_choose_entities_keeps_shots_out_of_the_labelled_set():
    table = _table()
    gold = gold_answers(table, "world", "place", "country")
    cfg = FamiliarityConfig(shots=3, train_sample=20, test_sample=None)
    labelled, shots = choose_entities(table, gold, cfg, seed=0, label_all=False, candidates=candidate_set(gold, 1))
    assert labelled[table["split"] == "test"].all() and labelled[table["split"] == "train"].sum() == 20
    assert len(shots) == 3 and not labelled[shots].any() and (table["split"].iloc[shots] == "train").all()
    assert gold.iloc[shots].nunique() == 3  # each shot a different answer
    again = choose_entities(table, gold, cfg, seed=0, label_all=False, candidates=candidate_set(gold, 1))
    assert again[1] == shots and (again[0] == labelled).all()
    every, shots_all = choose_entities(table, gold, cfg, seed=0, label_all=True)
    assert every.sum() == len(table) - 3 and not every[shots_all].any()
    few_test, _ = choose_entities(table, gold, cfg.model_copy(update={"test_sample": 4}), seed=0, label_all=False,
                                  candidates=candidate_set(gold, 1))
    assert few_test[table["split"] == "test"].sum() == 4 and (few_test[table["split"] == "train"] == labelled[table["split"] == "train"]).all()


class FakeReadout:
    """Answers by a fixed rule; one entity's prompt is unusable, and asking about it raises, as in the readout."""

    def __init__(self, prefix, question, refuse="Place 45"):
        self.prefix, self.question, self.refuse = prefix, question, refuse

    def usable(self, entities):
        return np.array([e != self.refuse for e in entities])

    def _check(self, entities):
        if self.refuse in entities:
            raise ReadoutError("refused")

    def score_candidates(self, entities, candidates, normalize, surprisal):
        self._check(entities)
        surprisal[:] = 2.5
        # knows the even-numbered places are in France, thinks the rest are in Japan
        return np.array([[0.0 if (c == "France") == (int(e.split()[1]) % 2 == 0) else -1.0 for c in candidates]
                         for e in entities])

    def generate(self, entities, max_new_tokens, surprisal):
        self._check(entities)
        surprisal[:] = 2.5
        return ["18" + e.split()[1][-2:].zfill(2) for e in entities]


def test_label_entities_with_a_readout_that_refuses_a_prompt():
    table = _table()
    table["country"] = np.where(np.arange(len(table)) % 4 == 0, "France", "Japan")
    made = []

    def factory(prefix, question):
        made.append(FakeReadout(prefix, question))
        return made[-1]

    cfg = FamiliarityConfig(shots=2, train_sample=10, test_sample=None, min_candidate_entities=1)
    labels = label_entities(factory, table, "world", "place", "country", cfg, seed=0, label_all=False)
    t = labels.table.set_index("id")
    assert len(t) == 20 and set(t["split"]) == {"train", "test"}
    assert not t.loc["e45", "readable"] and not t.loc["e45", "known"] and np.isnan(t.loc["e45", "surprisal"])
    ok = t.drop("e45")
    idx = ok.index.str[1:].astype(int)
    expect = np.where(idx % 2 == 0, idx % 4 == 0, True)  # said France for even ones: right only for multiples of 4
    assert (ok["known"].to_numpy() == expect).all() and (ok["surprisal"] == 2.5).all()
    assert labels.question.prompt == "Q: In which country is {entity}?\nA:" == made[0].question
    assert labels.prefix.count("Q: ") == 2 and labels.prefix.endswith("\n\n")
    for entity_text in t["text"]:
        assert f"is {entity_text}?" not in labels.prefix  # no labelled entity in the few-shot prompt
    summary = summarize(labels, "world", "place", cfg)
    assert summary.n_unreadable == 1 and summary.fraction_known == pytest.approx(t["known"].mean())
    assert {g.group for g in summary.by_entity_type} == {"city", "lake"}
    assert [g.group for g in summary.by_popularity_decile] == [str(i) for i in range(1, 11)]
    assert summary.chance_answer == "Japan" and summary.fraction_known_top_k == 1 - 1 / 20


def test_time_labels_within_tolerance():
    table = _table()
    table["year"] = 1800 + np.arange(len(table)) + 0.5  # the fake answers "18" + last two digits of the index
    table.loc[3, "year"] = 1700.2
    cfg = FamiliarityConfig(shots=2, train_sample=None, test_sample=None, year_tolerance={"people": 1})
    labels = label_entities(lambda p, q: FakeReadout(p, q, refuse="none"), table, "people", "time", None, cfg,
                            seed=0, label_all=False)
    t = labels.table.set_index("id")
    assert labels.question == Question("people", "time", "In what year was {entity} born?")
    assert not t.loc["e3", "known"] and t.loc["e3", "answer_error"] == 103
    assert t.drop("e3")["known"].all() and len(t) == len(table) - 2
    assert "A: 18" in labels.prefix


def test_a_committed_criterion_reads_in_words():
    assert readable_criterion("of 6 candidates (distinct of token log-probabilities); top-k") == (
        f"of 6 candidates ({SCORE_PHRASES['distinct']}); top-k")
    assert readable_criterion("a year within 1 years of") == "a year within 1 year of"
    assert readable_criterion("a year within 10 years of") == "a year within 10 years of"
