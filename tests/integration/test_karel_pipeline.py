"""The Karel study end to end on a tiny run: corpus -> train -> synthesis + traces -> probes -> analysis -> figures."""

import numpy as np
import pandas as pd
import pytest
import torch

from worldprobe.config import KarelConfig, KarelProfile
from worldprobe.karel import plots
from worldprobe.karel.analysis import regressions, summarize
from worldprobe.karel.evaluate import evaluate_checkpoints
from worldprobe.karel.outputs import Evaluation
from worldprobe.karel.probes import PROBE_KINDS, ProbeSettings, probe_checkpoint
from worldprobe.karel.sampler import write_corpus
from worldprobe.karel.traces import OFFSETS, load_traces
from worldprobe.karel.train import train

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread


PROFILE = KarelProfile(n_train=200, n_val=16, n_test=16, d_model=16, n_layers=1, n_heads=2, batch_size=8,
                       warmup_steps=5, max_steps=40, checkpoint_every=20, log_every=10, threads=1, probe_train=24)
KAREL = KarelConfig(profile="tiny", profiles={"tiny": PROFILE})


def test_tiny_study_end_to_end(tmp_path):
    write_corpus(tmp_path / "corpus", PROFILE, 0)
    train(PROFILE, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "loss.csv", progress=False)
    result = evaluate_checkpoints(KAREL, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "traces", progress=False)
    assert [r.step for r in result.steps] == [0, 20, 40]
    assert all(0 <= r.accuracy_all <= r.accuracy_spec <= 1 for r in result.steps)
    assert 0 <= result.chance.constant_spec <= 1 and result.chance.constant_program
    assert len(result.by_length) == 3 * 6
    assert Evaluation.load(tmp_path / "traces" / "synthesis.json") == result

    settings = ProbeSettings(hidden=8, max_epochs=3, patience=2)
    rows = []
    for step in (0, 20, 40):
        traces = load_traces(tmp_path / "traces" / f"step_{step:06d}.npz")
        assert set(traces) == {"train", "val", "test"}
        test_trace, feats = traces["test"]
        assert feats["mean"].shape == (len(test_trace.program), 16)
        rows += [{"step": step, **r} for r in probe_checkpoint(traces, result.semantics, PROBE_KINDS, settings, 0)]
    table = pd.DataFrame(rows)
    # per checkpoint and frame: 3 probes x 3 semantics x 3 offsets, plus 4 baselines x 3 semantics x 3 offsets
    assert len(table) == 3 * 2 * (27 + 36)
    summary = summarize(table, ["flip", "move_turns"])
    assert summary["first_step"] == 0 and summary["final_step"] == 40
    for frame in ("absolute", "relative"):
        assert set(summary["at"]["final"][f"{frame}/mean/linear/offset0"]) == {
            "original", "flip", "move_turns", "gap_flip", "gap_move_turns"}
    accuracy = pd.DataFrame([r.model_dump() for r in result.steps])
    fits = regressions(accuracy, table)
    assert len(fits) == 2 * len(PROBE_KINDS) * len(OFFSETS)

    # probe_input: all -> the same programs and hidden states, one block of rows per spec input
    every = KarelConfig(profile="tiny", profiles={"tiny": PROFILE.model_copy(update={"probe_input": "all"})})
    again = evaluate_checkpoints(every, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "traces_all", progress=False)
    assert again.steps == result.steps
    one, one_feats = load_traces(tmp_path / "traces" / "step_000040.npz")["test"]
    all_, all_feats = load_traces(tmp_path / "traces_all" / "step_000040.npz")["test"]
    rows = len(one.program)
    assert len(all_.program) == PROFILE.spec_examples * rows
    assert np.array_equal(all_.labels["original"][:rows], one.labels["original"])
    assert np.array_equal(all_feats["mean"], np.tile(one_feats["mean"], (PROFILE.spec_examples, 1)))

    figures = tmp_path / "figures"
    plots.loss_plot(pd.read_csv(tmp_path / "loss.csv"), figures / "loss.png")
    plots.accuracy_plot(accuracy, result.chance.model_dump(), figures / "accuracy.png")
    plots.lengths_plot(accuracy, pd.DataFrame([r.model_dump() for r in result.by_length]), figures / "lengths.png")
    plots.content_plot(table, "relative", "mean", figures / "content.png")
    plots.scatter_plot(accuracy, table, fits, "relative", "mean", figures / "scatter.png")
    plots.intervention_plot(summary, ["flip", "move_turns"], "absolute", "mean", figures / "intervention.png")
    plots.intervention_training_plot(table, ["flip", "move_turns"], "absolute", "mean", figures / "training.png")
    assert all((figures / f).stat().st_size > 1000 for f in ("accuracy.png", "scatter.png", "intervention.png"))
