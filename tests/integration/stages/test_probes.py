"""The probes stage end to end on the scratch workspace of conftest.py (a planted linear code of the
coordinates in layers 2-4 of a place dataset; noise elsewhere)."""

import pandas as pd
import pytest
from sklearn.metrics import r2_score

from tests.integration.stages.conftest import N_LAYERS, SIGNAL_LAYERS, N
from worldprobe.io import read_json


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
    # the tiny model's embeddings of random strings, averaged over each entity's tokens: nothing to read
    token_mean = world["controls"]["layer0_token_mean"]
    assert token_mean["layer"] == 0 and token_mean["r2"] < 0.05
    rw = world["controls"]["random_weights"]
    assert rw["model_tag"] == "tiny~random_weights" and rw["best"]["r2"] < 0.05
    assert world["runs"]["tiny~random_weights"]["main"]["control"] == "random_weights"
    assert world["controls"]["surface"]["r2"] < 0.05  # random strings say nothing
    assert "prox_error_paper_swapped" in run["best"] and run["best"]["mae_unit"] == "km"
    assert world["n_train"] + world["n_test"] == N

    v = world["validity"]
    assert v["selection"] == "leave-one-out" and v["resampling"] == "test entities" and v["split_group"] is None
    assert all(v["verdicts"][c]["ci_low"] > 0.5 for c in ("layer0", "layer0_token_mean", "random_weights"))
    assert v["r2_ci_low"] < run["best"]["r2"] < v["r2_ci_high"]
    assert v["group_mean_r2"] < 0.05 and v["r2_beyond_group"]["ci_low"] > 0.5  # random blocks: all from the code
    assert v["within_block"]["spearman"]["probe"] > 0.8 and v["within_block"]["block"] == "block"

    people = read_json(outputs / "metrics/probes/people.json")
    assert set(people["validity"]["eras"]) == {"before_1500", "from_1500"} and "group_mean_r2" not in people["validity"]
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
    # the controls' test predictions sit beside the probe's, and reproduce their metrics
    controls = world["controls"]
    for control, record in (("surface", controls["surface"]), ("layer0", controls["layer0"]),
                            ("layer0_token_mean", controls["layer0_token_mean"]),
                            ("random_weights", controls["random_weights"]["best"])):
        r2 = [r2_score(preds[t], preds[f"{control}_pred_{t}"]) for t in ("longitude", "latitude")]
        assert sum(r2) / 2 == pytest.approx(record["r2"], abs=1e-6)
    assert preds["split_group"].tolist() == preds["id"].tolist()  # an entity split: each entity its own group
    for name in ("mlp", "holdout", "cross_prompt", "pca", "neurons"):
        assert len(pd.read_csv(outputs / f"plots/generalization/world/{name}.csv")) > 0
