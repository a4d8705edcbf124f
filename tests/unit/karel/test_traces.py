import random

import numpy as np
import pytest

from worldprobe.karel.semantics import ACTIONS, trace
from worldprobe.karel.traces import (
    DROPPED,
    SplitTraces,
    build_trace,
    feature_sets,
    in_frame,
    list_traces,
    load_traces,
    save_traces,
    stack_inputs,
)
from worldprobe.karel.world import random_world

SEMANTICS = ["original", "flip", "move_turns"]
OFFSETS = (-1, 0, 1, 2)


def sample(n=60, seed=0):
    rng = random.Random(seed)
    programs = [rng.choices(ACTIONS, k=rng.randint(1, 8)) for _ in range(n)]
    worlds = [random_world(rng, 4, 0.2, 0.2) for _ in range(n)]
    return programs, worlds


def build(programs, worlds, input_index=0):
    spec = np.random.default_rng(len(programs)).integers(0, 4, (len(programs), 5))
    spec[:, input_index] = [w.facing for w in worlds]
    unseen = [random_world(random.Random(i), 4, 0.2, 0.2) for i in range(len(programs))]
    return build_trace(programs, worlds, SEMANTICS, OFFSETS, spec, unseen, input_index)


def test_labels_equal_re_executing_the_prefix():
    programs, worlds = sample()
    tr = build(programs, worlds)
    assert len(tr.program) == sum(map(len, programs))
    for r in range(len(tr.program)):
        i, k, n = tr.program[r], tr.action[r], tr.length[r]
        assert n == len(programs[i]) and tr.initial[r] == worlds[i].facing == tr.spec_facing[r, 0]
        for s in SEMANTICS:
            for c, o in enumerate(OFFSETS):
                if 0 <= k + o < n - 1:
                    prefix = programs[i][: k + o + 1]
                    assert tr.labels[s][r, c] == trace(worlds[i], prefix, s)[-1].facing
                else:  # no action read yet (-1 at the first action), or the final state (and beyond): dropped
                    assert tr.labels[s][r, c] == DROPPED
            if k >= 1:  # offset -1 is the facing the state has just read: the one before action k
                assert tr.labels[s][r, tr.column(-1)] == tr.before[s][r]
            before = worlds[i].facing if k == 0 else trace(worlds[i], programs[i][:k], s)[-1].facing
            assert tr.before[s][r] == before
        assert ACTIONS[tr.written[r]] == programs[i][k]
        unseen = random_world(random.Random(int(i)), 4, 0.2, 0.2)  # the held-out world: original semantics
        for c, o in enumerate(OFFSETS):
            expected = trace(unseen, programs[i][: k + o + 1], "original")[-1].facing if 0 <= k + o < n - 1 else DROPPED
            assert tr.heldout[r, c] == expected


def test_a_short_program_has_labels_only_before_its_final_state():
    tr = build([["move"]], [random_world(random.Random(3), 4, 0.0, 0.0)])
    assert (tr.labels["original"] == DROPPED).all() and (tr.heldout == DROPPED).all()
    with pytest.raises(ValueError, match="1 programs, 1 input worlds, 1 spec rows, 0 held-out worlds"):
        build_trace([["move"]], [random_world(random.Random(3), 4, 0.0, 0.0)], SEMANTICS, OFFSETS,
                    np.zeros((1, 5), int), [])


def test_feature_sets_and_storage_round_trip(tmp_path):
    programs, worlds = sample(10)
    rows = sum(map(len, programs))
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(rows, 3, 8)).astype(np.float32)
    feats = feature_sets(hidden, ["mean", "concat", "layers"])
    assert set(feats) == {"mean", "concat", "layer_0", "layer_1", "layer_2"}
    assert np.allclose(feats["mean"], hidden.mean(1)) and np.array_equal(feats["layer_2"], hidden[:, 2])
    assert np.array_equal(feats["concat"][:, 8:16], hidden[:, 1])
    with pytest.raises(ValueError, match="unknown feature set"):
        feature_sets(hidden, ["max"])
    tr = build(programs, worlds)
    control = rng.normal(size=(10, 3, 8)).astype(np.float32)
    split = SplitTraces(tr, hidden, control, tr.spec_facing[tr.action == 0, 0])
    shorter = SplitTraces(build(programs[:4], worlds[:4]), hidden[: sum(map(len, programs[:4]))], control[:4],
                          split.control_label[:4])
    save_traces(tmp_path / "step_000020.npz", {"generated": {"test": split}, "teacher_forced": {"test": shorter}})
    both = load_traces(tmp_path / "step_000020.npz")
    back = both["generated"]["test"]
    assert list_traces(tmp_path) == [20]
    assert len(both["teacher_forced"]["test"].trace.program) == len(shorter.trace.program)
    assert back.trace.offsets == OFFSETS and np.array_equal(back.trace.spec_facing, tr.spec_facing)
    assert np.array_equal(back.trace.written, tr.written) and np.array_equal(back.trace.heldout, tr.heldout)
    assert np.array_equal(back.trace.labels["move_turns"], tr.labels["move_turns"])
    assert np.array_equal(back.trace.before["flip"], tr.before["flip"])
    assert np.allclose(back.hidden, hidden, atol=1e-2) and np.allclose(back.control_hidden, control, atol=1e-2)  # float16


def test_relative_frame_is_the_rotation_the_turns_decide():
    programs, worlds = sample()
    tr = build(programs, worlds)
    rel = in_frame(tr, "relative")
    assert in_frame(tr, "absolute") is tr and not rel.initial.any()
    turns = {"turn_left": -1, "turn_right": 1}
    for r in range(len(tr.program)):
        prog, k = programs[tr.program[r]], tr.action[r]
        for c, o in enumerate(OFFSETS):
            expected = DROPPED if tr.labels["original"][r, c] == DROPPED else \
                sum(turns.get(a, 0) for a in prog[: k + o + 1]) % 4  # the world plays no part
            assert rel.labels["original"][r, c] == expected
            if expected != DROPPED:  # and the facing is the rotation applied to the input's facing
                assert (tr.initial[r] + rel.labels["flip"][r, c]) % 4 == tr.labels["flip"][r, c]
        assert rel.before["original"][r] == sum(turns.get(a, 0) for a in prog[:k]) % 4
    with pytest.raises(ValueError, match="unknown frame 'robot'"):
        in_frame(tr, "robot")


def test_all_inputs_stack_one_block_per_input():
    programs, first = sample(seed=1)
    _, second = sample(seed=2)
    per_input = [build(programs, worlds, j) for j, worlds in enumerate((first, second))]
    both = stack_inputs(per_input)
    rows = len(per_input[0].program)
    assert len(both.program) == 2 * rows
    for j, tr in enumerate(per_input):
        block = slice(j * rows, (j + 1) * rows)
        assert np.array_equal(both.program[block], tr.program) and np.array_equal(both.initial[block], tr.initial)
        assert np.array_equal(both.written[block], tr.written) and np.array_equal(both.heldout[block], tr.heldout)
        assert (both.input[block] == j).all()
        for s in SEMANTICS:
            assert np.array_equal(both.labels[s][block], tr.labels[s]) and np.array_equal(both.before[s][block], tr.before[s])
