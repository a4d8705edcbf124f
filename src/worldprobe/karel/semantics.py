"""Straight-line Karel programs and the interpreters that give them meaning.

A *semantics* maps each of the five action names to one of the five primitive world effects.
``original`` is Karel's; the alternatives are used by the intervention (Jin & Rinard, section 4):
the same programs and the same hidden states are relabelled by executing under an alternative
semantics, and a fresh probe is fit. If the LM's states held only syntax, the alternative labels
would be as decodable as the original ones.

* ``flip``: ``turn_left`` <-> ``turn_right`` and ``put_marker`` <-> ``pick_marker``. Caveat: the
  flipped facing is ``2 * initial - original`` (mod 4), a fixed function of the original facing and the
  initial direction shown in the spec, so a probe with access to both can decode it too.
* ``move_turns`` (adversarial): ``move`` turns the robot right and ``turn_right`` moves it forward.
  The facing then depends on how many ``move``s the program has, which the original facing does not
  determine, so the alternative labels cannot be derived from the original ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from .world import World

ACTIONS = ("move", "turn_left", "turn_right", "put_marker", "pick_marker")
# The paper's i.i.d. action prior, in ACTIONS order.
ACTION_WEIGHTS = (5, 3, 3, 2, 2)

SEMANTICS: dict[str, dict[str, str]] = {
    "original": {a: a for a in ACTIONS},
    "flip": {
        "move": "move",
        "turn_left": "turn_right",
        "turn_right": "turn_left",
        "put_marker": "pick_marker",
        "pick_marker": "put_marker",
    },
    "move_turns": {
        "move": "turn_right",
        "turn_left": "turn_left",
        "turn_right": "move",
        "put_marker": "put_marker",
        "pick_marker": "pick_marker",
    },
}


class ProgramError(ValueError):
    """A program contains something other than the five Karel actions."""


def check_program(program: Sequence[str]) -> None:
    bad = [(i, a) for i, a in enumerate(program) if a not in ACTIONS]
    if bad:
        i, a = bad[0]
        raise ProgramError(f"action {i} is {a!r}; valid actions are {', '.join(ACTIONS)}")


def trace(world: World, program: Sequence[str], semantics: str = "original") -> list[World]:
    """The world after every action of ``program`` (``len(program)`` states, the input excluded)."""
    if semantics not in SEMANTICS:
        raise ValueError(f"unknown semantics {semantics!r}: valid are {', '.join(SEMANTICS)}")
    check_program(program)
    table = SEMANTICS[semantics]
    states = []
    for action in program:
        world = getattr(world, table[action])()
        states.append(world)
    return states


def run(world: World, program: Sequence[str], semantics: str = "original") -> World:
    """The final world (the input itself for an empty program)."""
    states = trace(world, program, semantics)
    return states[-1] if states else world
