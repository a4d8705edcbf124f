"""docs/familiarity.md and the README's familiarity paragraph, on a copy of the committed world metrics."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO
from worldprobe.familiarity import docs
from worldprobe.io import read_json, write_json


@pytest.fixture
def world(tmp_path):
    for folder in ("familiarity", "familiarity_probes"):
        (tmp_path / "metrics" / folder).mkdir(parents=True)
        shutil.copy(REPO / "metrics" / folder / "world.json", tmp_path / "metrics" / folder / "world.json")
    return tmp_path


def _set_knowledge_differences(root, lows: dict[str, float]) -> None:
    path = root / "metrics/familiarity_probes/world.json"
    report = read_json(path)
    k = report["knowledge_probe"]
    k["differences"] = [dict(d, lo=lows[d["b"]], hi=max(lows[d["b"]], 0) + 0.1) for d in k["differences"]
                        if d["b"] in lows]
    write_json(path, report)


def test_knowledge_counts_as_decodable_only_above_every_baseline(world):
    _set_knowledge_differences(world, {"surprisal": 0.01, "popularity": 0.01, "surprisal+popularity": 0.01})
    assert "popularity and both on world." in docs.summary(world)
    _set_knowledge_differences(world, {"surprisal": 0.01, "popularity": -0.01, "surprisal+popularity": 0.01})
    assert "popularity and both on no dataset." in docs.summary(world)
    _set_knowledge_differences(world, {"surprisal": 0.01})  # no popularity: not compared with it, so not above it
    assert "popularity and both on no dataset." in docs.summary(world)


def test_differences_keep_their_unit(world):
    path = world / "metrics/familiarity_probes/world.json"
    report = read_json(path)
    mae = next(d for d in report["differences"] if (d["a"], d["b"], d["metric"]) == ("probe", "surface", "mae"))
    mae.update(value=-309.62, lo=-604.04, hi=-23.41, verdict="probe better than surface")
    write_json(path, report)
    text = docs.render(world)
    assert "error -309.6 km [-604.0, -23.4] (probe better than surface)" in text
