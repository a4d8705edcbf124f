"""The report stage on synthetic metrics of the probes/generalization stages' exact shape."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from tests.fixtures.spacetime import MODEL, N_LAYERS, write_model_axis, write_workspace
from worldprobe.io import read_json, write_json
from worldprobe.spacetime import docs
from worldprobe.spacetime.outputs import OutputError
from worldprobe.spacetime.report import build_report
from worldprobe.spacetime.verdicts import CONTROLS


def _shapes_dir(snapshot_dir: Path) -> Path:
    return snapshot_dir / "shapes"


def test_summary_has_the_documented_shape(tmp_path, snapshot_dir):
    datasets = {"nyc": "place", "people": "time"}
    write_workspace(tmp_path, datasets)
    build_report(list(datasets), shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
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
        assert main["controls"]["layer0_token_mean"] == probes["controls"]["layer0_token_mean"]["r2"]
        assert main["controls"]["random_weights"] == pytest.approx(0.05)
        assert main["mlp_r2"] == pytest.approx(main["r2"] + 0.01)
        assert main["r2_ci_low"] < main["r2"] < main["r2_ci_high"]
        assert set(main["beats"]) == set(main["adds"]) == set(main["within_block_beats"]) == set(CONTROLS)
        assert set(main["beats"]["surface"]) == {"diff", "ci_low", "ci_high"}
        assert set(main["adds"]["surface"]) == {"diff", "ci_low", "ci_high", "n"}
        assert main["within_block_spearman"] == probes["validity"]["within_block"]["spearman"]
        assert ("block" in main) == ("r2_beyond_group" in main) == (datasets[name] == "place")
        if datasets[name] == "place":
            assert {"block_read_r2", "beyond_block_share", "unseen_test_blocks"} <= set(main["block"])
        assert main["holdout"] == {"block": {"default": 0.1, "heldout": 0.2}}  # entity type was skipped
        assert [p["n_train"] for p in main["learning_curve"]] == [100, 400, 1200]
        assert set(main["learning_curve"][0]) == {"n_train", "r2", "surface_r2", "random_weights_r2"}
        assert main["learning_curve"][-1]["r2"] == pytest.approx(main["r2"])
        assert main["learning_curve_crossings"]["surface"]["stays_above_from"] == 400
        assert "learning_curve" not in summary[name][MODEL]["empty"]  # the curve is the main run's
        # the random-weights model ran the main prompt only
        assert summary[name][MODEL]["empty"]["controls"]["random_weights"] is None


def test_summary_is_deterministic(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    outputs = []
    for _ in range(2):
        build_report(["people"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
        outputs.append((tmp_path / "metrics/spacetime/summary.json").read_text() + docs.render(tmp_path))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("surface, expected", [(0.01, "beats"), (0.99, "beaten")])
def test_the_doc_states_both_verdicts_per_control(tmp_path, snapshot_dir, surface, expected):
    write_workspace(tmp_path, {"art": "time"}, surface=surface)
    build_report(["art"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    text = docs.render(tmp_path)
    assert re.search(rf"\| Art and entertainment \| surface form \(TF-IDF\) \| {surface:.3f} \| [-+]\d\.\d+ "
                     rf"\[[-+0-9., ]+\] {expected} \| \+0\.030 \[\+0\.020, \+0\.040\] adds \|", text)
    assert re.search(r"\| Art and entertainment \| random weights \| 0\.050 \| [-+0-9.\[\], ]+ beats \| \+0\.200 ", text)
    assert ("| surface | layer 0, last token | layer 0, token mean | random weights | MLP R² (mean of seeds) "
            "| MLP − ridge [95 % CI] |") in text
    assert "| Art and entertainment | birth year | 1,200 / 300 | 6 / 6 (70%) |" in text  # best layer, its share
    assert "| Art and entertainment |" in text and "0.788" in text  # the paper's Llama-2-7b figure beside ours
    assert "| Art and entertainment | 100 / 400 / 1,200 |" in text  # the learning curve at matched n


def test_a_learning_curve_of_other_data_is_refused(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    path = tmp_path / "metrics" / "learning_curve" / "people.json"
    curve = read_json(path)
    curve["n_train_split"] = 999
    write_json(path, curve)
    with pytest.raises(OutputError, match="rerun the learning_curve stage"):
        build_report(["people"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_the_doc_shows_what_the_probe_adds_beyond_the_block(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"world": "place", "people": "time"})
    build_report(["world", "people"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    text = docs.render(tmp_path)
    world = next(line for line in text.splitlines() if line.startswith("| World places | country"))
    assert world.startswith("| World places | country (3) | 0.900 | ") and world.endswith(
        "| +0.0120 [+0.0080, +0.0160] | 12.0% | 0.600 | +0.0100 [-0.0100, +0.0300] | 1 (2) |")
    within = next(line for line in text.splitlines() if line.startswith("| World places | country (3, 250)"))
    assert "| 0.200 / 0.100 / — / — / — | +0.050 [+0.030, +0.070] / +0.100 [+0.080, +0.120] / " in within
    assert not any(line.startswith("| Historical figures | decade (") and "oracle" in line for line in text.splitlines())
    assert "Historical figures from 1500: n = 260, R² -2.500, Spearman 0.400" in text
    verdict = next(line for line in text.splitlines() if line.startswith("- **World places**"))
    assert "Given the country, the probe's prediction adds ΔR² +0.0120 [+0.0080, +0.0160], 12.0% of the variance" in verdict
    assert "1 test countries (2 places) have no train place" in verdict
    assert "against each control's order (probe − control, paired): surface form (TF-IDF) +0.050 [+0.030, +0.070], " \
        "the probe orders better" in verdict
    people_verdict = next(line for line in text.splitlines() if line.startswith("- **Historical figures** (R²"))
    assert "from 1500 -2.500 (0.400, 260)" in people_verdict and "oracle" not in people_verdict
    assert "| Historical figures | " in text and "(other data)" in text  # the paper's people are other data
    assert "source rows" in next(line for line in text.splitlines() if line.startswith("- **Historical figures**: "))


def test_missing_metrics_file_is_named(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    with pytest.raises(OutputError, match=r"metrics/probes/art\.json: no such metrics file"):
        build_report(["people", "art"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_predictions_from_another_run_are_refused(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    path = tmp_path / "plots/probes/people/predictions.csv"
    frame = pd.read_csv(path)
    frame["pred_year"] = frame["year"].mean()  # R² 0, far from the metrics' value
    frame.to_csv(path, index=False)
    with pytest.raises(OutputError, match="come from different runs"):
        build_report(["people"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_predictions_missing_column_is_named(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"us": "place"})
    path = tmp_path / "plots/probes/us/predictions.csv"
    pd.read_csv(path).drop(columns="pred_latitude").to_csv(path, index=False)
    with pytest.raises(OutputError, match="missing column.s. pred_latitude for a place dataset"):
        build_report(["us"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_depth_table_has_one_column_per_curve(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"world": "place"})
    build_report(["world"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    depth = pd.read_csv(tmp_path / "plots/spacetime/world/depth.csv")
    assert list(depth.columns) == ["layer", "rel_depth", "main", "empty", "random_weights", "surface", "layer0",
                                   "layer0_token_mean"]
    assert list(depth["layer"]) == list(range(N_LAYERS + 1))
    assert (depth["surface"] == 0.1).all() and (depth["layer0"] == depth.loc[0, "main"]).all()
    assert depth["layer0_token_mean"].to_numpy() == pytest.approx([2 * depth.loc[0, "main"]] * len(depth), rel=1e-5)
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
    del probes["validity"]["verdicts"]["random_weights"]
    probes["controls"]["layer0_token_mean"] = None
    del probes["validity"]["verdicts"]["layer0_token_mean"]
    write_json(path, probes)
    path = tmp_path / "metrics/incremental/people.json"
    incremental = read_json(path)
    for name in ("random_weights", "layer0_token_mean"):  # no prediction column: nothing to add to
        del incremental["adds"][name], incremental["within_block_spearman"][name]
    write_json(path, incremental)
    build_report(["people"], shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    depth = pd.read_csv(tmp_path / "plots/spacetime/people/depth.csv")
    # the columns stay, so dvc.yaml's plot definitions hold
    assert depth["random_weights"].isna().all() and depth["layer0_token_mean"].isna().all()
    controls = read_json(tmp_path / "metrics/spacetime/summary.json")["people"][MODEL]["main"]["controls"]
    assert controls["random_weights"] is None and controls["layer0_token_mean"] is None
    results = docs.render(tmp_path)
    assert "| Historical figures | random weights | — | not measured | — |" in results
    assert "| Historical figures | layer 0 (entity token mean) | — | not measured | — |" in results


def test_the_model_axis_gets_its_table_figure_and_summary_sentence(tmp_path, snapshot_dir):
    datasets = {"world": "place", "people": "time"}
    write_workspace(tmp_path, datasets)
    build_report(list(datasets), shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    assert not (tmp_path / "plots/figures/models.png").exists()  # no axis measured: no figure, no section
    assert "### Models" not in docs.render(tmp_path)
    write_model_axis(tmp_path, datasets)
    build_report(list(datasets), shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    assert (tmp_path / "plots/figures/models.png").stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "plots/spacetime/models.csv")
    assert len(table) == 2 * 2 * 5  # datasets x models x (probe + 4 controls)
    probe = table[(table["series"] == "probe") & (table["model"] == "small")]
    assert list(probe["r2"]) == pytest.approx([0.6, 0.6]) and list(probe["n_params"]) == [135_000_000] * 2
    text = docs.render(tmp_path)
    assert "| World places (n = 2,400 / 600) | small | 135.0 M | 24 (0.80) | 0.600 [0.550, 0.650] | " \
        "-0.100 [-0.130, -0.070] | 0.100 (beaten, added to) |" in text
    assert "a 2-point comparison" in text and "](../plots/figures/models.png)" in text
    summary = docs.summary(tmp_path)
    assert ("Model axis (probe R² on the same seeded subsample of each dataset, paired; a comparison of 2 models "
            "that differ in more than size, not a scaling law): small (135 M parameters) minus gemma") in summary
    assert "below on World places (-0.100 [-0.130, -0.070]), Historical figures (-0.100 [-0.130, -0.070])" in summary
    write_model_axis(tmp_path, {"world": "place"}, smaller_minus=0.01)
    assert ("no difference established on World places (+0.010 [-0.020, +0.040]); below on Historical figures"
            in docs.summary(tmp_path))
