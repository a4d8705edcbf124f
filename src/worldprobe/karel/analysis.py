"""Does generation accuracy track semantic content? Regressions across checkpoints and summaries.

For every frame, probe kind, feature set and offset, generation accuracy (test, spec examples) at each
checkpoint is regressed on the probe's test accuracy at that checkpoint (``scipy.stats.linregress``),
and again on the probe's margin over the best trivial baseline of that checkpoint, since accuracy
and a baseline such as "facing unchanged" can rise together without the probe adding anything.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.stats import linregress

from .probes import BASELINES, PROBE_KINDS
from .traces import OFFSETS


KEYS = ["step", "frame", "semantics", "offset"]  # one test set of labels: probes and baselines scored alike


def best_baseline(semantics: pd.DataFrame) -> pd.DataFrame:
    """Per (step, frame, semantics, offset): the highest baseline accuracy and which baseline it is."""
    base = semantics[semantics["probe"].isin(BASELINES)].dropna(subset=["accuracy"])
    idx = base.groupby(KEYS)["accuracy"].idxmax()
    return base.loc[idx, [*KEYS, "probe", "accuracy"]].rename(
        columns={"probe": "best_baseline", "accuracy": "baseline_accuracy"})


def _fit(x: np.ndarray, y: np.ndarray) -> dict:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": int(len(x)), "r2": None, "p": None, "slope": None, "intercept": None}
    fit = linregress(x, y)
    return {"n": int(len(x)), "r2": float(fit.rvalue**2), "p": float(fit.pvalue), "slope": float(fit.slope),
            "intercept": float(fit.intercept)}


def regressions(accuracy: pd.DataFrame, semantics: pd.DataFrame, which: str = "original") -> list[dict]:
    """One row per (frame, feature, probe, offset): fit of accuracy_spec on semantic content, raw and above baseline."""
    probes = semantics[(semantics["semantics"] == which) & semantics["probe"].isin(PROBE_KINDS)]
    merged = probes.merge(best_baseline(semantics), on=KEYS, how="left").merge(
        accuracy[["step", "accuracy_spec"]], on="step")
    rows = []
    for (frame, feature, probe, offset), g in merged.groupby(["frame", "feature", "probe", "offset"]):
        g = g.sort_values("step")
        content = g["accuracy"].to_numpy(float)
        margin = content - g["baseline_accuracy"].to_numpy(float)
        y = g["accuracy_spec"].to_numpy(float)
        rows.append({"frame": frame, "feature": feature, "probe": probe, "offset": int(offset), "semantics": which,
                     "content": _fit(content, y), "above_baseline": _fit(margin, y)})
    return rows


def _value(frame: pd.DataFrame, **where) -> float | None:
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    if sel.empty or pd.isna(sel["accuracy"].iloc[0]):
        return None
    return float(sel["accuracy"].iloc[0])


def summarize(semantics: pd.DataFrame, alternatives: list[str]) -> dict:
    """Semantic content at the first (untrained) and last checkpoint: probes, baselines, and the
    intervention gap (original minus alternative semantics) per frame, feature, probe and offset."""
    first, last = int(semantics["step"].min()), int(semantics["step"].max())
    out = {"first_step": first, "final_step": last, "at": {}}
    for label, step in (("untrained", first), ("final", last)):
        at = semantics[semantics["step"] == step]
        block = {}
        for frame, framed in at.groupby("frame", sort=False):
            features = sorted(framed["feature"].dropna().unique())
            for feature, probe, o in itertools.product(features, PROBE_KINDS, OFFSETS):
                orig = _value(framed, feature=feature, probe=probe, semantics="original", offset=o)
                entry = {"original": orig}
                for alt in alternatives:
                    val = _value(framed, feature=feature, probe=probe, semantics=alt, offset=o)
                    entry[alt] = val
                    entry[f"gap_{alt}"] = None if orig is None or val is None else orig - val
                block[f"{frame}/{feature}/{probe}/offset{o}"] = entry
            for b, o in itertools.product(BASELINES, OFFSETS):
                block[f"{frame}/baseline/{b}/offset{o}"] = {s: _value(framed, probe=b, semantics=s, offset=o)
                                                             for s in ["original", *alternatives]}
        out["at"][label] = block
    return out
