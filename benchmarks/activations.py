"""Benchmark: worldprobe's activation extractor vs the original study's way, on the same entities.

Naive baseline (as in Gurnee & Tegmark's ``save_activations.py``): batches in table order, padded to
the batch's longest prompt, a full forward of the causal LM (LM head included) with
``output_hidden_states=True``, then the last real token of each row is gathered. The extractor:
length-sorted right-padded batches, shared-prefix KV cache, hooks that keep one position, no final
norm or LM head. Both arms run interleaved, one batch of each in turn, so that a shared, loaded
machine slows them alike; the ratios are the robust figures.

GFLOP/s counts the matmul FLOPs actually performed (padding included): per token and block the
q/k/v/o and MLP projections, plus QK^T and AV over the visible keys; the LM head for the naive arm.
The machine's peak is a large square float32 matmul timed on the same thread count.

Usage: python benchmarks/activations.py [--n 384] [--batch-size 32] [--threads 2] [--models-dir models]
"""

from __future__ import annotations

import argparse
import os
import time

# Sleeping (not spinning) OpenMP workers: on a shared machine, spinning threads wait for a time slice
# at every small op; measured on 2 busy cores, 2-thread extraction went from 11 to 48 entities/s.
# Must be set before torch loads its OpenMP runtime; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
import torch

from worldprobe.activations import LastTokenExtractor, shared_prefix_length, tokenize_prompts
from worldprobe.config import ModelConfig
from worldprobe.models import load_model
from worldprobe.prompts import prompt_spec


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def flops_per_token(config, kv_len: float, lm_head: bool) -> float:
    """Matmul FLOPs of one token through every block (and the LM head), attending to ``kv_len`` keys."""
    c = config.get_text_config()
    d, n_heads = c.hidden_size, c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or d // n_heads
    kv_heads = getattr(c, "num_key_value_heads", None) or n_heads
    gated = 3 if c.model_type in ("gemma3_text", "llama", "qwen2", "qwen3", "mistral") else 2  # gate/up/down
    projections = d * head_dim * (2 * n_heads + 2 * kv_heads) + gated * d * c.intermediate_size
    attention = 2 * n_heads * head_dim * kv_len  # QK^T and AV
    total = 2 * (projections + attention) * c.num_hidden_layers
    return total + (2 * d * c.vocab_size if lm_head else 0)


def naive_batch(model, tokenizer, tokens: list[list[int]]) -> tuple[torch.Tensor, float]:
    """The original study's forward on one batch: padded (right, as for Llama-2), full LM, all hidden states."""
    width = max(len(t) for t in tokens)
    pad = tokenizer.pad_token_id or 0
    ids = torch.tensor([t + [pad] * (width - len(t)) for t in tokens])
    mask = (torch.arange(width)[None] < torch.tensor([len(t) for t in tokens])[:, None]).long()
    out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False)
    last = mask.sum(1) - 1
    acts = torch.stack([h[torch.arange(len(tokens)), last] for h in out.hidden_states])
    flops = len(tokens) * width * flops_per_token(model.config, (width + 1) / 2, lm_head=True)
    return acts, flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--snapshot", default="../shared/snapshot/world_place.csv.gz")
    parser.add_argument("--n", type=int, default=384, help="entities (world places, seeded sample)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    places = pd.read_csv(args.snapshot).sample(args.n, random_state=0)
    texts = places["name"].astype(str).tolist()  # raw names are fine for timing
    loaded = load_model(ModelConfig(name=args.model), args.models_dir)
    prompts = tokenize_prompts(loaded.tokenizer, range(len(texts)), texts, prompt_spec("world", "main"))
    tokens = prompts.tokens
    prefix = shared_prefix_length(tokens)
    extractor = LastTokenExtractor(loaded)
    peak = matmul_peak_gflops()

    fast_time = naive_time = fast_flops = naive_flops = 0.0
    with torch.inference_mode():
        naive_batch(loaded.model, loaded.tokenizer, tokens[:4])  # warm both arms up
        list(extractor.run(tokens[:4], batch_size=4))
        # one batch of each arm in turn: the extractor's (globally length-sorted, prefix computed in its
        # first batch) and the naive one (table order), so machine load hits both alike
        fast = extractor.run(tokens, batch_size=args.batch_size)
        for start in range(0, len(tokens), args.batch_size):
            tick = time.perf_counter()
            rows, _ = next(fast)
            fast_time += time.perf_counter() - tick
            width = max(len(tokens[r]) for r in rows) - prefix
            fast_flops += len(rows) * width * flops_per_token(loaded.model.config, prefix + (width + 1) / 2, False)
            tick = time.perf_counter()
            naive_flops += naive_batch(loaded.model, loaded.tokenizer, tokens[start : start + args.batch_size])[1]
            naive_time += time.perf_counter() - tick
    n = len(tokens)
    print(f"model {args.model}, {n} world places, main prompt, mean {np.mean([len(t) for t in tokens]):.1f} tokens "
          f"({prefix} shared), batch {args.batch_size}, {args.threads} threads")
    print(f"matmul peak ({args.threads} threads, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}): {peak:.1f} GFLOP/s")
    for name, seconds, flops in (("naive", naive_time, naive_flops), ("extractor", fast_time, fast_flops)):
        rate = flops / seconds / 1e9
        print(f"{name:>9}: {n / seconds:7.1f} entities/s  {rate:6.1f} GFLOP/s  ({rate / peak:.0%} of matmul peak)  "
              f"{flops / n / 1e9:.2f} GFLOP/entity")
    print(f"speed-up: {naive_time / fast_time:.1f}x")


if __name__ == "__main__":
    main()
