"""The ``thetaevolve`` command line.

Exit codes: 0 success; 1 the thing checked is invalid or failed (verify, eval); 2 bad
input (unreadable file, bad configuration, unusable run directory); 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from thetaevolve import __version__
from thetaevolve.config import ConfigError, flag_overrides, load_config
from thetaevolve.dashboard.command import add_flag as add_dashboard_flag
from thetaevolve.dashboard.command import beside_run
from thetaevolve.dashboard.command import register as register_dashboard
from thetaevolve.errors import UserError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
SAMPLERS = ("islands", "puct", "initial")  # database.sampler
TASK_HELP = "a task name (`thetaevolve tasks`), an installed problem, or a problem folder / .py file"


class CLIError(UserError):
    """A user-facing error found by the CLI itself: printed as one line, exit code 2."""


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, allow_nan=True))


# ---- tasks ------------------------------------------------------------------------------------


def cmd_tasks(args: argparse.Namespace) -> int:
    from thetaevolve.problems.registry import available_problems
    from thetaevolve.tasks.families import family_usage
    from thetaevolve.tasks.listing import format_table, task_row

    rows, broken = [], []
    for entry in available_problems(args.paths):
        try:
            task = _task(entry.spec)
        except UserError as exc:  # one broken problem package must not hide the others
            broken.append({"name": entry.name, "kind": entry.kind, "error": str(exc)})
            continue
        try:
            rows.append({**task_row(entry.name, task), "kind": entry.kind, "problem": task.name,
                         "score_trust": task.score_trust, "error": None})
        finally:
            task.close()
    if args.json:
        _print_json(rows + broken)
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

    task = _task(args.task)
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
        _print_json(result)
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
    from thetaevolve.evaluation import judge
    from thetaevolve.sandbox import make_sandbox

    task = _task(args.task)
    try:
        code = Path(args.program).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read program {args.program}: {exc}") from None
    if args.timeout is not None and args.timeout <= 0:
        raise CLIError(f"--timeout must be positive, got {args.timeout}")
    with make_sandbox(task, SandboxConfig(workers=1, timeout_s=args.timeout)) as sandbox:
        run = sandbox.run(code, args.timeout)
    evaluation = judge(task, run)
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
        _print_json(result)
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


def _run_overrides(args: argparse.Namespace) -> list[str]:
    """CLI flags as config overrides; explicit flags win over --set."""
    overrides = list(args.set or [])
    pairs = [
        ("llm.kind", args.llm), ("llm.base_url", args.base_url), ("llm.model", args.model),
        ("budget", args.budget), ("gym.batch_size", args.batch_size),
        ("gym.samples_per_prompt", args.samples_per_prompt), ("seed", args.seed),
        ("run_dir", args.run_dir), ("database.sampler", getattr(args, "sampler", None)),
    ]
    return overrides + flag_overrides(pairs)


def cmd_run(args: argparse.Namespace) -> int:
    from thetaevolve.session import Session

    overrides = [f"task={json.dumps(args.task)}"] + _run_overrides(args)
    config = load_config(args.config, overrides=overrides)
    task = _task(config.task)
    if config.llm.kind in ("transformers", "vllm"):
        from thetaevolve.models.bundled import check_available

        check_available(config.llm.model)
    session = Session.create(config, Path(config.run_dir) if config.run_dir else None, task=task)
    print(f"run directory: {session.run_dir}", file=sys.stderr)
    with beside_run(session.run_dir, args.dashboard):
        return _evolve(session, config.budget, args.quiet)


def cmd_resume(args: argparse.Namespace) -> int:
    from thetaevolve.session import Session, read_marker

    run_dir = Path(args.run_dir)
    marker = read_marker(run_dir)
    if marker.get("kind") in ("train", "train-multi"):
        from thetaevolve.rl.cli import resume_training

        return resume_training(run_dir, args)
    if marker.get("kind") == "train-task":
        raise CLIError(f"{run_dir} is one task of a multi-task training run; resume the run "
                       f"itself: `thetaevolve resume {run_dir.parent.parent}`")
    overrides = [f"budget={args.budget}"] if args.budget is not None else []
    session = Session.resume(run_dir, overrides,
                             allow_problem_change=getattr(args, "allow_problem_change", False))
    with beside_run(run_dir, args.dashboard):
        return _evolve(session, session.config.budget, args.quiet)


def _evolve(session: Any, budget: int, quiet: bool) -> int:
    from thetaevolve.evolve import evolve

    try:
        summary = asyncio.run(evolve(session, budget, quiet=quiet))
    except KeyboardInterrupt:
        summary = session.finalize()
        print(f"interrupted; every committed candidate is kept. Continue with "
              f"`thetaevolve resume {session.run_dir}`", file=sys.stderr)
        _print_summary(summary)
        session.close()
        return EXIT_INTERRUPTED
    except UserError:  # e.g. the problem's verify is broken: the summary says what is kept
        if session.database.count():
            session.finalize()
        session.close()
        raise
    session.close()
    _print_summary(summary)
    return EXIT_OK


def _print_summary(summary: dict[str, Any]) -> None:
    best = summary.get("best_score")
    initial = summary.get("initial_score")
    print(f"task {summary['task']}: best {best!r} (initial {initial!r}), "
          f"valid={summary['best_valid']}, {summary['evaluations']} candidates, "
          f"failures {summary['failures'] or 'none'}, {summary['wall_seconds']:.1f} s")
    llm = summary.get("llm") or {}
    if llm.get("calls"):
        cost = llm.get("cost_usd")
        cost_text = "" if cost is None else f", cost ${cost:.4f}"
        failed = ", ".join(f"{k} {v}" for k, v in sorted((llm.get("failures") or {}).items()))
        print(f"llm: {llm['calls']} calls, {llm['tokens_in']} tokens in, "
              f"{llm['tokens_out']} tokens out, {llm['failed_calls']} failed calls"
              f"{' (' + failed + ')' if failed else ''}{cost_text}")


def cmd_show(args: argparse.Namespace) -> int:
    from thetaevolve.database.store import ProgramDatabase
    from thetaevolve.problems.provenance import open_run_problem
    from thetaevolve.session import CONFIG_FILE, STORE_FILE, read_marker, summarize

    run_dir = Path(args.run_dir)
    marker = read_marker(run_dir)
    if marker.get("kind") == "train-multi":
        from thetaevolve.rl.multitask import task_summaries

        summaries = task_summaries(run_dir)
        if args.json:
            _print_json({"kind": "train-multi", "tasks": summaries})
        else:
            for summary in summaries.values():
                _print_summary(summary)
        return EXIT_OK
    task = open_run_problem(run_dir, str(marker.get("task")), check_changes=False)
    try:
        config = load_config(run_dir / CONFIG_FILE)
    except ConfigError as exc:
        raise CLIError(f"{run_dir / CONFIG_FILE}: {exc}") from None
    if not (run_dir / STORE_FILE).exists():
        raise CLIError(f"{run_dir} has no program store yet ({STORE_FILE})")
    database = ProgramDatabase.open(run_dir / STORE_FILE, config.database, read_only=True)
    try:
        summary = summarize(run_dir, database, task)
    finally:
        database.close()
        task.close()
    if args.json:
        _print_json(summary)
    else:
        _print_summary(summary)
        print(_trust_line(summary.get("score_trust", "verified")))
    return EXIT_OK


# ---- compare ----------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    from thetaevolve.compare import compare_curves, format_table, load_curve, plot_comparison

    curves = [load_curve(Path(run)) for run in args.runs]
    result = compare_curves(curves, at=args.at, threshold=args.threshold)
    plot_comparison(curves, result, Path(args.plot))
    result["plot"] = args.plot
    if args.json:
        _print_json(result)
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


def _task(name: str):
    """A built-in task, an installed problem, or a problem path (UserError when none)."""
    from thetaevolve.problems.registry import resolve_problem

    return resolve_problem(name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thetaevolve",
        description="Evolve programs with one LLM to improve bounds on open problems.",
    )
    parser.add_argument("--version", action="version", version=f"thetaevolve {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the built-in tasks and installed problems")
    p.add_argument("paths", nargs="*", help="problem folders or files to list as well")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("verify", help="verify a solution file with the task's trusted verifier")
    p.add_argument("task", help=TASK_HELP)
    p.add_argument("solution", help="solution JSON (the task's format; extra keys are ignored)")
    p.add_argument("--tol", type=float, default=0.0,
                   help="opt-in tolerance (default 0: exact arithmetic)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("eval", help="run one program in the sandbox and verify its output")
    p.add_argument("task", help=TASK_HELP)
    p.add_argument("program")
    p.add_argument("--timeout", type=float, default=None, help="seconds (default: the task's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("run", help="evolve programs for a task")
    p.add_argument("task", help=TASK_HELP)
    p.add_argument("--config", help="YAML configuration file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one setting, e.g. --set database.num_islands=4 (repeatable)")
    p.add_argument("--llm", choices=["offline", "openai", "vllm", "transformers"], default=None,
                   help="transformers: generate in this process (--model PATH_OR_ID or smollm2-135m)")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint(s), comma-separated")
    p.add_argument("--model", default=None)
    p.add_argument("--budget", type=int, default=None, help="candidate programs to evaluate")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--samples-per-prompt", type=int, default=None)
    p.add_argument("--sampler", choices=SAMPLERS, default=None,
                   help="parent selection: islands (default), puct (TTT-Discover's reuse), "
                        "initial (best-of-N from the initial program, no database feedback)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--run-dir", default=None)
    p.add_argument("--quiet", action="store_true", help="no progress display")
    add_dashboard_flag(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("resume", help="continue a stopped or killed run")
    p.add_argument("run_dir")
    p.add_argument("--budget", type=int, default=None,
                   help="the run's total budget, counting candidates done before the stop")
    p.add_argument("--steps", type=int, default=None,
                   help="training runs only: the run's total number of RL steps")
    p.add_argument("--quiet", action="store_true")
    add_dashboard_flag(p)
    p.add_argument("--allow-problem-change", action="store_true",
                   help="continue although the problem's files changed since the run started")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("show", help="print a run's summary (also for a killed run)")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("compare", help="compare runs of one task at equal candidate counts")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories of one task")
    p.add_argument("--at", type=int, default=None,
                   help="candidates to compare at (default: the smallest run's count)")
    p.add_argument("--threshold", type=float, default=None,
                   help="report the candidates each run needed to reach this score")
    p.add_argument("--plot", default="compare.png", help="where to write the plot")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_compare)

    register_dashboard(sub)

    try:
        from thetaevolve.rl.cli import register
    except ImportError:
        register = None
    if register is not None:
        register(sub)
    from thetaevolve.problems.commands import register as register_problem_commands

    register_problem_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from thetaevolve.session import RunDirError

    try:
        return int(args.func(args) or 0)
    except (UserError, ConfigError, RunDirError) as exc:
        print(f"thetaevolve: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
