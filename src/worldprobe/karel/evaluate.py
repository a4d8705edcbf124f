"""Per-checkpoint evaluation: synthesis accuracy on test, and traces of the generated programs.

For every checkpoint the model writes programs for the corpus's test tasks, scored against the spec
and the held-out examples (synthesis accuracy), and for the probe set: fresh seeded tasks from the
training distribution (``karel.probing``: streams ``karel/<seed>/probe_<split>``), never seen in
training and large enough for the probes (the corpus's own val/test splits are not). Two probe sets
come from these tasks (``traces.PROBE_SETS``): the programs the checkpoint generates, and the
tasks' reference programs read by teacher forcing (the same rows at every checkpoint). Each is
executed on spec input ``probe_input`` (or on every input) under the original and every alternative
semantics, and on the first held-out input (the negative control), and saved with every layer of the
hidden states that produced each action, and the state at the token right after input 0's grid (the
positive control), as ``step_<N>.npz``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..config import KarelConfig, KarelProbing, KarelProfile
from ..io import atomic_path
from .outputs import Chance, Evaluation, LengthAccuracy, StepAccuracy
from .sampler import CorpusSplit, build_split, read_corpus
from .synthesis import best_constant_program, generate, random_program_accuracy, read_programs, score_programs
from .traces import PROBE_SETS, SplitTraces, build_trace, save_traces, stack_inputs
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


def probe_tasks(profile: KarelProfile, probing: KarelProbing, seed: int) -> dict[str, CorpusSplit]:
    """The probe set: its own seeded streams, so it shares no task with the corpus and is the same
    whatever the corpus sizes."""
    sizes = {"train": probing.train_specs, "val": probing.val_specs, "test": probing.test_specs}
    return {name: build_split(profile, seed, f"probe_{name}", n) for name, n in sizes.items()}


def control_position(grid_size: int) -> int:
    """The token right after input 0's grid in ``<bos> <in> cells <out> ...`` (tokens.encode_prompt):
    its state has read the whole input grid, so input 0's facing must be decodable there."""
    return 2 + grid_size * grid_size


def evaluate_checkpoints(karel: KarelConfig, seed: int, corpus_dir: str | Path, checkpoints: str | Path,
                         traces_dir: str | Path, progress: bool = True) -> Evaluation:
    """Write one trace file per checkpoint into ``traces_dir`` (atomically, as a whole) and return the
    synthesis results: overall and by reference length, per step, with the chance lines."""
    prof, probing = karel.active, karel.active_probing
    semantics = ["original", *karel.alt_semantics]
    probe = probe_tasks(prof, probing, seed)
    prompts = {name: s.prompts() for name, s in probe.items()}
    inputs = prof.probe_inputs
    worlds, spec_facing, heldout = {}, {}, {}  # per probe split: input worlds per probed input; facing of
    # every spec input; the first held-out input world
    for name, s in probe.items():
        decoded = [s.worlds(i) for i in range(len(s))]  # each task's grids decoded once
        worlds[name] = [[task[j] for task in decoded] for j in inputs]
        spec_facing[name] = np.array([[w.facing for w in task[: prof.spec_examples]] for task in decoded],
                                     dtype=np.int64)
        heldout[name] = [task[prof.spec_examples] for task in decoded]
    references = {name: [s.program(i) for i in range(len(s))] for name, s in probe.items()}
    read_at = [control_position(prof.grid_size)]
    train = read_corpus(corpus_dir, "train", prof).head(CONSTANT_SELECTION_TASKS)
    test = read_corpus(corpus_dir, "test", prof)
    chance = chance_lines(train, test, karel, seed)
    test_prompts = test.prompts()
    ref_len = test.lengths
    steps, by_length = [], []
    with atomic_path(traces_dir, directory=True) as tmp:
        for step in tqdm(list_checkpoints(checkpoints), desc="karel eval", disable=not progress):
            model = load_checkpoint(checkpoints, step, karel.device)
            per_set: dict[str, dict[str, SplitTraces]] = {probe_set: {} for probe_set in PROBE_SETS}
            for name in probe:
                read = {"generated": generate(model, prompts[name], max_actions(prof), read_at=read_at),
                        "teacher_forced": read_programs(model, prompts[name], references[name], read_at=read_at)}
                for probe_set, gen in read.items():
                    tr = stack_inputs([build_trace(gen.programs, w, semantics, probing.offsets, spec_facing[name],
                                                   heldout[name], j) for j, w in zip(inputs, worlds[name])])
                    per_set[probe_set][name] = SplitTraces(tr, np.concatenate([gen.hidden] * len(inputs)),
                                                           gen.prompt_hidden[:, 0], spec_facing[name][:, 0])
            save_traces(tmp / f"step_{step:06d}.npz", per_set)
            gen = generate(model, test_prompts, max_actions(prof))
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
        n_tasks = {"synthesis_test": len(test), **{f"probe_{name}": len(s) for name, s in probe.items()}}
        result = Evaluation(chance=chance, steps=steps, by_length=by_length, semantics=semantics, n_tasks=n_tasks)
        result.save(tmp / "synthesis.json")
    return result
