"""The familiarity stage on a tiny model whose answer is known by construction.

Every weight of a tiny Gemma-3 is zero except the token embeddings: all rows are one vector ``u``
and the row of "▁Lake" is ``2u``. The blocks then add nothing, the final hidden state points along
``u``, and "▁Lake" has the highest logit after every prompt: the model answers "Lake Titicaca" (a
two-token name) to every place question and "Lake Lake …" (no year) to every time question.
"""

from __future__ import annotations

import runpy
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.conftest import REPO
from tests.tiny_lm import save_tiny_model
from worldprobe.familiarity.labels import FamiliaritySummary
from worldprobe.records import EntityTableInfo, write_entities

PLACES = ["Paris", "Mount Everest", "Cape Town", "Lake Titicaca", "Rio de Janeiro", "Zürich"]


def _lake_model(directory):
    save_tiny_model(directory, "gemma3", fill=0.0)
    model = AutoModelForCausalLM.from_pretrained(directory)
    lake = AutoTokenizer.from_pretrained(directory).convert_tokens_to_ids("▁Lake")
    with torch.no_grad():
        u = torch.linspace(0.5, 1.5, model.config.hidden_size)
        emb = model.get_input_embeddings().weight
        emb[:] = u
        emb[lake] = 2 * u
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    n = 40
    rng = np.random.default_rng(0)
    countries = np.array(["Lake_Titicaca", "Mount_Everest", "Paris", "Cape Town"])[np.arange(n) % 4]
    common = {"id": [f"e{i}" for i in range(n)], "text": [f"{PLACES[i % 6]} {'abc'[i % 3]}{i}" for i in range(n)],
              "entity_type": np.where(np.arange(n) % 2, "lake", "town"), "popularity": rng.lognormal(5, 1, n),
              "split": np.where(np.arange(n) < 28, "train", "test")}
    world = pd.DataFrame({**common, "longitude": rng.uniform(-9, 9, n), "latitude": rng.uniform(-9, 9, n),
                          "country": countries})
    write_entities(root / "data/entities/world.parquet", world, EntityTableInfo("world", "place", ("country",)))
    people = pd.DataFrame({**common, "year": rng.uniform(1500, 1900, n), "century": 18})
    write_entities(root / "data/entities/people.parquet", people, EntityTableInfo("people", "time", ("century",)))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"]["name"] = str(_lake_model(root / "tiny"))
    params["familiarity"].update(shots=2, train_sample=None, test_sample=None, min_candidate_entities=1, threads=1)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for dataset in ("world", "people"):
            mp.setattr(sys, "argv", ["familiarity", dataset])
            runpy.run_path(str(REPO / "stages" / "familiarity.py"), run_name="__main__")
    return root


def test_places_known_exactly_where_the_constructed_answer_is_right(workspace):
    labels = pd.read_parquet(workspace / "data/familiarity/world.parquet")
    assert len(labels) == 40 - 2  # the two few-shot examples are never labelled
    assert (labels["answer"] == "Lake Titicaca").all()
    lake = labels["gold"] == "Lake Titicaca"
    assert lake.any() and (labels["known"] == lake).all()
    assert (labels.loc[lake, "margin"] > 0).all() and (labels.loc[~lake, "margin"] < 0).all()
    assert (labels.loc[lake, "rank"] == 1).all()
    # the three other candidates score alike (every non-Lake token has the same logit): a tie counts
    # against the gold answer, so it ranks behind Lake Titicaca and both tied ones
    assert (labels.loc[~lake, "rank"] == 4).all() and labels["readable"].all()
    assert np.isfinite(labels["surprisal"]).all()
    summary = FamiliaritySummary.load(workspace / "metrics/familiarity/world.json")
    assert summary.fraction_known == pytest.approx(lake.mean())
    assert summary.candidates is not None and "Lake Titicaca" in summary.candidates
    assert summary.n_unreadable == 0 and len(summary.shot_ids) == 2


def test_time_answers_without_a_year_are_counted_unknown(workspace):
    labels = pd.read_parquet(workspace / "data/familiarity/people.parquet")
    assert not labels["known"].any() and labels["answer_year"].isna().all()
    assert labels["answer"].str.startswith("Lake").all()
    summary = FamiliaritySummary.load(workspace / "metrics/familiarity/people.json")
    assert summary.fraction_known == 0 and summary.n_unreadable == len(labels)
