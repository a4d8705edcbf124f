"""Seeded tasks and the train/val/test corpus.

A task is one straight-line program (actions i.i.d. with the paper's 5:3:3:2:2 weights, length
uniform in a range) and ``spec + heldout`` independently drawn input worlds with their outputs. The
first ``spec`` pairs form the text the LM sees; the held-out pairs only score synthesis. Each split
draws from its own seeded stream (``karel/<seed>/<split>``), so splits never share a random stream
and a split is identical whatever the size of the others.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import KarelProfile
from ..io import atomic_path
from .semantics import ACTION_WEIGHTS, ACTIONS, run
from .tokens import BOS_ID, EOS_ID, IN_ID, OUT_ID, PAD_ID, PROG_ID, TOKEN_ID, VOCAB, decode_world, encode_world
from .world import World, random_world

SPLITS = ("train", "val", "test")
ACTION_TOKEN = np.array([TOKEN_ID[a] for a in ACTIONS], dtype=np.int64)


def sample_program(rng: random.Random, lengths: tuple[int, int]) -> list[str]:
    lo, hi = lengths
    return rng.choices(ACTIONS, weights=ACTION_WEIGHTS, k=rng.randint(lo, hi))


@dataclass(frozen=True)
class Task:
    program: list[str]
    inputs: list[World]  # spec examples first, then held-out ones
    outputs: list[World]


def sample_task(rng: random.Random, profile: KarelProfile, lengths: tuple[int, int]) -> Task:
    program = sample_program(rng, lengths)
    n = profile.spec_examples + profile.heldout_examples
    inputs = [random_world(rng, profile.grid_size, profile.wall_prob, profile.marker_prob) for _ in range(n)]
    return Task(program, inputs, [run(w, program) for w in inputs])


@dataclass(frozen=True)
class CorpusSplit:
    """One split as arrays: cell-token grids of every example, and programs as action indices."""

    size: int  # interior side
    spec_examples: int
    grids_in: np.ndarray  # (n, examples, size*size) uint8 token ids
    grids_out: np.ndarray  # (n, examples, size*size)
    programs: np.ndarray  # (n, max_length) int8 action indices, -1 padded
    lengths: np.ndarray  # (n,) program lengths

    def __len__(self) -> int:
        return len(self.lengths)

    def head(self, n: int) -> CorpusSplit:
        """The first ``n`` tasks (all of them if there are fewer)."""
        return CorpusSplit(self.size, self.spec_examples, self.grids_in[:n], self.grids_out[:n], self.programs[:n], self.lengths[:n])

    def program(self, i: int) -> list[str]:
        return [ACTIONS[a] for a in self.programs[i, : self.lengths[i]]]

    def worlds(self, i: int, which: str = "in") -> list[World]:
        grids = self.grids_in if which == "in" else self.grids_out
        return [decode_world(g.tolist(), self.size) for g in grids[i]]

    def prompts(self) -> np.ndarray:
        """``(n, prompt_length)`` token ids of the spec up to and including ``<prog>``."""
        n, s = len(self), self.spec_examples
        c = self.size * self.size
        body = np.empty((n, s, 2 + 2 * c), dtype=np.int64)
        body[:, :, 0] = IN_ID
        body[:, :, 1 : 1 + c] = self.grids_in[:, :s]
        body[:, :, 1 + c] = OUT_ID
        body[:, :, 2 + c :] = self.grids_out[:, :s]
        return np.concatenate(
            [np.full((n, 1), BOS_ID), body.reshape(n, -1), np.full((n, 1), PROG_ID)], axis=1
        )

    def texts(self) -> np.ndarray:
        """``(n, T)`` full training texts, right-padded with ``<pad>`` after ``<eos>``."""
        n, width = len(self), self.programs.shape[1]
        prog = np.full((n, width + 1), PAD_ID, dtype=np.int64)
        cols = np.arange(width + 1)
        has_action = cols[None, :width] < self.lengths[:, None]
        prog[:, :width][has_action] = ACTION_TOKEN[self.programs[has_action]]
        prog[np.arange(n), self.lengths] = EOS_ID
        return np.concatenate([self.prompts(), prog], axis=1)


def build_split(profile: KarelProfile, seed: int, split: str, n: int) -> CorpusSplit:
    rng = random.Random(f"karel/{seed}/{split}")
    lengths = profile.test_lengths if split == "test" else profile.train_lengths
    width = max(profile.train_lengths[1], profile.test_lengths[1])
    examples = profile.spec_examples + profile.heldout_examples
    cells = profile.grid_size**2
    grids_in = np.empty((n, examples, cells), dtype=np.uint8)
    grids_out = np.empty_like(grids_in)
    programs = np.full((n, width), -1, dtype=np.int8)
    lens = np.empty(n, dtype=np.int16)
    for i in range(n):
        task = sample_task(rng, profile, lengths)
        grids_in[i] = [encode_world(w) for w in task.inputs]
        grids_out[i] = [encode_world(w) for w in task.outputs]
        programs[i, : len(task.program)] = [ACTIONS.index(a) for a in task.program]
        lens[i] = len(task.program)
    return CorpusSplit(profile.grid_size, profile.spec_examples, grids_in, grids_out, programs, lens)


def write_corpus(directory: str | Path, profile: KarelProfile, seed: int) -> dict:
    """Build the three splits and write them (``<split>.npz`` + ``meta.json``) atomically."""
    sizes = {"train": profile.n_train, "val": profile.n_val, "test": profile.n_test}
    meta = {"seed": seed, "sizes": sizes, "vocab": list(VOCAB), "profile": profile.corpus_fields}
    with atomic_path(directory, directory=True) as tmp:
        for split in SPLITS:
            s = build_split(profile, seed, split, sizes[split])
            np.savez(tmp / f"{split}.npz", grids_in=s.grids_in, grids_out=s.grids_out, programs=s.programs, lengths=s.lengths)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


class CorpusError(ValueError):
    """The corpus on disk is missing or was built for another grid size / vocabulary."""


def read_corpus(directory: str | Path, split: str, profile: KarelProfile) -> CorpusSplit:
    directory = Path(directory)
    meta_path = directory / "meta.json"
    if not meta_path.is_file():
        raise CorpusError(f"{directory}: no corpus (run the karel_corpus stage first)")
    meta = json.loads(meta_path.read_text())
    if meta["vocab"] != list(VOCAB):
        raise CorpusError(f"{directory}: built with another vocabulary; rebuild the corpus")
    built = meta["profile"]
    for key in ("grid_size", "spec_examples", "heldout_examples"):
        if built[key] != getattr(profile, key):
            raise CorpusError(f"{directory}: built with {key}={built[key]}, profile says {getattr(profile, key)}")
    with np.load(directory / f"{split}.npz") as z:
        return CorpusSplit(profile.grid_size, profile.spec_examples, z["grids_in"], z["grids_out"],
                           z["programs"], z["lengths"].astype(np.int64))
