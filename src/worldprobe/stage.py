"""The preamble every stage script shares: its one argument, and params.yaml validated."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .config import ConfigError, Params, load_params


def stage_argument(usage: str, argv: Sequence[str] | None = None) -> str:
    """The one argument of a per-dataset stage; exits with ``usage`` (the script's docstring) otherwise."""
    argv = sys.argv if argv is None else argv
    if len(argv) != 2:
        sys.exit(usage)
    return argv[1]


def dataset_and_params(usage: str, argv: Sequence[str] | None = None) -> tuple[str, Params]:
    """The dataset a per-dataset stage runs on and the validated params; a dataset that params.yaml
    does not configure is a :class:`ConfigError` naming the configured ones."""
    dataset = stage_argument(usage, argv)
    params = load_params()
    if dataset not in params.data.datasets:
        raise ConfigError(f"dataset {dataset!r} is not in params.yaml: {', '.join(params.data.datasets)}")
    return dataset, params
