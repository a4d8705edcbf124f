"""docs/spacetime.md and the README's space-and-time paragraph, rendered from synthetic metrics."""

from __future__ import annotations

from tests.fixtures.spacetime import write_workspace
from worldprobe.spacetime import docs
from worldprobe.spacetime.report import build_report


def _workspace(tmp_path, snapshot_dir, **kwargs):
    datasets = {"world": "place", "people": "time"}
    write_workspace(tmp_path, datasets, **kwargs)
    build_report(list(datasets), shapes_dir=snapshot_dir / "shapes", root=tmp_path)
    return tmp_path


def test_findings_state_the_block_and_the_curve_from_the_metrics(tmp_path, snapshot_dir):
    text = docs.render(_workspace(tmp_path, snapshot_dir))
    world = next(line for line in text.splitlines() if line.startswith("- **World places**: R² "))
    assert "The country oracle reaches R² 0.900; given the country the probe adds ΔR² +0.0120 [+0.0080, +0.0160], " \
        "established above 0 (12.0% of what the country leaves unexplained), and its predictions explain 0.60 of the " \
        "variance of the country means." in world
    assert ("reaches R² 0.969, sd 0.010 over 3 seeds; MLP − ridge +0.010 [-0.010, +0.030]: no difference "
            "established.") in world
    assert ("the strongest control, surface form (TF-IDF) (TF-IDF character n-grams, 64 SVD components (fitted on "
            "train)), reaches 0.120; MLP on activations − MLP on that control +0.849 [+0.809, +0.889]: above.") in world
    assert "Layer 6 wins the train selection score in 70% of train resamples" in world
    assert "instead of longitude/latitude lowers the mean proximity error (Δ -0.004 [-0.008, -0.001])" in world
    verdict = next(line for line in text.splitlines() if line.startswith("- **World places** (R² "))
    assert ("with the country as an unpenalised term (country fixed effects) gains ΔR² +0.0100 [+0.0060, +0.0140] "
            "over the country's train means (10.0% of what the country leaves unexplained): established.") in verdict
    assert "the probe is above at every size from 400" in world
    people = next(line for line in text.splitlines() if line.startswith("- **Historical figures**: R² "))
    assert "By era: before 1500, n = " in people and "from 1500, n = 260, R² -2.500, Spearman 0.400" in people
    assert "| World places | 1,510 | 0 | 5 | 5 (5 short name) | 1,500 (1,200 / 300) |" in text


def test_summary_names_each_dataset_under_its_verdict(tmp_path, snapshot_dir):
    beaten = docs.summary(_workspace(tmp_path, snapshot_dir, surface=0.99))
    assert ("a control is above the probe on Historical figures (surface form (TF-IDF)); the probe is not established "
            "against World places (surface form (TF-IDF))") in beaten
    assert "beats all four controls" not in beaten
    assert "R² 0.900 on World places (country), where the probe adds ΔR² +0.0120 [+0.0080, +0.0160] (12.0% of what " \
        "the block leaves unexplained; " in beaten
    assert "Beyond each control (what the probe's predictions add to the control's), the probe adds to every " \
        "control on World places, Historical figures." in beaten
    unsettled = docs.summary(_workspace(tmp_path, snapshot_dir, surface_adds=0.005))
    assert "what it adds is not established on World places (surface form (TF-IDF), ΔR² +0.005 [-0.005, +0.015])" \
        in unsettled
    assert beaten.endswith("Details: [docs/spacetime.md](docs/spacetime.md).")
    assert ("A one-hidden-layer MLP probe (3 seeds, mean R²) against the ridge, paired: no difference established on "
            "World places (+0.010 [-0.010, +0.030]); above on Historical figures (+0.040 [+0.020, +0.060]).") in beaten
    assert ("; a ridge on the activations with the block as an unpenalised term gains ΔR² +0.0100 [+0.0060, +0.0140], "
            "10.0% of what the block leaves unexplained)") in beaten
    beats = docs.summary(_workspace(tmp_path, snapshot_dir, surface=0.01))
    assert "the probe beats all four controls on World places, Historical figures" in beats
