"""Execution traces of generated programs, aligned with the hidden states that produced each action.

Row ``r`` of a trace is action ``k`` of generated program ``i`` (a program of ``n`` actions). Its
label at offset ``o`` (0 = current, 1 = next, 2 = the one after) is the robot's facing after action
``k + o`` when the program runs on spec input ``probe_input`` under a given semantics, i.e. after
re-executing the prefix of length ``k + o + 1``. Labels that fall on the final state (``k + o >=
n - 1``) are dropped (-1): the final state is written in the spec, so decoding it says nothing about
the model tracking execution. With ``probe_input: all`` the rows repeat for every spec input
(``stack_inputs``), each time with the same hidden state.

Labels come in two frames. ``absolute`` is the paper's: the facing itself (north, east, south,
west). ``relative`` is the rotation since the input, ``(facing - initial) mod 4``: the part of the
facing that the program decides, the same on every input. A model can solve the task in the robot's
own frame without ever representing the absolute facing of input ``probe_input``; the two frames
tell those apart. Under the original semantics the rotation follows from the turn tokens alone, so
its probes measure tracking of the program text at least as much as of the world.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..io import atomic_path
from .semantics import trace
from .synthesis import Generation
from .world import World

OFFSETS = (0, 1, 2)
DROPPED = -1
FRAMES = ("absolute", "relative")


@dataclass(frozen=True)
class Trace:
    program: np.ndarray  # (rows,) index of the generated program
    action: np.ndarray  # (rows,) index k of the action within it
    length: np.ndarray  # (rows,) length n of the program
    initial: np.ndarray  # (rows,) facing in the input world
    labels: dict[str, np.ndarray]  # semantics -> (rows, len(OFFSETS)) facing after action k+o, or DROPPED
    before: dict[str, np.ndarray]  # semantics -> (rows,) facing before action k


def build_trace(programs: Sequence[Sequence[str]], worlds: Sequence[World], semantics: Sequence[str]) -> Trace:
    if len(programs) != len(worlds):
        raise ValueError(f"{len(programs)} programs but {len(worlds)} input worlds")
    program, action, length, initial = [], [], [], []
    labels = {s: [] for s in semantics}
    before = {s: [] for s in semantics}
    for i, (prog, world) in enumerate(zip(programs, worlds)):
        n = len(prog)
        program += [i] * n
        action += range(n)
        length += [n] * n
        initial += [world.facing] * n
        for s in semantics:
            facing = [w.facing for w in trace(world, prog, s)]
            before[s] += [world.facing, *facing[:-1]]
            labels[s] += [[facing[k + o] if k + o < n - 1 else DROPPED for o in OFFSETS] for k in range(n)]
    as_int = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return Trace(
        as_int(program), as_int(action), as_int(length), as_int(initial),
        {s: as_int(v).reshape(-1, len(OFFSETS)) for s, v in labels.items()}, {s: as_int(v) for s, v in before.items()},
    )


def stack_inputs(per_input: Sequence[Trace]) -> Trace:
    """One trace of the same programs executed on several inputs: the rows of each input in turn."""
    def cat(get) -> np.ndarray:
        return np.concatenate([get(tr) for tr in per_input])

    names = list(per_input[0].labels)
    return Trace(cat(lambda tr: tr.program), cat(lambda tr: tr.action), cat(lambda tr: tr.length),
                 cat(lambda tr: tr.initial), {s: cat(lambda tr: tr.labels[s]) for s in names},
                 {s: cat(lambda tr: tr.before[s]) for s in names})


def in_frame(tr: Trace, frame: str) -> Trace:
    """The trace with its facings (labels, before, initial) in ``frame``: unchanged for ``absolute``,
    turned into the rotation since the input for ``relative`` (so ``initial`` becomes 0 everywhere)."""
    if frame not in FRAMES:
        raise ValueError(f"unknown frame {frame!r}: valid are {', '.join(FRAMES)}")
    if frame == "absolute":
        return tr

    def rotation(facing: np.ndarray) -> np.ndarray:
        start = tr.initial.reshape(-1, *[1] * (facing.ndim - 1))
        return np.where(facing == DROPPED, DROPPED, (facing - start) % 4)

    return replace(tr, labels={s: rotation(v) for s, v in tr.labels.items()},
                   before={s: rotation(v) for s, v in tr.before.items()}, initial=np.zeros_like(tr.initial))


def features(gen: Generation, layers: str | Sequence[int]) -> dict[str, np.ndarray]:
    """Probe inputs from the stored residual stream: ``mean`` over all layers (embeddings included,
    like averaging Hugging Face ``hidden_states``) or one array per requested layer."""
    if layers == "mean":
        return {"mean": gen.hidden.mean(axis=1)}
    depth = gen.hidden.shape[1]
    bad = [layer for layer in layers if not 0 <= layer < depth]
    if bad:
        raise ValueError(f"probe layers {bad} out of range 0..{depth - 1} (0 = embeddings)")
    return {f"layer_{layer}": gen.hidden[:, layer] for layer in layers}


def save_traces(path: str | Path, per_split: dict[str, tuple[Trace, dict[str, np.ndarray]]]) -> None:
    arrays = {}
    for split, (tr, feats) in per_split.items():
        for name in ("program", "action", "length", "initial"):
            arrays[f"{split}.{name}"] = getattr(tr, name)
        for s in tr.labels:
            arrays[f"{split}.labels.{s}"] = tr.labels[s]
            arrays[f"{split}.before.{s}"] = tr.before[s]
        for name, x in feats.items():
            arrays[f"{split}.features.{name}"] = x.astype(np.float32)
    with atomic_path(path) as tmp:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)


def load_traces(path: str | Path) -> dict[str, tuple[Trace, dict[str, np.ndarray]]]:
    with np.load(path) as z:
        keys = list(z.keys())
        out = {}
        for split in sorted({k.split(".")[0] for k in keys}):
            get = lambda part: {k.split(".")[2]: z[k] for k in keys if k.startswith(f"{split}.{part}.")}  # noqa: E731
            tr = Trace(z[f"{split}.program"], z[f"{split}.action"], z[f"{split}.length"], z[f"{split}.initial"],
                       get("labels"), get("before"))
            out[split] = (tr, get("features"))
    return out
