"""How a training step reaches the run's record: ``recorder.RunRecorder``, fed by commits.

The coordinator hands ``on_commit`` a ``CommitInfo`` on rank 0 right after each step's
children are stored; ``StepRecorder`` turns it into the same ``BatchReport`` an inference
batch produces and gives it to the run's ``RunRecorder`` (best files, the "batch" line with
the step's reward statistics, one progress line per step). Multi-task training keeps one
``StepRecorder`` per task (``multitask.MultiTaskRecorder``).

This module imports no torch.
"""

from __future__ import annotations

import sys
from typing import Any

from thetaevolve.database import ProgramRecord
from thetaevolve.gym import BatchReport, ScoredChild
from thetaevolve.recorder import RunRecorder
from thetaevolve.rl.coordinator import CommitInfo
from thetaevolve.session import Session
from thetaevolve.types import Solution


class StepLines:
    """One line on stderr per training step (the ``Progress`` of a training run)."""

    def __init__(self, task_name: str, total_steps: int, quiet: bool = False) -> None:
        self.task_name = task_name
        self.total_steps = total_steps
        self.quiet = quiet

    def start(self, done: int, best: float | None, failures: int) -> None:
        """Nothing: a training run's first line comes after its first step."""

    def update(self, report: BatchReport, line: dict[str, Any]) -> None:
        if self.quiet:
            return
        best = report.best
        shown = "-" if best is None or best.score is None else f"{best.score:.10g}"
        mark = " (new best)" if report.improved else ""
        print(f"[{self.task_name}] step {line['step']}/{self.total_steps} "
              f"(batch {report.batch_index}): reward mean {line['mean_reward']:.4g} "
              f"max {line['max_reward']:.4g} | best {shown}{mark} "
              f"| {line['outcomes']}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class StepRecorder:
    """``on_commit`` of a single-task training run: each step into the run's record."""

    def __init__(self, session: Session, total_steps: int, quiet: bool = False) -> None:
        self.recorder = RunRecorder(session, StepLines(session.task.name, total_steps, quiet))

    def on_initial(self, initial: tuple[ProgramRecord, Solution | None] | None) -> None:
        self.recorder.on_initial(initial)

    def __call__(self, info: CommitInfo[ScoredChild]) -> None:
        report = self.recorder.report_commit(info.batch_index, info.records, info.scored,
                                             info.metrics.get("wall_s", 0.0))
        self.recorder.on_batch(report, step=info.step, **info.metrics)

    def on_summary(self, summary: dict[str, Any]) -> None:
        self.recorder.on_summary(summary)
