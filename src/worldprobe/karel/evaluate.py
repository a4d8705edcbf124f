"""Per-checkpoint evaluation: synthesis accuracy on test, and traces of the generated programs.

For every checkpoint the model writes programs for the probe-train tasks (the first ``probe_train``
train tasks), all val tasks and all test tasks. Test programs are scored against the spec and the
held-out examples; the programs of all three splits are executed on spec input ``probe_input`` (or on
every input) under the original and every alternative semantics, and saved with the hidden states
that produced each action (``step_<N>.npz``) for the probes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import KarelConfig
from ..io import atomic_path
from .outputs import Chance, Evaluation, LengthAccuracy, StepAccuracy
from .sampler import CorpusSplit, read_corpus
from .synthesis import best_constant_program, generate, random_program_accuracy, score_programs
from .traces import build_trace, features, save_traces, stack_inputs
from .train import list_checkpoints, load_checkpoint, max_actions

CONSTANT_SELECTION_TASKS = 300  # train tasks on which the best constant program is chosen


def chance_lines(train: CorpusSplit, test: CorpusSplit, karel: KarelConfig, seed: int) -> Chance:
    prof = karel.active
    rand = random_program_accuracy(test, prof.train_lengths, seed)
    constant = best_constant_program(train.head(CONSTANT_SELECTION_TASKS))
    const = score_programs(test, [constant] * len(test))
    return Chance(random_spec=float(rand.spec.mean()), random_all=float(rand.all_inputs.mean()),
                  constant_program=constant, constant_spec=float(const.spec.mean()),
                  constant_all=float(const.all_inputs.mean()))


def _mean(x: np.ndarray) -> float | None:
    return float(x.mean()) if len(x) else None


def evaluate_checkpoints(karel: KarelConfig, seed: int, corpus_dir: str | Path, checkpoints: str | Path,
                         traces_dir: str | Path, progress: bool = True) -> Evaluation:
    """Write one trace file per checkpoint into ``traces_dir`` (atomically, as a whole) and return the
    synthesis results: overall and by reference length, per step, with the chance lines."""
    prof = karel.active
    semantics = ["original", *karel.alt_semantics]
    splits = {
        "train": read_corpus(corpus_dir, "train", prof).head(prof.probe_train),
        "val": read_corpus(corpus_dir, "val", prof),
        "test": read_corpus(corpus_dir, "test", prof),
    }
    prompts = {name: s.prompts() for name, s in splits.items()}
    inputs = prof.probe_inputs
    worlds = {}  # split -> one list of input worlds per probed input; each task's grids decoded once
    for name, s in splits.items():
        decoded = [s.worlds(i) for i in range(len(s))]
        worlds[name] = [[task[j] for task in decoded] for j in inputs]
    chance = chance_lines(splits["train"], splits["test"], karel, seed)
    test = splits["test"]
    ref_len = test.lengths
    steps, by_length = [], []
    with atomic_path(traces_dir, directory=True) as tmp:
        for step in tqdm(list_checkpoints(checkpoints), desc="karel eval", disable=not progress):
            model = load_checkpoint(checkpoints, step, karel.device)
            gens = {name: generate(model, prompts[name], max_actions(prof)) for name in splits}
            save_traces(tmp / f"step_{step:06d}.npz", {
                name: (stack_inputs([build_trace(gen.programs, w, semantics) for w in worlds[name]]),
                       {k: np.concatenate([v] * len(inputs)) for k, v in features(gen, prof.probe_layers).items()})
                for name, gen in gens.items()
            })
            gen = gens["test"]
            got = score_programs(test, gen.programs)
            gen_len = np.array([len(p) for p in gen.programs])
            steps.append(StepAccuracy(
                step=step, accuracy_spec=float(got.spec.mean()), accuracy_all=float(got.all_inputs.mean()),
                mean_generated_length=float(gen_len.mean()), mean_reference_length=float(ref_len.mean()),
                hit_length_limit=float(gen.hit_limit.mean()),
            ))
            for n in range(prof.test_lengths[0], prof.test_lengths[1] + 1):
                keep = ref_len == n
                by_length.append(LengthAccuracy(
                    step=step, reference_length=n, n=int(keep.sum()), accuracy_spec=_mean(got.spec[keep]),
                    accuracy_all=_mean(got.all_inputs[keep]), mean_generated_length=_mean(gen_len[keep]),
                ))
        result = Evaluation(chance=chance, steps=steps, by_length=by_length, semantics=semantics,
                            n_tasks={name: len(s) for name, s in splits.items()})
        result.save(tmp / "synthesis.json")
    return result
