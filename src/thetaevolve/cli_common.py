"""What every ``thetaevolve`` subcommand module shares: exit codes, the CLI's own error,
task lookup, summary printing, and argparse choices read off the config tree.

``cli.py``, ``cli_runs.py`` and ``rl/cli.py`` all import from here; ``cli.py`` registers the
others' subcommands and neither imports ``cli.py`` back, so they form no import cycle.
Importing this module is cheap (stdlib, pydantic, the error type and the summary formatter):
every command, ``--help`` included, pays for it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, get_args

from pydantic import BaseModel

from thetaevolve.errors import UserError
from thetaevolve.run_report import format_summary

if TYPE_CHECKING:
    from thetaevolve.tasks.base import Task

# Exit codes of every subcommand (the module docstring of ``thetaevolve.cli`` says what each
# means); 143 for SIGTERM lives in ``thetaevolve.signals``, beside the handler that causes it.
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

# ``add(name, help=...)``: makes one subcommand's parser with the CLI's shared settings
# (defaults shown in --help, no abbreviated flags); ``cli.build_parser`` hands it out.
AddSubparser = Callable[..., argparse.ArgumentParser]


class CLIError(UserError):
    """A user-facing error found by the CLI itself: printed as one line, exit code 2."""


def resolve_task(name: str, openevolve_config: str | None = None) -> Task:
    """A built-in task, an installed problem, or a problem path (UserError when none).
    ``openevolve_config``: the config file of an OpenEvolve folder (default DIR/config.yaml)."""
    # Imported here: the registry pulls in every task module, which `--help` never needs.
    from thetaevolve.problems.registry import resolve_problem

    config = Path(openevolve_config) if openevolve_config else None
    return resolve_problem(name, openevolve_config=config)


def print_summary(summary: dict[str, Any], run_dir: Path | None = None,
                  budget: int | None = None) -> None:
    """The run summary as the table a person reads (see ``thetaevolve.run_report``)."""
    print(format_summary(summary, run_dir, budget))


def print_json(data: Any) -> None:
    """``--json`` output: indented, with NaN and infinities as JavaScript spells them."""
    print(json.dumps(data, indent=2, allow_nan=True))


def choices(section: type[BaseModel], field: str) -> tuple[str, ...]:
    """The values a ``Literal`` config field allows, for a flag's ``choices``: one list, in
    the config tree, so a new value there is a new choice here without a second edit."""
    values = get_args(section.model_fields[field].annotation)
    if not values or not all(isinstance(v, str) for v in values):
        raise TypeError(f"{section.__name__}.{field} is not a Literal of strings")
    return tuple(values)
