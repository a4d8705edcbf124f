import random

import pytest

from worldprobe.karel.semantics import ACTIONS, SEMANTICS, ProgramError, run, trace
from worldprobe.karel.world import EAST, MAX_MARKERS, NORTH, SOUTH, WEST, World, random_world


def world(walls=(), markers=None, row=1, col=1, facing=NORTH, size=3):
    w = tuple(i in walls for i in range(size * size))
    m = tuple((markers or {}).get(i, 0) for i in range(size * size))
    return World(size, w, m, row, col, facing)


def test_move_steps_in_the_facing_direction():
    for facing, (r, c) in zip((NORTH, EAST, SOUTH, WEST), ((0, 1), (1, 2), (2, 1), (1, 0))):
        moved = world(facing=facing).move()
        assert (moved.row, moved.col, moved.facing) == (r, c, facing)


def test_move_into_border_or_interior_wall_is_a_noop():
    at_top = world(row=0, col=0, facing=NORTH)
    assert at_top.move() == at_top
    assert world(row=0, col=0, facing=WEST).move() == world(row=0, col=0, facing=WEST)
    blocked = world(walls={1 * 3 + 2}, facing=EAST)  # wall right of the robot
    assert blocked.move() == blocked


def test_turns_cycle_through_the_four_directions():
    w = world(facing=NORTH)
    assert [w := w.turn_right() for _ in range(4)][-1].facing == NORTH
    assert world(facing=NORTH).turn_left().facing == WEST
    assert world(facing=WEST).turn_right().facing == NORTH


def test_markers_put_pick_empty_and_full_cell():
    here = 1 * 3 + 1
    empty = world()
    assert empty.pick_marker() == empty  # pick on an empty cell: no-op
    one = empty.put_marker()
    assert one.markers[here] == 1 and one.pick_marker() == empty
    full = world(markers={here: MAX_MARKERS})
    assert full.put_marker() == full
    assert sum(one.markers) == 1  # other cells untouched


def test_world_rejects_inconsistent_states():
    with pytest.raises(ValueError, match="stands on a wall"):
        world(walls={4})
    with pytest.raises(ValueError, match="outside"):
        world(row=3)
    with pytest.raises(ValueError, match="cannot hold markers"):
        world(walls={0}, markers={0: 1})


def test_random_world_puts_the_robot_on_a_free_cell():
    rng = random.Random(0)
    for _ in range(200):
        w = random_world(rng, 4, 0.5, 0.3)
        assert not w.walls[w.here]
        assert all(m in (0, 1) for m in w.markers)


def test_trace_records_every_state_and_run_is_the_last():
    w = world(facing=NORTH)
    states = trace(w, ["move", "turn_right", "put_marker"])
    assert len(states) == 3
    assert (states[0].row, states[0].col) == (0, 1)
    assert states[1].facing == EAST and states[2].markers[1] == 1
    assert run(w, ["move", "turn_right", "put_marker"]) == states[-1]
    assert run(w, []) == w


def test_flip_swaps_turns_and_markers():
    w = world(facing=NORTH, markers={4: 1})
    assert run(w, ["turn_left"], "flip").facing == EAST
    assert run(w, ["turn_right"], "flip").facing == WEST
    assert run(w, ["put_marker"], "flip").markers[4] == 0
    assert run(w, ["pick_marker"], "flip").markers[4] == 2
    assert run(w, ["move"], "flip") == run(w, ["move"])


def test_move_turns_makes_move_turn_and_turn_right_move():
    w = world(facing=NORTH)
    turned = run(w, ["move"], "move_turns")
    assert (turned.row, turned.col, turned.facing) == (1, 1, EAST)
    moved = run(w, ["turn_right"], "move_turns")
    assert (moved.row, moved.col, moved.facing) == (0, 1, NORTH)
    assert run(w, ["turn_left", "put_marker"], "move_turns") == run(w, ["turn_left", "put_marker"])


def test_alternative_semantics_are_permutations_of_the_actions():
    for table in SEMANTICS.values():
        assert sorted(table) == sorted(ACTIONS) and sorted(table.values()) == sorted(ACTIONS)


def test_flip_facing_is_a_function_of_original_facing_and_initial_direction():
    # the caveat documented in semantics.py, checked on random programs
    rng = random.Random(1)
    for _ in range(300):
        w = random_world(rng, 4, 0.1, 0.1)
        program = rng.choices(ACTIONS, k=rng.randint(1, 8))
        for a, b in zip(trace(w, program), trace(w, program, "flip")):
            assert b.facing == (2 * w.facing - a.facing) % 4


def test_bad_programs_and_semantics_are_rejected():
    with pytest.raises(ProgramError, match="action 1 is 'jump'"):
        trace(world(), ["move", "jump"])
    with pytest.raises(ValueError, match="unknown semantics"):
        trace(world(), ["move"], "mirror")
