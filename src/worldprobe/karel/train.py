"""Next-token training of the Karel LM, step- and time-budgeted, checkpointed and resumable.

Checkpoints (model weights only) are written at step 0, every ``checkpoint_every`` steps and at the
final step into a work directory ``<out>.partial``; next to each one ``resume.pt`` holds everything
else the run needs to continue (optimizer, schedule, the batch sampler's RNG state, the loss log and
the time spent). A killed run restarted with the same corpus, profile and seed picks up at the last
checkpoint and ends with exactly the weights of an uninterrupted run (the model has no dropout and
batches come from a seeded generator whose state is saved). The work directory becomes ``<out>``
in one rename when training ends, so ``<out>`` only ever holds a finished run.
A run stopped by ``max_minutes`` ends at a step that depends on the machine's speed; the summary
says which budget stopped it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..config import KarelProfile
from ..io import Output, atomic_path
from .model import GPT, GPTConfig
from .sampler import read_corpus
from .tokens import PAD_ID, VOCAB, prompt_length

VAL_TEXTS = 128  # fixed val subset for the loss curve; ~1 s per evaluation at the default size


def max_actions(profile: KarelProfile) -> int:
    """Longest program synthesis may write: twice the longest program in the data."""
    return 2 * max(profile.train_lengths[1], profile.test_lengths[1])


def gpt_config(profile: KarelProfile) -> GPTConfig:
    block = prompt_length(profile.grid_size, profile.spec_examples) + max_actions(profile) + 1
    return GPTConfig(len(VOCAB), block, profile.d_model, profile.n_layers, profile.n_heads)


def checkpoint_name(step: int) -> str:
    return f"step_{step:06d}.pt"


def list_checkpoints(directory: str | Path) -> list[int]:
    return sorted(int(p.stem.split("_")[1]) for p in Path(directory).glob("step_*.pt"))


def load_checkpoint(directory: str | Path, step: int, device: str = "cpu") -> GPT:
    ckpt = torch.load(Path(directory) / checkpoint_name(step), map_location=device, weights_only=True)
    model = GPT(GPTConfig(**ckpt["config"])).to(device)
    model.load_state_dict(ckpt["model"])
    return model.eval()


class TrainSummary(Output):
    steps: int
    stopped_by: Literal["max_steps", "max_minutes"]
    n_params: int
    seconds: float  # training time over all (resumed) sessions, evaluation included
    seconds_per_step: float
    final_train_loss: float | None
    final_val_loss: float | None
    resumed_from: int | None  # step this session resumed at, None if it started fresh


def _fingerprint(profile: KarelProfile, seed: int, corpus_dir: Path) -> str:
    corpus = json.loads((corpus_dir / "meta.json").read_text())
    # the wall-clock cap and the probe settings do not change the trained weights
    keep = profile.model_dump(mode="json", exclude={"max_minutes", "probe_input", "probe_hidden"})
    blob = json.dumps({"profile": keep, "seed": seed, "corpus": corpus}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _lr_lambda(profile: KarelProfile):
    def factor(step: int) -> float:  # linear warmup, then cosine decay to 10 % at max_steps
        if step < profile.warmup_steps:
            return (step + 1) / profile.warmup_steps
        span = max(1, profile.max_steps - profile.warmup_steps)
        progress = min(1.0, (step - profile.warmup_steps) / span)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def token_loss(model: GPT, texts: torch.Tensor, first_target: int) -> torch.Tensor:
    """Mean next-token cross-entropy over non-pad targets at positions ``>= first_target``."""
    logits, _, _ = model(texts[:, :-1])
    targets = texts[:, 1:].clone()
    targets[:, : max(0, first_target - 1)] = PAD_ID
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD_ID)


def _save(obj: dict, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_loss_csv(path: str | Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["step", "train_loss", "val_loss"])
        writer.writeheader()
        writer.writerows(rows)


def train(
    profile: KarelProfile,
    seed: int,
    corpus_dir: str | Path,
    out_dir: str | Path,
    loss_csv: str | Path,
    device: str = "cpu",
    progress: bool = True,
) -> TrainSummary:
    corpus_dir, out_dir = Path(corpus_dir), Path(out_dir)
    work = out_dir.with_name(out_dir.name + ".partial")
    texts = torch.from_numpy(read_corpus(corpus_dir, "train", profile).texts()).to(device)
    val = torch.from_numpy(read_corpus(corpus_dir, "val", profile).texts()[:VAL_TEXTS]).to(device)
    first_target = 0 if profile.loss_on == "all" else prompt_length(profile.grid_size, profile.spec_examples)
    fingerprint = _fingerprint(profile, seed, corpus_dir)

    torch.manual_seed(seed)
    cfg = gpt_config(profile)
    model = GPT(cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=profile.lr, weight_decay=profile.weight_decay, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(profile))
    batches = torch.Generator().manual_seed(seed)
    step, elapsed, log, resumed_from = 0, 0.0, [], None

    resume = work / "resume.pt"
    if resume.is_file():
        state = torch.load(resume, map_location=device, weights_only=False)
        if state["fingerprint"] == fingerprint:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
            batches.set_state(state["batches"])
            step, elapsed, log = state["step"], state["elapsed"], state["log"]
            resumed_from = step
    if resumed_from is None:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)

    def val_loss() -> float:
        model.eval()
        with torch.no_grad():
            loss = float(token_loss(model, val, first_target))
        model.train()
        return loss

    def checkpoint(train_loss: float | None) -> None:
        if not log or log[-1]["step"] != step:
            log.append({"step": step, "train_loss": train_loss, "val_loss": val_loss()})
        _save({"step": step, "model": model.state_dict(), "config": cfg.to_dict()}, work / checkpoint_name(step))
        _save({"fingerprint": fingerprint, "step": step, "elapsed": elapsed, "log": log, "model": model.state_dict(),
               "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "batches": batches.get_state()},
              resume)
        write_loss_csv(loss_csv, log)

    if resumed_from is None:
        checkpoint(None)
    budget = math.inf if profile.max_minutes is None else 60 * profile.max_minutes
    stopped_by = "max_steps"
    window: list[float] = []
    started, at_start = time.monotonic(), elapsed
    model.train()
    bar = tqdm(total=profile.max_steps, initial=step, desc="karel train", disable=not progress)
    while step < profile.max_steps:
        if elapsed >= budget:
            stopped_by = "max_minutes"
            break
        idx = torch.randint(len(texts), (profile.batch_size,), generator=batches).to(device)
        loss = token_loss(model, texts[idx], first_target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        step += 1
        window.append(loss.item())
        elapsed = at_start + time.monotonic() - started
        bar.update(1)
        if step % profile.log_every == 0 or step % profile.checkpoint_every == 0:
            mean = sum(window) / len(window)
            window = []
            if step % profile.checkpoint_every == 0:
                checkpoint(mean)
            else:
                log.append({"step": step, "train_loss": mean, "val_loss": val_loss()})
                bar.set_postfix(train=f"{mean:.3f}", val=f"{log[-1]['val_loss']:.3f}")
    bar.close()
    if not (work / checkpoint_name(step)).is_file():
        checkpoint(sum(window) / len(window) if window else None)
    summary = TrainSummary(
        steps=step, stopped_by=stopped_by, n_params=model.n_params, seconds=round(elapsed, 2),
        seconds_per_step=round(elapsed / step, 4) if step else 0.0,
        final_train_loss=log[-1]["train_loss"], final_val_loss=log[-1]["val_loss"], resumed_from=resumed_from,
    )
    # field order, not sorted keys: the layout train.json has always had inside the checkpoints
    (work / "train.json").write_text(json.dumps(summary.model_dump(), indent=2) + "\n")
    (work / "resume.pt").unlink()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(work, out_dir)
    return summary
