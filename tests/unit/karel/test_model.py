import pytest
import torch
import torch.nn.functional as F

from worldprobe.config import KarelProfile
from worldprobe.karel.model import GPT, GPTConfig
from worldprobe.karel.sampler import build_split
from worldprobe.karel.tokens import PAD_ID, VOCAB, prompt_length
from worldprobe.karel.train import _lr_lambda, gpt_config, token_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # torch on one thread



def test_default_size_matches_the_pilot():
    model = GPT(gpt_config(KarelProfile()))
    assert 0.75e6 < model.n_params < 0.9e6


@torch.no_grad()
def test_program_only_loss_ignores_the_specification():
    torch.manual_seed(0)
    model = GPT(GPTConfig(len(VOCAB), 200, d_model=16, n_layers=1, n_heads=2))
    texts = torch.from_numpy(build_split(KarelProfile(), 0, "train", 8).texts())
    p = prompt_length(4, 5)
    logits, _, _ = model(texts[:, :-1])
    targets = texts[:, 1:]
    keep = targets != PAD_ID
    program = keep.clone()
    program[:, : p - 1] = False  # targets before the first action
    manual = F.cross_entropy(logits[program], targets[program])
    assert token_loss(model, texts, p) == pytest.approx(float(manual), rel=1e-5)
    assert token_loss(model, texts, 0) == pytest.approx(float(F.cross_entropy(logits[keep], targets[keep])), rel=1e-5)


def test_schedule_warms_up_then_decays_to_a_tenth():
    f = _lr_lambda(KarelProfile(warmup_steps=10, max_steps=110))
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.55) and f(110) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 110))
