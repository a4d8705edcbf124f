"""The hook engine on tiny in-memory models: captures equal transformers' hidden states, edits act from
their layer on, the forward stops after the last layer needed, no hook outlives its pass, prefix caches
are handed out as independent copies."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from tests.tiny_lm import tiny_config
from worldprobe.lm.engine import Edit, PrefixCache, count_hooks, layer_name, residual_hooks
from worldprobe.lm.models import decoder_blocks

VOCAB = 50
IDS = torch.tensor([[5, 9, 13, 7, 21, 3, 30], [8, 8, 40, 2, 17, 11, 6]])
POSITIONS = torch.tensor([6, 3])  # one read position per row


@pytest.fixture(scope="module", params=["gemma3", "llama", "gpt2", "gpt_neox"])
def model(request):
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(tiny_config(request.param, VOCAB)).eval()


def n_layers(model) -> int:
    return len(decoder_blocks(model))


def hidden_states(model, ids=IDS) -> tuple[torch.Tensor, ...]:
    with torch.inference_mode():
        return model(ids, output_hidden_states=True).hidden_states


def capture(model, layers, ids=IDS, positions=POSITIONS, edit=None) -> dict[int, torch.Tensor]:
    with torch.inference_mode(), residual_hooks(decoder_blocks(model), capture=layers, positions=positions, edit=edit) as hooked:
        model.base_model(input_ids=ids)
    assert hooked.stopped
    return hooked.captured


def test_layer_names_follow_the_store():
    assert [layer_name(layer) for layer in range(3)] == ["embed", "blocks.0.resid_post", "blocks.1.resid_post"]


def test_captures_equal_output_hidden_states_at_each_rows_position(model):
    layers = range(n_layers(model))  # transformers' last hidden state is the final-norm output, not the block's
    ours = capture(model, layers)
    ref = hidden_states(model)
    rows = torch.arange(len(IDS))
    for layer in layers:
        assert torch.equal(ours[layer], ref[layer][rows, POSITIONS]), layer


def test_an_edit_moves_its_layer_by_delta_and_changes_only_what_comes_after(model):
    n, layer = n_layers(model), 1
    at = torch.tensor([5, 4])  # row 0 reads a later position (6), row 1 an earlier one (3)
    delta = torch.randn(len(IDS), model.config.get_text_config().hidden_size)
    edit = Edit(layer, at, delta)
    plain, edited = capture(model, range(n + 1)), capture(model, range(n + 1), edit=edit)
    at_edit = capture(model, [layer], positions=at), capture(model, [layer], positions=at, edit=edit)
    assert torch.equal(at_edit[1][layer], at_edit[0][layer] + delta)
    assert torch.equal(edited[0], plain[0])  # before the edit
    assert torch.equal(edited[layer], plain[layer])  # the edit's layer, at positions it did not touch
    # later layers see it at a later position (row 0), not at an earlier one (row 1)
    for later in range(layer + 1, n + 1):
        assert not torch.equal(edited[later][0], plain[later][0]), later
        assert torch.equal(edited[later][1], plain[later][1]), later


def test_an_edit_at_layer_zero_reaches_block_zero(model):
    delta = torch.ones(len(IDS), model.config.get_text_config().hidden_size)
    plain = capture(model, [0, 1], positions=POSITIONS)
    edited = capture(model, [0, 1], positions=POSITIONS, edit=Edit(0, POSITIONS, delta))
    assert torch.equal(edited[0], plain[0] + delta)
    assert not torch.equal(edited[1], plain[1])


def test_the_forward_stops_after_the_last_captured_layer(model):
    blocks = decoder_blocks(model)
    fired = []
    later = [blocks[i].register_forward_hook(lambda *args, i=i: fired.append(i)) for i in range(len(blocks))]
    reached = []
    try:
        with torch.inference_mode(), residual_hooks(blocks, capture=[0, 2], positions=POSITIONS) as hooked:
            model(input_ids=IDS)
            reached.append(True)
    finally:
        for handle in later:
            handle.remove()
    assert fired == [0, 1]  # store layer 2 is block 1's output: block 2 on never ran, nor did the LM head
    assert reached == [] and hooked.stopped and sorted(hooked.captured) == [0, 2]


def test_hooks_are_removed_after_a_pass_that_raises_or_never_reaches_the_stop(model):
    blocks = decoder_blocks(model)
    before = count_hooks(model)
    edit = Edit(1, POSITIONS, torch.zeros(len(IDS), model.config.get_text_config().hidden_size))
    with pytest.raises(ValueError, match="inside"), residual_hooks(blocks, capture=[1, 2], positions=POSITIONS, edit=edit):
        assert count_hooks(model) == before + 4  # edit, two captures, stop
        raise ValueError("inside")
    assert count_hooks(model) == before
    with pytest.raises(RuntimeError, match="did not reach store layer 2"), residual_hooks(blocks, capture=[2], positions=POSITIONS):
        pass  # no forward
    assert count_hooks(model) == before
    with torch.inference_mode(), residual_hooks(blocks, edit=edit) as hooked:
        model(input_ids=IDS)  # an edit alone does not stop the forward
    assert not hooked.stopped and count_hooks(model) == before


def test_prefix_cache_copies_are_independent_and_continue_the_prefix(model):
    prefix, rest = IDS[:, :4], IDS[:, 4:]
    shared = PrefixCache(model, prefix[0].tolist())
    ids = torch.cat([prefix[:1].expand(len(IDS), -1), rest], dim=1)
    with torch.inference_mode():
        full = model.base_model(input_ids=ids).last_hidden_state[:, 4:]
        first, second = shared.fresh(len(IDS)), shared.fresh(len(IDS))
        continued = model.base_model(input_ids=rest, cache=first, use_cache=True).last_hidden_state
        assert first.get_seq_length() == 7 and second.get_seq_length() == 4  # the forward appended to its copy only
        again = model.base_model(input_ids=rest, cache=second, use_cache=True).last_hidden_state
    torch.testing.assert_close(continued, full)
    assert torch.equal(again, continued)


def test_a_prefix_for_early_layers_stops_there_but_always_runs_block_zero(model):
    blocks = decoder_blocks(model)
    fired = []
    handles = [blocks[i].register_forward_hook(lambda *args, i=i: fired.append(i)) for i in range(len(blocks))]
    try:
        cache = PrefixCache(model, IDS[0, :4].tolist(), through=0).fresh(1)
    finally:
        for handle in handles:
            handle.remove()
    assert fired == [0]  # block 0's cache sets the positions of the tokens after the prefix
    assert cache.get_seq_length() == 4
