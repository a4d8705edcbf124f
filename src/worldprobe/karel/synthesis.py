"""Program synthesis by greedy decoding constrained to the program grammar, and its scoring.

The grammar of a straight-line program is ``action+ <eos>``: at every step only the five action
tokens (and ``<eos>`` once there is at least one action) are allowed, and ``<eos>`` is forced after
``max_actions`` actions, so any model, even an untrained one, writes a parsable program. Decoding
reuses the key/value cache: the specification is encoded once per batch. Every prompt of a corpus
has the same length (fixed grid size and spec count), so batches need no padding.

While decoding, the residual stream at the position that *produces* each action (the ``<prog>``
token for the first action, action ``k-1`` for action ``k``) is kept for the semantic probes, and
optionally the stream at chosen prompt positions (``read_at``, e.g. the positive control's).
:func:`read_programs` takes the same states for given programs by teacher forcing (no decoding), so
that every checkpoint is probed on one fixed set of programs.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .model import GPT
from .sampler import CorpusSplit, sample_program
from .semantics import ACTIONS, run
from .tokens import ACTION_IDS, EOS_ID
from .world import World


@dataclass(frozen=True)
class Generation:
    programs: list[list[str]]
    hidden: np.ndarray  # (total actions, n_layers + 1, d): state that produced each action, programs in order
    starts: np.ndarray  # (n_programs + 1,) row offsets of each program's actions in ``hidden``
    hit_limit: np.ndarray  # (n_programs,) True where <eos> was forced by max_actions
    prompt_hidden: np.ndarray  # (n_programs, len(read_at), n_layers + 1, d): states at chosen prompt positions


def _allowed(k: int, max_actions: int, vocab: int, device) -> torch.Tensor:
    mask = torch.zeros(vocab, dtype=torch.bool, device=device)
    if k < max_actions:
        mask[list(ACTION_IDS)] = True
    if k >= 1:
        mask[EOS_ID] = True
    return mask


@torch.inference_mode()
def generate(model: GPT, prompts: np.ndarray, max_actions: int, batch_size: int = 256,
             read_at: Sequence[int] = ()) -> Generation:
    if max_actions < 1:
        raise ValueError("max_actions must be at least 1")
    model.eval()
    device = next(model.parameters()).device
    vocab = model.cfg.vocab_size
    programs: list[list[str]] = []
    hidden: list[np.ndarray] = []
    hit_limit = []
    at_prompt: list[np.ndarray] = []
    for lo in range(0, len(prompts), batch_size):
        ids = torch.as_tensor(prompts[lo : lo + batch_size], device=device)
        b = len(ids)
        logits, cache, states = model(ids, hidden=True)
        at_prompt.append(states[:, list(read_at)].float().cpu().numpy())
        logits, states = logits[:, -1], states[:, -1]
        done = torch.zeros(b, dtype=torch.bool, device=device)
        actions = [[] for _ in range(b)]
        per_row: list[list[np.ndarray]] = [[] for _ in range(b)]
        for k in range(max_actions + 1):
            masked = logits.masked_fill(~_allowed(k, max_actions, vocab, device), float("-inf"))
            tok = masked.argmax(dim=-1)
            emitted = (~done & (tok != EOS_ID)).nonzero().flatten().tolist()
            states_np = states.float().cpu().numpy()
            for r in emitted:
                actions[r].append(ACTIONS[ACTION_IDS.index(int(tok[r]))])
                per_row[r].append(states_np[r])
            done |= tok == EOS_ID
            if bool(done.all()):
                break
            logits, cache, states = model(tok[:, None], cache, hidden=True)
            logits, states = logits[:, -1], states[:, -1]
        programs += actions
        hit_limit += [len(a) == max_actions for a in actions]
        hidden += [np.stack(rows) for rows in per_row]
    starts = np.concatenate([[0], np.cumsum([len(p) for p in programs])]).astype(np.int64)
    return Generation(programs, np.concatenate(hidden), starts, np.array(hit_limit), np.concatenate(at_prompt))


@torch.inference_mode()
def read_programs(model: GPT, prompts: np.ndarray, programs: Sequence[Sequence[str]], batch_size: int = 256,
                  read_at: Sequence[int] = ()) -> Generation:
    """Teacher forcing: the states :func:`generate` would keep had the model written ``programs`` (the
    ``<prog>`` token's for action 0, action ``k-1``'s for action ``k``), from one forward pass per batch."""
    if len(prompts) != len(programs) or any(len(p) < 1 for p in programs):
        raise ValueError(f"{len(prompts)} prompts for {len(programs)} programs, each needs at least one action")
    model.eval()
    device = next(model.parameters()).device
    start = prompts.shape[1] - 1  # the <prog> token
    hidden, at_prompt = [], []
    for lo in range(0, len(prompts), batch_size):
        batch = programs[lo : lo + batch_size]
        width = max(len(p) for p in batch) - 1  # the last action is produced, never read
        written = np.full((len(batch), width), EOS_ID, dtype=np.int64)  # after a program's end: never read
        for r, program in enumerate(batch):
            written[r, : len(program) - 1] = [ACTION_IDS[ACTIONS.index(a)] for a in program[:-1]]
        ids = torch.as_tensor(np.concatenate([prompts[lo : lo + batch_size], written], axis=1), device=device)
        _, _, states = model(ids, hidden=True)
        states = states.float().cpu().numpy()
        at_prompt.append(states[:, list(read_at)])
        hidden += [states[r, start : start + len(p)] for r, p in enumerate(batch)]
    starts = np.concatenate([[0], np.cumsum([len(p) for p in programs])]).astype(np.int64)
    return Generation([list(p) for p in programs], np.concatenate(hidden), starts, np.zeros(len(programs), bool),
                      np.concatenate(at_prompt))


def solves(program: Sequence[str], inputs: Sequence[World], outputs: Sequence[World]) -> bool:
    return all(run(w, program) == out for w, out in zip(inputs, outputs))


@dataclass(frozen=True)
class ProgramScores:
    spec: np.ndarray  # (n,) bool: maps every spec input to its output
    all_inputs: np.ndarray  # (n,) bool: maps the held-out inputs too (all examples, as the paper reports)


def score_programs(split: CorpusSplit, programs: Sequence[Sequence[str]]) -> ProgramScores:
    if len(programs) != len(split):
        raise ValueError(f"{len(programs)} programs for {len(split)} tasks")
    s = split.spec_examples
    spec, every = np.zeros(len(split), bool), np.zeros(len(split), bool)
    for i, program in enumerate(programs):
        inputs, outputs = split.worlds(i, "in"), split.worlds(i, "out")
        spec[i] = solves(program, inputs[:s], outputs[:s])
        every[i] = spec[i] and solves(program, inputs[s:], outputs[s:])
    return ProgramScores(spec, every)


def random_program_accuracy(split: CorpusSplit, lengths: tuple[int, int], seed: int, draws: int = 20) -> ProgramScores:
    """Chance line: how often a program drawn from the training prior solves a task (mean over draws)."""
    rng = random.Random(f"karel/{seed}/random-programs")
    spec = np.zeros(len(split))
    every = np.zeros(len(split))
    for _ in range(draws):
        got = score_programs(split, [sample_program(rng, lengths) for _ in range(len(split))])
        spec += got.spec
        every += got.all_inputs
    return ProgramScores(spec / draws, every / draws)


def best_constant_program(select_on: CorpusSplit, max_length: int = 3) -> list[str]:
    """The single program (of at most ``max_length`` actions) that solves the most ``select_on`` specs."""
    s = select_on.spec_examples
    tasks = [(select_on.worlds(i, "in")[:s], select_on.worlds(i, "out")[:s]) for i in range(len(select_on))]
    best, best_hits = None, -1
    for n in range(1, max_length + 1):
        for program in itertools.product(ACTIONS, repeat=n):
            hits = sum(solves(program, i, o) for i, o in tasks)
            if hits > best_hits:
                best, best_hits = list(program), hits
    return best
