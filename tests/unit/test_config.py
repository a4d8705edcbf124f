import pytest
import yaml

from tests.conftest import REPO
from worldprobe.config import ConfigError, load_params, parse_params


@pytest.fixture
def raw():
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert set(params.data.datasets) == {"world", "us", "nyc", "people", "art", "headlines"}
    assert params.karel.active == params.karel.profiles[params.karel.profile]


def test_unknown_key_is_named(raw):
    raw["probes"]["standardise"] = True
    with pytest.raises(ConfigError, match=r"probes\.standardise: unknown key"):
        parse_params(raw)


def test_unknown_dataset_lists_valid_choices(raw):
    raw["data"]["datasets"]["wrold"] = {"source": "snapshot"}
    with pytest.raises(ConfigError, match="unknown dataset 'wrold'.*world, us, nyc, people, art, headlines"):
        parse_params(raw)


def test_validity_settings_name_known_datasets(raw):
    raw["validity"]["split_groups"]["nyk"] = {"column": "complexid", "own_group_values": []}
    raw["validity"]["era_split_year"]["peeple"] = 1500
    with pytest.raises(ConfigError, match=r"validity\.split_groups names unknown dataset\(s\) \['nyk'\]"):
        parse_params(raw)
    del raw["validity"]["split_groups"]["nyk"]
    with pytest.raises(ConfigError, match=r"validity\.era_split_year names unknown dataset\(s\) \['peeple'\]"):
        parse_params(raw)
    del raw["validity"]["era_split_year"]["peeple"]
    raw["data"]["datasets"] = {"world": raw["data"]["datasets"]["world"]}  # a subset still names nyc and art
    assert parse_params(raw).validity.split_groups["art"].column == "creator"
    raw["validity"]["split_groups"]["nyc"]["column"] = None
    with pytest.raises(ConfigError, match=r"validity\.split_groups\.nyc\.column"):
        parse_params(raw)


def test_unknown_prompt_and_source_list_valid_choices(raw):
    raw["activations"]["prompts"] = ["main", "shouting"]
    raw["data"]["datasets"]["world"]["source"] = "ftp"
    with pytest.raises(ConfigError) as err:
        parse_params(raw)
    assert "'main', 'empty', 'random', 'all_caps' or 'no_period'" in str(err.value)
    assert "'snapshot', 'live' or 'file'" in str(err.value)


def test_own_dataset_needs_its_file_fields(raw):
    raw["data"]["datasets"]["castles"] = {"source": "file", "path": "castles.csv"}
    with pytest.raises(ConfigError, match="source: file needs kind, columns"):
        parse_params(raw)


def test_unknown_karel_profile(raw):
    raw["karel"]["profile"] = "huge"
    with pytest.raises(ConfigError, match="unknown profile 'huge': valid profiles are default, smoke"):
        parse_params(raw)


def test_karel_probe_input_is_a_spec_example_or_all(raw):
    profile = raw["karel"]["profiles"]["default"]
    profile["probe_input"] = "all"
    assert parse_params(raw).karel.active.probe_inputs == [0, 1, 2, 3, 4]
    profile["probe_input"] = 5
    with pytest.raises(ConfigError, match=r"probe_input=5 must be 'all' or index a spec example \(0 to 4\)"):
        parse_params(raw)


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "absent.yaml")
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(bad)


def test_ray_tasks_hold_whole_forward_batches(raw):
    # a task cut mid-batch would pad differently from the local backend, and change the bytes
    raw["activations"].update(backend="ray", batch_size=32, ray={"batch_size": 100})
    with pytest.raises(ConfigError, match=r"ray.batch_size \(100\) must be a multiple of batch_size \(32\)"):
        parse_params(raw)
    raw["activations"]["ray"]["batch_size"] = 96
    assert parse_params(raw).activations.ray.batch_size == 96


def test_karel_probing_per_profile(raw):
    karel = parse_params(raw).karel
    assert karel.active_probing == karel.probing["default"] and karel.active_probing.train_specs >= 5000
    raw["karel"]["probing"]["default"]["offsets"] = [0, -1]
    with pytest.raises(ConfigError, match=r"offsets must be increasing, >= -1 and include 0"):
        parse_params(raw)
    raw["karel"]["probing"]["default"] = {"features": ["mean"], "mlp_features": ["layers"]}
    with pytest.raises(ConfigError, match=r"mlp_features \['layers'\] must also be in features"):
        parse_params(raw)


def test_each_model_of_the_axis_is_named_by_its_key_and_runs_as_model(raw):
    raw["models"] = {"EleutherAI/pythia-160m": {"dtype": "bfloat16", "max_entities": 500}}
    params = parse_params(raw)
    axis = params.models["EleutherAI/pythia-160m"]
    assert axis.name == "EleutherAI/pythia-160m" and axis.max_entities == 500
    as_model = params.for_model("EleutherAI/pythia-160m")
    assert as_model.model.name == "EleutherAI/pythia-160m" and as_model.model.dtype == "bfloat16"
    assert as_model.activations.prompts == ["main"] and as_model.activations.control_prompts == ["main"]
    assert as_model.activations.controls == params.activations.controls  # random weights stay: the axis compares them
    with pytest.raises(ConfigError, match="'pythia' is not under models: .*EleutherAI/pythia-160m"):
        params.for_model("pythia")


def test_the_axis_refuses_model_itself_and_a_second_name(raw):
    raw["models"] = {raw["model"]["name"]: {}}
    with pytest.raises(ConfigError, match="is `model` itself"):
        parse_params(raw)
    raw["models"] = {"smollm2-135m": {"name": "other"}}
    with pytest.raises(ConfigError, match=r"models\.smollm2-135m\.name: the key is the name"):
        parse_params(raw)
    raw["models"] = {}
    assert parse_params(raw).models == {}  # model alone
