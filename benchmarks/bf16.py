"""Benchmark: is bfloat16 extraction scientifically equivalent to float32? (Its speed, against float32
and the naive baseline on the same entities: ``benchmarks/activations.py``.)

On every entity of each dataset: the bfloat16 residuals of the main prompt (weights and matmuls in
bfloat16, residuals float32 as the store writes them) against the committed float32 store
``data/activations/<ds>/<model tag>/main`` (per-layer relative error ‖a_bf16 − a_f32‖ / ‖a_f32‖),
and the ridge probe's test R² at every layer fitted on each (the probes stage's own fit). bfloat16
can be the default only if every layer's |ΔR²| ≤ 0.005 (issue #12).

Usage: python benchmarks/bf16.py [--datasets world people] [--threads 2]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/activations.py

import numpy as np
import torch

from worldprobe.config import ModelConfig, load_params
from worldprobe.lm.activations import LastTokenExtractor, tokenize_prompts
from worldprobe.lm.models import load_model
from worldprobe.lm.prompts import prompt_spec
from worldprobe.records import read_entities
from worldprobe.spacetime.inputs import ProbeData, load_runs, main_run
from worldprobe.spacetime.metrics import score
from worldprobe.spacetime.probes import fit_linear
from worldprobe.threads import set_torch_threads

R2_TOLERANCE = 0.005


def extract(extractor: LastTokenExtractor, tokens: list[list[int]], batch_size: int) -> np.ndarray:
    """Every layer's last-token residual (layers x n x d, float32, rows in ``tokens`` order)."""
    out = np.empty((len(extractor.layers), len(tokens), extractor.loaded.d_model), dtype=np.float32)
    for rows, acts in extractor.run(tokens, batch_size=batch_size, progress=False):
        out[:, rows] = acts.float().cpu().numpy()
    return out


def test_r2(X: np.ndarray, data: ProbeData, params) -> float:
    pred = fit_linear(X, data, params.probes).predict(X[data.test]).reshape(-1, len(data.targets))
    return score(data.y[data.test], pred, data.kind, data.targets).r2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["world", "people"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    set_torch_threads(args.threads)
    params = load_params()
    extractor = LastTokenExtractor(load_model(ModelConfig(name=params.model.name, dtype="bfloat16")))
    tokenizer = extractor.loaded.tokenizer

    with torch.inference_mode():
        verdict = True
        for dataset in args.datasets:
            data = ProbeData.from_table(*read_entities(f"data/entities/{dataset}.parquet"))
            data, runs, _ = load_runs(f"data/activations/{dataset}", data)
            reference = main_run(runs, params.model.name)
            spec = prompt_spec(dataset, "main", params.data.datasets.get(dataset))
            prompts = tokenize_prompts(tokenizer, data.table["id"], data.table["text"], spec, seed=params.seed)
            assert list(prompts.ids.astype(str)) == list(data.ids), "entity order differs from the store's"
            bf16 = extract(extractor, prompts.tokens, args.batch_size)
            print(f"\n{dataset}: {len(data.ids)} entities; layer, relative error, test R2 float32 / bfloat16 / diff")
            worst = 0.0
            for layer in range(reference.n_layers):
                f32 = reference.layer(layer)
                rel = np.linalg.norm(bf16[layer] - f32) / np.linalg.norm(f32)
                r32, r16 = test_r2(f32, data, params), test_r2(bf16[layer], data, params)
                worst = max(worst, abs(r16 - r32))
                print(f"  {layer:2d}  {rel:.2e}  {r32:.4f} / {r16:.4f} / {r16 - r32:+.4f}")
            ok = worst <= R2_TOLERANCE
            verdict &= ok
            print(f"{dataset}: max |dR2| over layers {worst:.4f} ({'within' if ok else 'OUTSIDE'} {R2_TOLERANCE})")
    print(f"\nbfloat16 scientifically equivalent on {', '.join(args.datasets)}: {'yes' if verdict else 'no'}")


if __name__ == "__main__":
    main()
