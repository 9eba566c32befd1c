"""The shared CLI pieces: flag choices read off the config tree, and imports that form no cycle."""

from __future__ import annotations

import argparse
import ast
import importlib.util
from pathlib import Path
from typing import get_args

import pytest

from thetaevolve.cli import build_parser
from thetaevolve.cli_common import choices
from thetaevolve.config import DatabaseConfig, GymConfig, LLMConfig, RLConfig


def _flag_choices(command: str, flag: str) -> tuple[str, ...]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if flag in a.option_strings)
    return tuple(action.choices or ())


@pytest.mark.parametrize("command, flag, section, field", [
    ("run", "--llm", LLMConfig, "kind"),
    ("run", "--sampler", DatabaseConfig, "sampler"),
    ("train", "--reward", GymConfig, "reward"),
    ("train", "--generation", RLConfig, "generation"),
    ("train", "--advantage", RLConfig, "advantage"),
    ("train", "--sampler", DatabaseConfig, "sampler"),
])
def test_a_flags_choices_are_the_values_its_setting_allows(command, flag, section, field):
    allowed = get_args(section.model_fields[field].annotation)
    assert allowed and _flag_choices(command, flag) == allowed


def test_choices_refuses_a_field_that_is_not_a_literal():
    with pytest.raises(TypeError, match="batch_size"):
        choices(GymConfig, "batch_size")


def _imports(module: str) -> set[str]:
    """Every module that ``module``'s source imports, inside functions and TYPE_CHECKING too."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None
    names: set[str] = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("module, above", [
    # The subcommand modules share cli_common; none of them reaches back into cli.py.
    ("thetaevolve.cli_runs", "thetaevolve.cli"),
    ("thetaevolve.rl.cli", "thetaevolve.cli"),
    ("thetaevolve.cli_common", "thetaevolve.cli"),
    # The handler answers from the runs object; only the server binds the two.
    ("thetaevolve.dashboard.handler", "thetaevolve.dashboard.server"),
    ("thetaevolve.dashboard.runs", "thetaevolve.dashboard.server"),
    # In-process generation is core: it builds a random model without the RL driver.
    ("thetaevolve.models.loading", "thetaevolve.rl"),
    ("thetaevolve.models.random_model", "thetaevolve.rl"),
])
def test_a_module_does_not_import_one_that_imports_it(module, above):
    reached = {name for name in _imports(module) if name == above or name.startswith(above + ".")}
    assert not reached, f"{module} imports {sorted(reached)}"
