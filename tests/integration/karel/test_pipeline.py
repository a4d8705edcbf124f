"""The Karel study end to end on a tiny run: corpus -> train -> synthesis + traces -> probes -> analysis -> figures,
and the positive control on the smoke model."""

import numpy as np
import pandas as pd
import pytest

from worldprobe.config import KarelConfig, KarelProbing, KarelProfile, load_params
from worldprobe.karel import plots
from worldprobe.karel.analysis import RegressionSummary, SemanticsSummary, checkpoints_with_mlp, regressions, summarize
from worldprobe.karel.content import mlp_settings, probe_checkpoint, probe_set_sizes
from worldprobe.karel.evaluate import control_position, evaluate_checkpoints, probe_tasks
from worldprobe.karel.outputs import Evaluation
from worldprobe.karel.probes import LinearProbe
from worldprobe.karel.sampler import write_corpus
from worldprobe.karel.synthesis import generate
from worldprobe.karel.traces import feature_sets, list_traces, load_traces
from worldprobe.karel.train import load_checkpoint, max_actions, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread


PROFILE = KarelProfile(n_train=200, n_val=16, n_test=16, d_model=16, n_layers=1, n_heads=2, batch_size=8,
                       warmup_steps=5, max_steps=40, checkpoint_every=20, log_every=10, threads=1)
PROBING = KarelProbing(train_specs=40, val_specs=16, test_specs=16, mlp_every=2, mlp_batch_size=64, mlp_max_steps=40,
                       mlp_eval_every=20)
KAREL = KarelConfig(profile="tiny", profiles={"tiny": PROFILE}, probing={"tiny": PROBING})


def test_tiny_study_end_to_end(tmp_path):
    write_corpus(tmp_path / "corpus", PROFILE, 0)
    train(PROFILE, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "loss.csv", progress=False)
    result = evaluate_checkpoints(KAREL, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "traces", progress=False)
    assert [r.step for r in result.steps] == [0, 20, 40] == list_traces(tmp_path / "traces")
    assert all(0 <= r.accuracy_all <= r.accuracy_spec <= 1 for r in result.steps)
    assert 0 <= result.chance.constant_spec <= 1 and result.chance.constant_program
    assert len(result.by_length) == 3 * 6
    assert result.n_tasks == {"synthesis_test": 16, "probe_train": 40, "probe_val": 16, "probe_test": 16}
    assert Evaluation.load(tmp_path / "traces" / "synthesis.json") == result

    with_mlp = checkpoints_with_mlp([0, 20, 40], PROBING.mlp_every)
    assert with_mlp == [0, 40]
    rows, sizes = [], {}
    for step in (0, 20, 40):
        traces = load_traces(tmp_path / "traces" / f"step_{step:06d}.npz")
        assert set(traces) == {"train", "val", "test"}
        test = traces["test"]
        assert test.hidden.shape == (len(test.trace.program), 2, 16) and test.control_hidden.shape == (16, 2, 16)
        sizes[step] = probe_set_sizes(traces, PROBING.max_train_rows)
        mlp = mlp_settings(PROBING, 8) if step in with_mlp else None
        rows += [{"step": step, **r} for r in probe_checkpoint(traces, result.semantics, PROBING, mlp, 0)]
    table = pd.DataFrame(rows)
    summary = summarize(table, "tiny", ["flip", "move_turns"], sizes)
    summary.save(tmp_path / "semantics.json")
    assert SemanticsSummary.load(tmp_path / "semantics.json") == summary
    assert summary.first_step == 0 and summary.final_step == 40 and summary.offsets == [-1, 0, 1, 2]
    final = summary.checkpoints[40]
    assert final.n_probe_train_specs == 40 and final.n_probe_train_rows >= 40
    assert set(final.frames) == {"absolute", "relative"}
    # linear probes on every feature set (mean, concat, layer_0, layer_1); MLPs on mean and concat
    assert set(final.frames["absolute"].probes) == {"mean", "concat", "layer_0", "layer_1"}
    assert set(final.frames["absolute"].probes["mean"]) == {"linear", "mlp"}
    assert set(final.frames["absolute"].probes["layer_1"]) == {"linear"}
    assert set(final.frames["absolute"].probes["mean"]["linear"]) == {"original", "flip", "move_turns"}
    assert set(final.frames["absolute"].probes["concat"]["mlp"]) == {"original", "flip", "move_turns"}
    assert set(final.frames["relative"].probes["concat"]["mlp"]) == {"original"}
    assert set(final.frames["absolute"].probes["mean"]["linear"]["original"]) == {-1, 0, 1, 2}
    assert set(final.frames["absolute"].baselines["original"]) == {"majority", "unchanged", "initial", "current"}
    assert set(final.initial["concat"]["linear"]) == set(range(5)) and set(final.initial["concat"]["mlp"]) == {0}
    assert set(final.composed["mean"]) == {"linear", "mlp"} and set(final.control["layer_0"]) == {"linear"}
    assert summary.checkpoints[20].mlp_converged is None and final.linear_converged == 1.0
    assert set(summary.intervention["absolute"]["concat"]["mlp"]) == {"flip", "move_turns"}

    accuracy = pd.DataFrame([r.model_dump() for r in result.steps])
    fits = regressions(accuracy, table)
    fits.save(tmp_path / "regression.json")
    assert RegressionSummary.load(tmp_path / "regression.json") == fits
    assert fits.fits["absolute/mean/linear/facing/-1"].content.n == 3
    assert fits.fits["absolute/concat/mlp/composed/2"].content.n == 2

    figures = tmp_path / "figures"
    plots.loss_plot(pd.read_csv(tmp_path / "loss.csv"), figures / "loss.png")
    plots.accuracy_plot(accuracy, result.chance.model_dump(), figures / "accuracy.png")
    plots.lengths_plot(accuracy, pd.DataFrame([r.model_dump() for r in result.by_length]), figures / "lengths.png")
    plots.content_plot(table, "relative", "mean", figures / "content.png")
    plots.decomposition_plot(table, "concat", figures / "decomposition.png")
    plots.scatter_plot(accuracy, table, fits.fits, "relative", "mean", figures / "scatter.png")
    plots.intervention_plot(summary, "absolute", "mean", figures / "intervention.png")
    plots.intervention_training_plot(table, ["flip", "move_turns"], "absolute", "mean", figures / "training.png")
    assert all((figures / f).stat().st_size > 1000 for f in ("accuracy.png", "decomposition.png", "intervention.png"))

    # probe_input: all -> the same programs and hidden states, one block of rows per spec input
    every = KAREL.model_copy(update={"profiles": {"tiny": PROFILE.model_copy(update={"probe_input": "all"})}})
    again = evaluate_checkpoints(every, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "traces_all", progress=False)
    assert again.steps == result.steps
    one = load_traces(tmp_path / "traces" / "step_000040.npz")["test"]
    all_ = load_traces(tmp_path / "traces_all" / "step_000040.npz")["test"]
    n = len(one.trace.program)
    assert len(all_.trace.program) == PROFILE.spec_examples * n
    assert np.array_equal(all_.trace.labels["original"][:n], one.trace.labels["original"])
    assert np.array_equal(all_.trace.input, np.repeat(np.arange(5), n))
    assert np.array_equal(all_.hidden, np.tile(one.hidden, (PROFILE.spec_examples, 1, 1)))


def test_positive_control_reads_input_0s_facing_on_the_smoke_model(tmp_path):
    """The instrument must read what the model has just seen: input 0's facing at the token right
    after input 0's grid, from the smoke profile's model after its 60 steps."""
    smoke = load_params().karel.profiles["smoke"]
    write_corpus(tmp_path / "corpus", smoke, 0)
    train(smoke, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "loss.csv", progress=False)
    model = load_checkpoint(tmp_path / "ckpt", smoke.max_steps)
    tasks = probe_tasks(smoke, KarelProbing(train_specs=1500, val_specs=300, test_specs=500), 0)
    x, y = {}, {}
    for name, split in tasks.items():
        gen = generate(model, split.prompts(), max_actions(smoke), read_at=[control_position(smoke.grid_size)])
        x[name] = feature_sets(gen.prompt_hidden[:, 0], ["concat"])["concat"]
        y[name] = np.array([split.worlds(i)[0].facing for i in range(len(split))])
    probe = LinearProbe().fit(x["train"], y["train"], x["val"], y["val"])
    assert probe.converged_
    assert np.mean(probe.predict(x["test"]) == y["test"]) >= 0.95
