"""RLConfig: ThetaEvolve's preset as defaults, clear errors, no torch needed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from thetaevolve.config import ConfigError, RunConfig, load_config
from thetaevolve.config import RLConfig


def test_defaults_are_thetaevolves_preset():
    rl = RLConfig()
    assert (rl.batch_size, rl.samples_per_prompt, rl.samples_per_step) == (32, 16, 512)
    assert rl.temperature == 1.0 and rl.max_new_tokens == 16384
    assert (rl.epsilon_low, rl.epsilon_high) == (0.2, 0.28)
    assert rl.kl_coef == 0.0 and rl.entropy_coef == 0.0
    assert rl.learning_rate == 1e-6 and rl.lr_schedule == "constant"
    assert rl.weight_decay == 0.1 and (rl.adam_beta1, rl.adam_beta2) == (0.9, 0.98)
    assert rl.importance_sampling and rl.importance_sampling_clip == 2.0
    assert rl.model == "random:tiny"


def test_run_config_holds_a_typed_rl_section():
    config = load_config(overrides=["rl.steps=3", "rl.model=random:small"])
    assert isinstance(config.rl, RLConfig)
    assert config.rl.steps == 3 and config.rl.model == "random:small"
    assert RunConfig().rl == RLConfig()


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("rl.stepz=3", "rl.stepz"),
        ("rl.model=random:huge", "rl.model"),
        ("rl.samples_per_prompt=1", "rl.samples_per_prompt"),
        ("rl.epsilon_high=0.1", "rl"),
        ("rl.generation=vllm_server", "rl"),
        ("rl.learning_rate=0", "rl.learning_rate"),
    ],
)
def test_bad_values_name_the_field(override, field):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert field in str(err.value)


def test_vllm_server_error_says_what_is_missing():
    with pytest.raises(ConfigError, match="vllm_server_url"):
        load_config(overrides=["rl.generation=vllm_server"])


def test_loading_the_config_does_not_import_torch():
    # The settings and the CLI registration are loaded by every command; torch stays out.
    code = (
        "import sys, thetaevolve.rl, thetaevolve.rl.cli, thetaevolve.cli;"
        "from thetaevolve.config import load_config; load_config();"
        "thetaevolve.cli.build_parser();"
        "print(sorted(m for m in ('torch', 'transformers', 'trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_train_without_the_rl_extra_is_one_clear_error(tmp_path):
    # Hide torch as if it were not installed: the command must say what to install.
    code = (
        "import sys; sys.modules['torch'] = None;"
        "from thetaevolve.cli import main;"
        f"sys.exit(main(['train', 'circle_packing_26', '--run-dir', {str(tmp_path / 'run')!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert "pip install 'thetaevolve[rl]'" in out.stderr and "torch" in out.stderr
    assert not (tmp_path / "run").exists()
