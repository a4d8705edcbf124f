"""FewShotReadout: scores and generations equal a plain full forward; edits act only where they should."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.tiny_lm import save_tiny_model
from worldprobe.config import ModelConfig
from worldprobe.lm.engine import count_hooks
from worldprobe.lm.models import load_model
from worldprobe.lm.readout import FewShotReadout, ReadoutError, ResidualEdit

PREFIX = "Q: Where is Paris? A: France "
QUESTION = "Q: Where is {entity}? A:"
ENTITIES = ["Paris", "Lake Titicaca", "Mount Everest", "Oslo", "Rio de Janeiro", "Cape Town", "Zürich"]
CANDIDATES = ["France", "Lake Titicaca", "Mount", "Everest", "Rio de Janeiro", "Rio de", "Oslo"]  # "Rio de": a shared prefix


@pytest.fixture(scope="module", params=["gemma3", "llama", "gpt2"])
def tiny(request, tmp_path_factory):
    return load_model(ModelConfig(name=str(save_tiny_model(tmp_path_factory.mktemp(request.param), request.param))))


def full_logprobs(loaded, ids: list[int], edit: tuple[int, int, torch.Tensor] | None = None) -> torch.Tensor:
    """log-softmax at every position of one unpadded sequence, no cache; ``edit``: (layer, position, delta)."""
    handle = None
    if edit is not None:
        layer, pos, delta = edit
        blocks = loaded.model.base_model.layers if hasattr(loaded.model.base_model, "layers") else loaded.model.base_model.h

        def hook(module, args, output):
            hidden = (output[0] if isinstance(output, tuple) else output).clone()
            hidden[0, pos] += delta
            return (hidden,) + tuple(output[1:]) if isinstance(output, tuple) else hidden

        handle = blocks[layer - 1].register_forward_hook(hook)
    try:
        with torch.inference_mode():
            return torch.log_softmax(loaded.model(torch.tensor([ids])).logits[0].double(), -1)
    finally:
        if handle is not None:
            handle.remove()


def reference_scores(readout, entities, candidates, edit=None):
    out = np.empty((len(entities), len(candidates)))
    for i, entity in enumerate(entities):
        prompt, last, _ = readout._prompt(entity)
        for j, cand in enumerate(readout.candidate_tokens(candidates)):
            e = None if edit is None else (edit.layer, last, torch.as_tensor(edit.delta[i], dtype=torch.float32))
            logp = full_logprobs(readout.loaded, prompt + cand, e)
            out[i, j] = sum(logp[len(prompt) - 1 + s, t].item() for s, t in enumerate(cand))
    return out


def test_candidate_scores_equal_a_full_forward_for_multi_token_names(tiny):
    readout = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=3)
    lengths = [len(c) for c in readout.candidate_tokens(CANDIDATES)]
    assert max(lengths) >= 3 and min(lengths) == 1  # the fixture exercises multi-token names
    summed = readout.score_candidates(ENTITIES, CANDIDATES, normalize="sum")
    np.testing.assert_allclose(summed, reference_scores(readout, ENTITIES, CANDIDATES), rtol=1e-5, atol=1e-5)
    mean = readout.score_candidates(ENTITIES, CANDIDATES, normalize="mean")
    np.testing.assert_allclose(mean, summed / np.array(lengths), rtol=1e-6)


def test_distinct_scores_the_shortest_unshared_prefix(tiny):
    readout = FewShotReadout(tiny, PREFIX, QUESTION)
    cands = ["Lake Titicaca", "Lake", "Mount Everest", "Mount Mount", "Paris"]  # "Lake" is a prefix of another
    toks = readout.candidate_tokens(cands)
    prefixes = [toks[0], toks[1], toks[2][:2], toks[3][:2], toks[4][:1]]
    assert toks[4] == toks[4][:1] and len(toks[2]) >= 2 and toks[2][0] == toks[3][0]
    got = readout.score_candidates(ENTITIES, cands, normalize="distinct")
    for i, entity in enumerate(ENTITIES):
        prompt, _, _ = readout._prompt(entity)
        for j, cand in enumerate(prefixes):
            logp = full_logprobs(tiny, prompt + cand)
            ref = sum(logp[len(prompt) - 1 + s, t].item() for s, t in enumerate(cand))
            assert got[i, j] == pytest.approx(ref, rel=1e-5, abs=1e-5)


def test_edited_scores_equal_a_full_forward_edited_at_the_entity_only(tiny):
    """The hook is gone before the candidates run: otherwise their positions would be edited too."""
    readout = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=4)
    rng = np.random.default_rng(0)
    entities = ENTITIES + ENTITIES[:3] * 2  # conditions of one entity share a batch and its unedited tokens
    edit = ResidualEdit(layer=2, delta=rng.normal(0, 3, (len(entities), tiny.d_model)))
    got = readout.score_candidates(entities, CANDIDATES, normalize="sum", edit=edit)
    np.testing.assert_allclose(got, reference_scores(readout, entities, CANDIDATES, edit), rtol=1e-5, atol=1e-5)
    assert np.abs(got - readout.score_candidates(entities, CANDIDATES, normalize="sum")).max() > 1e-3


def test_known_answer_of_a_zeroed_model(tmp_path):
    """All weights zero: every logit is 0, so each token costs log(vocab) nats."""
    loaded = load_model(ModelConfig(name=str(save_tiny_model(tmp_path, "gemma3", fill=0.0))))
    readout = FewShotReadout(loaded, PREFIX, QUESTION)
    lengths = np.array([len(c) for c in readout.candidate_tokens(CANDIDATES)])
    vocab = loaded.model.get_output_embeddings().weight.shape[0]
    summed = readout.score_candidates(ENTITIES[:2], CANDIDATES, normalize="sum")
    np.testing.assert_allclose(summed, np.tile(-lengths * math.log(vocab), (2, 1)), rtol=1e-6)
    np.testing.assert_allclose(readout.score_candidates(ENTITIES[:2], CANDIDATES), -math.log(vocab), rtol=1e-6)


@pytest.mark.parametrize("layer", [0, 1, 3])
def test_zero_edit_changes_nothing_bitwise_and_hooks_are_removed(tiny, layer):
    readout = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=2)
    before = count_hooks(tiny.model)
    zero = ResidualEdit(layer=layer, delta=np.zeros(tiny.d_model))
    plain = readout.score_candidates(ENTITIES, CANDIDATES)
    assert np.array_equal(plain, readout.score_candidates(ENTITIES, CANDIDATES, edit=zero))
    assert count_hooks(tiny.model) == before
    assert readout.generate(ENTITIES, max_new_tokens=4) == readout.generate(ENTITIES, max_new_tokens=4, edit=zero)
    assert count_hooks(tiny.model) == before
    with pytest.raises(ReadoutError):  # a failing call leaves no hook behind either
        readout.score_candidates(ENTITIES, CANDIDATES, edit=ResidualEdit(layer, np.zeros((2, tiny.d_model))))
    assert count_hooks(tiny.model) == before


def test_an_edit_along_the_answer_direction_moves_the_readout_monotonically(tmp_path):
    """Question ends at the entity and the edit is after the last block: the LM head reads it directly.

    Along v = g * (u_a - u_b) (g the final norm's gain) the final-norm vector turns towards v, so the
    logit gap a - b grows monotonically with the step.
    """
    loaded = load_model(ModelConfig(name=str(save_tiny_model(tmp_path, "llama"))))
    readout = FewShotReadout(loaded, PREFIX, "Q: Where is {entity}")
    (a,), (b,) = readout.candidate_tokens(["Lyon", "Mount"])  # one token each
    unembed = loaded.model.get_output_embeddings().weight.detach().numpy()
    gain = loaded.model.base_model.norm.weight.detach().numpy()
    v = gain * (unembed[a] - unembed[b])
    gaps = []
    for step in np.linspace(-4, 4, 9):
        scores = readout.score_candidates(ENTITIES[:3], ["Lyon", "Mount"], edit=ResidualEdit(loaded.n_layers, step * v))
        gaps.append(scores[:, 0] - scores[:, 1])
    assert (np.diff(np.array(gaps), axis=0) > 0).all()


def test_batches_do_not_change_scores_or_generations(tiny):
    one = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=1)
    many = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=16)
    np.testing.assert_allclose(one.score_candidates(ENTITIES, CANDIDATES), many.score_candidates(ENTITIES, CANDIDATES), rtol=1e-5)
    assert one.generate(ENTITIES, max_new_tokens=3) == many.generate(ENTITIES, max_new_tokens=3)


def test_generate_is_greedy_decoding(tiny):
    readout = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=4)
    got = readout.generate(ENTITIES, max_new_tokens=5)
    for entity, text in zip(ENTITIES, got):
        ids, _, _ = readout._prompt(entity)
        for _ in range(5):
            ids = ids + [int(full_logprobs(tiny, ids)[-1].argmax())]
            if ids[-1] == tiny.tokenizer.eos_token_id:
                break
        expected = tiny.tokenizer.decode(ids[len(readout._prompt(entity)[0]) :], skip_special_tokens=True)
        assert text == expected.split("\n")[0].strip()


def test_entity_surprisal_is_the_mean_nll_of_the_entity_tokens(tiny):
    readout = FewShotReadout(tiny, PREFIX, QUESTION)
    got = readout.entity_surprisal(ENTITIES)
    for entity, value in zip(ENTITIES, got):
        ids, _, inside = readout._prompt(entity)
        logp = full_logprobs(tiny, ids)
        assert value == pytest.approx(-np.mean([logp[p - 1, ids[p]].item() for p in inside]), rel=1e-5)


def test_surprisal_read_from_the_answer_passes_equals_its_own_pass(tiny):
    """Familiarity reads surprisal from the scoring or generating passes; answers stay as without it."""
    readout = FewShotReadout(tiny, PREFIX, QUESTION, batch_size=3)
    alone = readout.entity_surprisal(ENTITIES)
    from_scores, from_texts = np.full(len(ENTITIES), np.nan), np.full(len(ENTITIES), np.nan)
    scores = readout.score_candidates(ENTITIES, CANDIDATES, surprisal=from_scores)
    texts = readout.generate(ENTITIES, max_new_tokens=3, surprisal=from_texts)
    np.testing.assert_allclose(from_scores, alone, rtol=1e-5)
    np.testing.assert_allclose(from_texts, alone, rtol=1e-5)
    np.testing.assert_allclose(scores, readout.score_candidates(ENTITIES, CANDIDATES), rtol=1e-6)
    assert texts == readout.generate(ENTITIES, max_new_tokens=3)


def test_entity_position_comes_from_offsets_and_merges_are_refused(tiny):
    readout = FewShotReadout(tiny, PREFIX, QUESTION)
    ids, last, inside = readout._prompt("Lake Titicaca")
    assert tiny.tokenizer.decode(ids[inside[0] : last + 1]).strip() == "Lake Titicaca"
    with pytest.raises(ReadoutError, match="merges"):
        FewShotReadout(tiny, PREFIX, "Q: Where is {entity}ca? A:")._prompt("Lake Titi")
    with pytest.raises(ReadoutError, match="blank"):
        readout.score_candidates(["  "], CANDIDATES)
    with pytest.raises(ReadoutError):
        FewShotReadout(tiny, PREFIX, "no placeholder")


def test_residual_is_the_activation_store_vector_and_sees_the_edit(tiny):
    """prefix + question = the main prompt: the readout's layer numbering is the store's."""
    from worldprobe.lm.activations import LastTokenExtractor, tokenize_prompts
    from worldprobe.lm.prompts import prompt_spec

    spec = prompt_spec("world", "main")
    readout = FewShotReadout(tiny, spec.prefix, "{entity}")
    prompts = tokenize_prompts(tiny.tokenizer, np.arange(len(ENTITIES)), ENTITIES, spec)
    store = np.empty((len(ENTITIES), tiny.n_layers + 1, tiny.d_model))
    for rows, acts in LastTokenExtractor(tiny).run(prompts.tokens, batch_size=3):
        store[rows] = acts.transpose(0, 1).numpy()
    for layer in (0, 2, tiny.n_layers):
        got = readout.residual(ENTITIES, layer)
        np.testing.assert_allclose(got, store[:, layer], rtol=1e-4, atol=1e-4 * np.abs(store[:, layer]).max())
        delta = np.random.default_rng(layer).normal(size=tiny.d_model)
        edited = readout.residual(ENTITIES, layer, edit=ResidualEdit(layer, delta))
        np.testing.assert_allclose(edited - got, np.tile(delta, (len(ENTITIES), 1)), atol=1e-4)
    assert count_hooks(tiny.model) == 0


def test_next_token_logprobs_equal_a_full_forward(tiny):
    readout = FewShotReadout(tiny, "", "{entity}")
    got = readout.next_token_logprobs(ENTITIES)
    for i, entity in enumerate(ENTITIES):
        ids, _, _ = readout._prompt(entity)
        np.testing.assert_allclose(got[i], full_logprobs(tiny, ids)[-1].numpy(), atol=1e-5)


@pytest.mark.parametrize("candidates", [CANDIDATES, ["Rio de Janeiro", "Rio Grande", "Rio Negro"]])
def test_relative_scores_are_the_log_probabilities_up_to_one_constant_per_entity(tiny, candidates):
    """What ``relative`` leaves out (the shared first tokens, the normaliser where the candidates part) is the
    same for every candidate of an entity, so a softmax over candidates is unchanged."""
    readout = FewShotReadout(tiny, PREFIX, QUESTION)
    absolute = readout.score_candidates(ENTITIES, candidates, normalize="distinct")
    relative = readout.score_candidates(ENTITIES, candidates, normalize="distinct", relative=True)
    shift = relative - absolute
    np.testing.assert_allclose(shift, np.repeat(shift[:, :1], len(candidates), axis=1), atol=1e-4)
    assert np.abs(shift).min() > 1e-3  # something was left out
    with pytest.raises(ReadoutError, match="mean"):
        readout.score_candidates(ENTITIES, candidates, normalize="mean", relative=True)
