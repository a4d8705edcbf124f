"""Hook-captured activations equal transformers' ``output_hidden_states`` at the last entity token.

Tolerance: float32, per layer ``max |ours - reference| <= 1e-5 * max |reference|`` (batched matmuls
reorder float sums; the observed error is ~1e-7 relative). The reference runs each prompt alone,
unpadded, without a cache. transformers returns the *final-norm output* as its last hidden state, so
our last layer (the raw residual after the last block) is compared through the model's final norm.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.tiny_lm import PLACES, save_tiny_model, write_place_entities
from worldprobe.config import ComparedModel, ModelConfig, load_params
from worldprobe.lm.activations import LastTokenExtractor, shared_prefix_length, tokenize_prompts, write_activations
from worldprobe.lm.models import load_model
from worldprobe.lm.prompts import prompt_spec
from worldprobe.records import ActivationStore

# the prefix-reuse path passes its cache by the argument transformers supports (`past_key_values`
# warns that it is removed in 5.40): any FutureWarning fails these tests
pytestmark = pytest.mark.filterwarnings("error::FutureWarning")

FINAL_NORM = {"gemma3": "norm", "llama": "norm", "gpt_neox": "final_layer_norm", "gpt2": "ln_f"}
REL_TOL = 1e-5


@pytest.fixture(scope="module", params=sorted(FINAL_NORM))
def tiny(request, tmp_path_factory):
    path = save_tiny_model(tmp_path_factory.mktemp(request.param), request.param)
    return request.param, load_model(ModelConfig(name=str(path)))


def reference(loaded, tokens):
    """(n_prompts, n_layers + 1, d_model) from output_hidden_states, one unpadded prompt at a time."""
    base = loaded.model.base_model
    rows = []
    with torch.inference_mode():
        for toks in tokens:
            hidden = loaded.model(torch.tensor([toks]), output_hidden_states=True).hidden_states
            rows.append(torch.stack([h[0, -1] for h in hidden]))
    return torch.stack(rows), base


def extract(loaded, tokens, **kwargs):
    extractor = LastTokenExtractor(loaded, kwargs.pop("layers", None))
    out = torch.full((len(tokens), len(extractor.layers), loaded.d_model), float("nan"))
    for rows, acts in extractor.run(tokens, **kwargs):
        out[torch.as_tensor(rows)] = acts.transpose(0, 1).float()
    return out


def assert_layers_close(ours, ref, layers):
    for slot, layer in enumerate(layers):
        err = (ours[:, slot] - ref[:, layer]).abs().max().item()
        scale = ref[:, layer].abs().max().item()
        assert err <= REL_TOL * scale, f"layer {layer}: max error {err:.3g} vs scale {scale:.3g}"


@pytest.mark.parametrize(
    ("prompt", "batch_size", "reuse_prefix"),
    [("main", 1, False), ("main", 3, False), ("main", 3, True), ("main", 16, True), ("random", 3, True)],
)
def test_hooks_equal_output_hidden_states(tiny, prompt, batch_size, reuse_prefix):
    arch, loaded = tiny
    spec = prompt_spec("world", prompt)
    tokens = tokenize_prompts(loaded.tokenizer, range(len(PLACES)), PLACES, spec, seed=1).tokens
    assert len({len(t) for t in tokens}) > 1  # batches of 3 and 16 really are padded
    if prompt == "main":
        assert shared_prefix_length(tokens) > 4  # <bos> + question, longer than gemma3's sliding window
    ref, base = reference(loaded, tokens)
    ours = extract(loaded, tokens, batch_size=batch_size, reuse_prefix=reuse_prefix)
    n = loaded.n_layers
    assert_layers_close(ours, ref, range(n))  # embedding output and blocks 0..n-2
    with torch.inference_mode():
        normed = getattr(base, FINAL_NORM[arch])(ours[:, n])
    assert_layers_close(normed[:, None], ref, [n])  # last block, through the final norm


# [0] alone: the shared prefix still runs block 0, whose cache gives the later tokens their positions
# (GPT-2 adds learned position embeddings before block 0)
@pytest.mark.parametrize("layers", [[0, 2], [0]])
def test_layer_subset_stops_after_last_requested_block(tiny, layers):
    _, loaded = tiny
    tokens = tokenize_prompts(loaded.tokenizer, range(len(PLACES)), PLACES, prompt_spec("world", "main")).tokens
    ref, base = reference(loaded, tokens)
    later_calls = []
    blocks = [m for m in base.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == loaded.n_layers][0]
    handle = blocks[2].register_forward_hook(lambda *args: later_calls.append(1))
    try:
        ours = extract(loaded, tokens, layers=layers, batch_size=4)
    finally:
        handle.remove()
    assert_layers_close(ours, ref, layers)
    assert later_calls == []  # block index 2 (store layer 3) never ran


def test_store_rejections_and_determinism(tiny, tmp_path):
    _, loaded = tiny
    texts = PLACES + ["", "   ", "\x07\x07"]  # blank, blank, tokenises to nothing (control characters)
    ids = [f"e{i}" for i in range(len(texts))]
    spec = prompt_spec("world", "main")
    prompts = tokenize_prompts(loaded.tokenizer, ids, texts, spec)
    assert [(r.id, r.reason) for r in prompts.rejections] == [
        ("e8", "blank entity text"),
        ("e9", "blank entity text"),
        ("e10", "entity text tokenises to no tokens"),
    ]
    stores = []
    for run in ("a", "b"):
        meta = write_activations(loaded, prompts, tmp_path / run, dataset="world", spec=spec, batch_size=3)
        assert meta.extra["n_rejected"] == 3
        stores.append(ActivationStore(tmp_path / run))
    a, b = stores
    assert list(a.ids) == ids[:8]
    assert a.meta.layer_names[0] == "embed" and a.n_layers == loaded.n_layers + 1
    ref, _ = reference(loaded, prompts.tokens)
    for layer in range(loaded.n_layers):  # store rows are in entity order although batches were sorted
        np.testing.assert_allclose(a.layer(layer), ref[:, layer].numpy(), rtol=0, atol=REL_TOL * ref[:, layer].abs().max().item())
    for layer in range(a.n_layers):
        assert np.array_equal(a.layer(layer), b.layer(layer))


def _world_activations(tmp_path, **activations):
    """The activations stage's library on a tiny model and the world fixture, with these ``activations`` settings."""
    from worldprobe.lm.activations import dataset_activations

    model_dir = save_tiny_model(tmp_path / "tiny", "llama", seed=1)  # seed 0 would equal the control
    write_place_entities(tmp_path / "entities" / "world.parquet")
    params = load_params()
    params = params.model_copy(update={"model": ModelConfig(name=str(model_dir)),
                                       "activations": params.activations.model_copy(update=activations)})
    metas = dataset_activations(params, "world", tmp_path / "entities", tmp_path / "models", tmp_path / "acts")
    return model_dir, metas


def test_dataset_activations_writes_every_prompt_and_the_control(tmp_path):
    model_dir, metas = _world_activations(tmp_path, prompts=["main", "all_caps", "no_period"], control_prompts=["main"],
                                          batch_size=3)
    tag = str(model_dir).strip("/").replace("/", "--")
    found = sorted(str(p.relative_to(tmp_path / "acts")) for p in (tmp_path / "acts").glob("*/*/*"))
    assert found == [f"world/{tag}/all_caps", f"world/{tag}/main", f"world/{tag}~random_weights/main"]
    real, caps, control = metas
    assert control.control == "random_weights" and control.model_hash != real.model_hash
    assert caps.prompt_template == "<bos>{TEXT}"
    assert not np.array_equal(
        ActivationStore(tmp_path / "acts" / "world" / tag / "main").layer(2),
        ActivationStore(tmp_path / "acts" / "world" / f"{tag}~random_weights" / "main").layer(2),
    )


def test_variants_and_controls_run_on_one_seeded_subsample_that_keeps_the_split(tmp_path):
    model_dir, metas = _world_activations(tmp_path, prompts=["main", "all_caps", "empty"],
                                          control_prompts=["main", "empty"], batch_size=3, variant_entities=4)
    table = pd.read_parquet(tmp_path / "entities" / "world.parquet").set_index("id")
    by_run = {(m.control, m.prompt): m for m in metas}
    assert by_run[None, "main"].n_entities == len(table) and by_run[None, "main"].subsample is None
    tag = str(model_dir).strip("/").replace("/", "--")
    others = [(tag, "all_caps"), (tag, "empty"), (f"{tag}~random_weights", "main"), (f"{tag}~random_weights", "empty")]
    held = [set(ActivationStore(tmp_path / "acts" / "world" / t / p).ids) for t, p in others]
    assert all(h == held[0] for h in held) and len(held[0]) == 4  # one subsample for every variant and control
    assert sorted(table.loc[sorted(held[0]), "split"]) == ["test", "test", "train", "train"]
    assert {m.subsample for k, m in by_run.items() if k != (None, "main")} == {4}


def test_every_model_of_the_axis_holds_one_draw_inside_the_variants_subsample(tmp_path):
    from worldprobe.lm.activations import axis_dir, dataset_activations

    _world_activations(tmp_path, prompts=["main", "empty"], control_prompts=["main"], batch_size=3, variant_entities=6)
    variants = set(ActivationStore(next((tmp_path / "acts" / "world").glob("*/empty"))).ids)
    held = []
    for arch in ("gemma3", "gpt2"):
        name = str(save_tiny_model(tmp_path / arch, arch))
        base = load_params()
        params = base.model_copy(update={
            "models": {name: ComparedModel(name=name, max_entities=4)},
            "activations": base.activations.model_copy(update={"variant_entities": 6}),
        }).for_model(name)
        out = axis_dir(name, tmp_path)
        axis_metas = dataset_activations(params, "world", tmp_path / "entities", tmp_path / "models", out,
                                         max_entities=4)
        assert [(m.control, m.prompt, m.subsample) for m in axis_metas] == [(None, "main", 4), ("random_weights", "main", 4)]
        stores = [set(ActivationStore(p.parent).ids) for p in sorted(out.glob("world/*/*/meta.json"))]
        assert len(stores) == 2 and stores[0] == stores[1] and len(stores[0]) == 4
        held.append(stores[0])
    assert held[0] == held[1] and held[0] <= variants  # matched across models, and with model's controls


BF16_REL_BOUND = 0.04  # per entity and layer, ‖a_bf16 − a_f32‖ / ‖a_f32‖ (Gemma-3-270M measured: ≤ 3.4 %)


@pytest.mark.parametrize("arch", ["gemma3", "llama"])
def test_bfloat16_extraction_stays_within_its_stated_bound_of_float32(tmp_path, arch):
    path = save_tiny_model(tmp_path / arch, arch)
    f32, bf16 = (load_model(ModelConfig(name=str(path), dtype=dtype)) for dtype in ("float32", "bfloat16"))
    tokens = tokenize_prompts(f32.tokenizer, range(len(PLACES)), PLACES, prompt_spec("world", "main"), seed=1).tokens
    ref, ours = extract(f32, tokens, batch_size=3), extract(bf16, tokens, batch_size=3)
    rel = (ours - ref).norm(dim=-1) / ref.norm(dim=-1)
    assert rel.max().item() <= BF16_REL_BOUND
    assert rel.max().item() > 1e-4  # the bf16 path really computed in bf16


@pytest.mark.parametrize(("native_bf16", "expected"), [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_dtype_loads_what_the_cpu_computes_and_the_store_records_it(tmp_path, monkeypatch, native_bf16, expected):
    import worldprobe.lm.models as models

    monkeypatch.setattr(models, "cpu_has_bf16", lambda cpuinfo=None: native_bf16)
    loaded = load_model(ModelConfig(name=str(save_tiny_model(tmp_path / "m", "llama")), dtype="auto"))
    assert {p.dtype for p in loaded.model.parameters()} == {expected}
    spec = prompt_spec("world", "main")
    prompts = tokenize_prompts(loaded.tokenizer, range(len(PLACES)), PLACES, spec)
    write_activations(loaded, prompts, tmp_path / "store", dataset="world", spec=spec, batch_size=3)
    meta = ActivationStore(tmp_path / "store").meta
    assert (meta.compute_dtype, meta.dtype) == (str(expected).removeprefix("torch."), "float32")
