"""The neuron analysis's projection onto a block's MLP input weights."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, Gemma3TextConfig, GPT2Config, LlamaConfig

from worldprobe.lm.neurons import UnsupportedArchitecture, mlp_input_projections


def _tiny(arch):
    common = {"vocab_size": 40, "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2}
    if arch == "gemma3":
        config = Gemma3TextConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=2,
                                  num_key_value_heads=1, head_dim=16, **common)
    elif arch == "llama":
        config = LlamaConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=3, num_attention_heads=2,
                             num_key_value_heads=1, **common)
    else:
        config = GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=16, **common)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config).eval()
    if arch != "gpt2":
        with torch.no_grad():  # give the norms non-trivial weights so that applying them matters
            for layer in model.model.layers:
                for norm in (layer.input_layernorm, layer.post_attention_layernorm):
                    norm.weight.uniform_(0.5, 1.5)
                if hasattr(layer, "pre_feedforward_layernorm"):
                    layer.pre_feedforward_layernorm.weight.uniform_(0.5, 1.5)
    return model


@pytest.mark.parametrize("arch", ["gemma3", "llama"])
def test_mlp_input_projections_are_what_the_next_blocks_mlp_reads(arch):
    """With attention silenced, block l's MLP reads norm(residual entering block l): hook it and compare."""
    model = _tiny(arch)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
    seen = {}
    hooks = [layer.mlp.gate_proj.register_forward_hook(lambda m, i, o, b=b: seen.__setitem__(("gate", b), o))
             for b, layer in enumerate(model.model.layers)]
    hooks += [layer.mlp.up_proj.register_forward_hook(lambda m, i, o, b=b: seen.__setitem__(("up", b), o))
              for b, layer in enumerate(model.model.layers)]
    with torch.no_grad():
        hidden = model(torch.tensor([[1, 5, 9, 12]]), output_hidden_states=True).hidden_states
    for h in hooks:
        h.remove()
    for block in range(3):
        residual = hidden[block][0].numpy()  # store layer `block` = residual entering block `block`
        proj, names = mlp_input_projections(model, block, residual)
        expected = torch.cat([seen["gate", block][0], seen["up", block][0]], dim=1).numpy()
        np.testing.assert_allclose(proj, expected, rtol=1e-5, atol=1e-5)
        assert names[0] == "gate_0" and names[48] == "up_0" and len(names) == proj.shape[1] == 96


def test_mlp_input_projections_refuse_unsupported_models_and_shapes():
    with pytest.raises(UnsupportedArchitecture, match="GPT2LMHeadModel"):
        mlp_input_projections(_tiny("gpt2"), 0, np.zeros((2, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="d_model is 32"):
        mlp_input_projections(_tiny("llama"), 0, np.zeros((2, 31), dtype=np.float32))
    with pytest.raises(ValueError, match="out of range"):
        mlp_input_projections(_tiny("llama"), 3, np.zeros((2, 32), dtype=np.float32))
