"""docs/karel.md is rendered from the committed Karel outputs: deterministic, loud on a missing number,
moved by a changed metric, and its counts are the rows actually scored."""

import json
import shutil

import jinja2
import pandas as pd
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
    rows = pd.read_csv(root / "plots/karel/semantics.csv")
    final = rows["step"].max()
    scored = rows[(rows.probe_set == "teacher_forced") & (rows.step == final) & (rows.target == "facing")
                  & (rows.probe == "linear") & (rows.frame == "absolute") & (rows.semantics == "original")
                  & (rows.feature == "concat")].set_index("offset")["n_test"]
    assert f"{scored[0]:,} test rows at offset 0" in text and f"{scored[2]:,} test rows at offset +2" in text
    assert f"±{0.98 / scored[2] ** 0.5:.2f} at +2" in text


def test_a_changed_metric_changes_the_text(root):
    before = docs.render(root)

    def tokens_beaten(data):
        final = str(max(int(s) for s in data["probe_sets"]["teacher_forced"]))
        test = data["probe_sets"]["teacher_forced"][final]["frames"]["absolute"]["beats"]["concat"]["tokens"]["0"]
        test.update(diff=0.123, ci_low=0.1, ci_high=0.15, verdict="above 0")
    _edit(root, "semantics.json", tokens_beaten)
    after = docs.render(root)
    assert "+0.12 [+0.10, +0.15]" in after and "+0.12 [+0.10, +0.15]" not in before
    _edit(root, "synthesis.json", lambda data: data["final"].update(accuracy_spec=0.5))
    assert "50.0 % of test specs solved" in docs.render(root)
    assert "solves 50.0 % of test specifications" in docs.summary(root)


def test_a_negative_control_off_chance_is_flagged(root):
    assert "with suspicion" not in docs.render(root)

    def leaky(data):
        first = data["probe_sets"]["generated"][str(min(int(s) for s in data["probe_sets"]["generated"]))]
        first["controls"]["heldout"]["concat"]["linear"] = first["controls_majority"]["heldout"] + 0.2
    _edit(root, "semantics.json", leaky)
    assert "generated, negative control: **off its majority class" in docs.render(root)


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
    """A run of fewer than 3 checkpoints has no fit, and one of fewer than 10 no slope interval: neither
    is called a rise or a fall (the `smoke` profile's ci and first-look runs)."""
    def unfitted(data):
        for fit in data["fits"].values():
            for part in ("content", "above_text"):
                fit[part].update(r2=None, p=None, slope=None, intercept=None, slope_low=None, slope_high=None,
                                 verdict="not established")
    _edit(root, "regression.json", unfitted)
    summary = docs.summary(root)
    assert "is not fitted" in summary and "positive" not in summary and "negative" not in summary
    assert "— (not fitted)" in docs.render(root)
