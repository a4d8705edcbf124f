"""The paper's prompt variants: what text surrounds each entity string before it reaches the model.

A prompt is ``<bos>`` + prefix + entity text (+ the headline's final period); the activation is read at
the last token of that text, the last entity token. The entity table's ``text`` column is already
normalised by the build stage ("Y's X" for "X (Y)", NYC title case, ...); here only the prefix, the
final period and the case change. Variant names follow Gurnee & Tegmark's code:

* ``main``: the dataset's question prefix (``DatasetConfig.prompt`` for a dataset of your own);
* ``empty``: the entity alone (a headline keeps its final period, as in the paper);
* ``random``: ``activations.random_prefix_tokens`` random token ids before the entity, drawn afresh
  for every entity (seeded), with no question, as in the authors' ``make_prompt_dataset``;
* ``all_caps``: the entity upper-cased, no question (their ``empty_all_caps``);
* ``no_period``: the headline prompt without its final period (headlines only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ..config import DatasetConfig
from ..registry import DATASETS

log = logging.getLogger(__name__)

MAIN_PREFIXES = {name: d.main_prompt for name, d in DATASETS.items()}
# A headline is a sentence: the paper's main prompt ends it with a period, and ``no_period`` drops it.
PERIOD_DATASETS = tuple(name for name, d in DATASETS.items() if d.sentence)


class PromptError(ValueError):
    """A prompt variant cannot be built for this dataset (e.g. no main prompt for a dataset of your own)."""


@dataclass(frozen=True)
class PromptSpec:
    """One prompt variant for one dataset."""

    name: str
    prefix: str = ""
    period: bool | None = None  # True: end the entity with one period; False: with none; None: as is
    upper: bool = False
    random_tokens: int = 0  # random token ids inserted between <bos> and the prefix, per entity

    @property
    def template(self) -> str:
        """Human-readable form for the activation metadata, e.g. ``<bos>When did {text}``."""
        random = f"<{self.random_tokens} random tokens>" if self.random_tokens else ""
        text = "{TEXT}" if self.upper else "{text}"
        period = {True: " + final '.'", False: " - final '.'", None: ""}[self.period]
        return f"<bos>{random}{self.prefix}{text}{period}"

    def entity(self, text: str) -> str:
        """The entity part of the prompt: the text in the variant's case and with its final period set.

        The period counts as part of the entity (the paper reads the headline at its period token).
        """
        if self.period is not None:
            text = text.rstrip(".") + ("." if self.period else "")
        return text.upper() if self.upper else text


def prompt_spec(
    dataset: str, variant: str, ds_config: DatasetConfig | None = None, random_prefix_tokens: int = 10
) -> PromptSpec | None:
    """The spec of ``variant`` for ``dataset``, or ``None`` (logged) when the variant does not apply."""
    period = True if dataset in PERIOD_DATASETS else None
    if variant == "main":
        if ds_config is not None and ds_config.prompt is not None:
            prefix = ds_config.prompt
        elif dataset in MAIN_PREFIXES:
            prefix = MAIN_PREFIXES[dataset]
        else:
            raise PromptError(
                f"dataset {dataset!r} has no main prompt: set data.datasets.{dataset}.prompt "
                '(e.g. "Where is ") or leave "main" out of activations.prompts'
            )
        return PromptSpec("main", prefix=prefix, period=period)
    # every variant but no_period ends a headline with its period, so that main - empty is the prefix alone
    if variant == "empty":
        return PromptSpec("empty", period=period)
    if variant == "random":
        return PromptSpec("random", period=period, random_tokens=random_prefix_tokens)
    if variant == "all_caps":
        return PromptSpec("all_caps", period=period, upper=True)
    if variant == "no_period":
        if not period:
            log.info("prompt no_period applies to headlines only; skipped for %s", dataset)
            return None
        main = prompt_spec(dataset, "main", ds_config, random_prefix_tokens)
        return PromptSpec("no_period", prefix=main.prefix, period=False)
    raise PromptError(f"unknown prompt variant {variant!r}: valid are main, empty, random, all_caps, no_period")
