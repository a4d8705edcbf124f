"""Program semantics (Jin & Rinard, ICML 2024) on Karel, scaled to a CPU.

world -> semantics -> sampler/tokens (corpus) -> model/train (LM) -> synthesis/traces/evaluate
(accuracy and hidden states per checkpoint) -> probes (semantic content, baselines, intervention)
-> analysis/plots (regression across checkpoints, figures).
"""
