"""The layer-0 token-mean control on a tiny Gemma-3: the mean of what layer 0 holds at each of the
entity's own tokens, where the last-token layer 0 of a headline prompt is the same for every entity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tiny_lm import PLACES, save_tiny_model
from worldprobe.config import ModelConfig
from worldprobe.lm.activations import LastTokenExtractor, tokenize_prompts
from worldprobe.lm.models import load_model
from worldprobe.lm.prompts import prompt_spec
from worldprobe.lm.token_mean import token_mean_features

IDS = [f"q{i}" for i in range(len(PLACES))]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    return load_model(ModelConfig(name=str(save_tiny_model(tmp_path_factory.mktemp("gemma3"), "gemma3"))))


def _layer0(loaded, tokens: list[list[int]]) -> np.ndarray:
    """Layer 0 of an activation store (the extractor's capture) at each prompt's last token."""
    out = np.empty((len(tokens), loaded.d_model), dtype=np.float32)
    for rows, acts in LastTokenExtractor(loaded, layers=[0]).run(tokens):
        out[rows] = acts[0].float().numpy()
    return out


def _tokens(loaded, text: str) -> list[str]:
    return loaded.tokenizer.convert_ids_to_tokens(loaded.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_token_mean_is_the_mean_of_layer0_over_the_entity_tokens(loaded):
    spec = prompt_spec("world", "main")
    features = token_mean_features(loaded, IDS, PLACES, spec)
    assert list(features.index) == IDS and features.shape == (len(PLACES), loaded.d_model)
    prompts = tokenize_prompts(loaded.tokenizer, IDS, PLACES, spec)
    n_prefix = 1 + len(_tokens(loaded, spec.prefix.rstrip()))  # <bos> + the question without its trailing space
    for entity_id, text, tokens in zip(IDS, PLACES, prompts.tokens):
        own = _tokens(loaded, text)
        if own[0] == "▁":  # a word split after its "▁", which the prefix alone ends with: the prefix's
            own = own[1:]
        assert loaded.tokenizer.convert_ids_to_tokens(tokens[-len(own):]) == own
        assert len(tokens) - len(own) >= n_prefix
        # layer 0 at every own position, read by the extractor from the prompt cut after it
        expected = _layer0(loaded, [tokens[: j + 1] for j in range(len(tokens) - len(own), len(tokens))]).mean(0)
        np.testing.assert_allclose(features.loc[entity_id], expected, rtol=1e-6, atol=1e-6)
    # Gemma scales its embedding rows by sqrt(d_model) inside the embedding module: the features include it
    paris = loaded.tokenizer.convert_tokens_to_ids("▁Paris")
    row = loaded.model.get_input_embeddings().weight[paris].detach().numpy() * math.sqrt(loaded.d_model)
    np.testing.assert_allclose(features.loc["q0"], row, rtol=1e-5, atol=1e-6)


def test_headline_token_means_differ_where_the_last_token_is_the_same_period(loaded):
    spec = prompt_spec("headlines", "main")  # "Publication date of: " + text + "."
    prompts = tokenize_prompts(loaded.tokenizer, IDS, PLACES, spec)
    assert {t[-1] for t in prompts.tokens} == {loaded.tokenizer.convert_tokens_to_ids(".")}
    last = _layer0(loaded, prompts.tokens)
    np.testing.assert_array_equal(last, np.broadcast_to(last[0], last.shape))  # says nothing about the entity
    features = token_mean_features(loaded, IDS, PLACES, spec).to_numpy()
    assert len(np.unique(features, axis=0)) == len(PLACES)
    # the template's period is not the entity's: "Paris." is the "▁Paris" row alone
    world = token_mean_features(loaded, IDS, PLACES, prompt_spec("world", "main")).to_numpy()
    np.testing.assert_allclose(features[0], world[0], rtol=1e-6)


def test_refused_entities_have_no_row(loaded):
    features = token_mean_features(loaded, ["a", "b", "c"], ["Paris", "  ", "Oslo"], prompt_spec("world", "main"))
    assert list(features.index) == ["a", "c"]
