"""What the Karel stages hand each other: their JSON files as frozen pydantic models
(:class:`worldprobe.io.Output`: ``save``/``load``, strict at load).

* ``data/karel/checkpoints/train.json`` - :class:`~worldprobe.karel.train.TrainSummary` (karel_train;
  defined beside the training so that a change here does not retrain)
* ``data/karel/traces/synthesis.json`` - :class:`Evaluation` (karel_eval: every checkpoint)
* ``metrics/karel/synthesis.json`` - :class:`KarelSynthesis` (karel_eval: the final checkpoint)
* ``metrics/karel/probe_sets.json`` - :class:`~worldprobe.karel.content.ProbeSets` (karel_probes)
* ``metrics/karel/semantics.json`` - :class:`~worldprobe.karel.analysis.SemanticsSummary` and
  ``metrics/karel/regression.json`` - :class:`~worldprobe.karel.analysis.RegressionSummary`
  (karel_report); defined beside the probes and the analysis, so that neither stage depends on training
"""

from __future__ import annotations

from ..io import Output
from .train import TrainSummary


class Chance(Output):
    random_spec: float  # a program drawn from the training prior
    random_all: float
    constant_program: list[str]  # the best single program, chosen on train tasks
    constant_spec: float
    constant_all: float


class StepAccuracy(Output):
    """Synthesis on the test tasks at one checkpoint (``plots/karel/accuracy.csv`` rows)."""

    step: int
    accuracy_spec: float  # maps every spec input to its output
    accuracy_all: float  # and the held-out inputs too
    mean_generated_length: float
    mean_reference_length: float
    hit_length_limit: float


class LengthAccuracy(Output):
    """The same by reference program length (``plots/karel/lengths.csv`` rows); None: no such task."""

    step: int
    reference_length: int
    n: int
    accuracy_spec: float | None
    accuracy_all: float | None
    mean_generated_length: float | None


class Evaluation(Output):
    chance: Chance
    steps: list[StepAccuracy]
    by_length: list[LengthAccuracy]
    semantics: list[str]  # original, then the alternatives the traces are labelled under
    # per split: synthesis_test (the corpus's test split, scored), probe_train/val/test (the probe set);
    # a plain mapping, so that results of the previous instrument (train/val/test) still load
    n_tasks: dict[str, int]


class KarelSynthesis(Output):
    """``metrics/karel/synthesis.json``."""

    profile: str
    final_step: int
    final: StepAccuracy
    best_accuracy_spec: float
    chance: Chance
    train: TrainSummary
    n_tasks: dict[str, int]  # as Evaluation.n_tasks
