"""A run's own record of its progress: the one observer both drivers report to.

``evolve`` (inference) and ``train`` (test-time RL) drive the same gym and leave the same
record in the run directory, so the bookkeeping lives here once (observers watch
events, they are not woven into the loop):

- ``on_initial``: the initial program was stored: its best files and the "initial" line;
- ``on_batch``: a batch was committed: the best files if it holds a new best, one "batch"
  line in metrics.jsonl, and the progress output;
- ``on_best``: a new best: best_program.py and best_solution.json (``Session.save_best``
  keeps a better file already on disk);
- ``on_summary``: the run's "summary" line, after ``Session.finalize`` wrote summary.json.

The drivers differ only in the fields their batch lines carry (token usage for inference,
reward and advantage statistics for training) and in how progress is shown (a ``Progress``).
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

from thetaevolve.database import ProgramRecord
from thetaevolve.gym import BatchReport, ScoredChild, new_best
from thetaevolve.session import Session
from thetaevolve.types import Solution


class Progress(Protocol):
    """What a person watching the run sees (a bar, or lines on stderr)."""

    def start(self, done: int, best: float | None, failures: int) -> None: ...

    def update(self, report: BatchReport, line: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class RunRecorder:
    """Records one run directory's events; see the module docstring."""

    def __init__(self, session: Session, progress: Progress | None = None) -> None:
        self.session = session
        self.progress = progress
        # The best as of the last event: training's commits are judged against it.
        self.best: ProgramRecord | None = session.database.best()

    def on_initial(self, initial: tuple[ProgramRecord, Solution | None] | None) -> None:
        """After ``Gym.initialize``: its result, or None when the store had the program."""
        if initial is not None:
            record, solution = initial
            self.on_best(solution)
            self.session.log("initial", program_id=record.id, score=record.score)
        self.best = self.session.database.best()
        if self.progress is not None:
            best = self.best.score if self.best else None
            self.progress.start(self.session.gym.evaluations, best, failures_so_far(self.session))

    def on_best(self, solution: Solution | None) -> None:
        self.session.save_best(solution)

    def on_batch(self, report: BatchReport, *, step: int | None = None, **fields: Any) -> None:
        """A committed batch; ``fields`` are the driver's own columns of its "batch" line
        (``step``, the optimizer step of a training batch, comes right after ``batch``)."""
        if report.improved:
            self.on_best(report.best_solution)
        line: dict[str, Any] = {"batch": report.batch_index}
        if step is not None:
            line["step"] = step
        line.update(
            evaluations=report.evaluations_total,
            best_score=report.best.score if report.best else None,
            improved=report.improved,
            **fields,
        )
        self.session.log("batch", **line)
        self.best = report.best
        if self.progress is not None:
            self.progress.update(report, line)

    def on_summary(self, summary: dict[str, Any]) -> None:
        self.session.log("summary", **summary)

    def report_commit(
        self,
        batch_index: int,
        records: Sequence[ProgramRecord],
        scored: Sequence[Sequence[ScoredChild]],
        wall_s: float,
    ) -> BatchReport:
        """The report of a batch committed outside ``Gym.step`` (a training step), with
        the new best decided by the gym's rule against the best of the last event."""
        best = self.session.database.best()
        improved, solution = new_best(best, self.best, records, scored)
        return BatchReport(
            batch_index=batch_index, records=list(records),
            evaluations_total=self.session.gym.evaluations, best=best, improved=improved,
            wall_s=wall_s, best_solution=solution,
        )

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()


def failures_so_far(session: Session) -> int:
    """Failed candidates already in the store (the initial program not counted)."""
    counts = session.database.outcome_counts()
    failed = sum(v for k, v in counts.items() if k != "ok")
    initial = session.database.initial()
    if initial is not None and initial.outcome.is_failure and session.database.get_meta("initial_programs"):
        failed -= 1
    return max(0, failed)
