"""The ``thetaevolve`` command line.

Exit codes: 0 success; 1 the thing checked is invalid or failed (verify, eval), or the
model endpoint cannot serve the run; 2 bad input (unreadable file, bad configuration,
unusable run directory); 130 interrupted (Ctrl-C); 143 terminated (SIGTERM).

The subcommands of other modules (``cli_runs``, ``dashboard.command``, ``rl.cli``,
``problems.commands``) register themselves here; what they share with this module (the
error, the exit codes, task lookup, summary printing) lives in ``cli_common``.

Why most imports sit inside the ``cmd_*`` functions: every invocation, ``--help`` and
``tasks`` included, pays for what this module imports at the top, and the tasks, the sandbox,
the database, the evolve loop and matplotlib would add about a second to each; a function
imports only what its own subcommand needs (and an optional extra only when it is used).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from pydantic import BaseModel

from thetaevolve import __version__
from thetaevolve.cli_common import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    AddSubparser,
    CLIError,
    choices,
    print_json,
    print_summary,
    resolve_task,
)
from thetaevolve.cli_runs import register as register_run_tools
from thetaevolve.config import (
    ConfigError,
    DatabaseConfig,
    GymConfig,
    LLMConfig,
    RunConfig,
    flag_overrides,
    load_config,
    load_run_config,
    parse_override,
)
from thetaevolve.dashboard.command import add_flag as add_dashboard_flag
from thetaevolve.dashboard.command import beside_run
from thetaevolve.dashboard.command import register as register_dashboard
from thetaevolve.errors import UserError
from thetaevolve.problems.commands import register as register_problem_commands
from thetaevolve.rl.cli import register as register_train
from thetaevolve.rl.cli import resume_training
from thetaevolve.signals import EXIT_TERMINATED, Terminated, terminate_as_interrupt, was_terminated

if TYPE_CHECKING:
    from thetaevolve.session import Session
    from thetaevolve.tasks.base import Task

TASK_HELP = "a task name (`thetaevolve tasks`), an installed problem, or a problem folder / .py file"


# ---- tasks ------------------------------------------------------------------------------------


def cmd_tasks(args: argparse.Namespace) -> int:
    from thetaevolve.problems.registry import available_problems
    from thetaevolve.tasks.families import family_usage
    from thetaevolve.tasks.listing import format_table, task_row

    rows, broken = [], []
    for entry in available_problems(args.paths):
        try:
            task = resolve_task(entry.spec)
        except UserError as exc:  # one broken problem package must not hide the others
            broken.append({"name": entry.name, "kind": entry.kind, "error": str(exc)})
            continue
        try:
            rows.append({**task_row(entry.name, task), "kind": entry.kind, "problem": task.name,
                         "score_trust": task.score_trust, "error": None})
        finally:
            task.close()
    if args.json:
        print_json(rows + broken)
        return EXIT_OK
    shown = [r if r["kind"] == "builtin" else {**r, "name": f"{r['name']} [{r['kind']}]"}
             for r in rows]
    print(format_table(shown, families=family_usage()))
    for row in broken:
        print(f"{row['name']} [{row['kind']}] error: {row['error']}")
    return EXIT_OK


# ---- verify -----------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from thetaevolve.tasks.io import load_solution_file

    task = resolve_task(args.task)
    if task.score_trust != "verified":
        raise CLIError(
            f"{args.task} has no trusted verifier (its scores are {task.score_trust}: what its "
            "evaluator said, which a candidate can forge); put a problem.py with verify() "
            "beside the evaluator to verify solutions (see docs/problems.md)"
        )
    try:
        solution = load_solution_file(Path(args.solution))
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    if args.tol < 0:
        raise CLIError(f"--tol must be non-negative, got {args.tol}")
    verdict = task.verify(solution, tol=args.tol)
    result = {
        "task": task.name,
        "score_trust": task.score_trust,
        "valid": verdict.valid,
        "score": verdict.score,
        "tolerance": verdict.tolerance,
        "error_bound": verdict.error_bound,
        "reason": verdict.reason,
        "metrics": verdict.metrics,
    }
    if args.json:
        print_json(result)
    elif verdict.valid:
        bound = "" if verdict.error_bound is None else f" (± {verdict.error_bound:.3g})"
        mode = "exact" if verdict.tolerance == 0 else f"tolerance {verdict.tolerance:g}"
        print(f"valid ({mode}): score {verdict.score!r}{bound}")
    else:
        print(f"invalid: {verdict.reason}")
    return EXIT_OK if verdict.valid else EXIT_FAILED


# ---- eval -------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from thetaevolve.config import SandboxConfig
    from thetaevolve.evaluation import evaluate_run
    from thetaevolve.sandbox import make_sandbox

    task = resolve_task(args.task, args.openevolve_config)
    try:
        code = Path(args.program).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read program {args.program}: {exc}") from None
    if args.timeout is not None and args.timeout <= 0:
        raise CLIError(f"--timeout must be positive, got {args.timeout}")
    with make_sandbox(task, SandboxConfig(workers=1, timeout_s=args.timeout)) as sandbox:
        run = sandbox.run(code, args.timeout)
    evaluation = evaluate_run(task, run)
    task.close()
    result = {
        "task": task.name,
        "score_trust": task.score_trust,
        "outcome": evaluation.outcome.value,
        "valid": evaluation.outcome.value == "ok",
        "score": evaluation.score,
        "detail": evaluation.detail,
        "runtime_s": round(evaluation.runtime_s, 4),
        "metrics": evaluation.metrics,
        "stderr": evaluation.stderr,
    }
    if args.json:
        print_json(result)
    elif result["valid"]:
        print(f"ok: score {evaluation.score!r} in {evaluation.runtime_s:.3f} s")
    else:
        print(f"{evaluation.outcome.value}: {evaluation.detail}")
        if evaluation.stderr.strip():
            print(evaluation.stderr.rstrip()[-2000:], file=sys.stderr)
    if evaluation.outcome.value == "verifier_error":
        return EXIT_BAD_INPUT  # the problem's verify is broken, not the program
    return EXIT_OK if result["valid"] else EXIT_FAILED


# ---- run / resume / show ----------------------------------------------------------------------


_FLAG_FOR_KEY = {
    "task": "the TASK argument", "llm.kind": "--llm", "llm.base_url": "--base-url",
    "llm.model": "--model", "budget": "--budget", "gym.batch_size": "--batch-size",
    "gym.samples_per_prompt": "--samples-per-prompt", "seed": "--seed", "run_dir": "--run-dir",
    "database.sampler": "--sampler",
}


def _run_overrides(args: argparse.Namespace) -> list[str]:
    """CLI flags as config overrides. A ``--set`` for a key that a flag (or the TASK
    argument) also gives is refused: one of the two would be dropped without a word."""
    overrides = list(args.set or [])
    pairs = [
        ("llm.kind", args.llm), ("llm.base_url", args.base_url), ("llm.model", args.model),
        ("budget", args.budget), ("gym.batch_size", args.batch_size),
        ("gym.samples_per_prompt", args.samples_per_prompt), ("seed", args.seed),
        ("run_dir", args.run_dir), ("database.sampler", getattr(args, "sampler", None)),
    ]
    given = {"task"} | {key for key, value in pairs if value is not None}
    for text in overrides:
        key = ".".join(parse_override(text)[0])
        if key in given:
            raise CLIError(f"--set {key} and {_FLAG_FOR_KEY[key]} both set {key}; give it once")
    return overrides + flag_overrides(pairs)


def cmd_run(args: argparse.Namespace) -> int:
    from thetaevolve.preflight import check_before_run
    from thetaevolve.session import Session

    overrides = [f"task={json.dumps(args.task)}"] + _run_overrides(args)
    config = load_config(args.config, overrides=overrides)
    task = resolve_task(config.task, args.openevolve_config)
    for message in getattr(task, "warnings", ()):  # e.g. OpenEvolve settings not used here
        print(f"warning: {message}", file=sys.stderr)
    config = _with_problem_budget(config, task)
    if config.llm.kind in ("transformers", "vllm"):
        from thetaevolve.models.bundled import check_available

        check_available(config.llm.model)
    check_before_run(config)  # extras and the model endpoint, before anything is created
    session = Session.create(config, Path(config.run_dir) if config.run_dir else None, task=task)
    print(f"run directory: {session.run_dir}", file=sys.stderr)
    with beside_run(session.run_dir, args.dashboard):
        return _evolve(session, config.budget, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from thetaevolve.preflight import check_before_run
    from thetaevolve.resume_settings import check_resume_overrides
    from thetaevolve.session import Session, read_marker

    run_dir = Path(args.run_dir)
    marker = read_marker(run_dir)
    if marker.get("kind") == "train-task":
        raise CLIError(f"{run_dir} is one task of a multi-task training run; resume the run "
                       f"itself: `thetaevolve resume {run_dir.parent.parent}`")
    if marker.get("kind") in ("train", "train-multi"):
        if args.set:
            raise CLIError("resume of a training run takes --steps, not --set; nothing was changed")
        return resume_training(run_dir, args)
    if args.steps is not None:
        raise CLIError(f"{run_dir} is an evolve run; --steps is for training runs "
                       "(give --budget, its total number of candidates)")
    overrides = list(args.set or [])
    check_resume_overrides(overrides)
    if args.budget is not None:
        if any(o.split("=", 1)[0].strip() == "budget" for o in overrides):
            raise CLIError("--set budget and --budget both set budget; give it once")
        overrides.append(f"budget={args.budget}")
    if overrides:  # the endpoint as it will be used, checked before anything changes
        try:
            check_before_run(load_run_config(run_dir / "config.yaml", overrides=overrides))
        except ConfigError as exc:
            raise CLIError(f"{run_dir / 'config.yaml'}: {exc}") from None
    else:
        try:
            check_before_run(load_run_config(run_dir / "config.yaml"))
        except ConfigError:
            pass  # Session.resume names the problem
    session = Session.resume(run_dir, overrides,
                             allow_problem_change=getattr(args, "allow_problem_change", False))
    with beside_run(run_dir, args.dashboard):
        return _evolve(session, session.config.budget, args.quiet)


def _evolve(session: Session, budget: int, quiet: bool) -> int:
    """Run the evolve loop to its budget or to a stop, close the session on every path,
    then print the summary (after the close, so the table no longer sees the store's writer
    lock and says "stopped", not "running")."""
    from thetaevolve.endpoint_check import EndpointUnusable

    try:
        try:
            summary, code = _evolve_until_stopped(session, budget, quiet)
        finally:
            session.close()  # the sandbox's workers and the store, whatever was raised
    except EndpointUnusable as exc:
        if exc.summary is not None:  # what the run kept before the endpoint failed
            print_summary(exc.summary, session.run_dir, budget)
        raise
    print_summary(summary, session.run_dir, budget)
    return code


def _evolve_until_stopped(session: Session, budget: int, quiet: bool) -> tuple[dict[str, Any], int]:
    """(summary, exit code) of a run that finished or was stopped by Ctrl-C / SIGTERM."""
    from thetaevolve.endpoint_check import EndpointUnusable
    from thetaevolve.evolve import evolve

    try:
        with terminate_as_interrupt():
            return asyncio.run(evolve(session, budget, quiet=quiet)), EXIT_OK
    except KeyboardInterrupt as stop:
        summary = session.finalize()
        terminated = isinstance(stop, Terminated) or was_terminated()
        word = "terminated (SIGTERM)" if terminated else "interrupted"
        print(f"{word}; every committed candidate is kept. Continue with "
              f"`thetaevolve resume {session.run_dir}`", file=sys.stderr)
        return summary, EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except EndpointUnusable:
        raise  # evolve finalized the run already; the error carries that summary
    except UserError:  # e.g. the problem's verify is broken: the summary says what is kept
        if session.database.count():
            session.finalize()
        raise


def cmd_show(args: argparse.Namespace) -> int:
    from thetaevolve.database.persistence import StoreError
    from thetaevolve.database.store import ProgramDatabase
    from thetaevolve.problems.provenance import open_run_problem
    from thetaevolve.session import CONFIG_FILE, STORE_FILE, read_marker, summarize

    run_dir = Path(args.run_dir)
    marker = read_marker(run_dir)
    if marker.get("kind") == "train-multi":
        from thetaevolve.rl.multitask import task_summaries

        summaries = task_summaries(run_dir)
        if args.json:
            print_json({"kind": "train-multi", "tasks": summaries})
        else:
            for summary in summaries.values():
                print_summary(summary)
        return EXIT_OK
    task = open_run_problem(run_dir, str(marker.get("task")), check_changes=False)
    try:
        config = load_run_config(run_dir / CONFIG_FILE)
    except ConfigError as exc:
        raise CLIError(f"{run_dir / CONFIG_FILE}: {exc}") from None
    if not (run_dir / STORE_FILE).exists():
        if (run_dir / "summary.json").exists():
            return _show_saved_summary(run_dir, config.budget,
                                       CLIError(f"{run_dir / STORE_FILE} is missing"), args.json)
        raise CLIError(f"{run_dir} has no program store yet ({STORE_FILE})")
    try:
        database = ProgramDatabase.open(run_dir / STORE_FILE, config.database, read_only=True)
        try:
            summary = summarize(run_dir, database, task)
        finally:
            database.close()
    except StoreError as exc:
        return _show_saved_summary(run_dir, config.budget, exc, args.json)
    finally:
        task.close()
    from thetaevolve.run_safety import read_json

    training = read_json(run_dir / "training.json")  # steps and checkpoint of a train run
    if isinstance(training, dict) and not args.json:
        summary = {**summary, "training": training}
    if args.json:
        print_json(summary)
    else:
        print_summary(summary, run_dir, config.budget)
        print(_trust_line(summary.get("score_trust", "verified")))
    return EXIT_OK


def _show_saved_summary(run_dir: Path, budget: int, error: Exception, as_json: bool) -> int:
    """A damaged store: show the summary.json written at the run's last finish, and say so."""
    from thetaevolve.run_safety import read_json

    saved = read_json(run_dir / "summary.json")
    if not isinstance(saved, dict):
        raise CLIError(f"{error} (and {run_dir}/summary.json is missing too)")
    print(f"thetaevolve: warning: the program store is damaged or missing ({error}); showing "
          f"{run_dir}/summary.json, written when the run last stopped. To recover the "
          "store, see README 'Damaged store'.", file=sys.stderr)
    if as_json:
        print_json({**saved, "store_damaged": True})
    else:
        print_summary(saved, None, budget)
    return EXIT_FAILED


# ---- compare ----------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    from thetaevolve.compare import compare_curves, format_table, load_curve, plot_comparison

    curves = [load_curve(Path(run)) for run in args.runs]
    result = compare_curves(curves, at=args.at, threshold=args.threshold)
    plot_comparison(curves, result, Path(args.plot))
    result["plot"] = args.plot
    if args.json:
        print_json(result)
    else:
        print(format_table(result))
        print(f"plot: {args.plot}", file=sys.stderr)
    return EXIT_OK


def _trust_line(trust: str) -> str:
    if trust == "verified":
        return ("scores: verified (recomputed by a trusted verifier from each candidate's "
                "returned data; a candidate cannot forge them)")
    return (f"scores: {trust} (what the problem's evaluator reported; the evaluator runs "
            "beside the candidate, so a candidate can forge them)")


# ---- plumbing ---------------------------------------------------------------------------------


def _with_problem_budget(config: RunConfig, task: Task) -> RunConfig:
    """A problem's own default budget (an OpenEvolve ``max_iterations``) when the user set
    none, by flag, --set or config file."""
    budget = getattr(task, "default_budget", None)
    if budget is None or "budget" in config.model_fields_set:
        return config
    print(f"budget: {budget} candidates (the problem's own default; --budget changes it)",
          file=sys.stderr)
    return config.model_copy(update={"budget": budget})


# ---- the parser: one table per subcommand -----------------------------------------------------


def _default(section: type[BaseModel], field: str) -> Any:
    """A setting's default, for the ``(None: key, default)`` of a flag's help."""
    return section.model_fields[field].default


def _add_openevolve_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--openevolve-config", metavar="FILE", default=None,
                        help="OpenEvolve folders: the config to read instead of DIR/config.yaml "
                             "(e.g. DIR/config_phase_1.yaml)")


def _tasks_command(add: AddSubparser) -> None:
    p = add("tasks", help="list the built-in tasks and installed problems")
    p.add_argument("paths", nargs="*", help="problem folders or files to list as well")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_tasks)


def _verify_command(add: AddSubparser) -> None:
    p = add("verify", help="verify a solution file with the task's trusted verifier")
    p.add_argument("task", help=TASK_HELP)
    p.add_argument("solution", help="solution JSON (the task's format; extra keys are ignored)")
    p.add_argument("--tol", type=float, default=0.0,
                   help="opt-in tolerance (0: exact arithmetic)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON")
    p.set_defaults(func=cmd_verify)


def _eval_command(add: AddSubparser) -> None:
    p = add("eval", help="run one program in the sandbox and verify its output")
    p.add_argument("task", help=TASK_HELP)
    p.add_argument("program", help="a Python file that defines solve()")
    p.add_argument("--timeout", type=float, default=None, help="seconds (None: the task's own)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _add_openevolve_config_flag(p)
    p.set_defaults(func=cmd_eval)


def _run_command(add: AddSubparser) -> None:
    p = add("run", help="evolve programs for a task",
            description="Flags override --set, which overrides --config; `thetaevolve config` "
                        "prints every setting with its meaning and default.")
    p.add_argument("task", help=TASK_HELP + "; it overrides the config file's task")
    p.add_argument("--config", help="YAML configuration file (e.g. from `thetaevolve config`)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one setting, e.g. --set database.num_islands=4 (repeatable)")
    p.add_argument("--llm", choices=choices(LLMConfig, "kind"), default=None,
                   help="where proposals come from; transformers: generate in this process "
                        f"(--model PATH_OR_ID or smollm2-135m) (None: llm.kind, "
                        f"{_default(LLMConfig, 'kind')})")
    p.add_argument("--base-url", default=None,
                   help="OpenAI-compatible endpoint(s), comma-separated, e.g. http://localhost:8000/v1")
    p.add_argument("--model", default=None, help="model name the endpoint serves")
    p.add_argument("--budget", type=int, default=None,
                   help=f"candidate programs to evaluate (None: budget, {_default(RunConfig, 'budget')})")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"parents per batch (None: gym.batch_size, {_default(GymConfig, 'batch_size')})")
    p.add_argument("--samples-per-prompt", type=int, default=None,
                   help="responses per parent (None: gym.samples_per_prompt, "
                        f"{_default(GymConfig, 'samples_per_prompt')})")
    p.add_argument("--sampler", choices=choices(DatabaseConfig, "sampler"), default=None,
                   help="parent selection: islands, puct (TTT-Discover's reuse), initial "
                        "(best-of-N from the initial program, no database feedback) "
                        f"(None: database.sampler, {_default(DatabaseConfig, 'sampler')})")
    p.add_argument("--seed", type=int, default=None,
                   help=f"fixes every random choice (None: seed, {_default(RunConfig, 'seed')})")
    p.add_argument("--run-dir", default=None,
                   help="new or empty folder for the run (None: runs/TASK-YYYYmmdd-HHMMSS)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    add_dashboard_flag(p)
    _add_openevolve_config_flag(p)
    p.set_defaults(func=cmd_run)


def _resume_command(add: AddSubparser) -> None:
    p = add("resume", help="continue a stopped or killed run")
    p.add_argument("run_dir", help="the run directory")
    p.add_argument("--budget", type=int, default=None,
                   help="the run's total budget, counting candidates done before the stop "
                        "(None: keep config.yaml's)")
    p.add_argument("--steps", type=int, default=None,
                   help="training runs only: the run's total number of RL steps")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="change a setting that may change mid-run: budget, the llm endpoint "
                        "(llm.base_url, llm.model, llm.api_key_env, ...), timeouts (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress display")
    add_dashboard_flag(p)
    p.add_argument("--allow-problem-change", action="store_true",
                   help="continue although the problem's files changed since the run started")
    p.set_defaults(func=cmd_resume)


def _show_command(add: AddSubparser) -> None:
    p = add("show", help="print a run's summary (also for a killed or running run)")
    p.add_argument("run_dir", help="the run directory")
    p.add_argument("--json", action="store_true", help="print summary.json's fields as JSON")
    p.set_defaults(func=cmd_show)


def _compare_command(add: AddSubparser) -> None:
    p = add("compare", help="compare runs of one task at equal candidate counts")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories of one task")
    p.add_argument("--at", type=int, default=None,
                   help="candidates to compare at (default: the smallest run's count)")
    p.add_argument("--threshold", type=float, default=None,
                   help="report the candidates each run needed to reach this score")
    p.add_argument("--plot", default="compare.png", help="where to write the plot")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thetaevolve",
        description="Evolve programs with one LLM to improve bounds on open problems.",
    )
    parser.add_argument("--version", action="version", version=f"thetaevolve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        # Defaults shown in every --help; no abbreviated flags (`--bud` for `--budget`).
        return sub.add_parser(name, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                              allow_abbrev=False, **kwargs)

    # In the order `thetaevolve --help` lists them.
    for register in (_tasks_command, _verify_command, _eval_command, _run_command,
                     _resume_command, _show_command, register_run_tools, _compare_command):
        register(add)  # register_run_tools: top, export, config
    register_dashboard(sub)
    register_train(sub)
    register_problem_commands(sub)  # init, check
    return parser


def _error(message: object, code: int) -> int:
    """One line on stderr; a multi-line message (several bad settings) is joined with '; '."""
    lines = [" ".join(line.split()) for line in str(message).splitlines() if line.strip()]
    text = lines[0] + (" " + "; ".join(lines[1:]) if len(lines) > 1 else "") if lines else ""
    print(f"thetaevolve: error: {text}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # a misspelled flag: show the subcommand's usage, not the top level's
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is reported below, not at exit
        return code
    except (UserError, ConfigError) as exc:
        return _error(exc, int(getattr(exc, "exit_code", EXIT_BAD_INPUT)))
    except BrokenPipeError:
        # The reader went away (`thetaevolve tasks --json | head`): say so once, on stderr,
        # and keep Python from complaining again when it flushes the closed stdout at exit.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return _error("output closed before everything was written (broken pipe)", EXIT_BAD_INPUT)
    except KeyboardInterrupt as stop:
        return EXIT_TERMINATED if isinstance(stop, Terminated) or was_terminated() else EXIT_INTERRUPTED
    except sqlite3.DatabaseError as exc:
        # A store damaged where the run had not read before (e.g. an old program's text).
        return _error(f"the program store cannot be read ({exc}): it is damaged. Every "
                      "committed candidate is kept and nothing was overwritten; README "
                      "'Damaged store' shows how to save its programs.", EXIT_BAD_INPUT)
    except ImportError as exc:
        # An optional extra that is missing; its message names what to install.
        return _error(exc, EXIT_BAD_INPUT)
    except OSError as exc:
        # A path that cannot be used (a file where a folder is wanted, no permission, disk
        # full): the OS message names the path.
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        return _error(f"{exc.strerror or exc}{':' + where if where else ''}", EXIT_BAD_INPUT)


if __name__ == "__main__":
    sys.exit(main())
