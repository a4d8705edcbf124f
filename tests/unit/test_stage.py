import pytest

from tests.conftest import REPO
from worldprobe.config import ConfigError
from worldprobe.stage import dataset_model_and_params


def test_a_dataset_stage_runs_for_model_or_for_one_model_of_the_axis(monkeypatch):
    monkeypatch.chdir(REPO)
    dataset, params, axis = dataset_model_and_params("usage", ["activations.py", "people"])
    assert dataset == "people" and axis is None and params.model.name == "gemma-3-270m"
    dataset, params, axis = dataset_model_and_params("usage", ["activations.py", "world", "--model", "smollm2-135m"])
    assert dataset == "world" and axis.name == params.model.name == "smollm2-135m" and axis.max_entities == 3000
    with pytest.raises(ConfigError, match="not under models"):
        dataset_model_and_params("usage", ["activations.py", "world", "--model", "gpt2"])
    with pytest.raises(SystemExit, match="usage"):
        dataset_model_and_params("usage", ["activations.py", "world", "--modle", "smollm2-135m"])
