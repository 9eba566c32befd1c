"""The inference driver: run the gym with a proposer until the budget is spent."""

from __future__ import annotations

import sys
import time
from typing import Any

from thetaevolve.endpoint_check import EndpointGuard, EndpointUnusable
from thetaevolve.gym import BatchReport
from thetaevolve.proposers import make_proposer
from thetaevolve.recorder import RunRecorder
from thetaevolve.session import Session


class ProgressDisplay:
    """Candidates done, best score and failures: a live bar on a terminal, lines elsewhere."""

    def __init__(self, task_name: str, budget: int, quiet: bool = False) -> None:
        self.task_name = task_name
        self.budget = budget
        self.quiet = quiet
        self._bar: Any = None
        self._last_line = 0.0
        self._failures = 0

    def start(self, done: int, best: float | None, failures: int = 0) -> None:
        # A resumed run's display counts on from the store, as the candidate count does.
        self._failures = failures
        if self.quiet:
            return
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
            from rich.progress import TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), transient=False,
            )
            self._bar.start()
            self._bar_id = self._bar.add_task(
                self.task_name, total=self.budget, completed=done, status=self._status(best)
            )
        else:
            print(f"[{self.task_name}] starting at {done}/{self.budget} candidates | "
                  f"{self._status(best)}", file=sys.stderr, flush=True)

    def _status(self, best: float | None) -> str:
        shown = "-" if best is None else f"{best:.10g}"
        return f"best {shown} | failures {self._failures}"

    def update(self, report: BatchReport, line: dict[str, Any] | None = None) -> None:
        self._failures += sum(1 for r in report.records if r.outcome.is_failure)
        best = report.best.score if report.best else None
        if self.quiet:
            return
        if self._bar is not None:
            self._bar.update(self._bar_id, completed=report.evaluations_total,
                             status=self._status(best))
            return
        now = time.monotonic()
        if report.improved or now - self._last_line > 5.0 or report.evaluations_total >= self.budget:
            self._last_line = now
            mark = " (new best)" if report.improved else ""
            print(f"[{self.task_name}] {report.evaluations_total}/{self.budget} candidates | "
                  f"{self._status(best)}{mark}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


async def evolve(session: Session, budget: int, quiet: bool = False) -> dict[str, Any]:
    """Evolve until ``budget`` candidates are recorded in the store; returns the summary.

    ``budget`` counts every candidate of the run, those of earlier sessions included, so
    resuming a run with the same budget finishes it rather than starting it over.
    """
    gym = session.gym
    recorder = RunRecorder(session, ProgressDisplay(session.task.name, budget, quiet=quiet))
    recorder.on_initial(await gym.initialize())
    proposer = EndpointGuard(make_proposer(session.config), session.config.llm)
    logged_events = _log_sandbox_events(session, 0)
    try:
        while gym.evaluations < budget and proposer.tripped is None:
            report = await gym.step(proposer, max_children=budget - gym.evaluations)
            recorder.on_batch(
                report,
                mean_reward=round(report.mean_reward, 6),
                outcomes=report.outcome_counts(),
                wall_s=round(report.wall_s, 4),
                **_usage_so_far(session),
            )
            logged_events = _log_sandbox_events(session, logged_events)
    finally:
        recorder.close()
        await proposer.aclose()
    summary = session.finalize()
    recorder.on_summary(summary)
    if proposer.tripped is not None:
        session.log("stopped", reason=proposer.tripped)
        raise EndpointUnusable(
            f"{proposer.tripped}. Every committed candidate is kept; continue with "
            f"`thetaevolve resume {session.run_dir}` once the endpoint works.",
            summary=summary,
        )
    return summary


def _usage_so_far(session: Session) -> dict[str, Any]:
    """The run's LLM totals after this batch, so progress can be drawn against tokens and
    dollars later (the store keeps only the latest totals)."""
    usage = session.database.get_meta("usage") or {}
    tokens = int(usage.get("tokens_in", 0)) + int(usage.get("tokens_out", 0))
    return {"tokens": tokens, "cost_usd": usage.get("cost_usd")}


def _log_sandbox_events(session: Session, logged: int) -> int:
    """Append the sandbox's new events (the Ray backend's node joins, losses and retries) to
    metrics.jsonl, so a run's record says which nodes it used and lost; returns the count."""
    events = list(getattr(session.sandbox, "events", ()))
    for event in events[logged:]:
        fields = {k: v for k, v in event.items() if k != "event"}
        session.log(f"sandbox_{event['event']}", **fields)
    return len(events)
