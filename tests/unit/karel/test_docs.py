"""docs/karel.md is rendered from the committed Karel outputs: deterministic, loud on a missing number,
moved by a changed metric, and its counts are the rows actually scored."""

import json
import shutil

import jinja2
import pytest

from tests.conftest import REPO
from worldprobe.karel import docs


@pytest.fixture
def root(tmp_path):
    for sub in ("metrics/karel", "plots/karel"):
        shutil.copytree(REPO / sub, tmp_path / sub, ignore=shutil.ignore_patterns("figures"))
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")  # the run's configuration numbers
    return tmp_path


def _edit(root, name, change):
    path = root / "metrics/karel" / name
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_render_is_deterministic_and_counts_the_rows_scored_per_offset(root):
    text = docs.render(root)
    assert text == docs.render(root)
    # 3,797 counts every action row; the facing probes score 2,297 at offset 0 and 590 at +2
    assert "2,297 test rows at offset 0" in text and "590 test rows at offset +2" in text
    assert "±0.02 at 0" in text and "±0.04 at +2" in text
    assert "- mean, linear: below 1.00 at step 1,000 (0.634), step 2,000 (0.913)" in text
    assert "0 of the 102 MLP fits of the facing and initial-facing probes stopped" in text
    assert "| 0 | 0.08 (−1.5, 0.36) | 0.06 (−1.8, 0.42) | 0.968 |" in text  # like with like: offset 0


def test_a_changed_metric_changes_the_text(root):
    before = docs.render(root)

    def control_perfect(data):
        data["checkpoints"]["1000"]["control"]["mean"]["linear"] = 1.0
        data["checkpoints"]["2000"]["control"]["mean"]["linear"] = 1.0
        data["checkpoints"]["3000"]["control"]["mean"]["linear"] = 1.0
    _edit(root, "semantics.json", control_perfect)
    after = docs.render(root)
    assert "- mean, linear: 1.00 at all 13 checkpoints it was fitted at." in after
    assert "not at full strength" in before and "not at full strength" not in after
    _edit(root, "synthesis.json", lambda data: data["final"].update(accuracy_spec=0.5))
    assert "50.0 % of test specs solved" in docs.render(root)
    assert "solves 50.0 % of test specifications" in docs.summary(root)


def test_a_missing_metric_fails_loudly(root):
    _edit(root, "synthesis.json", lambda data: data["train"].pop("seconds_per_step"))
    with pytest.raises(Exception, match="seconds_per_step"):
        docs.render(root)


def test_a_missing_template_name_is_an_error_not_an_empty_string(root, monkeypatch):
    monkeypatch.setattr(docs.Outputs, "final", property(lambda self: jinja2.StrictUndefined(name="final")))
    with pytest.raises(jinja2.UndefinedError):
        docs.render(root)


def test_committed_doc_is_the_render_of_the_committed_outputs():
    assert (REPO / docs.DOC_PATH).read_text() == docs.render(REPO)


def test_regressions_too_short_to_fit_are_said_so_not_judged(root):
    """A run of fewer than 3 checkpoints (the `smoke` profile's ci and first-look runs) has no fit: p is None."""
    def unfitted(data):
        for fit in data["fits"].values():
            for part in ("content", "above_baseline"):
                fit[part].update(r2=None, p=None, slope=None, intercept=None)
    _edit(root, "regression.json", unfitted)
    assert docs.trend(None, None) == "not fitted"
    assert "not fitted" in docs.summary(root)
    assert "regression on synthesis is not fitted" in docs.render(root)
