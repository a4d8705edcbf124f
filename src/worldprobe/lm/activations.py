"""Residual-stream activations at the last entity token, for every layer, fast on a CPU.

Layer 0 is the input to block 0 (the embedding output, including any scaling the model applies
there: Gemma multiplies its embeddings by sqrt(d_model)); layer i is the residual stream after block
i, before any final norm. These equal ``output_hidden_states[i]`` of transformers except the last,
which transformers replaces by the final-norm output (``tests/integration/test_activations.py``).

Why it is fast, and still exact:

* forward hooks keep only the one position needed and stop the forward after the last requested
  block: no final norm, no LM head (for Gemma-3-270M the LM head alone costs more than all blocks);
* prompts are sorted by length and batched, so little padding is computed;
* the token prefix shared by every prompt (``<bos>`` and the question) is run once, and its key/value
  cache is copied to each batch, so each entity costs only its own tokens;
* padding goes on the right: under a causal mask a real token never attends to a later pad, so no
  attention mask is needed, and each row is read at its own last real token.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import DynamicCache

from ..config import Params
from ..records import ActivationMeta, ActivationWriter, read_entities
from ..sampling import derived_seed, subsample
from .models import LoadedModel, decoder_blocks, load_model
from .prompts import PromptSpec, prompt_spec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rejection:
    id: str
    text: str
    reason: str


@dataclass(frozen=True)
class TokenizedPrompts:
    """Token ids of every accepted prompt (``<bos>`` included) and the entities refused, with why."""

    ids: np.ndarray
    tokens: list[list[int]]
    rejections: list[Rejection] = field(default_factory=list)


def ordinary_token_ids(tokenizer) -> np.ndarray:
    """Vocabulary ids that are neither special nor added tokens (Gemma has thousands of ``<unusedN>``)."""
    excluded = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    return np.array([i for i in range(len(tokenizer)) if i not in excluded], dtype=np.int64)


def tokenize_prompts(tokenizer, ids: Sequence, texts: Sequence[str], spec: PromptSpec, seed: int = 0) -> TokenizedPrompts:
    """Tokenise ``<bos>`` + [random ids] + prefix + entity for each entity; refuse blank ones.

    The whole prompt string is tokenised at once, as the model would see it, because tokenising the
    prefix and the entity apart changes the tokens at their boundary ("of " + "Paris" is not
    "of" + " Paris" for SentencePiece vocabularies).
    """
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    rng = np.random.default_rng(seed)
    vocab = ordinary_token_ids(tokenizer) if spec.random_tokens else None
    kept_ids, tokens, rejections = [], [], []
    for entity_id, text in zip(ids, texts):
        # drawn for every entity, kept or not, so one rejection does not reshuffle the others' tokens
        random = rng.choice(vocab, spec.random_tokens).tolist() if vocab is not None else []
        entity = spec.entity(text if isinstance(text, str) else "")
        if not entity.strip():
            rejections.append(Rejection(str(entity_id), str(text), "blank entity text"))
            continue
        if not tokenizer(entity, add_special_tokens=False)["input_ids"]:
            rejections.append(Rejection(str(entity_id), str(text), "entity text tokenises to no tokens"))
            continue
        kept_ids.append(entity_id)
        tokens.append(bos + random + tokenizer(spec.prefix + entity, add_special_tokens=False)["input_ids"])
    return TokenizedPrompts(np.asarray(kept_ids), tokens, rejections)


def shared_prefix_length(tokens: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix common to all prompts, leaving every prompt at least one own token."""
    if not tokens:
        return 0
    first, shortest = tokens[0], min(len(t) for t in tokens)
    length = 0
    while length < shortest - 1 and all(t[length] == first[length] for t in tokens):
        length += 1
    return length


class _StopForward(Exception):
    """Raised by the hook of the last requested block: nothing after it is computed."""


class LastTokenExtractor:
    """Hooks on one model that capture the residual stream at one position per row, for chosen layers.

    ``layers`` are store indices: 0 = input to block 0, i = output of block i-1.
    """

    def __init__(self, loaded: LoadedModel, layers: Sequence[int] | None = None):
        self.loaded = loaded
        self.layers = list(range(loaded.n_layers + 1)) if layers is None else sorted(set(layers))
        if not self.layers or self.layers[0] < 0 or self.layers[-1] > loaded.n_layers:
            raise ValueError(f"layers must lie in 0..{loaded.n_layers}, got {layers}")
        self.base = loaded.model.base_model
        self.blocks = decoder_blocks(loaded.model)
        self.device = next(self.base.parameters()).device
        self._positions: torch.Tensor | None = None  # None: run without capturing (the shared prefix)
        self._out: torch.Tensor | None = None

    def _capture(self, slot: int, hidden: torch.Tensor, last: bool) -> None:
        if self._positions is not None:
            rows = torch.arange(hidden.shape[0], device=hidden.device)
            self._out[slot] = hidden[rows, self._positions]
        if last:
            raise _StopForward

    def _hooks(self) -> list:
        handles, last = [], self.layers[-1]
        for slot, layer in enumerate(self.layers):
            if layer == 0:

                def pre_hook(module, args, kwargs, slot=slot):
                    self._capture(slot, args[0] if args else kwargs["hidden_states"], last == 0)

                handles.append(self.blocks[0].register_forward_pre_hook(pre_hook, with_kwargs=True))
            else:

                def hook(module, args, output, slot=slot, layer=layer):
                    self._capture(slot, output[0] if isinstance(output, tuple) else output, layer == last)

                handles.append(self.blocks[layer - 1].register_forward_hook(hook))
        return handles

    def _forward(self, input_ids: torch.Tensor, cache: DynamicCache | None) -> None:
        # hooks live only during this call, so the model runs normally between yielded batches
        handles = self._hooks()
        try:
            # `cache` is the name transformers 5 gives the key/value cache (`past_key_values` goes in 5.40)
            self.base(input_ids=input_ids, cache=cache, use_cache=cache is not None)
        except _StopForward:
            return
        finally:
            for handle in handles:
                handle.remove()
        raise RuntimeError("the forward pass did not reach the last requested block")

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
        try:
            with torch.inference_mode():
                prefix_cache = None
                if prefix:
                    prefix_cache = DynamicCache(config=self.loaded.model.config)
                    self._positions = None
                    self._forward(torch.tensor([list(tokens[0][:prefix])], device=self.device), prefix_cache)
                bar = tqdm(total=len(tokens), unit="entity", disable=not progress, mininterval=2)
                for start in range(0, len(tokens), batch_size):
                    rows = order[start : start + batch_size]
                    width = int(lengths[rows].max()) - prefix
                    batch = torch.full((len(rows), width), pad, dtype=torch.long)
                    for i, row in enumerate(rows):
                        own = tokens[row][prefix:]
                        batch[i, : len(own)] = torch.tensor(own)
                    cache = None
                    if prefix_cache is not None:
                        cache = copy.deepcopy(prefix_cache)  # the forward appends to it in place
                        cache.batch_repeat_interleave(len(rows))
                    self._positions = torch.tensor(lengths[rows] - prefix - 1, device=self.device)
                    self._out = torch.empty(
                        (len(self.layers), len(rows), self.loaded.d_model), dtype=self.loaded.model.dtype, device=self.device
                    )
                    self._forward(batch.to(self.device), cache)
                    yield rows, self._out
                    bar.update(len(rows))
                bar.close()
        finally:
            self._positions = self._out = None


def write_activations(
    loaded: LoadedModel,
    prompts: TokenizedPrompts,
    path: str | Path,
    *,
    dataset: str,
    spec: PromptSpec,
    batch_size: int,
    store_dtype: str = "float32",
    seed: int = 0,
    subsample: int | None = None,
    progress: bool = True,
    extractor=None,
) -> ActivationMeta:
    """Extract every layer for ``prompts`` and stream it into an activation store at ``path``.

    ``subsample``: recorded in the meta when ``prompts`` are a seeded subsample of the dataset's entities.
    ``extractor``: anything with the ``layers`` and ``run`` of :class:`LastTokenExtractor` (the Ray
    backend's :class:`worldprobe.lm.distributed.RayExtractor`); by default one on ``loaded``.
    """
    extractor = extractor or LastTokenExtractor(loaded)
    n_store = len(extractor.layers)
    lengths = [len(t) for t in prompts.tokens]
    meta = ActivationMeta(
        model=loaded.name,
        model_hash=loaded.weights_hash,
        control=loaded.control,
        dataset=dataset,
        prompt=spec.name,
        prompt_template=spec.template,
        n_layers=n_store,
        d_model=loaded.d_model,
        n_entities=len(prompts.ids),
        dtype=store_dtype,
        layer_names=("embed",) + tuple(f"blocks.{i}.resid_post" for i in range(loaded.n_layers)),
        seed=seed,
        subsample=subsample,
        extra={
            "n_rejected": len(prompts.rejections),
            "rejected": [vars(r) for r in prompts.rejections],
            "shared_prefix_tokens": shared_prefix_length(prompts.tokens),
            "mean_prompt_tokens": float(np.mean(lengths)) if lengths else None,
            "bos": loaded.tokenizer.bos_token_id is not None,
        },
    )
    with ActivationWriter(path, prompts.ids, n_store, loaded.d_model, store_dtype) as writer:
        batches = extractor.run(prompts.tokens, batch_size=batch_size, progress=progress)
        for rows, acts in batches:
            writer.write(rows, acts.float().cpu().numpy())
        writer.close(meta)
    return meta


@contextmanager
def open_extractor(params: Params, models_dir: str | Path, control: str | None):
    """The extractor of ``activations.backend``: this process's model, or replicas on a Ray cluster."""
    if params.activations.backend == "ray":
        from .distributed import ray_extractor  # Ray is an optional dependency

        with ray_extractor(params, models_dir, control) as extractor:
            yield extractor
    else:
        yield LastTokenExtractor(load_model(params.model, models_dir, control=control, seed=params.seed))


def dataset_activations(
    params: Params,
    dataset: str,
    entities_dir: str | Path = "data/entities",
    models_dir: str | Path = "models",
    out_dir: str | Path = "data/activations",
) -> list[ActivationMeta]:
    """The activations stage: every prompt with the real model, then each control with its prompts.

    The real model's main prompt runs on every entity; the other prompts and the controls on
    ``activations.variant_entities`` of them (one seeded subsample, the same for every variant and
    control, so that their comparisons are matched).
    Stores go to ``out_dir/<dataset>/<model tag>/<prompt>/``.
    """
    table, _ = read_entities(Path(entities_dir) / f"{dataset}.parquet")
    cfg = params.activations
    dropped = subsample(table["split"], cfg.variant_entities, derived_seed(params.seed, dataset, "variants"))
    variant_table = table.drop(index=dropped) if len(dropped) else table
    ds_config = params.data.datasets.get(dataset)
    runs = [(None, cfg.prompts)] + [(control, cfg.control_prompts) for control in cfg.controls]
    metas = []
    for control, variants in runs:
        with open_extractor(params, models_dir, control) as extractor:
            loaded = extractor.loaded
            for variant in variants:
                spec = prompt_spec(dataset, variant, ds_config, cfg.random_prefix_tokens)
                if spec is None:
                    continue
                rows = table if (control, variant) == (None, "main") else variant_table
                prompts = tokenize_prompts(loaded.tokenizer, rows["id"], rows["text"], spec, seed=params.seed)
                for r in prompts.rejections:
                    log.warning("%s/%s: entity %s (%r) rejected: %s", dataset, variant, r.id, r.text, r.reason)
                path = Path(out_dir) / dataset / loaded.tag / variant
                log.info("%s: %d entities -> %s", dataset, len(prompts.ids), path)
                metas.append(
                    write_activations(
                        loaded, prompts, path, dataset=dataset, spec=spec, batch_size=cfg.batch_size,
                        store_dtype=cfg.store_dtype, seed=params.seed, extractor=extractor,
                        subsample=None if rows is table else cfg.variant_entities,
                    )
                )
    return metas
