"""Stages killed half-way, then rerun, end exactly where an uninterrupted run ends; same seed, same metrics.

The stages run as DVC runs them (``python stages/<stage>.py <dataset>`` in a project directory) on a
tiny Llama checkpoint and synthetic places. A kill is a SIGKILL: no cleanup code runs, so what is left
on disk is what any crash would leave. (Karel training's kill-and-resume test is in test_karel_train.py.)
"""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from tests.tiny_lm import PLACES, save_tiny_model
from worldprobe.records import ActivationStore, EntityTableInfo, StoreError, write_entities

N = 1200


def _stage(root: Path, stage: str, dataset: str = "world") -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(REPO / "stages" / f"{stage}.py"), dataset], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _run(root: Path, stage: str) -> None:
    proc = _stage(root, stage)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


def _kill_when(proc: subprocess.Popen, condition, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the stage finished before it could be killed"


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    model_dir = save_tiny_model(root / "tiny", "llama", seed=1)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"]["name"] = str(model_dir)
    params["activations"].update(prompts=["main", "empty"], batch_size=2, threads=1)
    params["probes"]["threads"] = 1
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "id": [f"p{i}" for i in range(N)],
        "text": [f"{PLACES[i % len(PLACES)]} {i}" for i in range(N)],
        "entity_type": rng.choice(["city", "lake"], N),
        "popularity": 1.0,
        "split": np.where(rng.random(N) < 0.8, "train", "test"),
        "longitude": rng.uniform(-180, 180, N),
        "latitude": rng.uniform(-60, 70, N),
        "country": rng.choice(["a", "b", "c"], N),
    })
    write_entities(root / "data/entities/world.parquet", table, EntityTableInfo("world", "place", ("country",)))
    return root


@pytest.fixture(scope="module")
def uninterrupted(project, tmp_path_factory) -> Path:
    """A copy of the project run start to finish without interruption: the reference."""
    ref = tmp_path_factory.mktemp("reference") / "project"
    shutil.copytree(project, ref)
    _run(ref, "activations")
    _run(ref, "probes")
    return ref


def _stores(root: Path) -> list[Path]:
    return sorted(p.parent.relative_to(root) for p in (root / "data/activations").rglob("meta.json"))


def _same_tree(a: Path, b: Path) -> None:
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, (a, cmp.left_only, cmp.right_only, cmp.diff_files)
    assert not filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)[1]
    for sub in cmp.common_dirs:
        _same_tree(a / sub, b / sub)


def test_extraction_killed_mid_store_leaves_nothing_trusted_and_rerun_matches(project, uninterrupted):
    activations = project / "data/activations/world"
    proc = _stage(project, "activations")
    # kill while the second store is being written: one store done, one half-written
    _kill_when(proc, lambda: len(_stores(project)) == 1 and any(activations.rglob(".tmp-*")))

    for store in _stores(project):  # a store that exists at its final path is complete
        reference = ActivationStore(uninterrupted / store)
        survivor = ActivationStore(project / store)
        assert all(np.array_equal(survivor.layer(i), reference.layer(i)) for i in range(reference.n_layers))
    half_written = [p for p in activations.rglob("*") if p.name.startswith(".tmp-") and p.is_dir()]
    assert half_written, "the kill did not land inside a store"
    with pytest.raises(StoreError, match="incomplete activation store"):
        ActivationStore(half_written[0])  # and no reader would take it for a store

    shutil.rmtree(project / "data/activations")  # as `dvc repro` does with a stage's outputs before a rerun
    _run(project, "activations")
    assert _stores(project) == _stores(uninterrupted)
    _same_tree(project / "data/activations", uninterrupted / "data/activations")


def test_probes_killed_half_way_then_rerun_match(project, uninterrupted):
    if not (project / "data/activations").exists():
        shutil.copytree(uninterrupted / "data/activations", project / "data/activations")
    start = time.monotonic()
    _run(project, "probes")
    duration = time.monotonic() - start
    shutil.rmtree(project / "metrics")
    shutil.rmtree(project / "plots")

    proc = _stage(project, "probes")
    killed_at = time.monotonic() + duration / 2
    _kill_when(proc, lambda: time.monotonic() >= killed_at)
    for partial in (project / "metrics/probes/world.json", project / "plots/probes/world/layers.csv"):
        assert not partial.exists() or filecmp.cmp(partial, uninterrupted / partial.relative_to(project), shallow=False)

    _run(project, "probes")
    _same_tree(project / "metrics", uninterrupted / "metrics")
    _same_tree(project / "plots", uninterrupted / "plots")


def test_same_seed_same_metrics(project, uninterrupted):
    """Determinism: the probes stage run again on the same inputs writes byte-identical metrics."""
    if not (project / "data/activations").exists():
        shutil.copytree(uninterrupted / "data/activations", project / "data/activations")
    _run(project, "probes")
    first = (project / "metrics/probes/world.json").read_bytes()
    _run(project, "probes")
    assert (project / "metrics/probes/world.json").read_bytes() == first
    assert first == (uninterrupted / "metrics/probes/world.json").read_bytes()
