"""Configuration errors are caught before any work starts and name the field."""

import pytest

from thetaevolve.config import ConfigError, RunConfig, dump_config, load_config


def test_defaults_are_valid():
    config = load_config()
    assert isinstance(config, RunConfig)
    assert config.llm.kind == "offline"


def test_override_sets_nested_value_with_yaml_typing():
    config = load_config(overrides=["database.num_islands=7", "gym.reward=improve"])
    assert config.database.num_islands == 7
    assert config.gym.reward == "improve"


def test_unknown_key_names_the_field():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["database.num_islandz=4"])
    assert "database.num_islandz" in str(err.value)
    assert "unknown key" in str(err.value)


def test_bad_value_names_the_field():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["gym.batch_size=0"])
    assert "gym.batch_size" in str(err.value)


def test_wrong_type_names_the_field():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["seed=abc"])
    assert "seed" in str(err.value)


def test_openai_without_endpoint_is_rejected_with_advice():
    with pytest.raises(ConfigError) as err:
        load_config(overrides=["llm.kind=openai"])
    assert "llm.base_url" in str(err.value)


def test_malformed_override_is_rejected():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(overrides=["database.num_islands"])


def test_override_into_a_value_is_rejected():
    with pytest.raises(ConfigError, match="not a section"):
        load_config(overrides=["seed=1", "seed.x=1"])


def test_yaml_file_merges_and_overrides_win(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("budget: 10\ndatabase:\n  num_islands: 2\n")
    config = load_config(path, overrides=["budget=20"])
    assert config.budget == 20
    assert config.database.num_islands == 2
    assert config.database.archive_size == RunConfig().database.archive_size


def test_broken_yaml_file_is_a_clear_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("budget: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_yaml_with_unknown_key_names_file_and_field(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("gym:\n  batch_sise: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "gym.batch_sise" in str(err.value) and str(path) in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_sampling_ratios_must_fit():
    with pytest.raises(ConfigError, match="exploration_ratio"):
        load_config(overrides=["database.exploration_ratio=0.7", "database.exploitation_ratio=0.6"])


def test_dumped_config_round_trips(tmp_path):
    config = load_config(overrides=["seed=5", "database.num_islands=3"])
    dump_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


def test_sandbox_backend_defaults_to_local_and_accepts_ray():
    assert load_config().sandbox.backend == "local"
    assert load_config().sandbox.ray_address == "auto"
    config = load_config(overrides=["sandbox.backend=ray", "sandbox.ray_address=10.0.0.5:6379"])
    assert (config.sandbox.backend, config.sandbox.ray_address) == ("ray", "10.0.0.5:6379")
    assert load_config(overrides=["sandbox.ray_address=ray://head:10001"]).sandbox.ray_address


@pytest.mark.parametrize("override", ["sandbox.backend=dask", "sandbox.ray_address=headnode",
                                      "sandbox.ray_address=head:99999"])
def test_bad_sandbox_backend_settings_name_the_field(override):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert override.split("=")[0] in str(err.value)
