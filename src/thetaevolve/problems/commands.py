"""The ``init`` and ``check`` subcommands (registered by ``thetaevolve.cli``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from thetaevolve.cli_common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "init", help="write a commented native problem (problem.py + initial_program.py)",
    )
    p.add_argument("folder", help="a new or empty folder")
    p.set_defaults(func=cmd_init)

    p = subparsers.add_parser(
        "check", help="load a problem, run its initial program once, report what is wrong",
        description="Exit 0: the initial program scores; 1: it fails; 2: the problem itself "
                    "is broken (a bad problem file, or a verify that fails).",
    )
    p.add_argument("problem", help="a problem folder / .py file, an installed problem, or a task")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds for the initial program (default: the problem's TIMEOUT_S)")
    p.add_argument("--openevolve-config", default=None, metavar="FILE",
                   help="OpenEvolve folders: the config to read instead of DIR/config.yaml")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_check)


def cmd_init(args: argparse.Namespace) -> int:
    from thetaevolve.problems.scaffold import write_scaffold

    folder = Path(args.folder)
    for path in write_scaffold(folder):
        print(f"wrote {path}")
    print(f"next: thetaevolve check {folder}   then: thetaevolve run {folder}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from thetaevolve.config import SandboxConfig
    from thetaevolve.errors import UserError
    from thetaevolve.problems.check import check_problem, print_report
    from thetaevolve.types import Outcome

    if args.timeout is not None and not args.timeout > 0:
        raise UserError(f"--timeout must be positive, got {args.timeout}")
    sandbox = SandboxConfig(workers=1, warm_pool=False, timeout_s=args.timeout)
    config_file = Path(args.openevolve_config) if args.openevolve_config else None
    if config_file is not None and not config_file.is_file():
        raise UserError(f"--openevolve-config {config_file}: no such file")
    report = check_problem(args.problem, openevolve_config=config_file, sandbox=sandbox)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=True))
    else:
        print_report(report)
    if report.ok:
        return EXIT_OK
    if report.outcome == Outcome.VERIFIER_ERROR.value:
        print("thetaevolve: error: the problem's verify failed on the initial program; "
              "fix verify (see the reason above)", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_FAILED
