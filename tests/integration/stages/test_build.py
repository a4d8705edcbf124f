"""``stages/build.py`` on the real snapshot, in a scratch workspace with raw tables made by ``read_snapshot``."""

import json
import os
import runpy
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO
from worldprobe.records import read_entities
from worldprobe.sources.snapshot import read_snapshot

DATASETS = ("world", "us", "nyc", "art", "people")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, snapshot_dir):
    root = tmp_path_factory.mktemp("build")
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for spec in params["data"]["datasets"].values():
        spec["max_entities"] = None  # every row that survives must show up
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "data" / "raw").mkdir(parents=True)
    snapshots = {}
    for name in DATASETS:
        snapshots[name] = read_snapshot(name, snapshot_dir)
        snapshots[name].to_parquet(root / "data" / "raw" / f"{name}.parquet")
        run = subprocess.run([sys.executable, str(REPO / "stages" / "build.py"), name], cwd=root,
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
    return root, snapshots


@pytest.mark.parametrize("name", DATASETS)
def test_rows_out_are_snapshot_rows_minus_reported_removals(workspace, name):
    root, snapshots = workspace
    snapshot = snapshots[name]
    report = json.loads((root / "metrics" / "data" / f"{name}.json").read_text())
    table, info = read_entities(root / "data" / "entities" / f"{name}.parquet")
    removed = pd.read_csv(root / "data" / "rejected" / f"{name}.csv", dtype=str, keep_default_na=False)
    removals = report["rejected_total"] + report["duplicates_removed"] + report["filtered_total"] + report["subsampled"]
    assert report["rows_in"] == len(snapshot)
    assert len(table) == report["rows_out"]["total"] == len(snapshot) - removals
    assert len(removed) == removals
    # removed rows carry their raw values: they are the snapshot's rows at those positions
    rows = removed["raw_row"].astype(int)
    pd.testing.assert_frame_equal(
        removed[snapshot.columns].reset_index(drop=True),
        snapshot.iloc[rows.to_numpy()].fillna("").reset_index(drop=True),
        check_dtype=False,
    )
    if "is_test" in snapshot:  # the paper's split is kept: its test rows less the removed ones
        removed_test = (removed["is_test"] == "True").sum()
        assert report["rows_out"]["test"] == (snapshot["is_test"] == "True").sum() - removed_test
    assert table["id"].is_unique and table["text"].str.len().gt(0).all()
    assert table[list(info.targets)].notna().all().all()


def test_pantheon_malformed_birth_years_are_reported(workspace):
    root, snapshots = workspace
    report = json.loads((root / "metrics" / "data" / "people.json").read_text())
    removed = pd.read_csv(root / "data" / "rejected" / "people.csv", dtype=str, keep_default_na=False)
    bad = removed[removed["reason"] == "unparseable_year"]
    assert sorted(bad["birthyear"]) == ["1237?", "530s", "Unknown", "Unknown"]
    assert report["rejected"]["unparseable_year"] == 4


def test_stage_reports_an_unknown_dataset_and_a_missing_raw_table(workspace, capsys):
    root, _ = workspace
    main = runpy.run_path(str(REPO / "stages" / "build.py"), run_name="build_stage")["main"]
    here = os.getcwd()
    os.chdir(root)
    try:
        assert main(["build.py", "atlantis"]) == 1
        assert "'atlantis' is not in params.yaml" in capsys.readouterr().err
        assert main(["build.py", "headlines"]) == 1  # the workspace has no raw headlines table
        assert "run the pull stage first" in capsys.readouterr().err
    finally:
        os.chdir(here)
