"""Execution traces of programs, aligned with the hidden states that produced each action.

Every checkpoint is probed on two *probe sets*: ``generated``, the programs the checkpoint itself
writes for the probe specs (the paper's design: rows and labels change with the checkpoint), and
``teacher_forced``, the reference programs of the same specs fed to the model (one fixed set of rows
and labels for every checkpoint, the untrained one included, so a trajectory compares like with like).

Row ``r`` of a trace is action ``k`` of program ``i`` (a program of ``n`` actions). Its
label at offset ``o`` is the robot's facing after action ``k + o`` when the program runs on spec
input ``probe_input`` under a given semantics, i.e. after re-executing the prefix of length
``k + o + 1``. Offset 0 is the action this state is about to write, +1/+2 the ones after it, and
-1 the action the state has just *read* (the token at its position; the authors probe such
states too). Labels are dropped (-1) where there is no such action (``k + o < 0``) and where they
fall on the final state (``k + o >= n - 1``): the final state is written in the spec, so decoding it
says nothing about the model tracking execution. With ``probe_input: all`` the rows repeat for
every spec input (``stack_inputs``), each time with the same hidden state.

Two labels serve as controls. ``written`` is the action token itself (the syntax-only features and
the distance control are built from the rows' actions). ``heldout`` is the facing at the same
offsets on the task's first *held-out* input, a world the model never sees: its initial facing is
uniform and independent of everything in the prompt, so no probe can beat chance on it (a negative
control: a probe that does has leaked labels).

Labels come in two frames. ``absolute`` is the paper's: the facing itself (north, east, south,
west). ``relative`` is the rotation since the input, ``(facing - initial) mod 4``: the part of the
facing that the program decides, the same on every input. Since absolute = (initial + rotation)
mod 4, a sum that no linear read-out computes, every row also carries the initial facing of every
spec input (``spec_facing``, constant along a program), so that the two parts can be probed apart
and composed. Under the original semantics the rotation follows from the turn tokens alone, so its
probes measure tracking of the program text at least as much as of the world.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..io import atomic_path
from .semantics import ACTIONS, trace
from .world import World

DROPPED = -1
FRAMES = ("absolute", "relative")
PROBE_SETS = ("generated", "teacher_forced")


@dataclass(frozen=True)
class Trace:
    program: np.ndarray  # (rows,) index of the generated program
    action: np.ndarray  # (rows,) index k of the action within it
    length: np.ndarray  # (rows,) length n of the program
    written: np.ndarray  # (rows,) index in semantics.ACTIONS of action k
    input: np.ndarray  # (rows,) which spec input the program runs on
    initial: np.ndarray  # (rows,) facing in that input world
    spec_facing: np.ndarray  # (rows, spec inputs) facing in every spec input world
    offsets: tuple[int, ...]  # columns of ``labels``
    labels: dict[str, np.ndarray]  # semantics -> (rows, len(offsets)) facing after action k+o, or DROPPED
    before: dict[str, np.ndarray]  # semantics -> (rows,) facing before action k
    heldout: np.ndarray  # (rows, len(offsets)) facing after action k+o on the first held-out input, or
    # DROPPED; absolute in every frame (its rotation is the spec inputs' own, no control)

    def column(self, offset: int) -> int:
        return self.offsets.index(offset)


def _at_offsets(facing: Sequence[int], offsets: Sequence[int]) -> list[list[int]]:
    """Row ``k``: the facing after action ``k + o`` per offset, DROPPED off the program or on its final state."""
    n = len(facing)
    return [[facing[k + o] if 0 <= k + o < n - 1 else DROPPED for o in offsets] for k in range(n)]


def build_trace(programs: Sequence[Sequence[str]], worlds: Sequence[World], semantics: Sequence[str],
                offsets: Sequence[int], spec_facing: np.ndarray, heldout_worlds: Sequence[World],
                input_index: int = 0) -> Trace:
    """``worlds``: spec input ``input_index`` of each program; ``spec_facing``: ``(programs, spec inputs)``;
    ``heldout_worlds``: each task's first held-out input (the negative control's)."""
    if not len(programs) == len(worlds) == len(spec_facing) == len(heldout_worlds):
        raise ValueError(f"{len(programs)} programs, {len(worlds)} input worlds, {len(spec_facing)} spec rows, "
                         f"{len(heldout_worlds)} held-out worlds")
    program, action, length, written, initial, heldout = [], [], [], [], [], []
    labels = {s: [] for s in semantics}
    before = {s: [] for s in semantics}
    for i, (prog, world, unseen) in enumerate(zip(programs, worlds, heldout_worlds)):
        n = len(prog)
        program += [i] * n
        action += range(n)
        length += [n] * n
        written += [ACTIONS.index(a) for a in prog]
        initial += [world.facing] * n
        heldout += _at_offsets([w.facing for w in trace(unseen, prog, "original")], offsets)
        for s in semantics:
            facing = [w.facing for w in trace(world, prog, s)]
            before[s] += [world.facing, *facing[:-1]]
            labels[s] += _at_offsets(facing, offsets)
    as_int = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    program = as_int(program)
    return Trace(
        program, as_int(action), as_int(length), as_int(written), np.full(len(program), input_index),
        as_int(initial), np.asarray(spec_facing, dtype=np.int64)[program],
        tuple(offsets), {s: as_int(v).reshape(-1, len(offsets)) for s, v in labels.items()},
        {s: as_int(v) for s, v in before.items()}, as_int(heldout).reshape(-1, len(offsets)),
    )


def stack_inputs(per_input: Sequence[Trace]) -> Trace:
    """One trace of the same programs executed on several inputs: the rows of each input in turn."""
    def cat(get) -> np.ndarray:
        return np.concatenate([get(tr) for tr in per_input])

    names = list(per_input[0].labels)
    return Trace(cat(lambda tr: tr.program), cat(lambda tr: tr.action), cat(lambda tr: tr.length),
                 cat(lambda tr: tr.written), cat(lambda tr: tr.input), cat(lambda tr: tr.initial),
                 cat(lambda tr: tr.spec_facing), per_input[0].offsets,
                 {s: cat(lambda tr: tr.labels[s]) for s in names}, {s: cat(lambda tr: tr.before[s]) for s in names},
                 cat(lambda tr: tr.heldout))


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


def feature_sets(hidden: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Probe inputs from residual streams ``(rows, n_layers + 1, d)`` (0 = embeddings): ``mean`` over
    layers (the paper, like averaging Hugging Face ``hidden_states``), ``concat`` (all layers side by
    side) and ``layers`` (``layer_<i>``, each alone)."""
    out = {}
    for name in names:
        if name == "mean":
            out["mean"] = hidden.mean(axis=1, dtype=np.float32)
        elif name == "concat":
            out["concat"] = hidden.reshape(len(hidden), -1).astype(np.float32)
        elif name == "layers":
            out |= {f"layer_{i}": hidden[:, i].astype(np.float32) for i in range(hidden.shape[1])}
        else:
            raise ValueError(f"unknown feature set {name!r}: valid are mean, concat, layers")
    return out


@dataclass(frozen=True)
class SplitTraces:
    """One split of the probe set at one checkpoint."""

    trace: Trace
    hidden: np.ndarray  # (rows, n_layers + 1, d) state that produced each action (float16 on disk)
    control_hidden: np.ndarray  # (programs, n_layers + 1, d) state at the token right after input 0's grid
    control_label: np.ndarray  # (programs,) input 0's facing: the positive control's target


_COLUMNS = ("program", "action", "length", "written", "input", "initial", "spec_facing", "heldout")


def save_traces(path: str | Path, per_set: dict[str, dict[str, SplitTraces]]) -> None:
    """``per_set``: probe set -> split -> traces, as one ``.npz`` (keys ``<set>.<split>.<field>``)."""
    arrays = {}
    for probe_set, per_split in per_set.items():
        for split, st in per_split.items():
            key, tr = f"{probe_set}.{split}", st.trace
            for name in _COLUMNS:
                arrays[f"{key}.{name}"] = getattr(tr, name)
            arrays[f"{key}.offsets"] = np.asarray(tr.offsets)
            for s in tr.labels:
                arrays[f"{key}.labels.{s}"] = tr.labels[s]
                arrays[f"{key}.before.{s}"] = tr.before[s]
            # half precision: the probes z-score these, and it halves a store of every layer
            arrays[f"{key}.hidden"] = st.hidden.astype(np.float16)
            arrays[f"{key}.control_hidden"] = st.control_hidden.astype(np.float16)
            arrays[f"{key}.control_label"] = st.control_label
    with atomic_path(path) as tmp:
        with tmp.open("wb") as fh:
            np.savez(fh, **arrays)


def list_traces(directory: str | Path) -> list[int]:
    """Steps of the trace files in ``directory`` (``step_<N>.npz``)."""
    return sorted(int(p.stem.split("_")[1]) for p in Path(directory).glob("step_*.npz"))


def load_traces(path: str | Path) -> dict[str, dict[str, SplitTraces]]:
    """Probe set -> split -> traces, as :func:`save_traces` wrote them."""
    with np.load(path) as z:
        keys = list(z.keys())
        out: dict[str, dict[str, SplitTraces]] = {}
        for probe_set, split in sorted({tuple(k.split(".")[:2]) for k in keys}):
            key = f"{probe_set}.{split}"
            get = lambda part: {k.split(".")[3]: z[k] for k in keys if k.startswith(f"{key}.{part}.")}  # noqa: E731
            columns = {name: z[f"{key}.{name}"] for name in _COLUMNS}
            tr = Trace(**columns, offsets=tuple(int(o) for o in z[f"{key}.offsets"]), labels=get("labels"),
                       before=get("before"))
            out.setdefault(probe_set, {})[split] = SplitTraces(tr, z[f"{key}.hidden"], z[f"{key}.control_hidden"],
                                                               z[f"{key}.control_label"])
    return out
