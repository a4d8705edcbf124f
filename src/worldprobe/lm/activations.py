"""The activations stage: tokenised prompts through :class:`~worldprobe.lm.extractor.LastTokenExtractor`
into activation stores, every layer at the last entity token, with the real model and its controls.

Layer 0 is the input to block 0, layer i the residual stream after block i - 1, before any final
norm (:mod:`worldprobe.lm.engine`); the backend is this process's model or replicas on a Ray
cluster (:mod:`worldprobe.lm.distributed`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import Params
from ..records import ActivationMeta, ActivationWriter, read_entities
from ..sampling import derived_seed, subsample
from .engine import layer_name
from .extractor import LastTokenExtractor, shared_prefix_length
from .models import LoadedModel, load_model
from .prompts import PromptSpec, prompt_spec

log = logging.getLogger(__name__)


def axis_dir(name: str, root: str | Path = ".") -> Path:
    """Where the activations of ``models.<name>`` (the model axis) live: ``data/models/<name>``, a hub id's
    slash a folder level, a local path's leading slash dropped (as ``models/<name>``)."""
    return Path(root) / "data" / "models" / name.strip("/")


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
        compute_dtype=loaded.compute_dtype,
        layer_names=tuple(layer_name(layer) for layer in extractor.layers),
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
    max_entities: int | None = None,
) -> list[ActivationMeta]:
    """The activations stage: every prompt with the real model, then each control with its prompts.

    The real model's main prompt runs on every entity; the other prompts and the controls on
    ``activations.variant_entities`` of them (one seeded subsample, the same for every variant and
    control, so that their comparisons are matched). With ``max_entities`` (a model of the model axis)
    every run holds ``max_entities`` of the variants' entities, one seeded draw for every model of the
    axis, so that each is matched with the others and with ``model``'s controls.
    Stores go to ``out_dir/<dataset>/<model tag>/<prompt>/``.
    """
    table, _ = read_entities(Path(entities_dir) / f"{dataset}.parquet")
    cfg = params.activations
    dropped = subsample(table["split"], cfg.variant_entities, derived_seed(params.seed, dataset, "variants"))
    variant_table = table.drop(index=dropped) if len(dropped) else table
    if max_entities is not None:
        dropped = subsample(variant_table["split"], max_entities, derived_seed(params.seed, dataset, "models"))
        table = variant_table = variant_table.drop(index=dropped)
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
                        subsample=max_entities if max_entities is not None else
                        None if rows is table else cfg.variant_entities,
                    )
                )
    return metas
