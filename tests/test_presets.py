"""Configuration presets shipped with the package, selected by name with --config."""

from __future__ import annotations

import pytest

from thetaevolve.config import ConfigError, load_config, preset_names


def test_the_presets_are_shipped_and_valid():
    assert {"deepseek-r1-0528-qwen3-8b", "qwen3-8b", "smollm2-135m"} <= set(preset_names())
    for name in preset_names():
        load_config(name)  # every preset validates against the config tree


def test_the_paper_preset_carries_the_papers_sampling():
    config = load_config("deepseek-r1-0528-qwen3-8b")
    assert (config.llm.temperature, config.llm.top_p, config.llm.max_tokens) == (1.0, 1.0, 16384)
    assert (config.gym.batch_size, config.gym.samples_per_prompt) == (32, 16)
    assert (config.rl.batch_size, config.rl.samples_per_prompt) == (32, 16)
    assert config.rl.learning_rate == 1e-6 and config.rl.kl_coef == 0.0
    assert config.llm.edit_search_scope == "whole"  # the reasoning is searched too


def test_the_qwen3_preset_switches_thinking_on_through_the_template():
    config = load_config("qwen3-8b")
    assert config.llm.extra_body["chat_template_kwargs"] == {"enable_thinking": True}
    assert config.llm.extra_body["top_k"] == 20 and config.llm.temperature == 0.6


def test_flags_override_a_preset_and_a_file_of_that_name_wins(tmp_path, monkeypatch):
    config = load_config("qwen3-8b", overrides=["llm.kind=openai",
                                                "llm.base_url=http://localhost:8000/v1"])
    assert config.llm.kind == "openai" and config.llm.model == "Qwen/Qwen3-8B"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qwen3-8b").write_text("seed: 7\n")
    assert load_config("qwen3-8b").seed == 7


def test_an_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="qwen3-8b"):
        load_config("no-such-preset")


@pytest.mark.parametrize("override, field", [
    ("llm.max_batch_sequences=0", "llm.max_batch_sequences"),
    ("llm.dtype=float8", "llm.dtype"),
])
def test_bad_in_process_settings_name_their_field(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_config(overrides=["llm.kind=transformers", "llm.model=smollm2-135m", override])


def test_the_in_process_proposer_needs_a_model():
    with pytest.raises(ConfigError, match="llm.kind=transformers needs llm.model"):
        load_config(overrides=["llm.kind=transformers"])
