"""The Karel study end to end on a tiny run: corpus -> train -> synthesis + traces -> probes -> analysis -> figures,
and the positive control on the smoke model."""

import numpy as np
import pandas as pd
import pytest

from worldprobe.config import KarelConfig, KarelProbing, KarelProfile, load_params
from worldprobe.karel import plots
from worldprobe.karel.analysis import RegressionSummary, SemanticsSummary, regression_key, regressions, summarize
from worldprobe.karel.content import checkpoints_with_mlp, mlp_settings, probe_step, text_controls
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
    first = load_traces(tmp_path / "traces" / "step_000000.npz")
    assert set(first) == {"generated", "teacher_forced"} and set(first["generated"]) == {"train", "val", "test"}
    fixed = text_controls(first["teacher_forced"], result.semantics, PROBING, 0)
    found = []
    for step in (0, 20, 40):
        test = load_traces(tmp_path / "traces" / f"step_{step:06d}.npz")["generated"]["test"]
        assert test.hidden.shape == (len(test.trace.program), 2, 16) and test.control_hidden.shape == (16, 2, 16)
        mlp = mlp_settings(PROBING, 8) if step in with_mlp else None
        found.append(probe_step(tmp_path / "traces" / f"step_{step:06d}.npz", step, result.semantics, PROBING, mlp,
                                fixed, first["teacher_forced"]["test"].trace, 0))
    table = pd.DataFrame([r for f in found for r in f.rows])
    tests = pd.DataFrame([t for f in found for t in f.tests])
    summary = summarize(table, tests, "tiny", ["flip", "move_turns"], {f.step: f.sizes for f in found})
    summary.save(tmp_path / "semantics.json")
    assert SemanticsSummary.load(tmp_path / "semantics.json") == summary
    assert summary.first_step == 0 and summary.final_step == 40 and summary.offsets == [-1, 0, 1, 2]
    assert set(summary.probe_sets) == {"generated", "teacher_forced"}
    final = summary.probe_sets["generated"][40]
    assert final.n_probe_train_specs == 40 and final.n_probe_train_rows >= 40
    assert set(final.frames) == {"absolute", "relative"}
    # linear probes on every feature set (mean, concat, layer_0, layer_1); MLPs on mean and concat
    assert set(final.frames["absolute"].probes) == {"mean", "concat", "layer_0", "layer_1"}
    assert set(final.frames["absolute"].probes["layer_1"]) == {"linear"}
    assert set(final.frames["absolute"].probes["mean"]["linear"]) == {"original", "flip", "move_turns"}
    mlp = table[(table["probe"] == "mlp") & (table["step"] == 40) & (table["probe_set"] == "generated")]
    assert set(mlp["feature"]) == {"mean", "concat"}
    assert set(mlp[(mlp["frame"] == "absolute") & (mlp["target"] == "facing")]["semantics"]) == {"original", "flip",
                                                                                                 "move_turns"}
    assert set(mlp[mlp["frame"] == "relative"]["semantics"]) == {"original"}
    assert set(mlp[mlp["target"].str.startswith("initial_")]["target"]) == {"initial_0"}
    # MLP scores below the linear probe on val are no upper bound: left out of the summary, and counted
    invalid = mlp["valid"].astype(str) == "False"
    assert final.mlp_invalid == invalid.sum()
    kept = {(r.frame, r.feature, r.semantics, r.offset) for r in mlp[~invalid & (mlp["target"] == "facing")].itertuples()}
    assert kept == {(frame, feature, sem, o) for frame, c in final.frames.items() for feature, by in c.probes.items()
                    for sem, by_offset in by.get("mlp", {}).items() for o in by_offset}
    assert set(final.frames["absolute"].probes["mean"]["linear"]["original"]) == {-1, 0, 1, 2}
    assert set(final.frames["absolute"].baselines["original"]) == {"majority", "unchanged", "initial", "current",
                                                                   "prefix"}
    assert set(final.frames["absolute"].nulls) == {"tokens", "counts"}
    # the paired tests: the tested features only, every text-only null, every offset
    assert set(final.frames["absolute"].beats) == {"mean", "concat"}
    assert set(final.frames["absolute"].beats["mean"]) == {"tokens", "counts", "prefix"}
    assert set(final.frames["absolute"].intervention["mean"]) == {"flip", "move_turns"}
    assert set(final.initial["concat"]["linear"]) == set(range(5))
    assert "linear" in final.composed["mean"] and set(final.controls["control"]["layer_0"]) == {"linear"}
    assert set(final.controls) == {"control", "earlier_action", "heldout"}
    assert summary.probe_sets["generated"][20].mlp_converged is None and final.linear_converged == 1.0
    assert set(summary.intervention["generated"]["absolute"]["mean"]["linear"]) == {"flip", "move_turns"}
    forced = summary.probe_sets["teacher_forced"][40]
    assert set(forced.frames["absolute"].probes) == {"mean", "concat"} and forced.mlp_converged is None
    # the teacher-forced rows are the same at every checkpoint: the nulls too
    assert forced.frames["relative"].nulls == summary.probe_sets["teacher_forced"][0].frames["relative"].nulls

    accuracy = pd.DataFrame([r.model_dump() for r in result.steps])
    fits = regressions(accuracy, table, 100, 0)
    fits.save(tmp_path / "regression.json")
    assert RegressionSummary.load(tmp_path / "regression.json") == fits
    assert fits.fits[regression_key("generated", "absolute", "mean", "linear", "facing", -1)].content.n == 3
    assert fits.fits[regression_key("teacher_forced", "relative", "concat", "linear", "facing", 0, "trained")].content.n == 2

    figures = tmp_path / "figures"
    generated, paired = table[table["probe_set"] == "generated"], tests[tests["probe_set"] == "generated"]
    plots.loss_plot(pd.read_csv(tmp_path / "loss.csv"), figures / "loss.png")
    plots.accuracy_plot(accuracy, result.chance.model_dump(), figures / "accuracy.png")
    plots.lengths_plot(accuracy, pd.DataFrame([r.model_dump() for r in result.by_length]), figures / "lengths.png")
    plots.content_plot(generated, "relative", "mean", figures / "content.png")
    plots.decomposition_plot(generated, "concat", figures / "decomposition.png")
    plots.scatter_plot(accuracy, generated, fits.fits, "generated", "relative", "mean", figures / "scatter.png")
    plots.intervention_plot(summary, "generated", "absolute", "mean", figures / "intervention.png")
    plots.intervention_training_plot(generated, ["flip", "move_turns"], "absolute", "mean", figures / "training.png")
    plots.tests_plot(paired, "beats", "mean", figures / "beats.png")
    plots.controls_plot(generated, figures / "controls.png")
    assert all((figures / f).stat().st_size > 1000 for f in ("accuracy.png", "decomposition.png", "intervention.png",
                                                             "beats.png", "controls.png"))

    # probe_input: all -> the same programs and hidden states, one block of rows per spec input
    every = KAREL.model_copy(update={"profiles": {"tiny": PROFILE.model_copy(update={"probe_input": "all"})}})
    again = evaluate_checkpoints(every, 0, tmp_path / "corpus", tmp_path / "ckpt", tmp_path / "traces_all", progress=False)
    assert again.steps == result.steps
    one = load_traces(tmp_path / "traces" / "step_000040.npz")["generated"]["test"]
    all_ = load_traces(tmp_path / "traces_all" / "step_000040.npz")["generated"]["test"]
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
