"""The learning_curve stage end to end on the scratch workspace of conftest.py."""

import pandas as pd
import pytest

from tests.integration.stages.conftest import SIGNAL_LAYERS, run_stage
from worldprobe.io import read_json


def test_learning_curve_outputs(outputs, monkeypatch):
    run_stage(outputs, "learning_curve", "world", monkeypatch)
    curve = read_json(outputs / "metrics/learning_curve/world.json")
    probes = read_json(outputs / "metrics/probes/world.json")
    n_train = curve["n_train_split"]
    assert [p["n_train"] for p in curve["points"]] == [250, n_train]  # 500 ... 16000 exceed the split
    full = curve["points"][-1]
    assert full["best_layer"] in SIGNAL_LAYERS and full["r2"] > 0.8
    # at full n the curve is the probes stage's headline setting: same layer, same R², same controls
    main = probes["runs"]["tiny"]["main"]
    assert (full["best_layer"], full["r2"]) == (main["best_layer"], pytest.approx(main["best"]["r2"]))
    assert full["surface_r2"] == pytest.approx(probes["controls"]["surface"]["r2"])
    assert full["random_weights_r2"] == pytest.approx(probes["controls"]["random_weights"]["best"]["r2"])
    assert full["random_weights_r2"] < 0.1 and full["surface_r2"] < 0.1  # noise and random strings
    assert curve["crossings"]["random_weights"]["stays_above_from"] == 250
    assert curve["crossings"]["surface"]["diff_at_full_n"] == pytest.approx(full["r2"] - full["surface_r2"])
    table = pd.read_csv(outputs / "plots/learning_curve/world.csv")
    assert table["n_train"].tolist() == [250, n_train] and table["r2"].iloc[-1] == pytest.approx(full["r2"])
