"""params.yaml states every setting that changes a result (so DVC sees a change to any of them), and
Karel profiles are overlays on ``default``."""

import pytest
import yaml

from tests.conftest import REPO
from worldprobe.config import ConfigError, load_params, parse_params, unstated_settings


@pytest.fixture
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_params_yaml_states_every_result_changing_setting(raw):
    assert unstated_settings(raw) == []


@pytest.mark.parametrize(
    ("section", "key", "path"),
    [
        (("activations",), "random_prefix_tokens", "activations.random_prefix_tokens"),
        (("data", "datasets", "people"), "test_fraction", "data.datasets.people.test_fraction"),
        (("karel", "profiles", "default"), "weight_decay", "karel.profiles.default.weight_decay"),
        (("karel", "probing", "default"), "max_train_rows", "karel.probing.default.max_train_rows"),
        (("probes", "mlp"), "patience", "probes.mlp.patience"),
    ],
)
def test_a_params_file_missing_a_result_changing_setting_is_found(raw, tmp_path, section, key, path):
    node = raw
    for part in section:
        node = node[part]
    del node[key]
    broken = tmp_path / "params.yaml"
    broken.write_text(yaml.safe_dump(raw))
    assert unstated_settings(yaml.safe_load(broken.read_text())) == [path]
    load_params(broken)  # still valid: the code default fills it in, which is exactly what DVC cannot see


def test_settings_marked_without_effect_on_results_may_be_left_out(raw):
    for key in ("user_agent", "cache_dir", "max_retries", "requests_per_second"):
        del raw["live"][key]
    assert unstated_settings(raw) == []


def test_profiles_are_overlays_on_default(raw):
    profiles = parse_params(raw).karel.profiles
    smoke = raw["karel"]["profiles"]["smoke"]
    assert "wall_prob" not in smoke and profiles["smoke"].wall_prob == profiles["default"].wall_prob
    assert profiles["smoke"].lr == 0.001 != profiles["default"].lr  # stated: smoke trains at its own lr
    raw["karel"]["profiles"]["default"]["marker_prob"] = 0.3
    assert {p.marker_prob for p in parse_params(raw).karel.profiles.values()} == {0.3}


def test_probe_settings_are_overlays_on_default(raw):
    probing = parse_params(raw).karel.probing
    smoke = raw["karel"]["probing"]["smoke"]
    assert "mlp_lr" not in smoke and probing["smoke"].mlp_lr == probing["default"].mlp_lr
    assert probing["smoke"].train_specs == 400 != probing["default"].train_specs  # stated: smoke's own probe set
    raw["karel"]["probing"]["default"]["mlp_patience"] = 7
    assert {p.mlp_patience for p in parse_params(raw).karel.probing.values()} == {7}
    del raw["karel"]["probing"]["paper"]  # a profile without an entry gets default's
    raw["karel"]["profile"] = "paper"
    assert parse_params(raw).karel.active_probing.mlp_patience == 7


def test_an_overlay_with_an_unknown_key_is_refused(raw):
    raw["karel"]["profiles"]["smoke"]["learning_rate"] = 0.1
    with pytest.raises(ConfigError, match=r"karel\.profiles\.smoke\.learning_rate: unknown key"):
        parse_params(raw)
