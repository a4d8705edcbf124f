"""Scoring one set of predictions against the truth: R², Spearman, proximity error, MAE.

Metrics (test split unless named otherwise)
-------------------------------------------
* ``r2`` - coefficient of determination (:func:`worldprobe.stats.r2`); places: the mean of the longitude
  and latitude R² (``r2_per_target`` has each), time: of the year. ``None`` where the test targets are constant.
* ``spearman`` - Spearman ρ of prediction vs truth (:func:`worldprobe.stats.spearman`); places: mean over the
  two targets (``spearman_per_target``).
* ``prox_error`` - proximity error, per entity i: the fraction of the *other* test entities j whose
  *prediction* lies closer to i's *true* position than i's own prediction does; the mean over i is
  reported (chance ≈ 0.5). Distance: great-circle (the haversine distance on ``[lat, lon]``) for
  places, absolute difference for years. The great-circle angle between two points is a decreasing
  function of the dot product of their unit vectors, so places are compared by that dot product:
  one small matrix product per block of rows instead of a haversine per pair, the same ordering.
* ``prox_error_paper_swapped`` (places only) - the same, but with ``[lon, lat]`` passed where the
  haversine expects ``[lat, lon]``, as the authors' code does; only for comparison with the paper.
* ``mae`` - mean great-circle distance in km (places) or mean absolute error in years (time);
  ``mae_unit`` says which.
* ``train_loo_r2`` - the probe's leave-one-out R² on the *train* split (mean over targets); where the
  split holds out whole groups, the GroupKFold R² over those groups instead (the name is kept; the
  metrics file's ``best_layer_criterion`` says which). The best layer of a run is the layer
  maximising it, so no test number takes part in any choice.
"""

from __future__ import annotations

import numpy as np

from ..stats import finite_or_none, r2, spearman
from .outputs import Scores

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
_CHUNK = 2048  # rows of a pairwise distance matrix computed at once (bounds memory for big test sets)


def _lonlat_to_latlon_radians(lonlat: np.ndarray) -> np.ndarray:
    return np.radians(np.asarray(lonlat, dtype=np.float64)[:, ::-1])


def _unit_vectors(latlon: np.ndarray) -> np.ndarray:
    """``(n, 3)`` points on the unit sphere of ``[lat, lon]`` rows (radians; any values, as the haversine takes them)."""
    lat, lon = latlon[:, 0], latlon[:, 1]
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def great_circle_km(true_lonlat: np.ndarray, pred_lonlat: np.ndarray) -> np.ndarray:
    """Row-wise great-circle distance in km between ``[lon, lat]`` rows (degrees)."""
    a, b = _lonlat_to_latlon_radians(true_lonlat), _lonlat_to_latlon_radians(pred_lonlat)
    h = np.sin((b[:, 0] - a[:, 0]) / 2) ** 2 + np.cos(a[:, 0]) * np.cos(b[:, 0]) * np.sin((b[:, 1] - a[:, 1]) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def unit_sphere(lonlat: np.ndarray) -> np.ndarray:
    """``[lon, lat]`` rows (degrees) as points ``(x, y, z)`` on the unit sphere: a target without the
    wrap at ±180° longitude or the crowding towards the poles."""
    lon, lat = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)])


def sphere_lonlat(xyz: np.ndarray) -> np.ndarray:
    """``(x, y, z)`` rows (any length: a prediction off the sphere is read by its direction) as ``[lon, lat]``."""
    lon = np.degrees(np.arctan2(xyz[:, 1], xyz[:, 0]))
    lat = np.degrees(np.arctan2(xyz[:, 2], np.hypot(xyz[:, 0], xyz[:, 1])))
    return np.column_stack([lon, lat])


def proximity_error(
    y_true: np.ndarray, y_pred: np.ndarray, kind: str, swapped: bool = False, among: np.ndarray | None = None
) -> np.ndarray:
    """Per-entity proximity error (see the module docstring).

    ``y_true``/``y_pred``: ``(n, 2)`` ``[lon, lat]`` degrees for places, ``(n,)`` or ``(n, 1)`` years.
    ``swapped=True`` (places) feeds ``[lon, lat]`` to the haversine as the paper's code does.
    ``among``: boolean mask of the entities i to score (default all); j always ranges over all n.
    """
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    n = len(y_true)
    if n < 2:
        raise ValueError("proximity error needs at least two entities")
    rows = np.arange(n) if among is None else np.flatnonzero(among)
    if kind == "place":
        if y_true.shape[1:] != (2,) or y_pred.shape != y_true.shape:
            raise ValueError(f"places need (n, 2) [lon, lat] arrays, got {y_true.shape} and {y_pred.shape}")
        to_rad = np.radians if swapped else _lonlat_to_latlon_radians
        true_u, pred_u = _unit_vectors(to_rad(y_true)), _unit_vectors(to_rad(y_pred))

        def closeness(i):  # cosine of the great-circle angle: larger is closer
            return true_u[i] @ pred_u.T
    elif kind == "time":
        t, p = y_true.reshape(n), y_pred.reshape(n)

        def closeness(i):
            return -np.abs(t[i, None] - p[None, :])
    else:
        raise ValueError(f"unknown dataset kind {kind!r}")
    out = np.empty(len(rows))
    for start in range(0, len(rows), _CHUNK):
        i = rows[start : start + _CHUNK]
        c = closeness(i)
        own = c[np.arange(len(i)), i]
        out[start : start + _CHUNK] = (c > own[:, None]).sum(1) / (n - 1)  # own column is never > itself
    return out


def score(y_true: np.ndarray, y_pred: np.ndarray, kind: str, targets: tuple[str, ...]) -> Scores:
    """All test metrics of one set of predictions (undefined values are ``None``)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    r2_of = {t: finite_or_none(r2(y_true[:, j], y_pred[:, j])) for j, t in enumerate(targets)}
    rho = {t: finite_or_none(spearman(y_true[:, j], y_pred[:, j])) for j, t in enumerate(targets)}
    out = {
        "r2": _mean_or_none(r2_of.values()),
        "r2_per_target": r2_of,
        "spearman": _mean_or_none(rho.values()),
        "spearman_per_target": rho,
        "prox_error": finite_or_none(proximity_error(y_true, y_pred, kind).mean()),
    }
    if kind == "place":
        out["prox_error_paper_swapped"] = finite_or_none(proximity_error(y_true, y_pred, kind, swapped=True).mean())
        out["mae"], out["mae_unit"] = finite_or_none(great_circle_km(y_true, y_pred).mean()), "km"
    else:
        out["mae"], out["mae_unit"] = finite_or_none(np.abs(y_true - y_pred).mean()), "years"
    return Scores(**out)


def _mean_or_none(values) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else float(np.mean(values))


def mean_error(y_true: np.ndarray, y_pred: np.ndarray, kind: str) -> float:
    return float((great_circle_km(y_true, y_pred) if kind == "place" else np.abs(y_true - y_pred)).mean())
