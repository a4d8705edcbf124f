"""Residual-stream activations at the last entity token, for chosen store layers, fast on a CPU.

Layers are numbered as in :mod:`worldprobe.lm.engine`. They equal ``output_hidden_states[i]`` of
transformers except the last, which transformers replaces by the final-norm output
(``tests/integration/lm/test_activations.py``).

Why it is fast, and still exact:

* hooks keep only the one position needed and stop the forward after the last requested block:
  no final norm, no LM head (for Gemma-3-270M the LM head alone costs more than all blocks);
* prompts are sorted by length and batched, so little padding is computed;
* the token prefix shared by every prompt (``<bos>`` and the question) is run once, and its key/value
  cache is copied to each batch, so each entity costs only its own tokens;
* padding goes on the right: under a causal mask a real token never attends to a later pad, so no
  attention mask is needed, and each row is read at its own last real token.

Shared by the local activations backend (:mod:`worldprobe.lm.activations`) and the Ray replicas
(:mod:`worldprobe.lm.distributed`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .engine import PrefixCache, residual_hooks
from .models import LoadedModel, decoder_blocks


def shared_prefix_length(tokens: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix common to all prompts, leaving every prompt at least one own token."""
    if not tokens:
        return 0
    first, shortest = tokens[0], min(len(t) for t in tokens)
    length = 0
    while length < shortest - 1 and all(t[length] == first[length] for t in tokens):
        length += 1
    return length


class LastTokenExtractor:
    """Captures the residual stream at each prompt's last token, for chosen store ``layers`` (all by default)."""

    def __init__(self, loaded: LoadedModel, layers: Sequence[int] | None = None):
        self.loaded = loaded
        self.layers = list(range(loaded.n_layers + 1)) if layers is None else sorted(set(layers))
        if not self.layers or self.layers[0] < 0 or self.layers[-1] > loaded.n_layers:
            raise ValueError(f"layers must lie in 0..{loaded.n_layers}, got {layers}")
        self.base = loaded.model.base_model  # the blocks without the LM head
        self.blocks = decoder_blocks(loaded.model)
        self.device = next(self.base.parameters()).device

    def run(
        self,
        tokens: Sequence[Sequence[int]],
        batch_size: int = 32,
        reuse_prefix: bool = True,
        progress: bool = False,
        prefix: int | None = None,
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(row indices, activations (len(layers), rows, d_model))`` batch by batch, longest first.

        ``prefix``: the shared prefix length to reuse, when ``tokens`` is a slice of a larger set
        (a Ray task) whose own common prefix may be longer; by default that of ``tokens``.
        """
        if prefix is None:
            prefix = shared_prefix_length(tokens) if reuse_prefix else 0
        lengths = np.array([len(t) for t in tokens])
        order = np.argsort(-lengths, kind="stable")
        pad = self.loaded.tokenizer.pad_token_id or 0  # never attended to by a real token (right padding)
        prefix_cache = PrefixCache(self.loaded.model, tokens[0][:prefix], through=self.layers[-1]) if prefix else None
        with torch.inference_mode(), tqdm(total=len(tokens), unit="entity", disable=not progress, mininterval=2) as bar:
            for start in range(0, len(tokens), batch_size):
                rows = order[start : start + batch_size]
                width = int(lengths[rows].max()) - prefix
                batch = torch.full((len(rows), width), pad, dtype=torch.long)
                for i, row in enumerate(rows):
                    own = tokens[row][prefix:]
                    batch[i, : len(own)] = torch.tensor(own)
                cache = prefix_cache.fresh(len(rows)) if prefix_cache is not None else None
                positions = torch.tensor(lengths[rows] - prefix - 1, device=self.device)
                # hooks live only during this pass, so the model runs normally between yielded batches
                with residual_hooks(self.blocks, capture=self.layers, positions=positions) as hooked:
                    self.base(input_ids=batch.to(self.device), cache=cache, use_cache=cache is not None)
                yield rows, torch.stack([hooked.captured[layer] for layer in self.layers]).to(self.loaded.model.dtype)
                bar.update(len(rows))
