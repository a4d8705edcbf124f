"""The instruments of content.py that need no model: the distance control's labels, the text-only
nulls (they must read what the text determines), the paired tests (a verdict only where the interval
excludes 0) and the controls of a whole checkpoint on hidden states that encode nothing or the label."""

import random

import numpy as np
import pytest

from worldprobe.config import KarelProbing
from worldprobe.karel.content import (
    DISTANCE,
    NEGATIVE,
    TextControls,
    earlier_action,
    paired_tests,
    prefix_rows,
    probe_checkpoint,
    text_controls,
    text_features,
)
from worldprobe.karel.semantics import ACTIONS
from worldprobe.karel.traces import DROPPED, SplitTraces, build_trace, in_frame
from worldprobe.karel.world import random_world

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEMANTICS = ["original", "flip"]
OFFSETS = (-1, 0, 1, 2)
PROBING = KarelProbing(bootstraps=300, tested_features=["mean"], features=["mean"], full_features=["mean"],
                       mlp_features=["mean"])


def trace_of(n_programs, seed):
    rng = random.Random(seed)
    programs = [rng.choices(ACTIONS, k=rng.randint(2, 7)) for _ in range(n_programs)]
    worlds = [random_world(rng, 4, 0.1, 0.1) for _ in programs]
    spec = np.array([[w.facing, *(rng.randrange(4) for _ in range(4))] for w in worlds])
    unseen = [random_world(rng, 4, 0.1, 0.1) for _ in programs]
    return build_trace(programs, worlds, SEMANTICS, OFFSETS, spec, unseen)


def split(n_programs, seed, hidden_of):
    tr = trace_of(n_programs, seed)
    rng = np.random.default_rng(seed)
    hidden = hidden_of(tr, rng)[:, None, :].repeat(2, axis=1)  # (rows, 2 layers, d)
    control_label = tr.spec_facing[np.r_[0, np.flatnonzero(np.diff(tr.program)) + 1], 0]
    control_hidden = np.eye(4, dtype=np.float32)[control_label][:, None, :].repeat(2, axis=1)
    return SplitTraces(tr, hidden, control_hidden, control_label)


def noise(tr, rng):
    return rng.normal(size=(len(tr.program), 16)).astype(np.float32)


def absolute_facing_and_noise(tr, rng):
    """The absolute facing at offset 0 one-hot (the label itself, where it exists) plus noise."""
    y = tr.labels["original"][:, tr.column(0)]
    x = noise(tr, rng)
    x[y != DROPPED, :4] += 4 * np.eye(4, dtype=np.float32)[y[y != DROPPED]]
    return x


def splits(hidden_of):
    return {name: split(n, seed, hidden_of) for name, n, seed in (("train", 500, 1), ("val", 150, 2), ("test", 300, 3))}


def test_earlier_action_is_the_action_back_rows_up_within_the_program():
    tr = trace_of(40, 0)
    got = earlier_action(tr, 2)
    for r in range(len(tr.program)):
        assert got[r] == (tr.written[r - 2] if tr.action[r] >= 2 else DROPPED)
        if tr.action[r] >= 2:
            assert tr.program[r - 2] == tr.program[r]


def test_text_features_code_the_prefix_and_the_initial_facing_only_where_asked():
    tr = trace_of(30, 0)
    width = int(tr.length.max())
    x = text_features(tr, width, with_initial=True)
    prefixes = prefix_rows(tr)
    for r in range(len(tr.program)):
        tokens = x["tokens"][r, : width * len(ACTIONS)].reshape(width, len(ACTIONS))
        assert [int(t.argmax()) for t in tokens[: tr.action[r] + 1]] == list(prefixes[r])
        assert not tokens[tr.action[r] + 1 :].any()
        assert x["tokens"][r, -4:].argmax() == tr.initial[r] and x["counts"][r, -4:].sum() == 1
    assert not text_features(tr, width, with_initial=False)["tokens"][:, -4:].any()


def test_the_text_nulls_read_what_the_text_determines():
    """The rotation since the input is a function of the turn tokens: the prefix lookup reads it exactly
    wherever train saw the prefix labelled; the linear nulls, which cannot add turns mod 4, read it well above
    the majority class."""
    traces = splits(noise)
    text = text_controls(traces, SEMANTICS, PROBING, seed=0)
    test = in_frame(traces["test"].trace, "relative")
    y = test.labels["original"][:, test.column(0)]
    keep = y != DROPPED
    majority = np.bincount(y[keep]).max() / keep.sum()
    accuracy = {null: np.mean(text.predictions["relative", "original", 0, null][keep] == y[keep])
                for null in ("tokens", "counts", "prefix")}
    train = in_frame(traces["train"].trace, "relative")
    labelled = {p for p, label in zip(prefix_rows(train), train.labels["original"][:, train.column(0)])
                if label != DROPPED}
    seen = np.array([p in labelled for p in prefix_rows(test)])
    assert np.array_equal(text.predictions["relative", "original", 0, "prefix"][keep & seen], y[keep & seen])
    assert accuracy["prefix"] > majority + 0.3
    assert min(accuracy["tokens"], accuracy["counts"]) > majority + 0.1
    assert {r["probe"] for r in text.rows} == {"syntax", "prefix"}


def test_paired_tests_give_a_verdict_only_where_the_interval_excludes_zero():
    traces = splits(noise)
    test = traces["test"].trace
    y = test.labels["original"][:, test.column(0)]
    truth = np.where(y == DROPPED, 0, y)
    wrong = (truth + 1) % 4
    rng = np.random.default_rng(0)
    half = np.where(rng.random(len(y)) < 0.5, truth, wrong)
    nulls = {("absolute", "original", 0, n): half for n in ("tokens", "counts", "prefix")}
    text = TextControls([], nulls)
    same = paired_tests(test, {("mean", "absolute", "original", 0): half}, text, [], 300, 0)
    assert {t["verdict"] for t in same} == {"not established"} and all(t["diff"] == 0 for t in same)
    better = paired_tests(test, {("mean", "absolute", "original", 0): truth}, text, [], 300, 0)
    for t in better:
        assert t["verdict"] == "above 0" and 0.4 < t["diff"] < 0.6 and t["ci_low"] > 0.3
        assert t["n_test"] == int((y != DROPPED).sum())


def test_on_pure_noise_every_probe_is_at_chance_and_no_test_claims_the_activations_add():
    traces = splits(noise)
    text = text_controls(traces, SEMANTICS, PROBING, seed=0)
    found = probe_checkpoint(traces, SEMANTICS, PROBING, ["mean"], None, text, seed=0)
    rows = {(r["target"], r["probe"], r["frame"], r["semantics"], r["offset"]): r for r in found.rows
            if r["feature"] in ("mean", None)}
    for control in (NEGATIVE, DISTANCE):
        key = (control, "linear", "absolute", "original", 0 if control == NEGATIVE else None)
        majority = rows[(control, "majority", "absolute", "original", key[-1])]["accuracy"]
        assert abs(rows[key]["accuracy"] - majority) < 0.1
    assert rows[("control", "linear", "absolute", "original", None)]["accuracy"] == 1.0  # one-hot at the prompt
    vs_prefix = next(t for t in found.tests if t["test"] == "beats" and t["frame"] == "relative" and t["offset"] == 0
                     and t["null"] == "prefix")
    assert vs_prefix["verdict"] == "below 0"
    assert not [t for t in found.tests if t["test"] == "beats" and t["verdict"] == "above 0"]


def test_a_state_the_text_needs_no_lookup_for_still_beats_the_linear_nulls_only_where_it_reads_better():
    """Hidden states that hold the absolute facing itself: the probe reads it at ~1.0; the token-position
    null, a linear probe that cannot compose initial facing and rotation, falls short of it."""
    traces = splits(absolute_facing_and_noise)
    text = text_controls(traces, SEMANTICS, PROBING, seed=0)
    found = probe_checkpoint(traces, SEMANTICS, PROBING, ["mean"], None, text, seed=0)
    probe = next(r for r in found.rows if r["target"] == "facing" and r["probe"] == "linear" and r["offset"] == 0
                 and r["frame"] == "absolute" and r["semantics"] == "original")
    assert probe["accuracy"] > 0.95
    vs_tokens = next(t for t in found.tests if t["test"] == "beats" and t["frame"] == "absolute" and t["offset"] == 0
                     and t["null"] == "tokens")
    assert vs_tokens["verdict"] == "above 0"
