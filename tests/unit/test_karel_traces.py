import random

import numpy as np
import pytest

from worldprobe.karel.semantics import ACTIONS, trace
from worldprobe.karel.synthesis import Generation
from worldprobe.karel.traces import (DROPPED, OFFSETS, build_trace, features, in_frame, load_traces, save_traces,
                                     stack_inputs)
from worldprobe.karel.world import random_world

SEMANTICS = ["original", "flip", "move_turns"]


def sample(n=60, seed=0):
    rng = random.Random(seed)
    programs = [rng.choices(ACTIONS, k=rng.randint(1, 8)) for _ in range(n)]
    worlds = [random_world(rng, 4, 0.2, 0.2) for _ in range(n)]
    return programs, worlds


def test_labels_equal_re_executing_the_prefix():
    programs, worlds = sample()
    tr = build_trace(programs, worlds, SEMANTICS)
    assert len(tr.program) == sum(map(len, programs))
    for r in range(len(tr.program)):
        i, k, n = tr.program[r], tr.action[r], tr.length[r]
        assert n == len(programs[i]) and tr.initial[r] == worlds[i].facing
        for s in SEMANTICS:
            for o in OFFSETS:
                if k + o < n - 1:
                    prefix = programs[i][: k + o + 1]
                    assert tr.labels[s][r, o] == trace(worlds[i], prefix, s)[-1].facing
                else:  # the final state (and beyond) is dropped
                    assert tr.labels[s][r, o] == DROPPED
            before = worlds[i].facing if k == 0 else trace(worlds[i], programs[i][:k], s)[-1].facing
            assert tr.before[s][r] == before


def test_features_and_storage_round_trip(tmp_path):
    programs, worlds = sample(10)
    rows = sum(map(len, programs))
    hidden = np.random.default_rng(0).normal(size=(rows, 3, 8)).astype(np.float32)
    gen = Generation(programs, hidden, np.concatenate([[0], np.cumsum([len(p) for p in programs])]), np.zeros(10, bool))
    assert np.allclose(features(gen, "mean")["mean"], hidden.mean(1))
    assert set(features(gen, [0, 2])) == {"layer_0", "layer_2"}
    tr = build_trace(programs, worlds, SEMANTICS)
    save_traces(tmp_path / "t.npz", {"test": (tr, features(gen, "mean"))})
    back, feats = load_traces(tmp_path / "t.npz")["test"]
    assert np.array_equal(back.labels["move_turns"], tr.labels["move_turns"])
    assert np.array_equal(back.before["flip"], tr.before["flip"])
    assert np.allclose(feats["mean"], hidden.mean(1))


def test_relative_frame_is_the_rotation_the_turns_decide():
    programs, worlds = sample()
    tr = build_trace(programs, worlds, SEMANTICS)
    rel = in_frame(tr, "relative")
    assert in_frame(tr, "absolute") is tr and not rel.initial.any()
    turns = {"turn_left": -1, "turn_right": 1}
    for r in range(len(tr.program)):
        prog, k = programs[tr.program[r]], tr.action[r]
        for o in OFFSETS:
            expected = DROPPED if tr.labels["original"][r, o] == DROPPED else \
                sum(turns.get(a, 0) for a in prog[: k + o + 1]) % 4  # the world plays no part
            assert rel.labels["original"][r, o] == expected
            if expected != DROPPED:  # and the facing is the rotation applied to the input's facing
                assert (tr.initial[r] + rel.labels["flip"][r, o]) % 4 == tr.labels["flip"][r, o]
        assert rel.before["original"][r] == sum(turns.get(a, 0) for a in prog[:k]) % 4
    with pytest.raises(ValueError, match="unknown frame 'robot'"):
        in_frame(tr, "robot")


def test_all_inputs_stack_one_block_per_input():
    programs, first = sample(seed=1)
    _, second = sample(seed=2)
    per_input = [build_trace(programs, worlds, SEMANTICS) for worlds in (first, second)]
    both = stack_inputs(per_input)
    rows = len(per_input[0].program)
    assert len(both.program) == 2 * rows
    for j, tr in enumerate(per_input):
        block = slice(j * rows, (j + 1) * rows)
        assert np.array_equal(both.program[block], tr.program) and np.array_equal(both.initial[block], tr.initial)
        for s in SEMANTICS:
            assert np.array_equal(both.labels[s][block], tr.labels[s]) and np.array_equal(both.before[s][block], tr.before[s])
