"""The paper's neuron analysis needs what a block's MLP reads: residual vectors projected onto its input weights."""

from __future__ import annotations

import numpy as np
import torch

from .models import decoder_blocks


class UnsupportedArchitecture(ValueError):
    """The neuron analysis needs a decoder with gated MLPs (``gate_proj``/``up_proj``) and RMSNorm."""


def mlp_input_projections(hf_model, block: int, residual: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Project residual-stream vectors onto the MLP input weights of decoder block ``block``.

    ``residual``: ``(n, d_model)`` activations entering block ``block`` (the store's layer ``block``).
    They go through the block's own pre-MLP RMSNorm module (Gemma: ``pre_feedforward_layernorm``;
    Llama/Qwen/Mistral: ``post_attention_layernorm``), then through ``gate_proj`` and ``up_proj``.
    This skips the attention sublayer of that block, as in the paper. Returns ``(n, 2 * d_mlp)``
    pre-activations and names ``gate_<i>``/``up_<i>``.
    """
    blocks = decoder_blocks(hf_model)
    if not 0 <= block < len(blocks):
        raise ValueError(f"block {block} out of range: the model has {len(blocks)} decoder blocks")
    layer = blocks[block]
    norm = getattr(layer, "pre_feedforward_layernorm", None) or getattr(layer, "post_attention_layernorm", None)
    mlp = getattr(layer, "mlp", None)
    if norm is None or not all(hasattr(mlp, p) for p in ("gate_proj", "up_proj")):
        raise UnsupportedArchitecture(
            f"{type(hf_model).__name__} ({type(layer).__name__}): the neuron analysis needs a pre-MLP norm (pre_feedforward_layernorm or "
            "post_attention_layernorm) and a gated MLP (mlp.gate_proj, mlp.up_proj)"
        )
    d_model = mlp.gate_proj.in_features
    if residual.ndim != 2 or residual.shape[1] != d_model:
        raise ValueError(f"residual has shape {residual.shape}, the model's d_model is {d_model}")
    param = next(mlp.parameters())
    with torch.no_grad():
        h = norm(torch.as_tensor(np.asarray(residual), dtype=param.dtype, device=param.device))
        out = torch.cat([mlp.gate_proj(h), mlp.up_proj(h)], dim=1).float().cpu().numpy()
    d_mlp = mlp.gate_proj.out_features
    return out, [f"gate_{i}" for i in range(d_mlp)] + [f"up_{i}" for i in range(d_mlp)]
