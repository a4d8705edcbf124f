"""The preamble every stage script shares: its one argument, and params.yaml validated."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .config import ComparedModel, ConfigError, Params, load_params


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


def dataset_model_and_params(usage: str, argv: Sequence[str] | None = None
                             ) -> tuple[str, Params, ComparedModel | None]:
    """``<dataset> [--model <name>]``: a per-dataset stage run for ``model`` or for one model of the model
    axis (``models.<name>``, returned third), whose params then have it as ``model`` (:meth:`Params.for_model`)."""
    argv = list(sys.argv if argv is None else argv)
    key = None
    if len(argv) == 4 and argv[2] == "--model":
        key, argv = argv[3], argv[:2]
    dataset, params = dataset_and_params(usage, argv)
    if key is None:
        return dataset, params, None
    return dataset, params.for_model(key), params.models[key]
