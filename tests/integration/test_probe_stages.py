"""The probes and generalization stages end to end on a scratch workspace.

Synthetic entities and activation stores, written with the project's own writers: a place dataset
whose activations carry a planted linear code of the coordinates in layers 2-4 only (layers 0-1 and
the random-weights store are noise), and a time dataset that is noise everywhere. The model for the
neuron analysis is a tiny Gemma-3 checkpoint whose gate neuron 0 reads the planted longitude direction.
"""

from __future__ import annotations

import runpy
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from tests.conftest import REPO
from tests.tiny_lm import save_tiny_model
from worldprobe.io import read_json
from worldprobe.records import ActivationMeta, ActivationWriter, EntityTableInfo, write_entities

N, D, N_LAYERS = 600, 64, 5  # the tiny Gemma-3: 4 blocks of width 64
SIGNAL_LAYERS = (2, 3, 4)


def _entities(kind: str, rng) -> pd.DataFrame:
    table = pd.DataFrame({
        "id": [f"{kind}{i}" for i in range(N)],
        "text": ["".join(rng.choice(list("abcdefghijklmnop"), 8)) for _ in range(N)],
        "entity_type": rng.choice(["city", "structure"], N),
        "popularity": 1.0,
        "split": np.where(rng.random(N) < 0.75, "train", "test"),
        "block": rng.choice([f"b{i}" for i in range(6)], N),
    })
    if kind == "place":
        table["longitude"], table["latitude"] = rng.uniform(-180, 180, N), rng.uniform(-60, 70, N)
    else:
        table["year"] = rng.uniform(1000, 2000, N)
    return table


def _store(path, ids, layers, prompt, control=None):
    with ActivationWriter(path, ids, N_LAYERS, D) as writer:
        order = np.random.default_rng(0).permutation(N)  # written out of order, as extraction does
        writer.write(order, layers[:, order])
        writer.close(ActivationMeta("tiny", "hash", control, "synthetic", prompt, "{text}", N_LAYERS, D, N, "float32"))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("ws")
    rng = np.random.default_rng(0)
    direction = np.linalg.qr(rng.normal(size=(D, 2)))[0].T  # orthonormal codes for lon, lat
    model_dir = save_tiny_model(root / "tiny_model", "gemma3")
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.mlp.gate_proj.weight[0] = torch.as_tensor(direction[0] * 10, dtype=torch.float32)
    model.save_pretrained(model_dir)

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"]["name"] = str(model_dir)
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    for dataset, kind in (("world", "place"), ("people", "time")):
        table = _entities(kind, rng)
        write_entities(root / "data/entities" / f"{dataset}.parquet", table,
                       EntityTableInfo(dataset, kind, groups=("block", "entity_type")))
        noise = rng.normal(size=(N_LAYERS, N, D))
        layers = noise.copy()
        if kind == "place":
            y = table[["longitude", "latitude"]].to_numpy()
            code = ((y - y.mean(0)) / y.std(0)) @ direction * 4
            for layer in SIGNAL_LAYERS:
                layers[layer] += code
        base = root / "data/activations" / dataset
        ids = table["id"].to_numpy()
        _store(base / "tiny" / "main", ids, layers.astype("float32"), "main")
        _store(base / "tiny" / "empty", ids, (layers + 3.0).astype("float32"), "empty")
        _store(base / "tiny~random_weights" / "main", ids, rng.normal(size=(N_LAYERS, N, D)).astype("float32"),
               "main", "random_weights")
    return root


def _run_stage(root, stage, dataset, monkeypatch):
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", [stage, dataset])
    runpy.run_path(str(REPO / "stages" / f"{stage}.py"), run_name="__main__")


@pytest.fixture(scope="module")
def outputs(workspace):
    with pytest.MonkeyPatch.context() as mp:
        for dataset in ("world", "people"):
            _run_stage(workspace, "probes", dataset, mp)
            _run_stage(workspace, "generalization", dataset, mp)
    return workspace


def test_probes_find_the_planted_layers_and_nothing_in_noise(outputs):
    world = read_json(outputs / "metrics/probes/world.json")
    assert world["main"] == {"model_tag": "tiny", "prompt": "main"}
    run = world["runs"]["tiny"]["main"]
    assert run["control"] is None and run["n_layers"] == N_LAYERS
    assert run["best_layer"] in SIGNAL_LAYERS
    assert run["best"]["r2"] > 0.8 and run["best"]["prox_error"] < 0.1
    for layer in run["layers"]:
        if layer["layer"] in SIGNAL_LAYERS:
            assert layer["r2"] > 0.8
        else:
            assert layer["r2"] < 0.05 and 0.35 < layer["prox_error"] < 0.65  # chance
    assert world["controls"]["layer0"]["r2"] < 0.05
    rw = world["controls"]["random_weights"]
    assert rw["model_tag"] == "tiny~random_weights" and rw["best"]["r2"] < 0.05
    assert world["runs"]["tiny~random_weights"]["main"]["control"] == "random_weights"
    assert world["controls"]["surface"]["r2"] < 0.05  # random strings say nothing
    assert "prox_error_paper_swapped" in run["best"] and run["best"]["mae_unit"] == "km"
    assert world["n_train"] + world["n_test"] == N

    people = read_json(outputs / "metrics/probes/people.json")
    best = people["runs"]["tiny"]["main"]["best"]
    assert best["r2"] < 0.05 and best["mae_unit"] == "years" and "prox_error_paper_swapped" not in best


def test_plot_tables(outputs):
    layers = pd.read_csv(outputs / "plots/probes/world/layers.csv")
    assert set(layers["control"]) == {"none", "random_weights", "surface"}
    assert len(layers) == 4 * N_LAYERS  # main, empty, random weights, and the surface line
    surface = layers[layers["control"] == "surface"]
    assert surface["r2"].nunique() == 1 and list(surface["layer"]) == list(range(N_LAYERS))
    preds = pd.read_csv(outputs / "plots/probes/world/predictions.csv")
    world = read_json(outputs / "metrics/probes/world.json")
    assert len(preds) == world["n_test"]
    assert {"id", "text", "longitude", "latitude", "pred_longitude", "pred_latitude", "block", "entity_type"} <= set(preds)
    for name in ("mlp", "holdout", "cross_prompt", "pca", "neurons"):
        assert len(pd.read_csv(outputs / f"plots/generalization/world/{name}.csv")) > 0


def test_generalization_outputs(outputs):
    gen = read_json(outputs / "metrics/generalization/world.json")
    probes = read_json(outputs / "metrics/probes/world.json")
    assert gen["layer"] == probes["runs"]["tiny"]["main"]["best_layer"]
    assert gen["mlp_vs_linear"]["linear"]["r2"] == pytest.approx(probes["runs"]["tiny"]["main"]["best"]["r2"])
    assert gen["mlp_vs_linear"]["mlp"]["r2"] > 0.6
    assert gen["mlp_vs_linear"]["mlp"]["weight_decay"] in (0.01, 0.03, 0.1, 0.3)

    block = gen["block_holdout"]
    assert block["column"] == "block" and len(block["groups"]) == 6
    # the planted code is shared by every block: holding one out costs (almost) nothing
    assert block["mean_prox_error_heldout"] == pytest.approx(block["mean_prox_error_default"], abs=0.03)
    assert gen["entity_type_holdout"]["column"] == "entity_type" and len(gen["entity_type_holdout"]["groups"]) == 2

    rows = {(r["train_prompt"], r["test_prompt"], r["variant"]): r for r in gen["cross_prompt"]["rows"]}
    assert gen["cross_prompt"]["prompts"] == ["empty", "main"]
    assert rows["main", "empty", "centred"]["r2"] == pytest.approx(rows["main", "main", "raw"]["r2"], abs=0.02)

    curve = gen["pca"]["curve"]
    assert curve[-1]["k"] == "full" and [c["k"] for c in curve[:-1]] == [2, 4, 6, 8, 10, 15, 20, 30, 40, 50]

    neurons = gen["neurons"]
    assert neurons["block"] == min(gen["layer"], N_LAYERS - 2) and neurons["n_neurons"] == 2 * 128
    lon = neurons["targets"]["longitude"]
    assert lon["top"][0]["neuron"] == "gate_0" and abs(lon["top"][0]["test_spearman"]) > 0.8
    assert len(lon["top"]) == 10 and lon["probe_test_spearman"] > 0.8

    people = read_json(outputs / "metrics/generalization/people.json")
    assert people["mlp_vs_linear"]["mlp"]["r2"] < 0.1  # noise stays noise for the nonlinear probe too


def test_generalization_refuses_stale_probe_metrics(outputs, monkeypatch, tmp_path):
    shutil.copytree(outputs, tmp_path / "ws", symlinks=True)
    metrics = tmp_path / "ws/metrics/probes/world.json"
    stale = read_json(metrics)
    stale["n_test"] += 1
    metrics.write_text(__import__("json").dumps(stale))
    with pytest.raises(Exception, match="stale"):
        _run_stage(tmp_path / "ws", "generalization", "world", monkeypatch)
