"""Tiny causal LMs built offline from a config, with a tiny trained tokenizer, saved as checkpoints.

The tokenizer is SentencePiece-like (Metaspace), like Gemma's and Llama's, so that a prompt prefix
ending in a space tokenises differently alone and before an entity; its normaliser drops control
characters, so some non-blank strings tokenise to nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForCausalLM,
    Gemma3TextConfig,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    PreTrainedTokenizerFast,
)

CORPUS = [
    "What are the lat/lon coordinates of Paris",
    "Where in New York City is the Empire State Building",
    "When did Ada Lovelace",
    "When was the release date of Prince's Purple Rain",
    "Publication date of: Stocks Rise Again.",
    "France's Lyon",
    "Mount Everest",
    "Lake Titicaca",
]
PLACES = ["Paris", "France's Lyon", "Mount Everest", "Lake Titicaca", "Rio de Janeiro", "Cape Town", "Zürich", "Oslo"]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.Replace(Regex(r"\p{Cc}"), "")
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=200, special_tokens=["<pad>", "<bos>", "<eos>", "<unk>"])
    tok.train_from_iterator(CORPUS * 5, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>"
    )


def tiny_config(arch: str, vocab_size: int):
    ids = {"vocab_size": vocab_size, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    if arch == "gemma3":
        # a sliding window shorter than the shared prefix exercises the sliding cache layers
        return Gemma3TextConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, sliding_window=4,
            layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"], **ids,
        )
    if arch == "llama":
        return LlamaConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
            num_key_value_heads=2, **ids,
        )
    if arch == "gpt_neox":  # Pythia
        return GPTNeoXConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4, **ids)
    if arch == "gpt2":  # learned position embeddings, blocks under `h`
        return GPT2Config(n_embd=64, n_layer=3, n_head=4, n_positions=64, **ids)
    raise ValueError(arch)


def save_tiny_model(directory: Path, arch: str = "gemma3", seed: int = 0, fill: float | None = None) -> Path:
    """A randomly initialised tiny model and its tokenizer saved at ``directory``.

    ``fill`` sets every parameter to that constant, so that a re-initialisation is easy to see.
    """
    tokenizer = tiny_tokenizer()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(tokenizer)))
    if fill is not None:
        with torch.no_grad():
            for param in model.parameters():
                param.fill_(fill)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_place_entities(path: Path, texts: Sequence[str] = PLACES) -> Path:
    """A world entity table of ``texts`` (ids q0, q1, ...) as the build stage writes it, for the activations stage."""
    from worldprobe.records import EntityTableInfo, write_entities

    table = pd.DataFrame(
        {
            "id": [f"q{i}" for i in range(len(texts))],
            "text": list(texts),
            "entity_type": "populated_place",
            "popularity": 1.0,
            "split": ["train", "test"] * (len(texts) // 2) + ["train"] * (len(texts) % 2),
            "longitude": np.linspace(-100, 100, len(texts)),
            "latitude": np.linspace(-50, 50, len(texts)),
        }
    )
    write_entities(path, table, EntityTableInfo("world", "place"))
    return path
