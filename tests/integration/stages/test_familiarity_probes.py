"""The familiarity_probes and familiarity_report stages, and the familiarity filter of the probes stage.

A synthetic place dataset whose activations carry the coordinates strongly for "known" entities and
weakly for "unknown" ones (layers 2-4), plus a "knowledge" direction that marks known entities in
layer 3 only; the surprisal feature is noise. The labels are written as the familiarity stage does.
"""

from __future__ import annotations

import runpy
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.tiny_lm import save_tiny_model
from worldprobe.familiarity.labels import FamiliaritySummary
from worldprobe.familiarity.probes import FamiliarityProbeReport, KnowledgeProbe, MatchedN
from worldprobe.io import read_json
from worldprobe.records import ActivationMeta, ActivationWriter, EntityTableInfo, write_entities

N, D, N_LAYERS = 800, 32, 5
SIGNAL_LAYERS, KNOWLEDGE_LAYER = (2, 3, 4), 3


def _store(path, ids, layers, control=None):
    with ActivationWriter(path, ids, N_LAYERS, D) as writer:
        writer.write(np.arange(N), layers)
        writer.close(ActivationMeta("tiny", "hash", control, "world", "main", "{text}", N_LAYERS, D, N, "float32"))


def _run(root, stage, monkeypatch, *args):
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", [stage, *args])
    runpy.run_path(str(REPO / "stages" / f"{stage}.py"), run_name="__main__")


def _params(root, familiarity="all"):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"]["datasets"] = {"world": {**params["data"]["datasets"]["world"], "familiarity": familiarity}}
    params["familiarity"]["bootstrap"] = 200
    params["model"]["name"] = str(root / "tiny_model")  # the probes stage reads its embeddings (token-mean control)
    (root / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    rng = np.random.default_rng(0)
    split = np.where(rng.random(N) < 0.7, "train", "test")
    known = rng.random(N) < 0.5
    table = pd.DataFrame({
        "id": [f"w{i}" for i in range(N)], "text": ["".join(rng.choice(list("abcdefgh"), 8)) for _ in range(N)],
        "entity_type": rng.choice(["city", "structure"], N), "popularity": rng.lognormal(8, 2, N), "split": split,
        "longitude": rng.uniform(-180, 180, N), "latitude": rng.uniform(-60, 70, N),
        "country": rng.choice(["A", "B", "C"], N),
    })
    write_entities(root / "data/entities/world.parquet", table, EntityTableInfo("world", "place", ("country",)))
    y = table[["longitude", "latitude"]].to_numpy()
    code = ((y - y.mean(0)) / y.std(0)) @ np.linalg.qr(rng.normal(size=(D, 2)))[0].T
    layers = rng.normal(size=(N_LAYERS, N, D))
    for layer in SIGNAL_LAYERS:
        layers[layer] += code * np.where(known, 4.0, 0.3)[:, None]
    layers[KNOWLEDGE_LAYER, :, -1] += np.where(known, 2.0, -2.0)  # a coordinate the code leaves almost free
    ids = table["id"].to_numpy()
    _store(root / "data/activations/world/tiny/main", ids, layers.astype("float32"))
    _store(root / "data/activations/world/tiny~random_weights/main", ids,
           rng.normal(size=(N_LAYERS, N, D)).astype("float32"), "random_weights")
    labels = table[["id", "split", "text", "entity_type", "popularity"]].assign(
        known=known, surprisal=rng.normal(3, 1, N), gold=table["country"])
    unlabelled = np.flatnonzero(split == "test")[:20]  # a test sample is labelled, not the whole split
    labels = labels.drop(index=unlabelled)
    split = split.copy()
    split[unlabelled] = "unlabelled"
    (root / "data/familiarity").mkdir()
    labels.to_parquet(root / "data/familiarity/world.parquet")
    FamiliaritySummary(
        dataset="world", kind="place", question="Q: In which country is {entity}?\nA:", prefix="", shot_ids=[],
        candidates=["A", "B"], criterion="planted", n_labelled=len(labels), n_test=int((split == "test").sum()),
        n_train=int((split == "train").sum()), fraction_known=float(known[split != "unlabelled"].mean()),
        fraction_known_test=float(known[split == "test"].mean()), fraction_known_top_k=None, chance_known=0.34,
        chance_answer="A", n_unreadable=3, n_gold_outside_candidates=2, by_entity_type=[], by_popularity_decile=None,
        seconds=1.0,
    ).save(root / "metrics/familiarity/world.json")
    save_tiny_model(root / "tiny_model", "gemma3")
    _params(root)
    with pytest.MonkeyPatch.context() as mp:
        _run(root, "probes", mp, "world")
        _run(root, "familiarity_probes", mp, "world")
        _run(root, "familiarity_report", mp)
    return root, known[split == "test"]


def test_split_finds_the_planted_gap_and_controls(workspace):
    root, test_known = workspace
    report = FamiliarityProbeReport.load(root / "metrics/familiarity_probes/world.json")
    assert report.layer in SIGNAL_LAYERS and report.filter == "all"
    assert report.resampled == "entity"  # world's split is by entity
    assert (report.n_test_known, report.n_test_unknown) == (test_known.sum(), (~test_known).sum())
    probe = next(s for s in report.split if s.predictor == "probe").groups
    assert probe["known"].r2.value > 0.8 > 0.3 > probe["unknown"].r2.value
    assert probe["known"].r2.lo < probe["known"].r2.value < probe["known"].r2.hi
    assert probe["known"].n + probe["unknown"].n == probe["all"].n == report.n_test
    gap = next(d for d in report.differences if (d.a, d.metric) == ("known", "r2"))
    assert gap.lo > 0 and gap.verdict == "known above unknown"
    mae = next(d for d in report.differences if (d.a, d.metric) == ("known", "mae"))
    assert mae.hi < 0 and mae.verdict == "known better than unknown"
    controls = {(d.b, d.metric): d for d in report.differences if d.a == "probe"}
    assert {b for b, _ in controls} == {"surface", "layer0", "random_weights"}
    assert all(d.verdict == ("probe above " if m == "r2" else "probe better than ") + b for (b, m), d in controls.items())
    # coordinates are independent of the country here, so within a country the probe orders the places
    # it reads cleanly (known) and barely the others; the spelling orders neither
    within = report.within_block
    assert within["known"].block == "country" and within["known"].n + within["unknown"].n == within["all"].n
    assert within["known"].spearman["probe"] > 0.7 > 0.4 > within["unknown"].spearman["probe"]
    assert abs(within["known"].spearman["surface"]) < 0.3


def test_matched_n_and_knowledge_probe(workspace):
    root, _ = workspace
    report = FamiliarityProbeReport.load(root / "metrics/familiarity_probes/world.json")
    m = report.matched_n
    assert isinstance(m, MatchedN) and len(m.random_each) == 5 and m.n_train < m.n_pool
    # trained on the cleanly coded entities only, the probe reads the known test entities better
    known_gap = next(d for d in m.differences if d.on.startswith("known"))
    assert known_gap.value > 0
    k = report.knowledge_probe
    assert isinstance(k, KnowledgeProbe) and k.layer == KNOWLEDGE_LAYER
    assert k.test_auroc.value > 0.95
    assert abs(k.baselines["surprisal"].value - 0.5) < 0.15  # noise
    # known is drawn independently of the country and the string: neither the answer prior nor the spelling reads it
    assert abs(k.baselines["answer_prior"].value - 0.5) < 0.15 and abs(k.baselines["name_tfidf"].value - 0.5) < 0.15
    assert k.C_grid_edge_layers == [layer.layer for layer in k.layers if layer.C_at_grid_edge]
    assert all(d.verdict.startswith("probe layer") and "above" in d.verdict for d in k.differences)
    tables = {n: pd.read_csv(root / f"plots/familiarity/world/{n}.csv") for n in ("split", "deciles", "knowledge")}
    assert len(tables["knowledge"]) == N_LAYERS and len(tables["deciles"]) == 10
    assert set(tables["split"]["group"]) == {"all", "known", "unknown"}


def test_report_stage(workspace):
    root, _ = workspace
    assert (root / "plots/familiarity/figures/familiarity.png").stat().st_size > 10_000
    summary = pd.read_csv(root / "plots/familiarity/summary.csv")
    assert set(summary["predictor"]) == {"probe", "surface", "layer0", "random_weights"}
    text = (root / "docs/familiarity.md").read_text()
    assert text.count("\n| world |") == 3  # the labels, the unreadable counts, the full table
    assert "- **world**: " in text and "known above unknown" in text
    assert "![familiarity](../plots/familiarity/figures/familiarity.png)" in text


def test_filter_known_probes_only_known_entities(workspace, monkeypatch):
    root, test_known = workspace
    all_n = read_json(root / "metrics/probes/world.json")["n_test"]
    _params(root, "known")
    try:
        _run(root, "probes", monkeypatch, "world")
        filtered = read_json(root / "metrics/probes/world.json")
        assert filtered["n_test"] == test_known.sum() < all_n
        assert filtered["runs"]["tiny"]["main"]["best"]["r2"] > 0.8  # the clean entities only
        _run(root, "familiarity_probes", monkeypatch, "world")
        report = FamiliarityProbeReport.load(root / "metrics/familiarity_probes/world.json")
        assert report.filter == "known" and report.n_test_unknown == 0
        assert next(s for s in report.split if s.predictor == "probe").groups["unknown"] is None
    finally:
        _params(root)
        _run(root, "probes", monkeypatch, "world")
