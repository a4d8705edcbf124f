"""The report stage on synthetic metrics of the probes/generalization stages' exact shape."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.fixtures.spacetime import MODEL, N_LAYERS, synthetic_predictions, write_workspace
from worldprobe.io import read_json, write_json
from worldprobe.report import (
    CONTROLS,
    RESULTS_END,
    RESULTS_START,
    MetricsError,
    Outcome,
    bootstrap_r2_ci,
    build_report,
    judge,
    load_metrics,
    plain_verdict,
    rebase_links,
    splice_results,
    summarize_dataset,
)

REPO = Path(__file__).resolve().parents[2]


def _shapes_dir(snapshot_dir: Path) -> Path:
    return snapshot_dir / "shapes"


# --------------------------------------------------------------------------- summary shape


def test_summary_has_the_documented_shape(tmp_path, snapshot_dir):
    datasets = {"nyc": "place", "people": "time"}
    write_workspace(tmp_path, datasets)
    build_report(list(datasets), seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    summary = read_json(tmp_path / "metrics" / "spacetime" / "summary.json")
    assert set(summary) == set(datasets)
    for name in datasets:
        probes = read_json(tmp_path / "metrics" / "probes" / f"{name}.json")
        assert set(summary[name]) == {MODEL}  # the random-weights model is a control, not a row
        assert set(summary[name][MODEL]) == {"main", "empty"}
        main = summary[name][MODEL]["main"]
        assert main["best_layer"] == N_LAYERS and main["n_layers"] == N_LAYERS + 1 and main["rel_depth"] == 1.0
        assert main["r2"] == pytest.approx(probes["runs"][MODEL]["main"]["best"]["r2"])
        assert set(main["controls"]) == set(CONTROLS)
        assert main["controls"]["surface"] == 0.1
        assert main["controls"]["layer0"] == probes["runs"][MODEL]["main"]["layers"][0]["r2"]
        assert main["controls"]["random_weights"] == pytest.approx(0.05)
        assert main["mlp_r2"] == pytest.approx(main["r2"] + 0.01)
        assert main["r2_ci_low"] < main["r2"] < main["r2_ci_high"]
        assert main["holdout"] == {"block": {"default": 0.1, "heldout": 0.2}}  # entity type was skipped
        # the random-weights model ran the main prompt only
        assert summary[name][MODEL]["empty"]["controls"]["random_weights"] is None


def test_summary_is_deterministic(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    outputs = []
    for _ in range(2):
        build_report(["people"], seed=3, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
        outputs.append((tmp_path / "metrics/spacetime/summary.json").read_text() + (tmp_path / "reports/results.md").read_text())
    assert outputs[0] == outputs[1]


# --------------------------------------------------------------------------- verdicts


def test_judge_compares_each_control_with_the_interval():
    verdicts = {v.control: v.outcome for v in judge((0.50, 0.60), {"surface": 0.70, "layer0": 0.55, "random_weights": 0.1})}
    assert verdicts == {"surface": Outcome.BEATEN, "layer0": Outcome.INDISTINGUISHABLE, "random_weights": Outcome.BEATS}
    missing = judge((0.5, 0.6), {"surface": None, "layer0": 0.1, "random_weights": 0.1})
    assert missing[0].outcome is Outcome.NOT_MEASURED


def test_plain_verdict_claims_a_representation_only_when_every_control_is_beaten():
    all_beaten = judge((0.5, 0.6), {"surface": 0.1, "layer0": 0.2, "random_weights": 0.3})
    assert plain_verdict("place", MODEL, all_beaten).startswith("The probe beats every control")
    surface_wins = judge((0.5, 0.6), {"surface": 0.7, "layer0": 0.2, "random_weights": 0.3})
    text = plain_verdict("place", MODEL, surface_wins)
    assert text.startswith("Not established") and "surface form" in text and "layer 0" in text


@pytest.mark.parametrize("surface, expected", [(0.01, "beats"), (0.99, "is beaten by")])
def test_results_md_states_the_verdict_per_control(tmp_path, snapshot_dir, surface, expected):
    write_workspace(tmp_path, {"art": "time"}, surface=surface)
    build_report(["art"], seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    text = (tmp_path / "reports" / "results.md").read_text()
    assert f"surface form (TF-IDF) {surface:.3f}: **{expected}**" in text
    assert "random weights 0.050: **beats**" in text
    assert "| Art and entertainment |" in text and "0.788" in text  # the paper's Llama-2-7b figure beside ours


def test_bootstrap_matches_sklearn_on_each_resample():
    from sklearn.metrics import r2_score

    frame = synthetic_predictions("place", 80, 0.3, np.random.default_rng(1))
    index = np.random.default_rng(7).integers(0, 80, size=(40, 80))  # the draws bootstrap_r2_ci makes with seed 7
    expected = [np.mean([r2_score(frame[t].iloc[i], frame[f"pred_{t}"].iloc[i]) for t in ("longitude", "latitude")])
                for i in index]
    assert bootstrap_r2_ci(frame, "place", seed=7, n_boot=40) == pytest.approx(tuple(np.quantile(expected, [0.025, 0.975])))


def test_bootstrap_interval_narrows_with_more_entities():
    rng = np.random.default_rng(0)
    small, large = (synthetic_predictions("time", n, 0.3, rng) for n in (100, 3000))
    width = [np.subtract(*bootstrap_r2_ci(p, "time", seed=0, n_boot=300)[::-1]) for p in (small, large)]
    assert width[1] < width[0] / 3


# --------------------------------------------------------------------------- bad input


def test_missing_metrics_file_is_named(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    with pytest.raises(MetricsError, match=r"metrics/probes/art\.json: no such metrics file"):
        build_report(["people", "art"], seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_missing_key_names_file_and_key(tmp_path):
    write_workspace(tmp_path, {"people": "time"})
    path = tmp_path / "metrics" / "probes" / "people.json"
    probes = read_json(path)
    del probes["runs"][MODEL]["main"]["best"]["r2"]
    with pytest.raises(MetricsError, match=r"people\.json runs\.gemma-3-270m\.main: missing key 'best\.r2'"):
        summarize_dataset(probes, None, path)


def test_malformed_json_and_values_are_reported(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(MetricsError, match="bad.json: not valid JSON"):
        load_metrics(bad)
    write_workspace(tmp_path, {"people": "time"})
    probes = read_json(tmp_path / "metrics/probes/people.json")
    probes["runs"][MODEL]["main"]["best"]["r2"] = "0.5"
    with pytest.raises(MetricsError, match="best.r2 should be a finite number, got '0.5'"):
        summarize_dataset(probes, None, "people.json")


def test_predictions_from_another_run_are_refused(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    path = tmp_path / "plots/probes/people/predictions.csv"
    frame = pd.read_csv(path)
    frame["pred_year"] = frame["year"].mean()  # R² 0, far from the metrics' value
    frame.to_csv(path, index=False)
    with pytest.raises(MetricsError, match="come from different runs"):
        build_report(["people"], seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_predictions_missing_column_is_named(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"us": "place"})
    path = tmp_path / "plots/probes/us/predictions.csv"
    pd.read_csv(path).drop(columns="pred_latitude").to_csv(path, index=False)
    with pytest.raises(MetricsError, match="missing column.s. pred_latitude for a place dataset"):
        build_report(["us"], seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


# --------------------------------------------------------------------------- outputs for dvc plots


def test_depth_table_has_one_column_per_curve(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"world": "place"})
    build_report(["world"], seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    depth = pd.read_csv(tmp_path / "plots/spacetime/world/depth.csv")
    assert list(depth.columns) == ["layer", "rel_depth", "main", "empty", "random_weights", "surface", "layer0"]
    assert list(depth["layer"]) == list(range(N_LAYERS + 1))
    assert (depth["surface"] == 0.1).all() and (depth["layer0"] == depth.loc[0, "main"]).all()
    kinds = pd.read_csv(tmp_path / "plots/spacetime/probe_kinds.csv")
    assert list(kinds["label"]) == ["world linear", "world MLP"]
    pca = pd.read_csv(tmp_path / "plots/spacetime/pca.csv")
    assert list(pca.columns) == ["k", "world"] and list(pca["k"]) == [2, 4, 8]  # "full" is not a point on the k axis
    holdout = pd.read_csv(tmp_path / "plots/spacetime/holdout.csv")
    assert list(holdout["label"]) == ["world block: random split", "world block: held out"]


def test_controls_absent_from_a_run_stay_as_empty_columns(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    path = tmp_path / "metrics/probes/people.json"
    probes = read_json(path)
    del probes["runs"][f"{MODEL}~random_weights"]
    probes["controls"]["random_weights"] = None
    write_json(path, probes)
    build_report(["people"], seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    depth = pd.read_csv(tmp_path / "plots/spacetime/people/depth.csv")
    assert depth["random_weights"].isna().all()  # the column stays, so dvc.yaml's plot definition holds
    assert read_json(tmp_path / "metrics/spacetime/summary.json")["people"][MODEL]["main"]["controls"]["random_weights"] is None
    assert "random weights —: **not measured**" in (tmp_path / "reports/results.md").read_text()


# --------------------------------------------------------------------------- README splice


def test_splice_adds_markers_once_and_is_idempotent():
    readme = "# worldprobe\n\nIntro.\n"
    once = splice_results(readme, "## Results\n\nR² 0.5\n")
    assert once.startswith(readme.rstrip("\n")) and once.count(RESULTS_START) == once.count(RESULTS_END) == 1
    assert splice_results(once, "## Results\n\nR² 0.5\n") == once
    updated = splice_results(once + "\n## After\n", "## Results\n\nR² 0.6\n")
    assert "R² 0.6" in updated and "R² 0.5" not in updated and updated.endswith("\n## After\n")


def test_splice_refuses_broken_markers():
    with pytest.raises(ValueError, match="found 1 start and 0 end"):
        splice_results(f"x\n{RESULTS_START}\ny\n", "z")


def test_links_are_rebased_from_reports_to_the_repository_root():
    text = "![map](../plots/figures/map_world.png) [paper](https://arxiv.org/abs/2310.02207) [s](#results)"
    assert rebase_links(text, "reports", ".") == (
        "![map](plots/figures/map_world.png) [paper](https://arxiv.org/abs/2310.02207) [s](#results)"
    )


def test_update_readme_script_touches_only_the_marked_region(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "results.md").write_text("## Results\n\n![years_people](../plots/figures/years_people.png)\n")
    (tmp_path / "README.md").write_text(f"# Title\n\nkeep me\n\n{RESULTS_START}\nold\n{RESULTS_END}\n\ntail\n")
    script = [sys.executable, str(REPO / "scripts" / "update_readme.py")]
    assert subprocess.run([*script, "--check"], cwd=tmp_path).returncode == 1
    subprocess.run(script, cwd=tmp_path, check=True)
    spliced = (tmp_path / "README.md").read_text()
    assert spliced.startswith("# Title\n\nkeep me\n\n") and spliced.endswith(f"{RESULTS_END}\n\ntail\n")
    assert "](plots/figures/years_people.png)" in spliced and "\nold\n" not in spliced
    # --check passes only if splicing again would change nothing: the update is idempotent
    assert subprocess.run([*script, "--check"], cwd=tmp_path).returncode == 0
