"""The real default model, Gemma-3-270M from its PyPI GGUF: extraction equals output_hidden_states.

Uses models/gemma-3-270m when `dvc repro prepare_model` has made it, else prepares it once per
session into a temporary directory (about a minute). Same tolerance as the tiny-model tests:
per layer max |ours - reference| <= 1e-5 * max |reference| (float32).
"""

from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.conftest import REPO
from worldprobe.config import ModelConfig
from worldprobe.lm.activations import LastTokenExtractor, shared_prefix_length, tokenize_prompts
from worldprobe.lm.models import load_model, prepare_model
from worldprobe.lm.prompts import prompt_spec

CFG = ModelConfig(name="gemma-3-270m")


@pytest.fixture(scope="session")
def gemma_dir(tmp_path_factory) -> Path:
    models = REPO / "models"
    if (models / CFG.name / "config.json").is_file():
        return models
    models = tmp_path_factory.mktemp("models")
    prepare_model(CFG, models)
    return models


@pytest.fixture(scope="session")
def gemma(gemma_dir):
    return load_model(CFG, gemma_dir)


def test_gemma_extraction_equals_output_hidden_states(gemma, snapshot_dir):
    torch.set_num_threads(2)
    texts = pd.read_csv(snapshot_dir / "world_place.csv.gz")["name"].sample(32, random_state=0).tolist()
    tokens = tokenize_prompts(gemma.tokenizer, range(len(texts)), texts, prompt_spec("world", "main")).tokens
    assert shared_prefix_length(tokens) == 9  # <bos> + 8 question tokens; "▁of" then the entity's "▁Name"
    assert (gemma.n_layers, gemma.d_model) == (18, 640)
    ours = torch.empty(len(tokens), gemma.n_layers + 1, gemma.d_model)
    for rows, acts in LastTokenExtractor(gemma).run(tokens, batch_size=8):
        ours[torch.as_tensor(rows)] = acts.transpose(0, 1)
    base = gemma.model.base_model
    with torch.inference_mode():
        for i, toks in enumerate(tokens):
            hidden = gemma.model(torch.tensor([toks]), output_hidden_states=True).hidden_states
            ref = torch.stack([h[0, -1] for h in hidden])
            mine = torch.cat([ours[i, :-1], base.norm(ours[i, -1:])])  # transformers' last entry is normed
            err = (mine - ref).abs().amax(dim=1)
            assert torch.all(err <= 1e-5 * ref.abs().amax(dim=1)), f"prompt {i}: {err}"
    # layer 0 is the scaled embedding (Gemma multiplies by sqrt(d_model) inside the model)
    raw = base.embed_tokens.weight[tokens[0][-1]]
    torch.testing.assert_close(ours[0, 0], raw * 640**0.5)


def test_gemma_random_weights_control(gemma, gemma_dir):
    control = load_model(CFG, gemma_dir, control="random_weights")
    real = dict(gemma.model.named_parameters())
    for name, param in control.model.named_parameters():
        assert not torch.equal(param, real[name]), name
    assert control.weights_hash != gemma.weights_hash
