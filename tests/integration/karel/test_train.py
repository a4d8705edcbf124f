"""Training is deterministic and a killed run, restarted, ends exactly where an uninterrupted run ends."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from worldprobe.config import KarelProfile
from worldprobe.karel.sampler import write_corpus
from worldprobe.karel.train import list_checkpoints, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread

PROFILE = KarelProfile(n_train=300, n_val=20, n_test=20, d_model=16, n_layers=1, n_heads=2, batch_size=8,
                       warmup_steps=20, max_steps=400, checkpoint_every=100, log_every=25, threads=1)

SCRIPT = """
import sys, torch
from worldprobe.config import KarelProfile
from worldprobe.karel.train import train
torch.set_num_threads(1)
profile = KarelProfile.model_validate_json(sys.argv[1])
train(profile, 0, sys.argv[2], sys.argv[3], sys.argv[4], progress=False)
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("karel") / "corpus"
    write_corpus(path, PROFILE, 0)
    return path


def weights(directory: Path, step: int) -> dict:
    return torch.load(directory / f"step_{step:06d}.pt", weights_only=True)["model"]


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    summary = train(PROFILE, 0, corpus, out / "ckpt", out / "loss.csv", progress=False)
    return out, summary


def test_checkpoints_loss_log_and_summary(reference):
    out, summary = reference
    assert list_checkpoints(out / "ckpt") == [0, 100, 200, 300, 400]
    assert summary.steps == 400 and summary.stopped_by == "max_steps" and summary.resumed_from is None
    loss = pd.read_csv(out / "loss.csv")
    assert loss["step"].tolist() == list(range(0, 401, 25))
    assert loss["val_loss"].iloc[-1] < loss["val_loss"].iloc[0]  # it learns something
    assert not (out / "ckpt.partial").exists() and not (out / "ckpt" / "resume.pt").exists()


def test_resume_after_kill_equals_uninterrupted(corpus, reference, tmp_path):
    out, _ = reference
    ckpt, partial = tmp_path / "ckpt", tmp_path / "ckpt.partial"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, PROFILE.model_dump_json(), str(corpus), str(ckpt),
                             str(tmp_path / "loss.csv")])
    deadline = time.monotonic() + 120
    while not (partial / "step_000100.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not ckpt.exists() and not (partial / "step_000400.pt").exists()

    summary = train(PROFILE, 0, corpus, ckpt, tmp_path / "loss.csv", progress=False)
    assert summary.resumed_from is not None and summary.resumed_from < 400
    for step in list_checkpoints(out / "ckpt"):
        assert same(weights(ckpt, step), weights(out / "ckpt", step)), f"step {step} differs"
    assert pd.read_csv(tmp_path / "loss.csv").equals(pd.read_csv(out / "loss.csv"))


def test_seed_decides_the_run_and_a_changed_profile_starts_afresh(corpus, reference, tmp_path):
    out, _ = reference
    short = PROFILE.model_copy(update={"max_steps": 100})
    partial = tmp_path / "s0.partial"
    partial.mkdir()
    torch.save({"fingerprint": "another run"}, partial / "resume.pt")
    summary = train(short, 0, corpus, tmp_path / "s0", tmp_path / "s0.csv", progress=False)
    assert summary.resumed_from is None and list_checkpoints(tmp_path / "s0") == [0, 100]
    assert same(weights(tmp_path / "s0", 0), weights(out / "ckpt", 0))  # same seed, same initialisation
    train(short, 1, corpus, tmp_path / "s1", tmp_path / "s1.csv", progress=False)
    assert not same(weights(tmp_path / "s1", 0), weights(out / "ckpt", 0))
    assert not same(weights(tmp_path / "s1", 100), weights(tmp_path / "s0", 100))
