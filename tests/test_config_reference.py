"""`thetaevolve config` and docs/config.md: every key documented, the YAML accepted back,
the document current; --help shows defaults; resume --set takes only mid-run settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from thetaevolve.cli import build_parser, main
from thetaevolve.config import RunConfig, load_config
from thetaevolve.config_reference import MEANINGS, leaf_keys, markdown_reference

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_every_setting_has_a_meaning_and_no_meaning_is_stale():
    keys = leaf_keys()
    assert [k for k in keys if k not in MEANINGS] == []
    assert [k for k in MEANINGS if k not in keys] == []


def test_docs_config_md_is_current():
    assert DOCS.read_text() == markdown_reference(), (
        "docs/config.md is out of date: regenerate it with "
        "`thetaevolve config --markdown > docs/config.md`")


@pytest.mark.parametrize("task", [None, "hadamard_29"])
def test_commented_yaml_is_accepted_back_unchanged(tmp_path, capsys, task):
    assert main(["config"] + ([task] if task else [])) == 0
    text = capsys.readouterr().out
    assert "# candidate programs to evaluate in total" in text and "default: 1000" in text
    path = tmp_path / "config.yaml"
    path.write_text(text)
    loaded = load_config(path)
    expected = RunConfig() if task is None else RunConfig(task=task)
    assert loaded.model_dump() == expected.model_dump()
    assert yaml.safe_load(text)["llm"]["max_consecutive_failures"] == 8


def test_config_of_an_unknown_task_is_one_line(capsys):
    assert main(["config", "no_such_task"]) == 2
    assert capsys.readouterr().err.startswith("thetaevolve: error:")


def test_every_subcommand_help_shows_defaults():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("run", "resume", "show", "top", "export", "config", "verify", "eval"):
        text = subparsers.choices[name].format_help()
        assert "(default:" in text, name
    run_help = subparsers.choices["run"].format_help()
    assert "budget, 1000" in run_help and "gym.batch_size, 8" in run_help


def test_resume_set_changes_mid_run_settings_and_refuses_the_others(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", "circle_packing_26", "--budget", "4", "--batch-size", "2",
                 "--samples-per-prompt", "2", "--run-dir", str(run_dir), "--quiet",
                 "--set", "sandbox.workers=1"]) == 0
    config_before = (run_dir / "config.yaml").read_text()
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--set", "gym.batch_size=4", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "resume --set gym.batch_size: this setting cannot change" in err and "Traceback" not in err
    assert main(["resume", str(run_dir), "--steps", "3"]) == 2
    assert "--steps is for training runs" in capsys.readouterr().err
    assert (run_dir / "config.yaml").read_text() == config_before
    assert main(["resume", str(run_dir), "--set", "llm.timeout_s=30", "--budget", "4",
                 "--quiet"]) == 0
    config = load_config(run_dir / "config.yaml")
    assert config.llm.timeout_s == 30 and config.budget == 4


@pytest.mark.parametrize("flag", ["--budjet", "--bud"])
def test_a_misspelled_or_abbreviated_flag_gets_the_subcommand_usage(capsys, flag):
    with pytest.raises(SystemExit) as stop:
        main(["run", "circle_packing_26", flag, "8"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: thetaevolve run ")
    assert f"thetaevolve run: error: unrecognized arguments: {flag}" in err
