"""The activations stage on a Ray cluster (``activations.backend: ray``): one model replica per actor.

The driver never loads the weights. Each replica (a Ray actor with ``num_gpus_per_replica`` GPUs)
loads the model once and runs :class:`worldprobe.lm.extractor.LastTokenExtractor` on the tasks it is
given; the driver tokenises with the tokenizer a replica sends back, cuts the length-sorted prompts
into tasks of ``ray.batch_size`` entities and writes every returned block through the same
:class:`worldprobe.records.ActivationWriter` as the local backend, by entity position, so the store
is in entity order whatever order the tasks finish in.

Same bytes as the local backend: a task is a run of consecutive rows of the global length-sorted
order, its size a multiple of ``activations.batch_size``, and the replica reuses the *global* shared
prefix, so every forward pass is the local backend's forward pass on the same padded batch.

A task that raises (or a replica that dies) raises here; the writer then discards its temporary
directory, so a failed run leaves no store behind.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import ModelConfig, Params
from ..threads import set_torch_threads
from .extractor import LastTokenExtractor, shared_prefix_length
from .models import LoadedModel, load_model

INSTALL_HINT = "activations.backend: ray needs Ray; install it with pip install -e '.[ray]'"


class Replica:
    """One copy of the model in a Ray actor; :meth:`extract` runs one task of consecutive sorted rows."""

    def __init__(self, model: ModelConfig, models_dir: str, control: str | None, seed: int, threads: int):
        set_torch_threads(threads)
        self.extractor = LastTokenExtractor(load_model(model, models_dir, control=control, seed=seed))

    def header(self) -> LoadedModel:
        """Everything the driver needs of the model (tokenizer, name, hash, sizes) without its weights."""
        return dataclasses.replace(self.extractor.loaded, model=None)

    def extract(
        self, rows: np.ndarray, tokens: list[list[int]], batch_size: int, prefix: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(entity positions, float32 activations (layers, rows, d_model))`` for the task's ``rows``."""
        positions, blocks = [], []
        for batch_rows, acts in self.extractor.run(tokens, batch_size=batch_size, prefix=prefix):
            positions.append(rows[batch_rows])
            blocks.append(acts.float().cpu().numpy())
        return np.concatenate(positions), np.concatenate(blocks, axis=1)


class RayExtractor:
    """Drop-in for :class:`LastTokenExtractor` in ``write_activations``: the same ``loaded``, ``layers`` and ``run``."""

    def __init__(self, actors: Sequence, task_size: int):
        import ray

        self.actors, self.task_size = list(actors), task_size
        self.loaded: LoadedModel = ray.get(self.actors[0].header.remote())
        self.layers = list(range(self.loaded.n_layers + 1))

    def run(
        self, tokens: Sequence[Sequence[int]], batch_size: int = 32, reuse_prefix: bool = True, progress: bool = False
    ) -> Iterator[tuple[np.ndarray, torch.Tensor]]:
        """Yield ``(entity positions, activations (layers, rows, d_model))`` task by task, as tasks finish."""
        from ray.util import ActorPool

        if self.task_size % batch_size:
            raise ValueError(f"ray.batch_size ({self.task_size}) must be a multiple of batch_size ({batch_size})")
        prefix = shared_prefix_length(tokens) if reuse_prefix else 0
        order = np.argsort(-np.array([len(t) for t in tokens]), kind="stable")
        tasks = [order[start : start + self.task_size] for start in range(0, len(order), self.task_size)]
        pool = ActorPool(self.actors)
        results = pool.map_unordered(
            lambda actor, rows: actor.extract.remote(rows, [list(tokens[r]) for r in rows], batch_size, prefix), tasks
        )
        with tqdm(total=len(tokens), unit="entity", disable=not progress, mininterval=2) as bar:
            for rows, acts in results:
                yield rows, torch.tensor(acts)  # a writable copy of Ray's read-only buffer
                bar.update(len(rows))


@contextmanager
def ray_extractor(params: Params, models_dir: str | Path, control: str | None) -> Iterator[RayExtractor]:
    """Start ``ray.replicas`` replicas of the model (connecting to or starting Ray) and stop them after."""
    try:
        import ray
    except ImportError:
        raise ModuleNotFoundError(INSTALL_HINT) from None
    cfg = params.activations
    started = not ray.is_initialized()
    if started:
        if cfg.ray.address is None and "RAY_ADDRESS" not in os.environ:
            # a local Ray sized to the replicas, so that none waits for CPUs that are not there
            ray.init(num_cpus=cfg.ray.replicas * cfg.threads, include_dashboard=False)
        else:
            ray.init(address=cfg.ray.address)
    remote = ray.remote(num_cpus=cfg.threads, num_gpus=cfg.ray.num_gpus_per_replica)(Replica)
    actors = [
        remote.remote(params.model, str(Path(models_dir).resolve()), control, params.seed, cfg.threads)
        for _ in range(cfg.ray.replicas)
    ]
    try:
        yield RayExtractor(actors, cfg.ray.batch_size)
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
