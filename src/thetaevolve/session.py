"""A run directory and everything opened on it: task, store, sandbox, prompt builder, gym.

Layout of a run directory:
    run.json              identity marker (format, kind, task); a folder without it is foreign
    config.yaml           the resolved configuration
    programs.sqlite       the program store (every proposal, failures included)
    metrics.jsonl         one JSON object per event (batch, training step, ...)
    best_program.py       the best program so far
    best_solution.json    its solution data, as the verifier accepted it
    summary.json          the run summary (rewritten at the end and by `thetaevolve show`)
    problem.json          where the problem came from, and the hashes of its files
    problem/              a copy of the problem's files (path problems): resume and show use it
    progress.png          best score against candidates evaluated
    solution.png          a picture of the best solution (tasks that have one)

Counters and totals live in the store, so ``summarize`` gives the same answer for a
finished run, a killed one, and one still running.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, get_args

from thetaevolve import __version__
from thetaevolve.atomic import write_json_atomic, write_text_atomic
from thetaevolve.config import ConfigError, RunConfig, dump_config, load_run_config
from thetaevolve.database import ProgramDatabase, ProgramStore
from thetaevolve.errors import UserError
from thetaevolve.evaluation import VerifierError
from thetaevolve.gym import Gym
from thetaevolve.problems import provenance
from thetaevolve.problems.registry import resolve_problem
from thetaevolve.prompts import PromptBuilder
from thetaevolve.proposers.usage import UsageTotals
from thetaevolve.run_safety import (
    better_or_equal,
    claim_default_run_dir,
    prepare_given_run_dir,
    refuse_lost_store,
    store_state,
    summary_may_replace,
)
from thetaevolve.sandbox import Sandbox, make_sandbox
from thetaevolve.tasks import Task
from thetaevolve.types import Outcome, Solution

RUN_MARKER = "run.json"
RUN_FORMAT = "thetaevolve-run"
CONFIG_FILE = "config.yaml"
STORE_FILE = "programs.sqlite"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
BEST_PROGRAM_FILE = "best_program.py"
BEST_SOLUTION_FILE = "best_solution.json"

# What made a run directory: `thetaevolve run`, `train`, or one task's folder inside a
# multi-task training run (rl/multitask.py; the multi-task run itself is no Session).
RunKind = Literal["evolve", "train", "train-task"]
RUN_KINDS: tuple[RunKind, ...] = get_args(RunKind)


class RunDirError(UserError, RuntimeError):
    """The run directory cannot be used as asked (exists already, foreign, damaged)."""


def read_marker(run_dir: Path) -> dict[str, Any]:
    """The run's identity; a clear error when the folder is not a ThetaEvolve run."""
    marker = run_dir / RUN_MARKER
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} does not exist or is not a directory")
    try:
        data = json.loads(marker.read_text())
    except FileNotFoundError:
        raise RunDirError(
            f"{run_dir} is not a ThetaEvolve run directory (it has no {RUN_MARKER}); "
            "start a new run with `thetaevolve run TASK --run-dir DIR`"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{marker} is unreadable ({exc}); the run directory is damaged") from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise RunDirError(f"{marker} does not describe a ThetaEvolve run (foreign directory)")
    return data


@dataclass
class Session:
    run_dir: Path
    kind: RunKind
    config: RunConfig
    task: Task
    database: ProgramStore
    sandbox: Sandbox
    gym: Gym
    # The score of best_solution.json as found on disk (checked once, on the first write),
    # so that a store that lost its programs can never replace a better file.
    _best_on_disk: float | None = None
    _best_on_disk_read: bool = False

    # ---- opening ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls, config: RunConfig, run_dir: Path | None = None, kind: RunKind = "evolve",
        task: Task | None = None,
    ) -> "Session":
        """Start a new run in a new (or empty) directory. ``task``: the problem already
        resolved from ``config.task`` (by the CLI, with options the name cannot carry).

        Everything that can be refused (problem, sandbox mode, templates) is checked before
        the directory is created, and the store's writer lock is taken before anything is
        written in it, so a refused start or a second process leaves no trace.
        """
        if task is None:
            task = resolve_problem(config.task)  # a bad problem fails before anything exists
        provenance.check_recordable(task)
        given = run_dir or (Path(config.run_dir) if config.run_dir else None)
        if given is not None:
            _refuse_used_dir(given)
        sandbox, builder = _sandbox_and_prompts(task, config)
        try:
            if given is not None:
                prepare_given_run_dir(given)
                run_dir = given
            else:
                run_dir = claim_default_run_dir(task.name)
            database = ProgramDatabase.open(run_dir / STORE_FILE, config.database)
        except BaseException:
            sandbox.close()
            raise
        config = config.model_copy(update={"run_dir": str(run_dir)})
        dump_config(config, run_dir / CONFIG_FILE)
        write_json_atomic(
            run_dir / RUN_MARKER,
            {
                "format": RUN_FORMAT,
                "version": 1,
                "kind": kind,
                "task": config.task,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "thetaevolve": __version__,
            },
        )
        provenance.record_problem(run_dir, task)
        return cls._assemble(run_dir, kind, config, task, database, sandbox, builder)

    @classmethod
    def resume(
        cls, run_dir: Path, overrides: list[str] | None = None, *,
        allow_problem_change: bool = False,
    ) -> "Session":
        """Reopen a run; ``overrides`` (k=v) change settings such as the budget. The problem
        comes from the run's own copy; a changed original is refused unless
        ``allow_problem_change``.

        Refused, with nothing changed, when the store is missing or empty but the folder
        shows an earlier run, or when the budget asked for is below what is done.
        """
        marker = read_marker(run_dir)
        try:
            config = load_run_config(run_dir / CONFIG_FILE, overrides=overrides)
        except ConfigError as exc:
            raise RunDirError(f"{run_dir / CONFIG_FILE}: {exc}") from None
        if config.task != marker.get("task"):
            raise RunDirError(f"{run_dir}: config.yaml and run.json name different tasks")
        store = run_dir / STORE_FILE
        missing = store_state(store)
        if missing:
            refuse_lost_store(run_dir, store, missing)
        task = provenance.open_run_problem(run_dir, config.task,
                                           allow_change=allow_problem_change)
        session = cls._open(run_dir, _run_kind(run_dir, marker), config, task)
        try:
            if session.database.count() == 0:
                refuse_lost_store(run_dir, store, "holds no programs")
            done = session.gym.evaluations
            if any(o.startswith("budget=") for o in overrides or []) and config.budget < done:
                raise RunDirError(
                    f"{run_dir} already has {done} candidates; --budget {config.budget} is below "
                    f"that, so there is nothing to do (nothing was changed). Give a budget above "
                    f"{done} to continue."
                )
        except BaseException:
            session.close()
            raise
        if overrides:
            dump_config(config, run_dir / CONFIG_FILE)
        return session

    @classmethod
    def _open(cls, run_dir: Path, kind: RunKind, config: RunConfig, task: Task) -> "Session":
        sandbox, builder = _sandbox_and_prompts(task, config)
        try:
            database = ProgramDatabase.open(run_dir / STORE_FILE, config.database)
        except BaseException:
            sandbox.close()
            task.close()
            raise
        return cls._assemble(run_dir, kind, config, task, database, sandbox, builder)

    @classmethod
    def _assemble(cls, run_dir: Path, kind: RunKind, config: RunConfig, task: Task,
                  database: ProgramStore, sandbox: Sandbox, builder: PromptBuilder) -> "Session":
        builder.lineage = database.lineage
        gym = Gym(task, config, database, sandbox, builder)
        return cls(run_dir, kind, config, task, database, sandbox, gym)

    def close(self) -> None:
        self.gym.close()
        self.sandbox.close()
        self.database.close()
        self.task.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing ----------------------------------------------------------------------------

    def log(self, event: str, **fields: Any) -> None:
        """Append one event to metrics.jsonl (flushed at once: a kill loses nothing logged)."""
        record = {"event": event, "time": round(time.time(), 3), **fields}
        with open(self.run_dir / METRICS_FILE, "a") as handle:
            handle.write(json.dumps(record, default=_jsonable) + "\n")

    def save_best(self, solution: Solution | None) -> None:
        """Write best_program.py and best_solution.json for the store's current best."""
        best = self.database.best()
        if best is None:
            return
        if not self._best_on_disk_read:
            self._best_on_disk_read = True
            previous = _read_solution(self.run_dir)
            if previous is not None:
                try:
                    verdict = self.task.verify(previous, tol=0.0)
                    self._best_on_disk = _clean(verdict.score) if verdict.valid else None
                except VerifierError:  # a broken verify cannot vouch for the file either way
                    self._best_on_disk = None
        if not better_or_equal(self.task.direction, _clean(best.score), self._best_on_disk):
            self.log("warning", message=f"kept {BEST_SOLUTION_FILE} (score {self._best_on_disk}): "
                     f"the store's best {best.score} is worse")
            return
        write_text_atomic(self.run_dir / BEST_PROGRAM_FILE, best.code)
        if solution is not None:
            write_json_atomic(self.run_dir / BEST_SOLUTION_FILE, solution)
            self._best_on_disk = _clean(best.score)

    def finalize(self) -> dict[str, Any]:
        """Write summary.json and the pictures; returns the summary."""
        summary = summarize(self.run_dir, self.database, self.task)
        if summary_may_replace(self.run_dir / SUMMARY_FILE, summary):
            write_json_atomic(self.run_dir / SUMMARY_FILE, summary)
        else:
            self.log("warning", message=f"kept {SUMMARY_FILE}: it records a better best score")
        from thetaevolve.plots import plot_progress

        try:
            plot_progress(self.database, self.task, self.run_dir / "progress.png")
            solution = _read_solution(self.run_dir)
            if solution is not None:
                self.task.plot_solution(solution, self.run_dir / "solution.png")
        except Exception as exc:  # a picture must never cost the run its summary
            self.log("warning", message=f"could not draw pictures: {exc}")
        return summary


def _run_kind(run_dir: Path, marker: dict[str, Any]) -> RunKind:
    """The kind run.json names (runs from before kinds existed are inference runs)."""
    kind = marker.get("kind", "evolve")
    for known in RUN_KINDS:
        if kind == known:
            return known
    raise RunDirError(f"{run_dir / RUN_MARKER} names a run kind this version does not know: "
                      f"{kind!r} (one of {', '.join(RUN_KINDS)})")


def _refuse_used_dir(run_dir: Path) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"--run-dir {run_dir} is a file, not a directory; choose another path")
    if (run_dir / RUN_MARKER).exists():
        raise RunDirError(
            f"{run_dir} already holds a run; continue it with `thetaevolve resume {run_dir}` "
            "or choose another --run-dir"
        )
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise RunDirError(
            f"{run_dir} exists and is not empty; choose a new --run-dir "
            "(nothing was written there)"
        )


def _sandbox_and_prompts(task: Task, config: RunConfig) -> tuple[Sandbox, PromptBuilder]:
    """The sandbox and prompt builder, or a UserError naming the setting that is unusable."""
    try:
        sandbox = make_sandbox(task, config.sandbox)
    except RuntimeError as exc:  # e.g. sandbox.use_bwrap=always where bwrap cannot run
        raise UserError(str(exc)) from None
    try:
        builder = PromptBuilder(task, config.prompt, edit_mode=config.llm.edit_mode)
    except ValueError as exc:  # PromptTemplateError included
        sandbox.close()
        raise UserError(str(exc)) from None
    except BaseException:
        sandbox.close()
        raise
    return sandbox, builder


def _read_solution(run_dir: Path) -> Solution | None:
    try:
        data = json.loads((run_dir / BEST_SOLUTION_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, Outcome):
        return value.value
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _clean(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def summarize(run_dir: Path, database: ProgramStore, task: Task) -> dict[str, Any]:
    """The run summary, derived from the store and the best-solution file only."""
    counts = database.outcome_counts()
    initial = database.initial()
    initial_programs = int(database.get_meta("initial_programs") or 0)
    if initial is not None and initial_programs:
        key = initial.outcome.value
        counts[key] = counts.get(key, 0) - 1
    best = database.best()
    solution = _read_solution(run_dir)
    best_valid = False
    if solution is not None and best is not None:
        try:
            verdict = task.verify(solution, tol=0.0)
        except VerifierError:  # a broken verify cannot vouch for the best solution
            verdict = None
        best_valid = verdict is not None and bool(verdict.valid and verdict.score is not None
                          and math.isclose(verdict.score, best.score or 0.0, rel_tol=1e-12))
    usage = UsageTotals.from_dict(database.get_meta("usage")).to_dict()
    failures = {k: v for k, v in sorted(counts.items()) if k != Outcome.OK.value and v > 0}
    evaluations = sum(v for v in counts.values())
    marker = read_marker(run_dir)
    return {
        "task": task.name,
        "kind": marker.get("kind", "evolve"),
        "direction": task.direction,
        "score_trust": task.score_trust,
        "initial_score": _clean(initial.score) if initial else None,
        "best_score": _clean(best.score) if best else None,
        "best_valid": best_valid,
        "best_program_id": best.id if best else None,
        "best_known": task.best_known.value if task.best_known else None,
        "evaluations": evaluations,
        "ok": counts.get(Outcome.OK.value, 0),
        "failures": failures,
        "batches": max(0, database.max_iteration()),
        "wall_seconds": round(float(database.get_meta("wall_seconds") or 0.0), 3),
        "llm": {**usage, "offline_proposals": int(database.get_meta("offline_proposals") or 0)},
    }
