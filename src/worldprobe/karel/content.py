"""Semantic content of one checkpoint: what the probes read from its hidden states, beside the
baselines that need no hidden state, on the same test rows.

Targets (all scored on the probe set's test split):

* ``facing`` at every offset, in both frames (``absolute``: the paper's label; ``relative``: the
  rotation since the input), under the original and, on the ``full_features``, every alternative
  semantics (the intervention);
* ``initial_<j>``: the facing of spec input ``j``, constant along a program; with the rotation it is
  the other part of the absolute facing;
* ``composed``: no probe of its own but ``(initial + rotation) mod 4`` from the probes of the two
  parts (the initial facing of the input the row runs on, the relative-frame rotation at that
  offset), scored against the absolute label. A model that keeps the parts apart, which a linear
  read-out cannot add, shows up here and not in the direct absolute probe;
* ``control``: input 0's facing read at the token right after input 0's grid, where the model has
  just read it (a positive control of the whole instrument: it must be about 1.0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import KarelProbing
from .probes import N_CLASSES, LinearProbe, MLPProbes, MLPSettings, accuracy
from .traces import DROPPED, FRAMES, SplitTraces, Trace, feature_sets, in_frame

BASELINES = ("majority", "unchanged", "initial", "current")
CONTROL = "control"


@dataclass(frozen=True)
class Target:
    frame: str
    semantics: str
    name: str  # "facing", "initial_<j>", "composed", "control"
    offset: int | None = None


def targets(tr: Trace, semantics: Sequence[str]) -> tuple[list[Target], np.ndarray]:
    """The probe targets of a trace and their labels ``(rows, targets)``: facing per frame, semantics
    and offset, then the initial facing of every spec input."""
    keys, columns = [], []
    for frame in FRAMES:
        framed = in_frame(tr, frame)
        for s in semantics:
            for o in tr.offsets:
                keys.append(Target(frame, s, "facing", o))
                columns.append(framed.labels[s][:, tr.column(o)])
    for j in range(tr.spec_facing.shape[1]):
        keys.append(Target("absolute", "original", f"initial_{j}"))
        columns.append(tr.spec_facing[:, j])
    return keys, np.stack(columns, axis=1)


def compose(tr: Trace, keys: list[Target], pred: np.ndarray) -> dict[int, np.ndarray]:
    """Per offset, ``(initial + rotation) mod 4`` from the predicted parts (``pred``: ``(rows, targets)``)."""
    col = {k: i for i, k in enumerate(keys)}
    initial = np.stack([pred[:, col[Target("absolute", "original", f"initial_{j}")]]
                        for j in range(tr.spec_facing.shape[1])], axis=1)
    own = initial[np.arange(len(tr.input)), tr.input]  # the input each row runs on
    return {o: (own + pred[:, col[Target("relative", "original", "facing", o)]]) % N_CLASSES for o in tr.offsets}


def _mode_given(x: np.ndarray, y: np.ndarray, fallback: int) -> np.ndarray:
    """For each class c, the most frequent ``y`` among rows where ``x == c`` (``fallback`` if none)."""
    return np.array([np.bincount(y[x == c], minlength=N_CLASSES).argmax() if (x == c).any() else fallback
                     for c in range(N_CLASSES)])


def _majority(y: np.ndarray) -> int:
    seen = y[y != DROPPED]
    return int(np.bincount(seen, minlength=N_CLASSES).argmax()) if len(seen) else 0


def baselines(train: Trace, test: Trace, semantics: str) -> dict[str, dict[int, float | None]]:
    """Accuracy per offset of predictions that need no hidden state, on the rows the probes score:
    the most frequent train label; "facing unchanged" (the facing before action ``k`` for offsets
    >= 0, before action ``k + o`` for an offset ``o`` < 0: right wherever that action did not turn);
    the robot's initial direction (shown in the spec); and, for future offsets, the paper's "current
    state" baseline: the future facing most often seen on train after the true current facing. In
    the relative frame (``traces.in_frame``) they read the same on rotations."""
    out: dict[str, dict[int, float | None]] = {b: {} for b in BASELINES}
    now = test.column(0)
    current_train, current = train.labels[semantics][:, now], test.labels[semantics][:, now]
    for o in test.offsets:
        y_train, y = train.labels[semantics][:, train.column(o)], test.labels[semantics][:, test.column(o)]
        keep = y != DROPPED
        majority = _majority(y_train)
        out["majority"][o] = accuracy(np.full(len(y), majority), y)
        # rows of a program are consecutive, and a label at o < 0 means action k + o exists
        unchanged = np.roll(test.before[semantics], -o) if o < 0 else test.before[semantics]
        out["unchanged"][o] = accuracy(unchanged, y)
        out["initial"][o] = accuracy(test.initial, y)
        if o <= 0 or not keep.any():  # at offset 0 the current state is the label itself
            out["current"][o] = None
            continue
        # a label at offset o > 0 implies one at offset 0 (the final state is dropped at every offset)
        seen = y_train != DROPPED
        guess = _mode_given(current_train[seen], y_train[seen], majority)
        out["current"][o] = accuracy(guess[current[keep]], y[keep])
    return out


def mlp_settings(probing: KarelProbing, hidden: int) -> MLPSettings:
    return MLPSettings(hidden, probing.mlp_lr, probing.mlp_weight_decay, probing.mlp_dropout, probing.mlp_final_lr,
                       probing.mlp_batch_size, probing.mlp_max_steps, probing.mlp_eval_every, probing.mlp_patience)


def probe_set_sizes(traces: dict[str, SplitTraces], max_train_rows: int) -> dict[str, int]:
    """Rows the probes train on (after the ``max_train_rows`` cap), specs behind them, test rows."""
    return {"n_probe_train_rows": min(len(traces["train"].trace.program), max_train_rows),
            "n_probe_train_specs": len(traces["train"].control_label),
            "n_probe_test_rows": len(traces["test"].trace.program)}


def _subsample(n: int, limit: int, seed: int) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def _row(target: Target, feature: str | None, probe: str, acc: float | None, n_test: int, **fit) -> dict:
    return {"frame": target.frame, "semantics": target.semantics, "target": target.name, "offset": target.offset,
            "feature": feature, "probe": probe, "accuracy": acc, "n_test": n_test, "val_accuracy": fit.get("val"),
            "C": fit.get("C"), "converged": fit.get("converged"), "iterations": fit.get("iterations"),
            "n_train": fit.get("n_train")}


def probe_checkpoint(traces: dict[str, SplitTraces], semantics: Sequence[str], probing: KarelProbing,
                     mlp: MLPSettings | None, seed: int) -> list[dict]:
    """Every probe and baseline of one checkpoint, one row each (see the module docstring). ``mlp``:
    the MLP settings, or None to fit linear probes only at this checkpoint."""
    train_rows = _subsample(len(traces["train"].trace.program), probing.max_train_rows, seed)
    trs = {split: st.trace for split, st in traces.items()}
    y = {split: targets(tr, semantics)[1] for split, tr in trs.items()}
    keys = targets(trs["test"], semantics)[0]
    y["train"] = y["train"][train_rows]
    control_y = {split: st.control_label for split, st in traces.items()}
    full = set(feature_sets(traces["test"].hidden[:1], probing.full_features))
    with_mlp = set(feature_sets(traces["test"].hidden[:1], probing.mlp_features)) if mlp else set()
    rows = []
    features = {split: feature_sets(st.hidden, probing.features) for split, st in traces.items()}
    controls = {split: feature_sets(st.control_hidden, probing.features) for split, st in traces.items()}
    for feature in features["test"]:
        x = {split: f[feature] for split, f in features.items()}
        x["train"] = x["train"][train_rows]
        cols = [i for i, k in enumerate(keys) if feature in full or k.semantics == "original"]
        preds = {}
        pred = np.full((len(x["test"]), len(keys)), DROPPED)
        for i in cols:
            probe = LinearProbe(probing.linear_C, probing.linear_max_iter, probing.linear_tol).fit(
                x["train"], y["train"][:, i], x["val"], y["val"][:, i])
            pred[:, i] = probe.predict(x["test"])
            rows.append(_row(keys[i], feature, "linear", accuracy(pred[:, i], y["test"][:, i]),
                             int((y["test"][:, i] != DROPPED).sum()), val=probe.val_accuracy_, C=probe.C_,
                             converged=probe.converged_, iterations=probe.n_iter_, n_train=probe.n_train_))
        preds["linear"] = pred
        probe = LinearProbe(probing.linear_C, probing.linear_max_iter, probing.linear_tol).fit(
            controls["train"][feature], control_y["train"], controls["val"][feature], control_y["val"])
        rows.append(_row(Target("absolute", "original", CONTROL), feature, "linear",
                         accuracy(probe.predict(controls["test"][feature]), control_y["test"]),
                         len(control_y["test"]), val=probe.val_accuracy_, C=probe.C_, converged=probe.converged_,
                         iterations=probe.n_iter_, n_train=probe.n_train_))
        if feature in with_mlp:
            # the MLPs' budget: the facing targets and the initial facing of the probed input(s) only
            own = {f"initial_{j}" for j in np.unique(trs["test"].input)}
            cols = [i for i, k in enumerate(keys) if k.name == "facing" and (k.semantics == "original"
                    or k.frame == "absolute") or k.name in own]
            bank = MLPProbes(mlp, seed).fit(x["train"], y["train"][:, cols], x["val"], y["val"][:, cols])
            pred = np.full((len(x["test"]), len(keys)), DROPPED)
            pred[:, cols] = bank.predict(x["test"])
            for h, i in enumerate(cols):
                rows.append(_row(keys[i], feature, "mlp", accuracy(pred[:, i], y["test"][:, i]),
                                 int((y["test"][:, i] != DROPPED).sum()), val=bank.val_accuracy_[h],
                                 converged=bank.converged_, iterations=bank.steps_, n_train=int(bank.n_train_[h])))
            preds["mlp"] = pred
            ctrl = MLPProbes(mlp, seed).fit(controls["train"][feature], control_y["train"][:, None],
                                            controls["val"][feature], control_y["val"][:, None])
            rows.append(_row(Target("absolute", "original", CONTROL), feature, "mlp",
                             accuracy(ctrl.predict(controls["test"][feature])[:, 0], control_y["test"]),
                             len(control_y["test"]), val=ctrl.val_accuracy_[0], converged=ctrl.converged_,
                             iterations=ctrl.steps_, n_train=int(ctrl.n_train_[0])))
        absolute = trs["test"].labels["original"]
        for kind, pred in preds.items():
            for o, guess in compose(trs["test"], keys, pred).items():
                label = absolute[:, trs["test"].column(o)]
                rows.append(_row(Target("absolute", "original", "composed", o), feature, kind, accuracy(guess, label),
                                 int((label != DROPPED).sum())))
    for frame in FRAMES:
        train, test = in_frame(trs["train"], frame), in_frame(trs["test"], frame)
        for s in semantics:
            for name, accs in baselines(train, test, s).items():
                for o, acc in accs.items():
                    n_test = int((test.labels[s][:, test.column(o)] != DROPPED).sum())
                    rows.append(_row(Target(frame, s, "facing", o), None, name, acc, n_test))
    for i, k in enumerate(keys):
        if k.name.startswith("initial_"):
            rows.append(_row(k, None, "majority", accuracy(np.full(len(y["test"]), _majority(y["train"][:, i])),
                                                           y["test"][:, i]), len(y["test"])))
    rows.append(_row(Target("absolute", "original", CONTROL), None, "majority",
                     accuracy(np.full(len(control_y["test"]), _majority(control_y["train"])), control_y["test"]),
                     len(control_y["test"])))
    return rows
