import pytest
import torch

from worldprobe.config import ModelConfig
from worldprobe.lm.models import cpu_has_bf16, resolve_dtype

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx avx2 fma\n"
AVX512_BF16 = AVX2_ONLY.replace("fma", "fma avx512f avx512_bf16")
AMX = AVX2_ONLY.replace("fma", "fma amx_tile amx_bf16")


def test_cpu_flags_are_read_both_ways():
    assert cpu_has_bf16(AVX512_BF16) is True
    assert cpu_has_bf16(AMX) is True
    assert cpu_has_bf16(AVX2_ONLY) is False
    assert cpu_has_bf16(AVX2_ONLY.replace("fma", "fma avx512_bf16x")) is False  # whole flags only
    assert cpu_has_bf16("processor\t: 0\n") is None  # no flags listed: cannot tell


@pytest.mark.parametrize(("cpuinfo", "expected"), [(AVX512_BF16, "bfloat16"), (AMX, "bfloat16"),
                                                   (AVX2_ONLY, "float32"), ("", "float32")])
def test_auto_on_a_cpu_follows_its_flags(cpuinfo, expected):
    assert resolve_dtype(ModelConfig(dtype="auto"), cpuinfo) == expected


def test_an_explicit_dtype_is_kept_whatever_the_cpu():
    for dtype in ("float32", "bfloat16", "float16"):
        assert resolve_dtype(ModelConfig(dtype=dtype), AVX2_ONLY) == dtype
        assert resolve_dtype(ModelConfig(dtype=dtype), AVX512_BF16) == dtype


@pytest.mark.parametrize("bf16_gpu", [True, False])
def test_auto_on_cuda_asks_the_gpu_not_the_cpu(monkeypatch, bf16_gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16_gpu)
    expected = "bfloat16" if bf16_gpu else "float32"
    assert resolve_dtype(ModelConfig(dtype="auto", device="cuda"), AVX2_ONLY) == expected
    assert resolve_dtype(ModelConfig(dtype="auto", device="cuda:1"), AVX512_BF16) == expected
    assert resolve_dtype(ModelConfig(dtype="auto", device_map="auto"), AVX512_BF16) == expected


def test_auto_on_another_device_is_float32():
    assert resolve_dtype(ModelConfig(dtype="auto", device="mps"), AVX512_BF16) == "float32"


def test_an_unknown_dtype_is_refused_at_load():
    with pytest.raises(ValueError, match="auto"):
        ModelConfig(dtype="bf16")
