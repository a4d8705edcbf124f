"""A scratch workspace for the probes and generalization stages, run once for both test modules.

Synthetic entities and activation stores, written with the project's own writers: a place dataset
whose activations carry a planted linear code of the coordinates in layers 2-4 only (layers 0-1 and
the random-weights store are noise), and a time dataset that is noise everywhere. The model for the
neuron analysis is a tiny Gemma-3 checkpoint whose gate neuron 0 reads the planted longitude direction.
"""

from __future__ import annotations

import runpy
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM

from tests.conftest import REPO
from tests.tiny_lm import save_tiny_model
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


@pytest.fixture(scope="session")
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


def run_stage(root, stage, dataset, monkeypatch):
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", [stage, dataset])
    runpy.run_path(str(REPO / "stages" / f"{stage}.py"), run_name="__main__")


@pytest.fixture(scope="session")
def outputs(workspace):
    with pytest.MonkeyPatch.context() as mp:
        for dataset in ("world", "people"):
            run_stage(workspace, "probes", dataset, mp)
            run_stage(workspace, "generalization", dataset, mp)
    return workspace
