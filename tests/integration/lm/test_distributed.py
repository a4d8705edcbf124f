"""The Ray backend of the activations stage (local Ray, 2 CPUs, tiny model): the local backend's bytes, order
included, and a failed task leaves no store behind.

One Ray session serves the module: starting Ray costs seconds and hundreds of MB on a small machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.tiny_lm import PLACES, save_tiny_model, write_place_entities
from worldprobe.config import ModelConfig, Params, load_params
from worldprobe.lm.activations import dataset_activations, open_extractor, tokenize_prompts, write_activations
from worldprobe.lm.prompts import prompt_spec
from worldprobe.threads import compute_threads


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'; scripts/install.sh does)")
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory) -> tuple[Path, Params]:
    root = tmp_path_factory.mktemp("ray")
    model_dir = save_tiny_model(root / "tiny", "gemma3", seed=1)
    # 8 + 56 entities of varied lengths: several tasks per replica, and a last task that is not full
    texts = PLACES + [f"{a} {b}" for a in PLACES for b in PLACES if a != b]
    write_place_entities(root / "entities" / "world.parquet", texts)
    params = load_params()
    params = params.model_copy(
        update={
            "model": ModelConfig(name=str(model_dir)),
            "activations": params.activations.model_copy(
                update={
                    "prompts": ["main", "random"], "control_prompts": ["main"], "batch_size": 4, "threads": 1,
                    "ray": params.activations.ray.model_copy(update={"replicas": 2, "batch_size": 12}),
                }
            ),
        }
    )
    return root, params


def with_backend(params: Params, backend: str) -> Params:
    return params.model_copy(update={"activations": params.activations.model_copy(update={"backend": backend})})


def test_ray_backend_writes_the_local_backends_bytes(ray_session, tiny_world):
    root, params = tiny_world
    for backend in ("local", "ray"):
        # the stage's thread count, as stages/activations.py sets it (a replica sets its own): on CPUs with
        # AVX-512 torch's float rounding depends on it
        with compute_threads(params.activations.threads):
            dataset_activations(with_backend(params, backend), "world", root / "entities", root / "models", root / backend)
    local = sorted(p.relative_to(root / "local") for p in (root / "local").rglob("*") if p.is_file())
    ray = sorted(p.relative_to(root / "ray") for p in (root / "ray").rglob("*") if p.is_file())
    assert ray == local
    assert len([p for p in local if p.name == "meta.json"]) == 3  # main, random, random-weights control
    for path in local:  # layers in entity order, ids and meta (weights hash of each replica's model) alike
        assert (root / "ray" / path).read_bytes() == (root / "local" / path).read_bytes(), path


def test_a_failed_task_fails_the_run_and_leaves_no_store(ray_session, tiny_world):
    root, params = tiny_world
    spec = prompt_spec("world", "main")
    with open_extractor(with_backend(params, "ray"), root / "models", None) as extractor:
        prompts = tokenize_prompts(extractor.loaded.tokenizer, [f"e{i}" for i in range(30)], (PLACES * 4)[:30], spec)
        prompts.tokens[17].append(10**6)  # a token id past the vocabulary: the embedding raises in that task only
        with pytest.raises(ray_session.exceptions.RayTaskError, match="index out of range"):
            write_activations(extractor.loaded, prompts, root / "failed" / "main", dataset="world", spec=spec,
                              batch_size=4, extractor=extractor)
    assert not (root / "failed" / "main").exists()
    assert list((root / "failed").iterdir()) == []  # nor a temporary directory


def test_ray_backend_without_ray_says_how_to_install(tiny_world, monkeypatch):
    root, params = tiny_world
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    with pytest.raises(ModuleNotFoundError, match=r"pip install -e '\.\[ray\]'"):
        with open_extractor(with_backend(params, "ray"), root / "models", None):
            pass
