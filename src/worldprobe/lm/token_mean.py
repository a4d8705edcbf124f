"""The layer-0 token-mean control: the input embeddings of an entity's own tokens, averaged.

The layer-0 control of the probes stage reads a store's layer 0 at the prompt's last token, one token's
embedding: for a headline that token is the final "." of every entity, so it says nothing. This control
averages, per entity, what the model's embedding module outputs (``model.get_input_embeddings()``:
what layer 0 of a store holds, Gemma's sqrt(d_model) scaling included; no position embedding, which
GPT-2 adds only after it) over the entity's own tokens in the headline run's prompt
(:func:`own_token_span`), so it sees the whole entity string as the model's input layer does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..config import Params
from .activations import tokenize_prompts
from .models import LoadedModel, load_model
from .prompts import PromptSpec, prompt_spec


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def own_token_span(prompt: Sequence[int], head: Sequence[int], bare: Sequence[int] | None = None) -> slice:
    """The entity's own tokens in ``prompt``, the prompt's tokens as :func:`tokenize_prompts` makes them.

    They start after the longest prefix ``prompt`` shares with ``head`` (``<bos>``, any random tokens
    and the prefix tokenised alone), as the prompt's boundary tokens need not be the prefix's own
    ("of " alone ends in a lone "▁" that "of Paris" does not have). Where the spec adds a final
    period (headlines), ``bare`` is the prompt without it, and they end where ``prompt`` stops sharing
    ``bare``'s tokens: the period is the template's, the same for every headline, not entity text; so
    is a token it merged into (Gemma's "’." after a quoted title), which is left out too. At
    least one token always remains: the last, where the prefix covers all but it; the whole rest of
    the prompt, where cutting the period would leave nothing.
    """
    start = min(_common_length(prompt, head), len(prompt) - 1)
    end = len(prompt) if bare is None else _common_length(prompt, bare)
    return slice(start, end if end > start else len(prompt))


def token_mean_features(loaded: LoadedModel, ids: Sequence, texts: Sequence[str], spec: PromptSpec,
                        seed: int = 0) -> pd.DataFrame:
    """One row per entity (index: id as a string), the mean embedding of its own tokens in ``spec``'s
    prompt, float32 as the stores hold layer 0. Entities :func:`tokenize_prompts` refuses have no row."""
    tokenizer = loaded.tokenizer
    prompts = tokenize_prompts(tokenizer, ids, texts, spec, seed)
    text_of = dict(zip(map(str, ids), texts))
    lead = (tokenizer.bos_token_id is not None) + spec.random_tokens  # tokens before the prefix
    prefix = tokenizer(spec.prefix, add_special_tokens=False)["input_ids"]
    no_period = replace(spec, period=False) if spec.period else None
    own = []
    for entity_id, tokens in zip(prompts.ids, prompts.tokens):
        bare = None
        if no_period is not None:
            bare = tokens[:lead] + tokenizer(no_period.prefix + no_period.entity(text_of[str(entity_id)]),
                                             add_special_tokens=False)["input_ids"]
        own.append(tokens[own_token_span(tokens, tokens[:lead] + prefix, bare)])
    # each distinct token through the embedding module once, then a mean per entity (embedding_bag)
    vocab, inverse = np.unique(np.concatenate(own), return_inverse=True)
    embed = loaded.model.get_input_embeddings()
    device = next(embed.parameters()).device
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in own])[:-1]])
    with torch.inference_mode():
        table = embed(torch.as_tensor(vocab, device=device)).float().cpu()
        means = torch.nn.functional.embedding_bag(torch.as_tensor(inverse), table, torch.as_tensor(offsets), mode="mean")
    return pd.DataFrame(means.numpy(), index=pd.Index(prompts.ids.astype(str), name="id"))


def headline_token_means(params: Params, dataset: str, ids: Sequence, texts: Sequence[str], prompt: str,
                         models_dir: str | Path = "models") -> pd.DataFrame:
    """:func:`token_mean_features` of the real model (``model``) for the headline run's ``prompt``."""
    spec = prompt_spec(dataset, prompt, params.data.datasets.get(dataset), params.activations.random_prefix_tokens)
    loaded = load_model(params.model, models_dir, seed=params.seed)
    return token_mean_features(loaded, ids, texts, spec, params.seed)
