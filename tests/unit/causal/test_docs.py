"""docs/causal.md is rendered from the committed intervention metrics: deterministic, loud on a
missing number, and moved by a changed metric (its verdict sentences included)."""

import json
import shutil

import jinja2
import pytest

from tests.conftest import REPO
from worldprobe.causal import docs
from worldprobe.causal.outputs import InterventionMetrics
from worldprobe.io import OutputError

ABOVE = {"difference": 5.0, "lo": 1.0, "hi": 9.0, "sign": "above 0"}
NOT_ESTABLISHED = {"difference": 0.0, "lo": -1.0, "hi": 1.0, "sign": "not established"}


@pytest.fixture
def root(tmp_path):
    for sub in ("metrics/intervention", "plots/intervention/figures"):
        shutil.copytree(REPO / sub, tmp_path / sub)
    return tmp_path


def _edit(root, dataset, change):
    path = root / "metrics/intervention" / f"{dataset}.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def _metrics(root, dataset) -> InterventionMetrics:
    return InterventionMetrics.load(root / "metrics/intervention" / f"{dataset}.json")


def test_render_is_deterministic_and_shows_every_dataset_layer_and_figure(root):
    text = docs.render(root)
    assert text == docs.render(root)
    for ds in ("world", "people"):
        m = _metrics(root, ds)
        assert f"](../plots/intervention/figures/{ds}.png)" in text
        assert f"edited layers {', '.join(map(str, m.layers))} (best train-LOO probe layer {m.best_layer}" in text
        # every probe edit of every target, layer and ratio has its row in the sweep table
        study = docs.load_studies(root)[ds]
        for target in study.targets:
            for e in study.edits(target):
                assert f"| {e.layer} | {e.ratio:g} | {docs.sig(e.size.delta_sd)} | {docs._sig_cell(e.own, docs.READOUT_UNITS[target])} |" in text
    assert "uncorrected" in docs.summary(root)


def test_a_changed_comparison_changes_the_numbers_and_the_verdict(root):
    m = _metrics(root, "world")
    target, layer, ratio = "latitude", m.layers[0], m.control_ratios[0]
    before_study = docs.load_studies(root)["world"]
    before, summary_before = docs.render(root), docs.summary(root)

    def beats_both_at_the_first_layer(data):
        for c in data["comparisons"]:
            if (c["subset"], c["edited_target"], c["layer"], c["ratio"]) == ("all", target, layer, ratio):
                c.update(ABOVE)
    _edit(root, "world", beats_both_at_the_first_layer)
    after = docs.render(root)
    expected = sorted({*before_study.beating_layers(target, ratio), layer})
    sentence = f"the {target} edit beats both controls at {docs._layers(expected)} (ratio {ratio:g})"
    assert sentence in after and sentence in docs.summary(root)
    assert "5.00 [1.00, 9.00]" in after and "5.00 [1.00, 9.00]" not in before
    assert "| 5.00 [1.00, 9.00] | 5.00 [1.00, 9.00] | **beats both controls** |" in after

    def nothing_established(data):
        for c in data["comparisons"]:
            if c["edited_target"] == target:
                c.update(NOT_ESTABLISHED)
    _edit(root, "world", nothing_established)
    after = docs.render(root)
    summary = docs.summary(root)
    nowhere = (f"the {target} edit beats both controls at no layer ({docs._layers(m.layers)}) and no control ratio "
               f"({docs._join([f'{r:g}' for r in m.control_ratios])}): not established")
    assert nowhere in after and f"the {target} edit beats both controls at no layer;" in summary and summary != summary_before
    assert f"no tested edit of {target} beats both controls, up to ratio {max(m.control_ratios):g}" in after


def test_a_changed_ablation_changes_its_sentence(root):
    m = _metrics(root, "people")

    def nothing_established(data):
        for c in data["ablation_comparisons"]:
            c.update(NOT_ESTABLISHED)
    _edit(root, "people", nothing_established)
    text = docs.render(root)
    assert ("raises the readout's error no more than a random subspace of the same dimension at any layer: "
            f"not established at {docs._layers(m.layers)}") in text

    def above_at_the_last_layer(data):
        for c in data["ablation_comparisons"]:
            if c["layer"] == m.layers[-1] and c["subset"] == "all":
                c.update(ABOVE)
    _edit(root, "people", above_at_the_last_layer)
    text = docs.render(root)
    assert f"random subspace of the same dimension at layer {m.layers[-1]}, not established at {docs._layers(m.layers[:-1])}" in text


def test_the_ablations_positive_control_says_where_a_null_can_mean_anything(root):
    m = _metrics(root, "world")

    def hurts_only_at_the_first_layer(data):
        for a in data["ablation"]:
            if a["subspace"] == "all":
                first = a["layer"] == m.layers[0]
                a.update(error_increase=500.0 if first else 1.0, error_lo=300.0 if first else -5.0,
                         error_hi=700.0 if first else 7.0)
    _edit(root, "world", hurts_only_at_the_first_layer)
    text = docs.render(root)
    assert (f"(the positive control) raises the readout's error at layer {m.layers[0]}, not at "
            f"{docs._layers(m.layers[1:])}, where a subspace's null says nothing") in text
    assert "| 500.00 km [300.00, 700.00] |" in text


def test_a_side_effect_is_named_where_its_interval_excludes_zero(root):
    m = _metrics(root, "world")
    layer, ratio = m.layers[-1], max(m.control_ratios)

    def side_effects_only_at_the_last_layer(data):
        for e in data["effects"]:
            if e["subset"] == "all" and e["kind"] == "probe" and e["readout"] != e["edited_target"] and e["ratio"] == ratio:
                e.update(effect=-1.5, lo=-2.0, hi=-1.0) if e["layer"] == layer else e.update(effect=0.1, lo=-1.0, hi=1.2)
    _edit(root, "world", side_effects_only_at_the_last_layer)
    text = docs.render(root)
    assert f"At ratio {ratio:g} the latitude edit moves longitude (interval excluding 0) at layer {layer}." in text
    assert f"At ratio {ratio:g} the longitude edit moves latitude (interval excluding 0) at layer {layer}." in text


def test_a_sign_its_interval_does_not_support_fails(root):
    def wrong_sign(data):
        data["comparisons"][0].update(difference=0.5, lo=-1.0, hi=2.0, sign="above 0")
    _edit(root, "world", wrong_sign)
    with pytest.raises(ValueError, match="disagrees with its interval"):
        docs.render(root)


def test_a_missing_metric_fails_loudly(root):
    _edit(root, "world", lambda data: data["baseline"].pop("latitude_r"))
    with pytest.raises(jinja2.UndefinedError, match="latitude_r"):
        docs.render(root)
    _edit(root, "people", lambda data: data.pop("best_layer"))
    with pytest.raises(OutputError, match="best_layer"):
        docs.render(root)


def test_a_missing_record_or_file_fails_loudly(root):
    def drop_one_probe_effect(data):
        data["effects"] = [e for e in data["effects"] if not (e["kind"] == "probe" and e["subset"] == "all")]
    _edit(root, "people", drop_one_probe_effect)
    with pytest.raises(KeyError, match="no effect"):
        docs.render(root)
    (root / docs.FIGURES_DIR / "world.png").unlink()
    with pytest.raises(FileNotFoundError, match="figure"):
        docs.render(root)
    shutil.rmtree(root / "metrics/intervention")
    with pytest.raises(FileNotFoundError):
        docs.render(root)


def test_committed_doc_is_the_render_of_the_committed_metrics():
    assert (REPO / docs.DOC_PATH).read_text() == docs.render(REPO)
