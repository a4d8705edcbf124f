"""Semantic content of one checkpoint on one probe set: what the probes read from its hidden states,
beside the baselines and the text-only nulls that need no hidden state, on the same test rows.

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
* three controls. ``control``: input 0's facing read at the token right after input 0's grid,
  where the model has just read it (it must be about 1.0, or the instrument is at fault; it says
  nothing about distance). ``earlier_action`` (the *distance* control): action ``k - control_back``
  read at the same program positions as the target, a token the model has read but must fetch
  through attention. ``heldout`` (the *negative* control): the facing at offset 0 on the task's
  first held-out input, which the model never sees; its initial facing is uniform and independent
  of the prompt, so any probe must read chance there.

Every label here is a function of the text: the facing under any of the semantics follows from the
action tokens and the initial facing the spec shows (walls never turn the robot). So the question is
not whether the state is computable but whether the activations carry it in a form a linear probe
reads better than the raw text. The *text-only nulls* answer that: the same linear probe on
features of the action prefix (``tokens``: one-hot action by position; ``counts``: one-hot count of
every action and one-hot position), each with the frame's initial facing; and the ``prefix``
baseline, the most frequent train label given the exact action prefix and, in the absolute frame,
the initial facing (a lookup, no linear limit).
The prefix runs through action ``k`` itself: the generating state decides it (on the teacher-forced
set the state has not seen it, which only makes the null stronger).

Baselines ``unchanged`` (the true facing before the action) and ``current`` (the future facing most
often seen after the true current one) are oracles: they read the label's own trajectory.
``majority``, ``initial`` (the spec's initial facing) and ``prefix`` need only what the model sees.

Paired tests (:func:`paired_tests`, clusters: test programs) say whether a probe *beats* each null
on the same rows, and whether each intervention gap (original minus alternative) exceeds the same
gap of each null.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BeforeValidator

from ..config import KarelProbing
from ..io import Output
from ..stats import bootstrap, interval_sign, percentile_interval
from .probes import N_CLASSES, LinearProbe, MLPProbes, MLPSettings, accuracy
from .semantics import ACTIONS
from .traces import DROPPED, FRAMES, SplitTraces, Trace, feature_sets, in_frame, load_traces

NON_ORACLE = ("majority", "initial", "prefix")
ORACLES = ("unchanged", "current")
BASELINES = (*NON_ORACLE, *ORACLES)
NULLS = ("tokens", "counts")  # text features, probed by the linear probe (probe kind SYNTAX)
SYNTAX = "syntax"
CONTROL, DISTANCE, NEGATIVE = "control", "earlier_action", "heldout"
CONTROLS = (CONTROL, DISTANCE, NEGATIVE)
TEXT_ONLY = (*NULLS, "prefix")  # what the paired tests compare the probes with


@dataclass(frozen=True)
class Target:
    frame: str
    semantics: str
    name: str  # "facing", "initial_<j>", "composed", or a control
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


def earlier_action(tr: Trace, back: int) -> np.ndarray:
    """Action ``k - back`` of each row's program (DROPPED where ``k < back``): rows of a program are
    consecutive, so it sits ``back`` rows up."""
    return np.where(tr.action >= back, np.roll(tr.written, back), DROPPED)


def compose(tr: Trace, keys: list[Target], pred: np.ndarray) -> dict[int, np.ndarray]:
    """Per offset, ``(initial + rotation) mod 4`` from the predicted parts (``pred``: ``(rows, targets)``)."""
    col = {k: i for i, k in enumerate(keys)}
    initial = np.stack([pred[:, col[Target("absolute", "original", f"initial_{j}")]]
                        for j in range(tr.spec_facing.shape[1])], axis=1)
    own = initial[np.arange(len(tr.input)), tr.input]  # the input each row runs on
    return {o: (own + pred[:, col[Target("relative", "original", "facing", o)]]) % N_CLASSES for o in tr.offsets}


def _mode_given(x: np.ndarray, y: np.ndarray, n_values: int, fallback: int) -> np.ndarray:
    """For each value ``v < n_values`` of ``x``, the most frequent ``y`` among rows where ``x == v``
    (``fallback`` where none)."""
    counts = np.zeros((n_values, N_CLASSES), dtype=np.int64)
    np.add.at(counts, (x, y), 1)
    return np.where(counts.any(1), counts.argmax(1), fallback)


def _majority(y: np.ndarray) -> int:
    seen = y[y != DROPPED]
    return int(np.bincount(seen).argmax()) if len(seen) else 0


def baselines(train: Trace, test: Trace, semantics: str) -> dict[str, dict[int, np.ndarray | None]]:
    """Per offset, the predictions on test of the baselines that need no hidden state (``prefix`` is
    :func:`text_controls`'): the most frequent train label; "facing unchanged" (the facing before
    action ``k`` for offsets >= 0, before action ``k + o`` for an offset ``o`` < 0: right wherever
    that action did not turn); the robot's initial direction (shown in the spec); and, for future
    offsets, the paper's "current state" baseline: the future facing most often seen on train after
    the true current facing (None at offsets <= 0). In the relative frame (``traces.in_frame``)
    they read the same on rotations."""
    out: dict[str, dict[int, np.ndarray | None]] = {b: {} for b in ("majority", "unchanged", "initial", "current")}
    now = test.column(0)
    current_train, current = train.labels[semantics][:, now], test.labels[semantics][:, now]
    for o in test.offsets:
        y_train = train.labels[semantics][:, train.column(o)]
        majority = _majority(y_train)
        out["majority"][o] = np.full(len(test.program), majority)
        # rows of a program are consecutive, and a label at o < 0 means action k + o exists
        out["unchanged"][o] = np.roll(test.before[semantics], -o) if o < 0 else test.before[semantics]
        out["initial"][o] = test.initial
        if o <= 0:  # at offset 0 the current state is the label itself
            out["current"][o] = None
            continue
        # a label at offset o > 0 implies one at offset 0 (the final state is dropped at every offset)
        seen = y_train != DROPPED
        guess = _mode_given(current_train[seen], y_train[seen], N_CLASSES, majority)
        out["current"][o] = np.where(current == DROPPED, majority, guess[np.maximum(current, 0)])
    return out


# --------------------------------------------------------------------------- the text-only nulls


def prefix_rows(tr: Trace) -> list[tuple[int, ...]]:
    """Each row's actions ``0..k`` (its own action included)."""
    return [tuple(tr.written[r - k : r + 1]) for r, k in enumerate(tr.action)]


def text_features(tr: Trace, width: int, with_initial: bool) -> dict[str, np.ndarray]:
    """The nulls' features of each row (``width``: the longest program): ``tokens``, the one-hot action
    at every position ``0..k``; ``counts``, the one-hot count of every action among them and the
    one-hot position ``k``; both with the one-hot initial facing where ``with_initial`` (all zero in
    the relative frame, where it is no part of the label)."""
    n = len(tr.program)
    by_position = np.zeros((n, width, len(ACTIONS)), dtype=np.float32)
    for j in range(width):
        rows = np.flatnonzero(tr.action >= j)
        by_position[rows, j, tr.written[rows - (tr.action[rows] - j)]] = 1
    counts = by_position.sum(1).astype(np.int64)
    count_onehot = np.zeros((n, len(ACTIONS), width + 1), dtype=np.float32)
    np.put_along_axis(count_onehot, counts[:, :, None], 1, axis=2)
    position = np.eye(width, dtype=np.float32)[tr.action]
    initial = np.eye(N_CLASSES, dtype=np.float32)[tr.initial] * float(with_initial)
    return {"tokens": np.concatenate([by_position.reshape(n, -1), initial], axis=1),
            "counts": np.concatenate([count_onehot.reshape(n, -1), position, initial], axis=1)}


@dataclass(frozen=True)
class TextControls:
    """The text-only nulls of one probe set: table rows, and per (frame, semantics, offset, name) the
    test predictions (name: a null of :data:`NULLS` or ``prefix``) for the paired tests."""

    rows: list[dict]
    predictions: dict[tuple[str, str, int, str], np.ndarray]


def text_controls(traces: dict[str, SplitTraces], semantics: Sequence[str], probing: KarelProbing,
                  seed: int) -> TextControls:
    """The nulls of a probe set: they read the text only, so on the teacher-forced set (the same rows
    at every checkpoint) one call serves every checkpoint."""
    trs = {split: st.trace for split, st in traces.items()}
    train_rows = _subsample(len(trs["train"].program), probing.max_train_rows, seed)
    width = int(max(tr.length.max() for tr in trs.values()))
    prefixes = {split: prefix_rows(tr) for split, tr in trs.items()}
    rows, predictions = [], {}
    for frame in FRAMES:
        framed = {split: in_frame(tr, frame) for split, tr in trs.items()}
        # the lookup's key: the prefix, and in the absolute frame the initial facing the spec shows
        keyed = {split: [(int(i) if frame == "absolute" else 0, p) for i, p in zip(trs[split].initial, prefixes[split])]
                 for split in ("train", "test")}
        codes = {k: i for i, k in enumerate(sorted(set(keyed["train"])))}
        unseen = len(codes)
        code = {split: np.array([codes.get(k, unseen) for k in keyed[split]]) for split in keyed}
        x = {split: text_features(tr, width, with_initial=frame == "absolute") for split, tr in framed.items()}
        for s in semantics:
            for o in trs["test"].offsets:
                y = {split: tr.labels[s][:, tr.column(o)] for split, tr in framed.items()}
                n_test = int((y["test"] != DROPPED).sum())
                target = Target(frame, s, "facing", o)
                for null in NULLS:
                    probe = LinearProbe(probing.linear_C, probing.linear_max_iter, probing.linear_tol).fit(
                        x["train"][null][train_rows], y["train"][train_rows], x["val"][null], y["val"])
                    pred = probe.predict(x["test"][null])
                    predictions[frame, s, o, null] = pred
                    rows.append(_row(target, null, SYNTAX, accuracy(pred, y["test"]), n_test, val=probe.val_accuracy_,
                                     C=probe.C_, converged=probe.converged_, iterations=probe.n_iter_,
                                     n_train=probe.n_train_))
                seen = y["train"] != DROPPED
                lookup = _mode_given(code["train"][seen], y["train"][seen], unseen + 1, _majority(y["train"]))
                pred = lookup[code["test"]]
                predictions[frame, s, o, "prefix"] = pred
                rows.append(_row(target, None, "prefix", accuracy(pred, y["test"]), n_test))
    return TextControls(rows, predictions)


# --------------------------------------------------------------------------- paired tests


def _paired(delta: np.ndarray, keep: np.ndarray, counts: np.ndarray, unit_of: np.ndarray) -> dict:
    """The mean of ``delta`` over kept rows with its cluster-bootstrap 95 % interval and verdict."""
    units = counts.shape[1]
    total = counts @ np.bincount(unit_of, weights=np.where(keep, delta, 0.0), minlength=units)
    kept = counts @ np.bincount(unit_of, weights=keep.astype(float), minlength=units)
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = percentile_interval(total / kept)
    return {"diff": float(delta[keep].mean()), "ci_low": low, "ci_high": high,
            "verdict": interval_sign(low, high).value, "n_test": int(keep.sum())}


def paired_tests(test: Trace, probed: dict[tuple[str, str, str, int], np.ndarray], text: TextControls,
                 alternatives: Sequence[str], n_boot: int, seed: int) -> list[dict]:
    """``probed``: the linear probes' test predictions per (feature, frame, semantics, offset). For every
    feature, frame and offset: the probe's accuracy minus each text-only null's (``beats``, original
    semantics), and its gap (original minus alternative) minus the null's gap (``intervention``)."""
    resamples = bootstrap(test.program, len(test.program), n_boot, seed)
    # per test program, not per row: the resampled sums come from per-program sums (bincount in _paired)
    counts, unit_of = resamples.unit_weights, resamples.unit_of
    framed = {frame: in_frame(test, frame) for frame in FRAMES}
    out = []
    for (feature, frame, s, o), pred in probed.items():
        labels = framed[frame].labels
        y = labels[s][:, test.column(o)]
        keep = y != DROPPED
        hit = (pred == y).astype(float)
        for null in TEXT_ONLY:
            null_hit = (text.predictions[frame, s, o, null] == y).astype(float)
            if s == "original":
                out.append({"test": "beats", "feature": feature, "frame": frame, "semantics": s, "offset": o,
                            "null": null, **_paired(hit - null_hit, keep, counts, unit_of)})
            elif s in alternatives and (feature, frame, "original", o) in probed:
                y0 = labels["original"][:, test.column(o)]
                hit0 = (probed[feature, frame, "original", o] == y0).astype(float)
                null0 = (text.predictions[frame, "original", o, null] == y0).astype(float)
                out.append({"test": "intervention", "feature": feature, "frame": frame, "semantics": s, "offset": o,
                            "null": null, **_paired((hit0 - hit) - (null0 - null_hit), keep, counts, unit_of)})
    return out


# --------------------------------------------------------------------------- the probes


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
            "n_train": fit.get("n_train"), "valid": fit.get("valid")}


def _composed_valid(valid: dict[Target, bool], offset: int) -> bool:
    """A composed MLP score is an upper bound only where both of its parts are."""
    initials = [t for t in valid if t.name.startswith("initial_")]
    return valid[Target("relative", "original", "facing", offset)] and all(valid[t] for t in initials)


def _upper_bound(mlp_val: float | None, linear_val: float | None, slack: float) -> bool:
    """An MLP contains the linear probe, so it bounds it from above only if its optimiser got there:
    on val, within ``slack`` of the linear probe. One that stops short (the untrained model's weak
    directions, which first-order steps barely move along in the budget) is no upper bound. Where no
    linear probe was fitted (alternative semantics off ``full_features``) there is nothing to check."""
    return mlp_val is not None and (linear_val is None or mlp_val >= linear_val - slack)


@dataclass(frozen=True)
class CheckpointProbes:
    rows: list[dict]  # one per probe, baseline and null (see _row)
    tests: list[dict]  # the paired tests (paired_tests), where the text-only nulls were given


def probe_checkpoint(traces: dict[str, SplitTraces], semantics: Sequence[str], probing: KarelProbing,
                     features: Sequence[str], mlp: MLPSettings | None, text: TextControls | None,
                     seed: int) -> CheckpointProbes:
    """Every probe, control and baseline of one probe set at one checkpoint (see the module docstring),
    on the feature sets ``features``. ``mlp``: the MLP settings, or None to fit linear probes only;
    ``text``: the set's text-only nulls (:func:`text_controls`), or None to skip them and the tests."""
    train_rows = _subsample(len(traces["train"].trace.program), probing.max_train_rows, seed)
    trs = {split: st.trace for split, st in traces.items()}
    y = {split: targets(tr, semantics)[1] for split, tr in trs.items()}
    keys = targets(trs["test"], semantics)[0]
    y["train"] = y["train"][train_rows]
    controls_y = {
        CONTROL: {split: st.control_label for split, st in traces.items()},
        DISTANCE: {split: earlier_action(tr, probing.control_back) for split, tr in trs.items()},
        NEGATIVE: {split: tr.heldout[:, tr.column(0)] for split, tr in trs.items()},
    }
    controls_y[DISTANCE]["train"] = controls_y[DISTANCE]["train"][train_rows]
    controls_y[NEGATIVE]["train"] = controls_y[NEGATIVE]["train"][train_rows]
    full = set(feature_sets(traces["test"].hidden[:1], probing.full_features))
    with_mlp = set(feature_sets(traces["test"].hidden[:1], probing.mlp_features)) if mlp else set()
    rows, probed = [], {}
    linear = lambda: LinearProbe(probing.linear_C, probing.linear_max_iter, probing.linear_tol)  # noqa: E731
    fit_info = lambda p: dict(val=p.val_accuracy_, C=p.C_, converged=p.converged_, iterations=p.n_iter_,  # noqa: E731
                              n_train=p.n_train_)
    features_of = {split: feature_sets(st.hidden, features) for split, st in traces.items()}
    at_prompt = {split: feature_sets(st.control_hidden, features) for split, st in traces.items()}
    for feature in features_of["test"]:
        x = {split: f[feature] for split, f in features_of.items()}
        x["train"] = x["train"][train_rows]
        cols = [i for i, k in enumerate(keys) if feature in full or k.semantics == "original"]
        preds, linear_val = {}, {}
        pred = np.full((len(x["test"]), len(keys)), DROPPED)
        for i in cols:
            probe = linear().fit(x["train"], y["train"][:, i], x["val"], y["val"][:, i])
            pred[:, i], linear_val[keys[i]] = probe.predict(x["test"]), probe.val_accuracy_
            rows.append(_row(keys[i], feature, "linear", accuracy(pred[:, i], y["test"][:, i]),
                             int((y["test"][:, i] != DROPPED).sum()), **fit_info(probe)))
            if keys[i].name == "facing":
                probed[feature, keys[i].frame, keys[i].semantics, keys[i].offset] = pred[:, i]
        preds["linear"] = pred
        for name, label in controls_y.items():
            x_of = {split: f[feature] for split, f in at_prompt.items()} if name == CONTROL else x
            probe = linear().fit(x_of["train"], label["train"], x_of["val"], label["val"])
            linear_val[name] = probe.val_accuracy_
            rows.append(_row(Target("absolute", "original", name, 0 if name == NEGATIVE else None), feature, "linear",
                             accuracy(probe.predict(x_of["test"]), label["test"]),
                             int((label["test"] != DROPPED).sum()), **fit_info(probe)))
        if feature in with_mlp:
            # the MLPs' budget: the facing targets and the initial facing of the probed input(s) only
            own = {f"initial_{j}" for j in np.unique(trs["test"].input)}
            cols = [i for i, k in enumerate(keys) if k.name == "facing" and (k.semantics == "original"
                    or k.frame == "absolute") or k.name in own]
            bank = MLPProbes(mlp, seed).fit(x["train"], y["train"][:, cols], x["val"], y["val"][:, cols])
            pred = np.full((len(x["test"]), len(keys)), DROPPED)
            pred[:, cols] = bank.predict(x["test"])
            valid = {keys[i]: _upper_bound(bank.val_accuracy_[h], linear_val.get(keys[i]), probing.mlp_slack)
                     for h, i in enumerate(cols)}
            for h, i in enumerate(cols):
                rows.append(_row(keys[i], feature, "mlp", accuracy(pred[:, i], y["test"][:, i]),
                                 int((y["test"][:, i] != DROPPED).sum()), val=bank.val_accuracy_[h],
                                 converged=bank.converged_, iterations=bank.steps_, n_train=int(bank.n_train_[h]),
                                 valid=valid[keys[i]]))
            preds["mlp"] = pred
            label = controls_y[CONTROL]
            x_of = {split: f[feature] for split, f in at_prompt.items()}
            ctrl = MLPProbes(mlp, seed).fit(x_of["train"], label["train"][:, None], x_of["val"], label["val"][:, None])
            rows.append(_row(Target("absolute", "original", CONTROL), feature, "mlp",
                             accuracy(ctrl.predict(x_of["test"])[:, 0], label["test"]), len(label["test"]),
                             val=ctrl.val_accuracy_[0], converged=ctrl.converged_, iterations=ctrl.steps_,
                             n_train=int(ctrl.n_train_[0]),
                             valid=_upper_bound(ctrl.val_accuracy_[0], linear_val[CONTROL], probing.mlp_slack)))
        absolute = trs["test"].labels["original"]
        for kind, pred in preds.items():
            for o, guess in compose(trs["test"], keys, pred).items():
                label = absolute[:, trs["test"].column(o)]
                rows.append(_row(Target("absolute", "original", "composed", o), feature, kind, accuracy(guess, label),
                                 int((label != DROPPED).sum()), valid=_composed_valid(valid, o) if kind == "mlp" else None))
    for frame in FRAMES:
        train, test = in_frame(trs["train"], frame), in_frame(trs["test"], frame)
        for s in semantics:
            for name, by_offset in baselines(train, test, s).items():
                for o, guess in by_offset.items():
                    label = test.labels[s][:, test.column(o)]
                    rows.append(_row(Target(frame, s, "facing", o), None, name,
                                     None if guess is None else accuracy(guess, label), int((label != DROPPED).sum())))
    for i, k in enumerate(keys):
        if k.name.startswith("initial_"):
            rows.append(_row(k, None, "majority", accuracy(np.full(len(y["test"]), _majority(y["train"][:, i])),
                                                           y["test"][:, i]), len(y["test"])))
    for name, label in controls_y.items():
        rows.append(_row(Target("absolute", "original", name, 0 if name == NEGATIVE else None), None, "majority",
                         accuracy(np.full(len(label["test"]), _majority(label["train"])), label["test"]),
                         int((label["test"] != DROPPED).sum())))
    if text is None:
        return CheckpointProbes(rows, [])
    rows += text.rows
    alternatives = [s for s in semantics if s != "original"]
    tests = paired_tests(trs["test"], {k: v for k, v in probed.items() if k[0] in probing.tested_features},
                         text, alternatives, probing.bootstraps, seed)
    return CheckpointProbes(rows, tests)


def _int_key(key: Any) -> Any:
    """JSON object keys are strings: an offset, spec input or step key reads back as the int it was
    written from (``Output.load`` validates strictly, which would refuse ``"0"`` for an int)."""
    return int(key) if isinstance(key, str) and key.lstrip("-").isdigit() else key


IntKey = Annotated[int, BeforeValidator(_int_key)]


class ProbeSets(Output):
    """``metrics/karel/probe_sets.json``: per step and probe set, :func:`probe_set_sizes`."""

    sizes: dict[IntKey, dict[str, dict[str, int]]]


def checkpoints_with_mlp(steps: list[int], every: int) -> list[int]:
    """Every ``every``-th checkpoint from the first, and always the last."""
    return sorted({*steps[::every], steps[-1]})


@dataclass(frozen=True)
class StepProbes:
    """Both probe sets of one checkpoint: rows and tests carry ``step`` and ``probe_set`` columns."""

    step: int
    rows: list[dict]
    tests: list[dict]
    sizes: dict[str, dict[str, int]]  # probe set -> probe_set_sizes


def same_rows(a: Trace, b: Trace) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("program", "action", "written", "input")) and all(
        np.array_equal(a.labels[s], b.labels[s]) for s in a.labels)


def probe_step(path: str | Path, step: int, semantics: Sequence[str], probing: KarelProbing, mlp: MLPSettings | None,
               fixed: TextControls, fixed_rows: Trace, seed: int) -> StepProbes:
    """The generated set (every feature set, MLPs where ``mlp``, its own text-only nulls) and the
    teacher-forced set (``tested_features``, linear only) of the checkpoint whose traces are at ``path``.
    ``fixed``: the teacher-forced set's nulls, computed once; ``fixed_rows``: its test trace, which every
    checkpoint must share (the nulls are only valid on the same rows)."""
    traces = load_traces(path)
    forced = traces["teacher_forced"]
    if not same_rows(forced["test"].trace, fixed_rows):
        raise ValueError(f"{path}: the teacher-forced rows differ from the first checkpoint's")
    found = {"generated": probe_checkpoint(traces["generated"], semantics, probing, probing.features, mlp,
                                           text_controls(traces["generated"], semantics, probing, seed), seed),
             "teacher_forced": probe_checkpoint(forced, semantics, probing, probing.tested_features, None, fixed, seed)}
    tag = lambda r, name: {"step": step, "probe_set": name, **r}  # noqa: E731
    return StepProbes(step, [tag(r, n) for n, f in found.items() for r in f.rows],
                      [tag(t, n) for n, f in found.items() for t in f.tests],
                      {n: probe_set_sizes(traces[n], probing.max_train_rows) for n in found})
