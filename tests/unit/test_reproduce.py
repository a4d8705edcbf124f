import pytest
import yaml

from tests.conftest import REPO
from worldprobe.config import ConfigError
from worldprobe.reproduce import apply_overrides, find_drifts, tolerance_for


@pytest.fixture
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_overrides_apply_and_validate(raw):
    out = apply_overrides(raw, {"karel.profile": "smoke", "data.datasets.world.max_entities": 10})
    assert out["karel"]["profile"] == "smoke" and out["data"]["datasets"]["world"]["max_entities"] == 10
    assert raw["karel"]["profile"] == "default"  # the input is left alone


def test_override_typos_and_invalid_values_are_refused(raw):
    with pytest.raises(ConfigError, match="no key 'karel.profle'"):
        apply_overrides(raw, {"karel.profle": "smoke"})
    with pytest.raises(ConfigError, match="no key 'dat'"):
        apply_overrides(raw, {"dat.snapshot_dir": "x"})
    with pytest.raises(ConfigError, match="unknown profile 'tiny'"):
        apply_overrides(raw, {"karel.profile": "tiny"})


def test_ci_overrides_file_is_valid(raw):
    settings = yaml.safe_load((REPO / "ci" / "overrides.yaml").read_text())
    apply_overrides(raw, settings["overrides"])


def test_tolerances_absolute_relative_and_first_match():
    tols = {"*:*n_test*": 0, "*:*mae*": "2%"}
    assert tolerance_for("m.json", "world.n_test", tols, 0.02) == 0
    assert tolerance_for("m.json", "r2", tols, 0.02) == 0.02
    diff = {
        "m.json": {
            "r2": {"old": 0.50, "new": 0.51, "diff": 0.01},  # within 0.02
            "spearman": {"old": 0.50, "new": 0.53, "diff": 0.03},  # beyond 0.02
            "mae": {"old": 1000.0, "new": 1015.0, "diff": 15.0},  # within 2 %
            "n_test": {"old": 60, "new": 61, "diff": 1},  # counts must not move
            "gone": {"old": 0.3, "new": None},
            "added": {"old": None, "new": 0.3},
            "verdict": {"old": "beats", "new": "beats"},
        }
    }
    moved = {d.metric for d in find_drifts(diff, tols, 0.02)}
    assert moved == {"spearman", "n_test", "gone"}
    # reported, not reproduced: an infinite tolerance lets a figure move or vanish
    assert {d.metric for d in find_drifts(diff, {"*:gone": float("inf"), **tols}, 0.02)} == {"spearman", "n_test"}


def test_ci_karel_rule_leaves_counts_and_timings_to_the_rules_before_it():
    settings = yaml.safe_load((REPO / "ci" / "overrides.yaml").read_text())
    tols, default = settings["tolerances"], settings["default_tolerance"]
    semantics = "metrics/karel/semantics.json"
    assert tolerance_for(semantics, "probe_sets.teacher_forced.60.frames.absolute.probes.mean.linear.original.2",
                         tols, default) == 0.07
    assert tolerance_for(semantics, "probe_sets.generated.60.n_test", tols, default) == 0
    assert tolerance_for(semantics, "probe_sets.teacher_forced.60.frames.absolute.beats.mean.tokens.2.verdict",
                         tols, default) == float("inf")
    assert tolerance_for("metrics/karel/synthesis.json", "final_step", tols, default) == default
    # the two machine kinds' step-60 probe (0.26 vs 0.233) passes; a probe 10+ specs of 150 off does not
    moved = {"old": 0.26, "new": 0.2333, "diff": -0.0267}
    assert not find_drifts({semantics: {"probe_sets.teacher_forced.60.x.linear.original.2": moved}}, tols, default)
    far = {"old": 0.26, "new": 0.18, "diff": -0.08}
    assert find_drifts({semantics: {"probe_sets.teacher_forced.60.x.linear.original.2": far}}, tols, default)
