"""The configuration tree's shape: frozen sections, key-by-key merging, moved keys, the
offline mutator's own section, and train's one home for the batch shape and sampling."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from thetaevolve.cli import build_parser
from thetaevolve.config import (
    MOVED_KEYS,
    ConfigError,
    LLMConfig,
    OfflineConfig,
    RunConfig,
    load_config,
    merge_into,
)
from thetaevolve.proposers.base import inspirations_needed
from thetaevolve.proposers.offline import OfflineMutator
from thetaevolve.rl.cli import training_config
from thetaevolve.urls import is_http_url, split_urls


def test_sections_are_frozen_and_changed_by_copy():
    config = load_config()
    with pytest.raises(ValidationError):
        config.gym.batch_size = 3  # type: ignore[misc]  # the point: frozen refuses it
    with pytest.raises(ValidationError):
        config.budget = 3  # type: ignore[misc]
    changed = config.model_copy(update={"gym": config.gym.model_copy(update={"batch_size": 3})})
    assert (changed.gym.batch_size, config.gym.batch_size) == (3, 8)


def test_validation_still_names_dotted_fields_of_frozen_sections():
    with pytest.raises(ConfigError, match=r"llm\.offline\.crossover_rate"):
        load_config(overrides=["llm.offline.crossover_rate=2"])


def test_a_yaml_rl_section_merges_key_by_key():
    tree: dict = {"rl": {"steps": 5}}
    merge_into(tree, {"rl": {"kl_coef": 0.01}, "gym": {"reward": "improve"}})
    config = RunConfig.model_validate(tree)
    assert (config.rl.steps, config.rl.kl_coef, config.gym.reward) == (5, 0.01, "improve")


def test_a_yaml_rl_section_keeps_the_other_rl_keys(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("rl:\n  kl_coef: 0.01\n")
    config = load_config(path, overrides=["rl.steps=5"])
    assert (config.rl.steps, config.rl.kl_coef, config.rl.batch_size) == (5, 0.01, 32)


@pytest.mark.parametrize("old", sorted(MOVED_KEYS))
def test_a_moved_key_says_where_it_lives_now(old):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[f"{old}=1"])
    assert old in str(err.value) and MOVED_KEYS[old] in str(err.value)


def test_the_offline_mutator_has_its_own_section_and_declares_its_donors():
    config = load_config(overrides=["llm.offline.crossover_donors=3",
                                    "llm.offline.mutation_scale=0.5", "prompt.num_inspirations=1"])
    assert config.llm.offline == OfflineConfig(mutation_scale=0.5, crossover_donors=3)
    assert config.prompt.num_inspirations == 1  # what a prompt shows: another setting
    assert inspirations_needed(OfflineMutator(config.llm)) == 3
    assert inspirations_needed(object()) == 0  # a proposer that declares nothing needs none
    assert LLMConfig().offline == OfflineConfig()


def _train(*argv: str) -> RunConfig:
    return training_config(build_parser().parse_args(["train", "circle_packing_26", *argv]))


def test_train_takes_the_batch_shape_and_sampling_from_rl():
    config = _train()
    assert (config.gym.batch_size, config.gym.samples_per_prompt) == (32, 16)
    assert (config.llm.temperature, config.llm.max_tokens) == (1.0, 16384)
    config = _train("--batch-size", "3", "--samples-per-prompt", "5", "--max-new-tokens", "9",
                    "--set", "rl.temperature=0.7")
    assert (config.gym.batch_size, config.gym.samples_per_prompt) == (3, 5)
    assert (config.llm.temperature, config.llm.max_tokens) == (0.7, 9)
    assert (config.rl.batch_size, config.rl.samples_per_prompt) == (3, 5)


@pytest.mark.parametrize(("given", "home"), [
    ("gym.batch_size=4", "rl.batch_size"),
    ("gym.samples_per_prompt=3", "rl.samples_per_prompt"),
    ("llm.temperature=0.5", "rl.temperature"),
    ("llm.max_tokens=100", "rl.max_new_tokens"),
])
def test_train_refuses_a_gym_or_llm_value_it_would_ignore(given, home):
    with pytest.raises(ConfigError) as err:
        _train("--set", given)
    assert given.split("=")[0] in str(err.value) and home in str(err.value)


def test_train_accepts_a_gym_value_equal_to_rls_and_the_presets_with_flags():
    assert _train("--set", "gym.batch_size=32").gym.batch_size == 32
    for preset in ("deepseek-r1-0528-qwen3-8b", "qwen3-8b", "smollm2-135m"):
        config = _train("--config", preset, "--batch-size", "2")
        assert config.gym.batch_size == config.rl.batch_size == 2, preset
        assert config.llm.max_tokens == config.rl.max_new_tokens, preset


def test_one_url_check_for_the_config_and_the_http_proposer():
    assert split_urls(" http://a:1/v1/ ,, https://b/v1") == ["http://a:1/v1", "https://b/v1"]
    assert is_http_url("https://b/v1") and not is_http_url("localhost:8000")
    with pytest.raises(ConfigError, match=r"llm\.base_url: localhost:8000"):
        load_config(overrides=["llm.kind=openai", "llm.model=m", "llm.base_url=localhost:8000"])


def test_the_core_config_does_not_import_the_rl_package():
    code = ("import sys; import thetaevolve.config; "
            "print(any(m == 'thetaevolve.rl' or m.startswith('thetaevolve.rl.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
