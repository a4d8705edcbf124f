"""Benchmark: worldprobe's activation extractor, in float32 and bfloat16, vs the original study's way.

Three arms on the same world places (main prompt), interleaved one batch of each in turn, so that a
shared, loaded machine slows them alike; the ratios are the robust figures.

* naive float32, as in Gurnee & Tegmark's ``save_activations.py``: batches in table order, padded to
  the batch's longest prompt, a full forward of the causal LM (LM head included) with
  ``output_hidden_states=True``, then the last real token of each row is gathered;
* worldprobe float32 and worldprobe bfloat16 (the model loaded a second time with
  ``model.dtype: bfloat16``): length-sorted right-padded batches, shared-prefix KV cache, hooks that
  keep one position, no final norm or LM head.

GFLOP/s counts the matmul FLOPs actually performed (padding included): per token and block the
q/k/v/o and MLP projections, plus QK^T and AV over the visible keys; the LM head for the naive arm.
Each arm's peak is a square matmul in its dtype timed on the same thread count (on a CPU without
AVX512-BF16 or AMX torch emulates bfloat16, and that peak shows it). The bfloat16 residuals are
compared with the float32 ones entity by entity: ‖a_bf16 − a_f32‖ / ‖a_f32‖ per layer.

Usage: python benchmarks/activations.py [--n 384] [--batch-size 32] [--threads 2] [--models-dir models]
                                        [--entities data/entities/world.parquet]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path

# Sleeping (not spinning) OpenMP workers: on a shared machine, spinning threads wait for a time slice
# at every small op; measured on 2 busy cores, 2-thread extraction went from 11 to 48 entities/s.
# Must be set before torch loads its OpenMP runtime; an explicit OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch

from worldprobe.config import ModelConfig
from worldprobe.lm.activations import LastTokenExtractor, shared_prefix_length, tokenize_prompts
from worldprobe.lm.models import BF16_CPU_FLAGS, cpu_flags, load_model, resolve_dtype
from worldprobe.lm.prompts import prompt_spec
from worldprobe.records import read_entities
from worldprobe.threads import set_torch_threads

Batches = Iterator[tuple[np.ndarray, torch.Tensor, float]]  # (rows, activations, matmul FLOPs) per batch


def matmul_peak_gflops(dtype: torch.dtype, n: int = 1024, budget_s: float = 1.0) -> float:
    """Best rate of an n x n matmul in ``dtype``, over at least two calls and about ``budget_s``.

    Called as the model's projections call it, ``F.linear`` (x @ Wᵀ): on an AVX2-only CPU torch runs
    that layout in bfloat16 about 13x faster than a plain ``a @ b``. Time-bounded rather than a fixed
    count because an emulated bfloat16 matmul of this size takes a fraction of a second or more.
    """
    x, w = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    times: list[float] = []
    while len(times) < 2 or sum(times) < budget_s:  # the first call also warms up
        tick = time.perf_counter()
        torch.nn.functional.linear(x, w)
        times.append(time.perf_counter() - tick)
    return 2 * n**3 / min(times) / 1e9


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


def batch_flops(config, lengths: np.ndarray, prefix: int, lm_head: bool = False) -> float:
    """Matmul FLOPs of one right-padded batch of prompts of ``lengths`` tokens, the first ``prefix``
    of them read from a key/value cache (each row computes the batch's longest own length)."""
    width = int(lengths.max()) - prefix
    return len(lengths) * width * flops_per_token(config, prefix + (width + 1) / 2, lm_head)


def naive_batches(model, tokenizer, tokens: list[list[int]], batch_size: int) -> Batches:
    """The original study's forward: table order, right-padded (as for Llama-2), full LM, all hidden states."""
    pad = tokenizer.pad_token_id or 0
    for start in range(0, len(tokens), batch_size):
        batch = tokens[start : start + batch_size]
        lengths = np.array([len(t) for t in batch])
        width = int(lengths.max())
        ids = torch.tensor([t + [pad] * (width - len(t)) for t in batch])
        mask = (torch.arange(width)[None] < torch.from_numpy(lengths)[:, None]).long()
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False)
        last = mask.sum(1) - 1
        acts = torch.stack([h[torch.arange(len(batch)), last] for h in out.hidden_states])
        yield np.arange(start, start + len(batch)), acts, batch_flops(model.config, lengths, 0, lm_head=True)


def extractor_batches(extractor: LastTokenExtractor, tokens: list[list[int]], batch_size: int) -> Batches:
    """The extractor's own batches (longest first, the shared prefix computed once in the first)."""
    prefix = shared_prefix_length(tokens)
    lengths = np.array([len(t) for t in tokens])
    for rows, acts in extractor.run(tokens, batch_size=batch_size):
        yield rows, acts, batch_flops(extractor.loaded.model.config, lengths[rows], prefix)


def interleaved(arms: dict[str, Batches], n: int, batch_size: int):
    """One batch of each arm in turn: per arm the seconds, the FLOPs and every layer's activations
    (float32, ``(layers, n, d_model)``, rows in token order; copied out of the timed section)."""
    seconds, flops, acts = dict.fromkeys(arms, 0.0), dict.fromkeys(arms, 0.0), {}
    for _ in range(0, n, batch_size):
        for name, batches in arms.items():
            tick = time.perf_counter()
            rows, out, batch = next(batches)
            seconds[name] += time.perf_counter() - tick
            flops[name] += batch
            if name not in acts:
                acts[name] = np.empty((out.shape[0], n, out.shape[2]), dtype=np.float32)
            acts[name][:, rows] = out.float().cpu().numpy()
    return seconds, flops, acts


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--entities", default="data/entities/world.parquet")
    parser.add_argument("--n", type=int, default=384, help="entities (seeded sample of the table)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    set_torch_threads(args.threads)
    table, _ = read_entities(args.entities)
    sample = table.sample(min(args.n, len(table)), random_state=0)
    models = {dtype: load_model(ModelConfig(name=args.model, dtype=dtype), args.models_dir)
              for dtype in ("float32", "bfloat16")}
    tokens = tokenize_prompts(models["float32"].tokenizer, sample["id"], sample["text"], prompt_spec("world", "main")).tokens
    extractors = {dtype: LastTokenExtractor(loaded) for dtype, loaded in models.items()}
    peaks = {dtype: matmul_peak_gflops(getattr(torch, dtype)) for dtype in models}

    naive = models["float32"]
    with torch.inference_mode():
        next(naive_batches(naive.model, naive.tokenizer, tokens[:4], 4))  # warm every arm up
        for e in extractors.values():
            list(e.run(tokens[:4], batch_size=4))
        arms = {"naive float32": naive_batches(naive.model, naive.tokenizer, tokens, args.batch_size)} | {
            f"worldprobe {dtype}": extractor_batches(e, tokens, args.batch_size) for dtype, e in extractors.items()
        }
        seconds, flops, acts = interleaved(arms, len(tokens), args.batch_size)

    n, prefix = len(tokens), shared_prefix_length(tokens)
    of_note = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", *BF16_CPU_FLAGS) if f in cpu_flags()]
    print(f"CPU: {cpu_model()}; matmul flags seen: {', '.join(of_note) or 'none'}; "
          f"model.dtype auto resolves here to {resolve_dtype(ModelConfig(name=args.model, dtype='auto'))}")
    print(f"model {args.model}, {n} entities of {args.entities}, main prompt, mean {np.mean([len(t) for t in tokens]):.1f} "
          f"tokens ({prefix} shared), batch {args.batch_size}, {args.threads} threads, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"matmul peak ({args.threads} threads): " + ", ".join(f"{d} {p:.1f} GFLOP/s" for d, p in peaks.items()))
    print(f"{'arm':>19}  entities/s  GFLOP/s  % of its dtype's peak  GFLOP/entity")
    for name in arms:
        rate = flops[name] / seconds[name] / 1e9
        peak = peaks[name.split()[-1]]  # each arm's name ends with its dtype
        print(f"{name:>19}  {n / seconds[name]:10.1f}  {rate:7.1f}  {rate / peak:21.0%}  {flops[name] / n / 1e9:12.2f}")
    for dtype in extractors:
        print(f"worldprobe {dtype} / naive float32: {seconds['naive float32'] / seconds[f'worldprobe {dtype}']:.1f}x")

    f32, bf16 = acts["worldprobe float32"], acts["worldprobe bfloat16"]
    rel = np.linalg.norm(bf16 - f32, axis=2) / np.linalg.norm(f32, axis=2)  # (layers, entities)
    print(f"bfloat16 vs float32 residuals, ‖a_bf16 − a_f32‖ / ‖a_f32‖ over the {n} entities: layer, median, max")
    for layer, errors in enumerate(rel):
        print(f"  {layer:2d}  {np.median(errors):.2e}  {errors.max():.2e}")


if __name__ == "__main__":
    main()
