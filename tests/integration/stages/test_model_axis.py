"""The model_axis stage end to end in the scratch workspace of conftest.py: ``model`` (the tiny Gemma-3, its
planted code of the coordinates at full strength) beside a tiny Llama on the axis, whose stores hold a
seeded subsample and a weaker copy of the same code."""

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.integration.stages.conftest import N, SIGNAL_LAYERS, run_stage
from tests.tiny_lm import save_tiny_model
from worldprobe.io import read_json
from worldprobe.lm.activations import axis_dir
from worldprobe.records import ActivationMeta, ActivationStore, ActivationWriter
from worldprobe.stats import Sign, interval_sign

AXIS_N = 400


def _write(path, ids, layers, control=None):
    n_layers, n, d = layers.shape
    with ActivationWriter(path, ids, n_layers, d) as writer:
        writer.write(np.arange(n), layers)
        writer.close(ActivationMeta("tiny-llama", "hash", control, "synthetic", "main", "{text}", n_layers, d, n,
                                    "float32", subsample=AXIS_N))


@pytest.fixture(scope="module")
def axis(outputs):
    root = outputs
    small = save_tiny_model(root / "tiny_llama", "llama")  # 3 blocks of width 64: 4 stored layers
    params_path = root / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    params["models"] = {str(small): {"device": "cpu", "dtype": "float32", "device_map": None, "revision": None,
                                     "max_entities": AXIS_N}}
    params_path.write_text(yaml.safe_dump(params))
    main = ActivationStore(root / "data/activations/world/tiny/main")
    rng = np.random.default_rng(1)
    keep = np.sort(rng.choice(N, AXIS_N, replace=False))
    ids = main.ids[keep]
    weak = np.asarray(main.layer(SIGNAL_LAYERS[0]))[keep] * 0.3  # the planted code, a third as strong
    layers = rng.normal(size=(4, AXIS_N, 64))
    layers[2:] += weak
    base = axis_dir(str(small), root) / "world"
    _write(base / "tiny-llama" / "main", ids, layers.astype("float32"))
    _write(base / "tiny-llama~random_weights" / "main", ids, rng.normal(size=(4, AXIS_N, 64)).astype("float32"),
           "random_weights")
    try:
        with pytest.MonkeyPatch.context() as mp:
            run_stage(root, "model_axis", "world", mp)
    finally:
        params_path.write_text(original)
    return root, str(small)


def _sign(d: dict) -> Sign:
    return interval_sign(d["ci_low"], d["ci_high"])


def test_both_models_are_probed_on_the_same_entities_with_their_controls(axis):
    root, small = axis
    metrics = read_json(root / "metrics/models/world.json")
    assert metrics["n_train"] + metrics["n_test"] == AXIS_N  # the axis's entities, not model's 600
    first, second = metrics["models"]
    assert first["name"].endswith("tiny_model") and first["minus_model"] is None
    assert second["name"] == small and second["n_layers"] == 4 and second["model_tag"] == "tiny-llama"
    assert first["n_params"] > 0 and second["n_params"] > 0 and first["n_params"] != second["n_params"]
    assert first["best_layer"] in SIGNAL_LAYERS and second["best_layer"] in (2, 3)
    assert first["r2"] > 0.8 and first["r2"] > second["r2"] > 0.2
    assert _sign(second["minus_model"]) is Sign.BELOW  # the weaker code, on the same test entities
    for model in (first, second):
        assert set(model["controls"]) == {"surface", "layer0", "layer0_token_mean", "random_weights"}
        for control in model["controls"].values():  # noise controls: beaten and added to
            assert control["r2"] < 0.1 and _sign(control["beats"]) is Sign.ABOVE and _sign(control["adds"]) is Sign.ABOVE
    layers = pd.read_csv(root / "plots/models/world/layers.csv")
    assert list(layers.groupby("model", sort=False).size()) == [5, 4]
    assert set(layers.columns) == {"model", "n_params", "layer", "rel_depth", "r2"}
