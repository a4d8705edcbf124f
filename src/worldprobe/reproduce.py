"""Reproduce a named parameter set (the ``ci`` experiment) and judge drift against committed figures.

The comparison goes through ``dvc metrics diff --json`` so that CI checks exactly what a user sees
with ``dvc metrics diff``; this module only applies the overrides and reads the diff.
"""

from __future__ import annotations

import copy
import fnmatch
import math
from dataclasses import dataclass
from typing import Any

from .config import ConfigError, parse_params


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a params mapping with dotted-key ``overrides`` applied, then validated.

    Like ``dvc exp run -S key=value``, a key must already exist (a typo would otherwise add a key
    that nothing reads), except below ``data.datasets`` where new datasets may be declared.
    """
    result = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = result
        for depth, part in enumerate(parents):
            if not isinstance(node, dict) or part not in node:
                raise ConfigError(f"override {dotted!r}: no key {'.'.join(parents[: depth + 1])!r} in params")
            node = node[part]
        if not isinstance(node, dict) or (leaf not in node and parents != ["data", "datasets"]):
            raise ConfigError(f"override {dotted!r}: no key {dotted!r} in params")
        node[leaf] = value
    parse_params(result, "params with overrides")
    return result


Tolerance = float | str  # an absolute bound, or a relative one written like "5%"


@dataclass(frozen=True)
class Drift:
    path: str
    metric: str
    old: Any
    new: Any
    tolerance: Tolerance

    def __str__(self) -> str:
        return f"{self.path}  {self.metric}: reference {self.old!r} -> now {self.new!r} (tolerance {self.tolerance})"


def tolerance_for(path: str, metric: str, tolerances: dict[str, Tolerance], default: Tolerance) -> Tolerance:
    """The tolerance of the first ``path:metric`` glob in ``tolerances`` that matches, else ``default``."""
    for pattern, tol in tolerances.items():
        if fnmatch.fnmatchcase(f"{path}:{metric}", pattern):
            return tol
    return default


def _bound(tolerance: Tolerance, reference: float) -> float:
    if isinstance(tolerance, str):
        if not tolerance.endswith("%"):
            raise ValueError(f"tolerance {tolerance!r}: write a number or a percentage like '5%'")
        return abs(reference) * float(tolerance[:-1]) / 100
    return float(tolerance)


def find_drifts(diff: dict[str, dict[str, dict]], tolerances: dict[str, Tolerance], default: Tolerance) -> list[Drift]:
    """Metrics of a ``dvc metrics diff --json --all`` result that moved beyond their tolerance.

    A reference figure that disappeared, or a number that became non-numeric, counts as drift too;
    a figure that exists only in the new run is reported by DVC with ``old: null`` and is not drift.
    An infinite tolerance means reported, not reproduced: such a figure may move, appear or vanish.
    """
    drifts = []
    for path, metrics in diff.items():
        for metric, change in metrics.items():
            old, new = change.get("old"), change.get("new")
            tol = tolerance_for(path, metric, tolerances, default)
            if old is None or tol == math.inf:
                continue
            numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (old, new))
            if numeric:
                moved = abs(new - old) > _bound(tol, old) or math.isnan(new) != math.isnan(old)
            else:
                moved = old != new
            if moved:
                drifts.append(Drift(path, metric, old, new, tol))
    return drifts
