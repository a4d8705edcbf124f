"""The generalization stage end to end on the scratch workspace of conftest.py."""

import shutil

import pytest

from tests.integration.stages.conftest import N_LAYERS, run_stage
from worldprobe.io import read_json


def test_generalization_outputs(outputs):
    gen = read_json(outputs / "metrics/generalization/world.json")
    probes = read_json(outputs / "metrics/probes/world.json")
    assert gen["layer"] == probes["runs"]["tiny"]["main"]["best_layer"]
    assert gen["mlp_vs_linear"]["linear"]["r2"] == pytest.approx(probes["runs"]["tiny"]["main"]["best"]["r2"])
    mlp = gen["mlp_vs_linear"]
    assert mlp["mlp"]["r2_mean"] > 0.6 and len(mlp["mlp"]["seeds"]) == 3
    assert [s["seed"] for s in mlp["mlp"]["seeds"]] == [0, 1, 2] and mlp["mlp"]["r2_sd"] >= 0
    assert all(s["weight_decay"] in (0.01, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0) for s in mlp["mlp"]["seeds"])
    assert mlp["mlp_minus_linear"]["ci_low"] <= mlp["mlp_minus_linear"]["diff"] <= mlp["mlp_minus_linear"]["ci_high"]
    # the planted code is in the activations, not in the entity strings: the MLP on activations beats the
    # same MLP on the strongest control's features
    assert mlp["control"] == max(("surface", "layer0", "layer0_token_mean"),
                                 key=lambda c: (probes["controls"][c] or {"r2": -1e9})["r2"])
    assert mlp["mlp_minus_control_mlp"]["ci_low"] > 0
    stability = gen["layer_stability"]
    assert stability["layer"] == gen["layer"] and sum(stability["share_chosen"].values()) == pytest.approx(1)
    assert stability["best_layer_share"] == stability["share_chosen"][str(gen["layer"])]
    assert gen["sphere"]["scores"]["prox_error"] is not None

    block = gen["block_holdout"]
    assert block["column"] == "block" and len(block["groups"]) == 6
    # the planted code is shared by every block: holding one out costs (almost) nothing
    assert block["mean_prox_error_heldout"] == pytest.approx(block["mean_prox_error_default"], abs=0.03)
    assert all(g["n_train"] + g["n_train_removed"] == probes["n_train"] for g in block["groups"])
    assert gen["entity_type_holdout"]["column"] == "entity_type" and len(gen["entity_type_holdout"]["groups"]) == 2

    rows = {(r["train_prompt"], r["test_prompt"], r["variant"]): r for r in gen["cross_prompt"]["rows"]}
    assert gen["cross_prompt"]["prompts"] == ["empty", "main"]
    assert rows["main", "empty", "centred"]["r2"] == pytest.approx(rows["main", "main", "raw"]["r2"], abs=0.02)

    assert (gen["pca"]["fit"], gen["pca"]["fit_rows"]) == ("standardized_train", probes["n_train"])
    curve = gen["pca"]["curve"]
    assert curve[-1]["k"] == "full" and [c["k"] for c in curve[:-1]] == [2, 4, 6, 8, 10, 15, 20, 30, 40, 50]

    neurons = gen["neurons"]
    assert neurons["block"] == min(gen["layer"], N_LAYERS - 2) and neurons["n_neurons"] == 2 * 128
    lon = neurons["targets"]["longitude"]
    assert lon["top"][0]["neuron"] == "gate_0" and abs(lon["top"][0]["test_spearman"]) > 0.8
    assert len(lon["top"]) == 10 and lon["probe_test_spearman"] > 0.8
    # the probe beside the neurons is the best layer's own, even when the neurons' block reads one layer earlier
    best = probes["runs"]["tiny"]["main"]["best"]
    assert lon["probe_test_spearman"] == pytest.approx(best["spearman_per_target"]["longitude"])

    people = read_json(outputs / "metrics/generalization/people.json")
    assert people["mlp_vs_linear"]["mlp"]["r2_mean"] < 0.1  # noise stays noise for the nonlinear probe too
    assert people["sphere"] is None  # places only


def test_generalization_refuses_stale_probe_metrics(outputs, monkeypatch, tmp_path):
    shutil.copytree(outputs, tmp_path / "ws", symlinks=True)
    metrics = tmp_path / "ws/metrics/probes/world.json"
    stale = read_json(metrics)
    stale["n_test"] += 1
    metrics.write_text(__import__("json").dumps(stale))
    with pytest.raises(Exception, match="stale"):
        run_stage(tmp_path / "ws", "generalization", "world", monkeypatch)
