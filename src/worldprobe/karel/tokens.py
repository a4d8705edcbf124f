"""Word-level text format: ``<bos> (<in> cells <out> cells) x N <prog> actions <eos>``.

Every interior cell is one token (the border wall is implicit and never written), so a 4x4 world is
16 tokens and a text with 5 spec examples is ~180 tokens. Cell tokens: ``#`` wall, ``.`` empty,
``m<k>`` k markers, ``^<k> ><k> v<k> <<k>`` the robot facing north/east/south/west on a cell with k
markers. Grids have a fixed size, so positions alone say where a cell is (no row separators).
"""

from __future__ import annotations

from collections.abc import Sequence

from .semantics import ACTIONS, check_program
from .world import MAX_MARKERS, World

PAD, BOS, IN, OUT, PROG, EOS = "<pad>", "<bos>", "<in>", "<out>", "<prog>", "<eos>"
SPECIALS = (PAD, BOS, IN, OUT, PROG, EOS)
ROBOT = ("^", ">", "v", "<")  # by facing: north, east, south, west
CELLS = ("#", ".", *(f"m{k}" for k in range(1, MAX_MARKERS + 1)),
         *(f"{r}{k}" for r in ROBOT for k in range(MAX_MARKERS + 1)))
VOCAB: tuple[str, ...] = SPECIALS + ACTIONS + CELLS
TOKEN_ID = {t: i for i, t in enumerate(VOCAB)}
PAD_ID, BOS_ID, IN_ID, OUT_ID, PROG_ID, EOS_ID = (TOKEN_ID[t] for t in SPECIALS)
ACTION_IDS = tuple(TOKEN_ID[a] for a in ACTIONS)


class TokenError(ValueError):
    """A token sequence does not follow the text format."""


def encode_world(world: World) -> list[int]:
    ids = []
    for i, (wall, markers) in enumerate(zip(world.walls, world.markers)):
        if i == world.here:
            ids.append(TOKEN_ID[f"{ROBOT[world.facing]}{markers}"])
        elif wall:
            ids.append(TOKEN_ID["#"])
        else:
            ids.append(TOKEN_ID[f"m{markers}" if markers else "."])
    return ids


def decode_world(ids: Sequence[int], size: int) -> World:
    if len(ids) != size * size:
        raise TokenError(f"a {size}x{size} world has {size * size} cells, got {len(ids)} tokens")
    walls, markers, robot = [], [], []
    for i, tid in enumerate(ids):
        tok = VOCAB[tid] if 0 <= tid < len(VOCAB) else None
        if tok not in CELLS:
            raise TokenError(f"cell {i}: token {tid} ({tok!r}) is not a cell token")
        walls.append(tok == "#")
        if tok[0] in ROBOT:
            robot.append((i, ROBOT.index(tok[0])))
            markers.append(int(tok[1:]))
        else:
            markers.append(int(tok[1:]) if tok.startswith("m") else 0)
    if len(robot) != 1:
        raise TokenError(f"a world has exactly one robot, found {len(robot)}")
    (cell, facing), = robot
    return World(size, tuple(walls), tuple(markers), cell // size, cell % size, facing)


def encode_prompt(inputs: Sequence[World], outputs: Sequence[World]) -> list[int]:
    """The specification followed by ``<prog>``: what the model conditions on to write a program."""
    if len(inputs) != len(outputs):
        raise TokenError(f"{len(inputs)} inputs but {len(outputs)} outputs")
    ids = [BOS_ID]
    for w_in, w_out in zip(inputs, outputs):
        ids += [IN_ID, *encode_world(w_in), OUT_ID, *encode_world(w_out)]
    return ids + [PROG_ID]


def encode_program(program: Sequence[str]) -> list[int]:
    check_program(program)
    return [TOKEN_ID[a] for a in program] + [EOS_ID]


def decode_program(ids: Sequence[int]) -> list[str]:
    """Actions up to ``<eos>`` (or the end); anything else is a :class:`TokenError`."""
    program = []
    for tid in ids:
        if tid == EOS_ID:
            return program
        if tid not in ACTION_IDS:
            raise TokenError(f"token {tid} ({VOCAB[tid] if 0 <= tid < len(VOCAB) else '?'}) is not an action")
        program.append(ACTIONS[ACTION_IDS.index(tid)])
    return program


def prompt_length(size: int, examples: int) -> int:
    return 1 + examples * (2 + 2 * size * size) + 1


def decode_text(ids: Sequence[int], size: int) -> tuple[list[World], list[World], list[str]]:
    """Inverse of ``encode_prompt + encode_program`` (padding after ``<eos>`` is ignored)."""
    ids = list(ids)
    try:
        prog_at = ids.index(PROG_ID)
    except ValueError:
        raise TokenError("no <prog> token") from None
    cells = size * size
    block = 2 + 2 * cells
    spec = ids[1:prog_at]
    if ids[:1] != [BOS_ID] or len(spec) % block:
        raise TokenError(f"spec of {len(spec)} tokens is not a whole number of {block}-token examples")
    inputs, outputs = [], []
    for k in range(0, len(spec), block):
        ex = spec[k:k + block]
        if ex[0] != IN_ID or ex[1 + cells] != OUT_ID:
            raise TokenError(f"example {k // block} lacks its <in>/<out> markers")
        inputs.append(decode_world(ex[1:1 + cells], size))
        outputs.append(decode_world(ex[2 + cells:], size))
    return inputs, outputs, decode_program(ids[prog_at + 1:])
