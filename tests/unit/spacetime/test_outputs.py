"""Typed stage outputs: every committed metrics file loads and saves back byte for byte, and a
malformed file fails at load naming the file and the key."""

from pathlib import Path

import pytest

from tests.fixtures.spacetime import MODEL, write_workspace
from worldprobe.io import read_json, write_json
from worldprobe.karel.analysis import RegressionSummary, SemanticsSummary
from worldprobe.karel.content import ProbeSets
from worldprobe.karel.outputs import KarelSynthesis
from worldprobe.records import DataReport
from worldprobe.spacetime.outputs import (
    GeneralizationMetrics,
    IncrementalMetrics,
    LearningCurve,
    ModelAxisMetrics,
    OutputError,
    ProbeMetrics,
    SpacetimeSummary,
)

REPO = Path(__file__).resolve().parents[3]


def test_missing_key_names_file_and_key(tmp_path):
    write_workspace(tmp_path, {"people": "time"})
    path = tmp_path / "metrics" / "probes" / "people.json"
    probes = read_json(path)
    del probes["runs"][MODEL]["main"]["best"]["r2"]
    write_json(path, probes)
    with pytest.raises(OutputError, match=r"people\.json: runs\.gemma-3-270m\.main\.best\.r2: Field required"):
        ProbeMetrics.load(path)


def test_malformed_json_and_values_are_reported(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OutputError, match="bad.json: not valid JSON"):
        ProbeMetrics.load(bad)
    write_workspace(tmp_path, {"people": "time"})
    probes = read_json(tmp_path / "metrics/probes/people.json")
    probes["runs"][MODEL]["main"]["best"]["r2"] = "0.5"
    with pytest.raises(OutputError, match=r"people\.json: runs\.gemma-3-270m\.main\.best\.r2: Input should be a valid number"):
        ProbeMetrics.parse(probes, "people.json")
    probes["runs"][MODEL]["main"]["best"]["r2"] = float("nan")
    with pytest.raises(OutputError, match="best.r2: Input should be a finite number"):
        ProbeMetrics.parse(probes, "people.json")


@pytest.mark.parametrize(
    ("model", "pattern"),
    [(ProbeMetrics, "metrics/probes/*.json"), (GeneralizationMetrics, "metrics/generalization/*.json"),
     (LearningCurve, "metrics/learning_curve/*.json"), (IncrementalMetrics, "metrics/incremental/*.json"),
     (ModelAxisMetrics, "metrics/models/*.json"),
     (DataReport, "metrics/data/*.json"), (SpacetimeSummary, "metrics/spacetime/summary.json"),
     (KarelSynthesis, "metrics/karel/synthesis.json"), (ProbeSets, "metrics/karel/probe_sets.json"),
     (SemanticsSummary, "metrics/karel/semantics.json"), (RegressionSummary, "metrics/karel/regression.json"),
     (KarelSynthesis, "ci/reference/metrics/karel/synthesis.json"),
     (ProbeSets, "ci/reference/metrics/karel/probe_sets.json"),
     (SemanticsSummary, "ci/reference/metrics/karel/semantics.json"),
     (RegressionSummary, "ci/reference/metrics/karel/regression.json")],
)
def test_committed_metrics_keep_their_shape(tmp_path, model, pattern):
    """The committed results load into their model and save back byte for byte: the on-disk JSON (what
    `dvc metrics diff` compares) is exactly what the typed outputs write."""
    files = sorted(REPO.glob(pattern))
    assert files
    for path in files:
        model.load(path).save(tmp_path / path.name)
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path


def test_a_place_only_field_stays_out_of_a_time_record(tmp_path):
    write_workspace(tmp_path, {"people": "time", "world": "place"})
    people, world = (read_json(tmp_path / f"metrics/probes/{n}.json")["runs"][MODEL]["main"]["best"] for n in ("people", "world"))
    assert "prox_error_paper_swapped" not in people and world["prox_error_paper_swapped"] == 0.4
