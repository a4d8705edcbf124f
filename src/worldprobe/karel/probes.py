"""Probes of the robot's facing direction from hidden states, and the trivial baselines they must beat.

Many probes are fit at once: every target (semantics x offset) and every weight decay of the grid
is an independent head of one batched model (``torch.baddbmm`` over a head dimension), trained on
the train-split rows, early-stopped and selected per target on val accuracy, and scored once on
test. This is the same as fitting each probe alone (heads share no parameters; a head's loss only
sees rows where its label exists) but one batched fit per checkpoint instead of dozens.
A linear probe is the zero-hidden-layer case (multinomial logistic regression); ``mlp1``/``mlp2``
have one/two ReLU hidden layers, as in the paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .traces import DROPPED, FRAMES, OFFSETS, Trace, in_frame

N_CLASSES = 4  # facing directions
PROBE_KINDS = ("linear", "mlp1", "mlp2")


@dataclass(frozen=True)
class ProbeSettings:
    hidden: int = 64
    weight_decays: tuple[float, ...] = (0.0, 0.01, 0.1)
    lr: float = 1e-3
    batch_size: int = 256
    max_epochs: int = 40
    patience: int = 5

    def layers(self, kind: str) -> tuple[int, ...]:
        if kind not in PROBE_KINDS:
            raise ValueError(f"unknown probe {kind!r}: valid are {', '.join(PROBE_KINDS)}")
        return (self.hidden,) * PROBE_KINDS.index(kind)


class ProbeBank(nn.Module):
    """``heads`` independent MLPs (or linear maps) applied to the same inputs."""

    def __init__(self, heads: int, d_in: int, hidden: tuple[int, ...]):
        super().__init__()
        dims = [d_in, *hidden, N_CLASSES]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.empty(heads, a, b).uniform_(-1 / math.sqrt(a), 1 / math.sqrt(a))) for a, b in zip(dims, dims[1:])
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(heads, 1, b)) for b in dims[1:])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.expand(self.weights[0].shape[0], *x.shape)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < len(self.weights) - 1:
                h = torch.relu(h)
        return h  # (heads, rows, classes)


@dataclass(frozen=True)
class ProbeResult:
    val_accuracy: float | None
    test_accuracy: float | None
    weight_decay: float | None
    n_train: int
    n_test: int


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-head accuracy over rows with a label (NaN where a head has none)."""
    valid = y != DROPPED
    hits = ((logits.argmax(-1) == y) & valid).sum(-1).float()
    return hits / valid.sum(-1).float()


def fit_probes(
    x: dict[str, np.ndarray], y: dict[str, np.ndarray], kind: str, settings: ProbeSettings, seed: int
) -> list[ProbeResult]:
    """Fit one probe per column of ``y[split]`` (``(rows, targets)``, ``DROPPED`` = no label).

    ``x``/``y`` are keyed by ``train``, ``val``, ``test``. Features are z-scored with train statistics.
    """
    torch.manual_seed(seed)
    mean, std = x["train"].mean(0), x["train"].std(0) + 1e-6
    xs = {s: torch.from_numpy((v - mean) / std).float() for s, v in x.items()}
    n_targets = y["train"].shape[1]
    wds = torch.tensor(settings.weight_decays)
    n_wd = len(wds)
    # head h fits target h // n_wd with weight decay wds[h % n_wd]
    ys = {s: torch.from_numpy(v).long().repeat_interleave(n_wd, dim=1).T for s, v in y.items()}  # (heads, rows)
    heads = n_targets * n_wd
    bank = ProbeBank(heads, xs["train"].shape[1], settings.layers(kind))
    optimizer = torch.optim.Adam(bank.parameters(), lr=settings.lr)
    decay = wds.repeat(n_targets).view(heads, 1, 1)
    best_val = torch.full((heads,), -1.0)
    best_state = [p.detach().clone() for p in bank.parameters()]
    stale = 0
    order = torch.Generator().manual_seed(seed)
    n = len(xs["train"])
    has_train = (ys["train"] != DROPPED).any(1)
    for _ in range(settings.max_epochs):
        bank.train()
        for idx in torch.randperm(n, generator=order).split(settings.batch_size):
            target = ys["train"][:, idx]
            valid = (target != DROPPED).float()
            ce = F.cross_entropy(bank(xs["train"][idx]).transpose(1, 2), target.clamp(min=0), reduction="none")
            loss = ((ce * valid).sum(1) / valid.sum(1).clamp(min=1)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # decoupled (AdamW-style) weight decay, one value per head
                for w in bank.weights:
                    w.mul_(1 - settings.lr * decay)
        with torch.no_grad():
            val = _accuracy(bank(xs["val"]), ys["val"]).nan_to_num(-1.0)
        improved = val > best_val
        if improved.any():
            stale = 0
            best_val = torch.where(improved, val, best_val)
            for keep, p in zip(best_state, bank.parameters()):
                keep[improved] = p.detach()[improved]
        else:
            stale += 1
            if stale >= settings.patience:
                break
    with torch.no_grad():
        for keep, p in zip(best_state, bank.parameters()):
            p.copy_(keep)
        test = _accuracy(bank(xs["test"]), ys["test"])
    results = []
    for t in range(n_targets):
        block = slice(t * n_wd, (t + 1) * n_wd)
        n_train = int((ys["train"][t * n_wd] != DROPPED).sum())
        n_test = int((ys["test"][t * n_wd] != DROPPED).sum())
        if not has_train[t * n_wd] or best_val[block].max() < 0 or n_test == 0:
            results.append(ProbeResult(None, None, None, n_train, n_test))
            continue
        h = t * n_wd + int(best_val[block].argmax())
        results.append(ProbeResult(float(best_val[h]), float(test[h]), float(wds[h % n_wd]), n_train, n_test))
    return results


BASELINES = ("majority", "unchanged", "initial", "current")


def _mode_given(x: np.ndarray, y: np.ndarray, fallback: int) -> np.ndarray:
    """For each class c, the most frequent ``y`` among rows where ``x == c`` (``fallback`` if none)."""
    return np.array([np.bincount(y[x == c], minlength=N_CLASSES).argmax() if (x == c).any() else fallback
                     for c in range(N_CLASSES)])


def baselines(train: Trace, test: Trace, semantics: str) -> dict[str, list[float | None]]:
    """Accuracy per offset of predictions that need no hidden state, on the rows the probes score:
    the most frequent train label, "facing unchanged" (the facing before the action), the robot's
    initial direction (shown in the spec), and, for future offsets, the paper's "current state"
    baseline: the future facing most often seen on train after the true current facing. In the
    relative frame (``traces.in_frame``) they read the same on rotations (no rotation for "initial")."""
    out: dict[str, list[float | None]] = {b: [] for b in BASELINES}
    current_train, current = train.labels[semantics][:, 0], test.labels[semantics][:, 0]
    for o in range(len(OFFSETS)):
        y_train, y = train.labels[semantics][:, o], test.labels[semantics][:, o]
        keep = y != DROPPED
        if not keep.any():
            for b in BASELINES:
                out[b].append(None)
            continue
        seen = y_train != DROPPED
        majority = np.bincount(y_train[seen], minlength=N_CLASSES).argmax() if seen.any() else 0
        out["majority"].append(float(np.mean(y[keep] == majority)))
        out["unchanged"].append(float(np.mean(y[keep] == test.before[semantics][keep])))
        out["initial"].append(float(np.mean(y[keep] == test.initial[keep])))
        if o == 0:  # the current state is the label itself
            out["current"].append(None)
            continue
        # a label at offset o > 0 implies one at offset 0 (the final state is dropped at every offset)
        guess = _mode_given(current_train[seen], y_train[seen], majority)
        out["current"].append(float(np.mean(y[keep] == guess[current[keep]])))
    return out


def targets(trace: Trace, semantics: Sequence[str]) -> np.ndarray:
    """``(rows, len(semantics) * len(OFFSETS))`` labels, semantics-major."""
    return np.concatenate([trace.labels[s] for s in semantics], axis=1)


def probe_checkpoint(
    traces: dict[str, tuple[Trace, dict[str, np.ndarray]]], semantics: Sequence[str], kinds: Sequence[str],
    settings: ProbeSettings, seed: int, frames: Sequence[str] = FRAMES,
) -> list[dict]:
    """Rows ``(frame, feature, semantics, offset, probe, accuracy, ...)`` for one checkpoint: every probe
    kind on every feature set, original and alternative labels in every frame, plus the baselines on
    the same test rows."""
    rows = []
    for frame in frames:
        framed = {split: (in_frame(tr, frame), feats) for split, (tr, feats) in traces.items()}
        y = {split: targets(tr, semantics) for split, (tr, _) in framed.items()}
        for feature in framed["test"][1]:
            x = {split: feats[feature] for split, (_, feats) in framed.items()}
            for kind in kinds:
                results = fit_probes(x, y, kind, settings, seed)
                for t, res in enumerate(results):
                    rows.append({"frame": frame, "feature": feature, "semantics": semantics[t // len(OFFSETS)],
                                 "offset": OFFSETS[t % len(OFFSETS)], "probe": kind, "accuracy": res.test_accuracy,
                                 "val_accuracy": res.val_accuracy, "weight_decay": res.weight_decay,
                                 "n_train": res.n_train, "n_test": res.n_test})
        test = framed["test"][0]
        for s in semantics:
            for name, accs in baselines(framed["train"][0], test, s).items():
                for o, acc in zip(OFFSETS, accs):
                    n_test = int((test.labels[s][:, o] != DROPPED).sum())
                    rows.append({"frame": frame, "feature": None, "semantics": s, "offset": o, "probe": name,
                                 "accuracy": acc, "val_accuracy": None, "weight_decay": None, "n_train": None,
                                 "n_test": n_test})
    return rows
