import numpy as np
import pytest
import torch

from worldprobe.config import KarelProfile
from worldprobe.karel.model import GPT, GPTConfig
from worldprobe.karel.sampler import build_split
from worldprobe.karel.semantics import ACTIONS
from worldprobe.karel.synthesis import (
    best_constant_program,
    generate,
    random_program_accuracy,
    read_programs,
    score_programs,
)
from worldprobe.karel.tokens import ACTION_IDS, EOS_ID, VOCAB, encode_program, prompt_length

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread


PROF = KarelProfile()


def tiny_model(seed=0, block=prompt_length(4, 5) + 13):
    torch.manual_seed(seed)
    return GPT(GPTConfig(len(VOCAB), block, d_model=32, n_layers=2, n_heads=2)).eval()


def test_kv_cache_matches_full_forward():
    model = tiny_model()
    ids = torch.randint(0, len(VOCAB), (3, 20))
    with torch.no_grad():
        full, _, hidden = model(ids, hidden=True)
        part, cache, _ = model(ids[:, :12])
        step, cache, h_step = model(ids[:, 12:13], cache, hidden=True)
        rest, _, _ = model(ids[:, 13:], cache)  # several new tokens against a cache
    assert torch.allclose(full[:, :12], part, atol=1e-5)
    assert torch.allclose(full[:, 12:13], step, atol=1e-5)
    assert torch.allclose(hidden[:, 12:13], h_step, atol=1e-5)
    assert torch.allclose(full[:, 13:], rest, atol=1e-5)
    assert hidden.shape == (3, 20, 3, 32)


def test_untrained_models_always_write_parsable_programs():
    split = build_split(PROF, 0, "test", 40)
    for seed in range(3):
        gen = generate(tiny_model(seed), split.prompts(), max_actions=12, batch_size=16)
        assert len(gen.programs) == 40
        assert all(1 <= len(p) <= 12 and set(p) <= set(ACTIONS) for p in gen.programs)
        assert np.array_equal(gen.hit_limit, [len(p) == 12 for p in gen.programs])
        assert gen.starts[-1] == len(gen.hidden) == sum(len(p) for p in gen.programs)


def test_generated_programs_are_the_constrained_argmax_and_hidden_states_align():
    split = build_split(PROF, 0, "test", 4)
    model = tiny_model(1)
    gen = generate(model, split.prompts(), max_actions=5, read_at=[18, 3])
    assert gen.prompt_hidden.shape == (4, 2, 3, 32)
    for i, program in enumerate(gen.programs):
        prompt = torch.as_tensor(split.prompts()[i : i + 1])
        ids = torch.cat([prompt, torch.tensor([encode_program(program)[:-1]])], dim=1)
        with torch.no_grad():
            logits, _, hidden = model(ids, hidden=True)
        p = prompt.shape[1] - 1  # the <prog> position produces the first action
        for k, action in enumerate(program):
            allowed = list(ACTION_IDS) + ([EOS_ID] if k >= 1 else [])
            best = allowed[int(logits[0, p + k, allowed].argmax())]
            assert VOCAB[best] == action
            assert np.allclose(gen.hidden[gen.starts[i] + k], hidden[0, p + k].numpy(), atol=1e-5)
        assert np.allclose(gen.prompt_hidden[i], hidden[0, [18, 3]].numpy(), atol=1e-5)


def test_teacher_forcing_reads_the_states_decoding_would_keep():
    split = build_split(PROF, 0, "test", 12)
    model = tiny_model(2)
    gen = generate(model, split.prompts(), max_actions=6, batch_size=5, read_at=[18])
    read = read_programs(model, split.prompts(), gen.programs, batch_size=5, read_at=[18])
    assert read.programs == gen.programs and np.array_equal(read.starts, gen.starts) and not read.hit_limit.any()
    assert np.allclose(read.hidden, gen.hidden, atol=1e-4)  # batches mix lengths: padding after the end is never read
    assert np.allclose(read.prompt_hidden, gen.prompt_hidden, atol=1e-4)
    references = [split.program(i) for i in range(12)]
    assert read_programs(model, split.prompts(), references).starts[-1] == sum(map(len, references))
    with pytest.raises(ValueError, match="12 prompts for 11 programs"):
        read_programs(model, split.prompts(), references[:11])


def test_scoring_reference_programs_and_chance_lines():
    split = build_split(PROF, 0, "test", 60)
    ref = score_programs(split, [split.program(i) for i in range(len(split))])
    assert ref.spec.all() and ref.all_inputs.all()
    wrong = score_programs(split, [["turn_left"] * 4] * len(split))  # four left turns: identity on facing
    assert wrong.spec.mean() < 0.5
    assert (wrong.all_inputs <= wrong.spec).all()
    chance = random_program_accuracy(split, (1, 6), seed=0, draws=3)
    assert 0 <= chance.spec.mean() < 0.3
    constant = best_constant_program(build_split(PROF, 0, "train", 60), max_length=2)
    assert 1 <= len(constant) <= 2
