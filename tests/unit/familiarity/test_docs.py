"""docs/familiarity.md and the README's familiarity paragraph, on a copy of the committed world metrics."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO
from worldprobe.familiarity import docs
from worldprobe.io import read_json, write_json


@pytest.fixture
def world(tmp_path):
    for folder in ("familiarity", "familiarity_probes", "probes"):
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
    above = dict.fromkeys(("surprisal", "popularity", "surprisal+popularity", "answer_prior", "name_tfidf"), 0.01)
    _set_knowledge_differences(world, above)
    assert "the rate of known entities with its gold answer and its spelling (TF-IDF) on world." in docs.summary(world)
    _set_knowledge_differences(world, above | {"answer_prior": -0.01})  # a default answer explains it as well
    assert "its spelling (TF-IDF) on no dataset." in docs.summary(world)
    _set_knowledge_differences(world, {"surprisal": 0.01})  # no popularity: not compared with it, so not above it
    assert "its spelling (TF-IDF) on no dataset." in docs.summary(world)


def test_differences_keep_their_unit(world):
    path = world / "metrics/familiarity_probes/world.json"
    report = read_json(path)
    mae = next(d for d in report["differences"] if (d["a"], d["b"], d["metric"]) == ("probe", "surface", "mae"))
    mae.update(value=-309.62, lo=-604.04, hi=-23.41, verdict="probe better than surface")
    write_json(path, report)
    text = docs.render(world)
    assert "error -309.6 km [-604.0, -23.4] (probe better than surface)" in text


def test_a_label_no_better_than_a_constant_answer_is_not_read_as_knowledge(world):
    assert "not shown to measure knowledge" not in docs.summary(world)
    path = world / "metrics/familiarity/world.json"
    summary = read_json(path)
    write_json(path, dict(summary, chance_known=summary["fraction_known_test"]))
    assert "On world the known rate is at or below a constant answer's" in docs.summary(world)
    assert "at or below it, so the label is not shown to measure knowledge" in docs.render(world)


def test_intervals_of_entities_across_held_out_groups_are_provisional(world):
    assert "provisional" not in docs.render(world)  # world's split holds out no groups
    probes = world / "metrics/probes/world.json"
    write_json(probes, {**(m := read_json(probes)), "validity": {**m["validity"], "split_group": "creator"}})
    assert "world intervals resample entities although their split holds out creator groups" in docs.render(world)
    familiarity = world / "metrics/familiarity_probes/world.json"
    write_json(familiarity, dict(read_json(familiarity), resampled="creator"))
    assert "provisional" not in docs.render(world)
