"""``thetaevolve top``, ``export`` and ``config``: looking into runs and settings.

Registered by ``thetaevolve.cli`` (``register``); the logic lives in ``run_inspect`` and
``config_reference``, this module only parses and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from thetaevolve.cli_common import EXIT_OK, AddSubparser, print_json, resolve_task


def register(add: AddSubparser) -> None:
    """``add(name, help=...)`` makes a subparser (the CLI's, with defaults in --help)."""
    p = add("top", help="list a run's best programs (id, score, parent, generation)")
    p.add_argument("run_dir", help="the run directory")
    p.add_argument("-k", type=int, default=10, help="how many programs")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_top)

    p = add("export", help="write one program of a run and its solution to files")
    p.add_argument("run_dir", help="the run directory")
    p.add_argument("--program", type=int, required=True, help="program id (see `thetaevolve top`)")
    p.add_argument("--out", default=".", help="folder for program_ID.py and solution_ID.json")
    p.set_defaults(func=cmd_export)

    p = add("config", help="print the full default configuration as commented YAML",
            description="The output is a valid --config file; docs/config.md is made from the "
                        "same source.")
    p.add_argument("task", nargs="?", default=None,
                   help="a task name; None: the default task")
    p.add_argument("--markdown", action="store_true", help="print the reference as Markdown")
    p.set_defaults(func=cmd_config)


def cmd_top(args: argparse.Namespace) -> int:
    from thetaevolve.run_inspect import top_programs
    from thetaevolve.session import read_marker

    run_dir = Path(args.run_dir)
    task = resolve_task(str(read_marker(run_dir).get("task")))
    rows = top_programs(run_dir, args.k, task.direction)
    if args.json:
        print_json([row.__dict__ for row in rows])
        return EXIT_OK
    print(f"{'id':>8}  {'score':>16}  {'parent':>8}  {'generation':>10}  {'island':>6}  {'batch':>6}")
    for row in rows:
        parent = "-" if row.parent_id is None else str(row.parent_id)
        print(f"{row.id:>8}  {row.score:>16.10g}  {parent:>8}  {row.generation:>10}  "
              f"{row.island:>6}  {row.batch:>6}")
    if not rows:
        print(f"(no valid program in {run_dir} yet)")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from thetaevolve.run_inspect import export_program
    from thetaevolve.run_safety import read_json
    from thetaevolve.session import read_marker

    run_dir = Path(args.run_dir)
    task = resolve_task(str(read_marker(run_dir).get("task")))
    saved = read_json(run_dir / "summary.json")
    best_id = saved.get("best_program_id") if isinstance(saved, dict) else None
    result = export_program(run_dir, args.program, Path(args.out), task, best_id)
    print(f"wrote {result['program']} (outcome {result['outcome']}, score {result['score']})")
    if result["solution"]:
        print(f"wrote {result['solution']}")
    else:
        print(f"no solution written: {result.get('note', 'the program has no valid solution')}")
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from thetaevolve.config_reference import commented_yaml, markdown_reference

    if args.markdown:
        print(markdown_reference(), end="")
        return EXIT_OK
    task = resolve_task(args.task).name if args.task else None
    print(commented_yaml(task), end="")
    return EXIT_OK
