"""docs/causal.md is rendered from the committed intervention metrics: deterministic, loud on a
missing number, and moved by a changed metric (its verdict sentences included)."""

import json
import shutil

import jinja2
import pytest

from tests.conftest import REPO
from worldprobe.causal import docs
from worldprobe.io import OutputError


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


def test_render_is_deterministic_and_names_the_plotted_layer(root):
    text = docs.render(root)
    assert text == docs.render(root)
    # world's best layer (18) was never edited: the figure shows the middle edited layer
    assert "dose–response at layer 15](../plots/intervention/figures/world.png)" in text


def test_a_changed_metric_changes_the_numbers_and_the_verdict(root):
    before = docs.render(root)
    assert "### people: no edited layer (10, 13 and 16) where the probe edit beats every control" in before

    def people_beats_every_control_at_10(data):
        for c in data["all_entities"]["comparisons"]:
            if c["layer"] == 10:
                c.update(difference=5.0, lo=1.0, hi=9.0)
    _edit(root, "people", people_beats_every_control_at_10)
    after = docs.render(root)
    assert "### people: the probe edit beats every control at layer 10, not at 13 and 16" in after
    assert "5.00 [1.00, 9.00]" in after and "5.00 [1.00, 9.00]" not in before
    summary = docs.summary(root)
    assert "people (12 entities): at layer 10 the probe edit moves the year readout more than every control" in summary
    assert "nothing is established at layers 13 and 16" in summary
    assert "used" not in summary and "used" not in after


def test_a_missing_metric_fails_loudly(root):
    _edit(root, "world", lambda data: data["baseline"].pop("latitude_r"))
    with pytest.raises(jinja2.UndefinedError, match="latitude_r"):
        docs.render(root)
    _edit(root, "people", lambda data: data.pop("best_layer"))
    with pytest.raises(OutputError, match="best_layer"):
        docs.render(root)
    shutil.rmtree(root / "metrics/intervention")
    with pytest.raises(FileNotFoundError):
        docs.render(root)


def test_committed_doc_is_the_render_of_the_committed_metrics():
    assert (REPO / docs.DOC_PATH).read_text() == docs.render(REPO)
