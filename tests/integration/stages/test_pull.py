"""The pull stage as DVC runs it: ``python stages/pull.py <dataset>`` in a project directory."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

from tests.conftest import REPO
from tests.fixtures.sources.servers import NYT_KEY, FakeApi


def own_file(root: Path, name: str) -> Path:
    (root / "data" / "own").mkdir(parents=True, exist_ok=True)
    return root / "data" / "own" / name


def project(tmp_path, snapshot_dir, datasets, live=None) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"] = {"snapshot_dir": str(snapshot_dir), "datasets": datasets}
    params["live"] = live or {}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    return tmp_path


def pull(root: Path, name: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "stages" / "pull.py"), name], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_snapshot_pull_writes_the_raw_table(tmp_path, snapshot_dir):
    root = project(tmp_path, snapshot_dir, {"people": {"source": "snapshot"}})
    done = pull(root, "people")
    assert done.returncode == 0, done.stderr
    raw = pd.read_parquet(root / "data" / "raw" / "people.parquet")
    assert len(raw) == 11341 and raw.columns[:3].tolist() == ["en_curid", "name", "numlangs"]
    assert {"530s", "1237?", "Unknown"} <= set(raw["birthyear"].dropna())
    assert [p.name for p in (root / "data" / "raw").iterdir()] == ["people.parquet"]  # no temporary left


def test_own_csv_is_copied_as_text(tmp_path, snapshot_dir):
    own_file(tmp_path, "mine.csv").write_text("city,lat,lon,zip\nAgawam,42.06,-72.62,01001\nNowhere,,,\n")
    dataset = {"source": "file", "path": "data/own/mine.csv", "kind": "place",
               "columns": {"text": "city", "latitude": "lat", "longitude": "lon"}}
    root = project(tmp_path, snapshot_dir, {"mine": dataset})
    done = pull(root, "mine")
    assert done.returncode == 0, done.stderr
    raw = pd.read_parquet(root / "data" / "raw" / "mine.parquet")
    assert raw.columns.tolist() == ["city", "lat", "lon", "zip"]
    assert raw.loc[0].tolist() == ["Agawam", "42.06", "-72.62", "01001"]
    assert raw.loc[1, ["lat", "lon", "zip"]].isna().all()


def test_own_file_outside_data_own_is_refused(tmp_path, snapshot_dir):
    (tmp_path / "mine.csv").write_text("city,lat,lon\nAgawam,42.06,-72.62\n")
    dataset = {"source": "file", "path": "mine.csv", "kind": "place",
               "columns": {"text": "city", "latitude": "lat", "longitude": "lon"}}
    done = pull(project(tmp_path, snapshot_dir, {"mine": dataset}), "mine")
    assert done.returncode == 1 and "mine.csv is outside data/own/" in done.stderr and "Traceback" not in done.stderr


def test_own_parquet_keeps_its_types(tmp_path, snapshot_dir):
    pd.DataFrame({"title": ["a", "b"], "year": [1990, 2001]}).to_parquet(own_file(tmp_path, "mine.parquet"))
    dataset = {"source": "file", "path": "data/own/mine.parquet", "kind": "time", "columns": {"text": "title", "date": "year"}}
    root = project(tmp_path, snapshot_dir, {"mine": dataset})
    assert pull(root, "mine").returncode == 0
    raw = pd.read_parquet(root / "data" / "raw" / "mine.parquet")
    assert raw["year"].tolist() == [1990, 2001] and pd.api.types.is_integer_dtype(raw["year"])


def test_own_file_with_a_misnamed_column_fails_clearly(tmp_path, snapshot_dir):
    own_file(tmp_path, "mine.csv").write_text("city,lat,lon\nAgawam,42.06,-72.62\n")
    dataset = {"source": "file", "path": "data/own/mine.csv", "kind": "place",
               "columns": {"text": "city", "latitude": "latitude", "longitude": "lon", "groups": ["state"]}}
    root = project(tmp_path, snapshot_dir, {"mine": dataset})
    done = pull(root, "mine")
    assert done.returncode == 1
    assert "latitude: 'latitude'" in done.stderr and "groups[0]: 'state'" in done.stderr
    assert "the file has city, lat, lon" in done.stderr and "Traceback" not in done.stderr
    assert not (root / "data" / "raw" / "mine.parquet").exists()


def test_missing_snapshot_fails_with_hint(tmp_path):
    root = project(tmp_path, tmp_path / "nowhere", {"art": {"source": "snapshot"}})
    done = pull(root, "art")
    assert done.returncode == 1 and "art.csv.gz" in done.stderr and "data.snapshot_dir" in done.stderr


def test_unknown_dataset_lists_the_configured_ones(tmp_path, snapshot_dir):
    root = project(tmp_path, snapshot_dir, {"art": {"source": "snapshot"}})
    done = pull(root, "moon")
    assert done.returncode == 1 and "configured are art" in done.stderr


def test_live_headlines_never_write_the_key(tmp_path, snapshot_dir):
    live = {"nyt_months": ["2020-01", "2020-03"], "nyt_seconds_per_request": 0, "backoff_seconds": 0.01}
    with FakeApi() as api:
        live["nyt_archive_url"] = f"{api.url}/nyt"
        root = project(tmp_path, snapshot_dir, {"headlines": {"source": "live"}}, live)
        env = {"PATH": "/usr/bin:/bin", "NYT_API_KEY": NYT_KEY}
        done = pull(root, "headlines", env)
        assert done.returncode == 0, done.stderr
        assert pd.read_parquet(root / "data" / "raw" / "headlines.parquet").shape == (6, 2)
        api.always_fail["/nyt/"] = 503
        (root / "params.yaml").write_text((root / "params.yaml").read_text().replace("2020-03", "2020-04"))
        failed = pull(root, "headlines", env)
    assert failed.returncode == 1 and "/nyt/2020/4.json" in failed.stderr and "3 of 4" in failed.stderr
    written = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".jsonl" for p in written)
    for text in [done.stdout, done.stderr, failed.stdout, failed.stderr, *(p.read_bytes().decode("latin-1") for p in written)]:
        assert NYT_KEY not in text


def test_live_without_key_fails_before_any_request(tmp_path, snapshot_dir):
    with FakeApi() as api:
        root = project(tmp_path, snapshot_dir, {"headlines": {"source": "live"}}, {"nyt_archive_url": f"{api.url}/nyt"})
        done = pull(root, "headlines", {"PATH": "/usr/bin:/bin"})
        assert done.returncode == 1 and "NYT_API_KEY" in done.stderr and api.requests == []
