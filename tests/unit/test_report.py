"""The report stage on synthetic metrics of the probes/generalization stages' exact shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
    place_or_time_r2,
    plain_verdict,
    rebase_links,
    splice_results,
    summarize_dataset,
)

REPO = Path(__file__).resolve().parents[2]
MODEL = "gemma-3-270m"
N_LAYERS = 6


def _predictions(kind: str, n: int, noise: float, rng: np.random.Generator) -> pd.DataFrame:
    if kind == "place":
        lon, lat = rng.uniform(-74.2, -73.7, n), rng.uniform(40.5, 40.9, n)  # inside every outline's frame
        return pd.DataFrame({
            "id": np.arange(n), "text": [f"place {i}" for i in range(n)],
            "longitude": lon, "latitude": lat,
            "pred_longitude": lon + rng.normal(0, noise * 0.1, n), "pred_latitude": lat + rng.normal(0, noise * 0.08, n),
            "country": "x",
        })
    year = rng.uniform(1500, 2000, n)
    return pd.DataFrame({
        "id": np.arange(n), "text": [f"event {i}" for i in range(n)], "year": year,
        "pred_year": year + rng.normal(0, noise * 300, n), "decade": (year // 10) * 10,
    })


def _layers(peak: float, prox: bool) -> list[dict]:
    """A curve that rises steeply, then flattens, reaching ``peak`` at the last layer."""
    rows = []
    for layer in range(N_LAYERS + 1):
        r2 = peak * (1 - 0.8 * (1 - layer / N_LAYERS) ** 2)
        row = {
            "layer": layer, "rel_depth": layer / N_LAYERS, "r2": r2, "r2_per_target": {"a": r2},
            "spearman": max(r2, 0.0) ** 0.5, "prox_error": 0.5 - r2 / 2, "mae": 1.0, "mae_unit": "years",
            "alpha": {"a": 10.0}, "alpha_at_grid_edge": False,
        }
        if prox:
            row["prox_error_paper_swapped"] = 0.4
        rows.append(row)
    return rows


def _run(layers: list[dict], control: str | None) -> dict:
    best = max(layers, key=lambda r: r["r2"])
    return {"control": control, "n_layers": N_LAYERS, "best_layer": best["layer"],
            "best": {k: v for k, v in best.items() if k not in ("layer", "rel_depth")}, "layers": layers}


def write_workspace(root: Path, datasets: dict[str, str], surface: float = 0.1, random_weights: float = 0.05,
                    noise: float = 0.3, seed: int = 0) -> None:
    """Write metrics/probes, metrics/generalization and predictions.csv the way the earlier stages do."""
    rng = np.random.default_rng(seed)
    for name, kind in datasets.items():
        predictions = _predictions(kind, 300, noise, rng)
        r2 = place_or_time_r2(predictions, kind)
        main = _layers(r2, kind == "place")  # best at the deepest layer, where predictions.csv comes from
        probes = {
            "dataset": name, "kind": kind, "target_note": "year of birth" if kind == "time" else "[lon, lat]",
            "n_train": 1200, "n_test": 300,
            "runs": {
                MODEL: {"main": _run(main, None), "empty": _run(_layers(r2 * 0.9, kind == "place"), None)},
                f"{MODEL}~random_weights": {"main": _run(_layers(random_weights, kind == "place"), "random_weights")},
            },
            "controls": {"surface": {"r2": surface, "spearman": None, "prox_error": 0.4}},
        }
        write_json(root / "metrics" / "probes" / f"{name}.json", probes)
        generalization = {
            "dataset": name,
            "mlp": {"linear": {"r2": r2}, "mlp": {"r2": r2 + 0.01}},
            "holdout": {"block": {"default_prox_error": 0.1, "heldout_prox_error": 0.2},
                        "entity_type": {"default_prox_error": 0.1, "heldout_prox_error": 0.15}},
        }
        write_json(root / "metrics" / "generalization" / f"{name}.json", generalization)
        out = root / "plots" / "probes" / name
        out.mkdir(parents=True, exist_ok=True)
        predictions.to_csv(out / "predictions.csv", index=False)


def _shapes_dir(snapshot_dir: Path) -> Path:
    return snapshot_dir / "shapes"


# --------------------------------------------------------------------------- summary shape


def test_summary_has_the_documented_shape(tmp_path, snapshot_dir):
    datasets = {"nyc": "place", "people": "time"}
    write_workspace(tmp_path, datasets)
    build_report(list(datasets), MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    summary = read_json(tmp_path / "metrics" / "spacetime" / "summary.json")
    assert set(summary) == set(datasets)
    for name in datasets:
        probes = read_json(tmp_path / "metrics" / "probes" / f"{name}.json")
        assert set(summary[name]) == {MODEL}  # the random-weights model is a control, not a row
        assert set(summary[name][MODEL]) == {"main", "empty"}
        main = summary[name][MODEL]["main"]
        assert main["best_layer"] == N_LAYERS and main["n_layers"] == N_LAYERS
        assert main["r2"] == pytest.approx(probes["runs"][MODEL]["main"]["best"]["r2"])
        assert set(main["controls"]) == set(CONTROLS)
        assert main["controls"]["surface"] == 0.1
        assert main["controls"]["layer0"] == probes["runs"][MODEL]["main"]["layers"][0]["r2"]
        assert main["controls"]["random_weights"] == pytest.approx(0.05)
        assert main["mlp_r2"] == pytest.approx(main["r2"] + 0.01)
        assert main["r2_ci_low"] < main["r2"] < main["r2_ci_high"]
        # the random-weights model ran the main prompt only
        assert summary[name][MODEL]["empty"]["controls"]["random_weights"] is None


def test_summary_is_deterministic(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    outputs = []
    for _ in range(2):
        build_report(["people"], MODEL, seed=3, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
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
    assert plain_verdict("world", "place", MODEL, all_beaten).startswith("The probe beats every control")
    surface_wins = judge((0.5, 0.6), {"surface": 0.7, "layer0": 0.2, "random_weights": 0.3})
    text = plain_verdict("world", "place", MODEL, surface_wins)
    assert text.startswith("Not established") and "surface form" in text and "layer 0" in text


@pytest.mark.parametrize("surface, expected", [(0.01, "beats"), (0.99, "is beaten by")])
def test_results_md_states_the_verdict_per_control(tmp_path, snapshot_dir, surface, expected):
    write_workspace(tmp_path, {"art": "time"}, surface=surface)
    build_report(["art"], MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    text = (tmp_path / "reports" / "results.md").read_text()
    assert f"surface form (TF-IDF) {surface:.3f}: **{expected}**" in text
    assert "random weights 0.050: **beats**" in text
    assert "| Art and entertainment |" in text and "0.788" in text  # the paper's Llama-2-7b figure beside ours


def test_bootstrap_interval_narrows_with_more_entities():
    rng = np.random.default_rng(0)
    small, large = (_predictions("time", n, 0.3, rng) for n in (100, 3000))
    width = [np.subtract(*bootstrap_r2_ci(p, "time", seed=0, n_boot=300)[::-1]) for p in (small, large)]
    assert width[1] < width[0] / 3


# --------------------------------------------------------------------------- bad input


def test_missing_metrics_file_is_named(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    with pytest.raises(MetricsError, match=r"metrics/probes/art\.json: no such metrics file"):
        build_report(["people", "art"], MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


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
        build_report(["people"], MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


def test_predictions_missing_column_is_named(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"us": "place"})
    path = tmp_path / "plots/probes/us/predictions.csv"
    pd.read_csv(path).drop(columns="pred_latitude").to_csv(path, index=False)
    with pytest.raises(MetricsError, match="missing column.s. pred_latitude for a place dataset"):
        build_report(["us"], MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)


# --------------------------------------------------------------------------- outputs for dvc plots


def test_depth_table_has_one_column_per_curve(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"world": "place"})
    build_report(["world"], MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    depth = pd.read_csv(tmp_path / "plots/spacetime/world/depth.csv")
    assert list(depth.columns) == ["layer", "rel_depth", "main", "empty", "random_weights", "surface", "layer0"]
    assert list(depth["layer"]) == list(range(N_LAYERS + 1))
    assert (depth["surface"] == 0.1).all() and (depth["layer0"] == depth.loc[0, "main"]).all()
    kinds = pd.read_csv(tmp_path / "plots/spacetime/probe_kinds.csv")
    assert list(kinds["label"]) == ["world linear", "world MLP"]


# --------------------------------------------------------------------------- the stage script


def test_stage_script_runs_in_a_workspace(tmp_path, snapshot_dir):
    params = (REPO / "params.yaml").read_text()
    (tmp_path / "params.yaml").write_text(params.replace("../shared/snapshot", str(snapshot_dir)))
    import yaml

    write_workspace(tmp_path, {name: ("place" if name in ("world", "us", "nyc") else "time")
                               for name in yaml.safe_load(params)["data"]["datasets"]})
    subprocess.run([sys.executable, str(REPO / "stages" / "report.py")], cwd=tmp_path, check=True)
    figures = sorted(p.name for p in (tmp_path / "plots/figures").iterdir())
    assert figures == ["map_nyc.png", "map_us.png", "map_world.png", "r2_by_depth.png",
                       "years_art.png", "years_headlines.png", "years_people.png"]
    assert all((tmp_path / "plots/figures" / f).stat().st_size > 10_000 for f in figures)
    assert json.loads((tmp_path / "metrics/spacetime/summary.json").read_text()).keys() == {
        "world", "us", "nyc", "people", "art", "headlines"}


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


def test_update_readme_script_touches_only_the_marked_region(tmp_path, snapshot_dir):
    write_workspace(tmp_path, {"people": "time"})
    build_report(["people"], MODEL, seed=0, shapes_dir=_shapes_dir(snapshot_dir), root=tmp_path)
    (tmp_path / "README.md").write_text(f"# Title\n\nkeep me\n\n{RESULTS_START}\nold\n{RESULTS_END}\n\ntail\n")
    script = [sys.executable, str(REPO / "scripts" / "update_readme.py")]
    assert subprocess.run([*script, "--check"], cwd=tmp_path).returncode == 1
    subprocess.run(script, cwd=tmp_path, check=True)
    first = (tmp_path / "README.md").read_text()
    assert first.startswith("# Title\n\nkeep me\n\n") and first.endswith(f"{RESULTS_END}\n\ntail\n")
    assert "](plots/figures/years_people.png)" in first and "\nold\n" not in first
    subprocess.run(script, cwd=tmp_path, check=True)
    assert (tmp_path / "README.md").read_text() == first
    assert subprocess.run([*script, "--check"], cwd=tmp_path).returncode == 0
