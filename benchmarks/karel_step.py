"""Benchmark: seconds per Karel training step at two model widths, side by side, on real corpus texts.

Why the `default` profile uses d_model=64: on 2 CPU cores a step of the d=64 model is several times
cheaper than one of d=128, so the 50-minute budget buys many more steps. Both widths run here in one
process, under the same thread count, on the same batches (AdamW step included).

Usage:
    python benchmarks/karel_step.py                     # widths 64 and 128, 1 thread, 30 timed steps
    python benchmarks/karel_step.py --widths 64 128 256 --threads 2 --steps 50
"""

from __future__ import annotations

import argparse
import time

import torch

from worldprobe.config import load_params
from worldprobe.karel.model import GPT
from worldprobe.karel.sampler import build_split
from worldprobe.karel.tokens import prompt_length
from worldprobe.karel.train import gpt_config, token_loss
from worldprobe.threads import set_torch_threads

WARMUP = 3


def seconds_per_step(model: GPT, batches: list[torch.Tensor], lr: float) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    for i, batch in enumerate(batches):
        if i == WARMUP:
            start = time.perf_counter()
        loss = token_loss(model, batch, 0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / (len(batches) - WARMUP)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    set_torch_threads(args.threads)
    profile = load_params().karel.profiles["default"]
    texts = torch.as_tensor(build_split(profile, 0, "train", profile.batch_size * (args.steps + WARMUP)).texts())
    batches = list(texts.split(profile.batch_size))
    print(f"{profile.batch_size} texts of {texts.shape[1]} tokens per step "
          f"(prompt {prompt_length(profile.grid_size, profile.spec_examples)}), {args.threads} thread(s)")
    timings = {}
    for width in args.widths:
        torch.manual_seed(0)
        model = GPT(gpt_config(profile.model_copy(update={"d_model": width})))
        timings[width] = seconds_per_step(model, batches, profile.lr)
        print(f"d_model={width:4d}  {model.n_params / 1e6:5.2f}M parameters  {timings[width]:.3f} s/step")
    base = args.widths[0]
    for width in args.widths[1:]:
        print(f"d_model={width} / d_model={base}: {timings[width] / timings[base]:.2f}x the time per step")


if __name__ == "__main__":
    main()
