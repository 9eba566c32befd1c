"""The run recorder both drivers report to: what one batch leaves in the run directory."""

from __future__ import annotations

import time
from typing import Any

from thetaevolve.database import ChildDraft, ProgramRecord
from thetaevolve.gym import ScoredChild
from thetaevolve.proposers.base import Response
from thetaevolve.recorder import RunRecorder
from thetaevolve.types import Evaluation, Outcome


def record(pid: int, score: float) -> ProgramRecord:
    return ProgramRecord(
        id=pid, parent_id=None if pid == 1 else 1, island=0, generation=0, iteration=pid - 1,
        code=f"# {pid}", code_hash=str(pid), outcome=Outcome.OK, score=score, fitness=score,
        reward=score, metrics={}, prompt="", response="", detail="", created_at=time.time(),
    )


def child(score: float, solution: dict[str, Any] | None) -> ScoredChild:
    draft = ChildDraft(parent_id=1, code="", code_hash="", outcome=Outcome.OK, score=score,
                       fitness=score, reward=score, iteration=1)
    evaluation = None if solution is None else Evaluation(Outcome.OK, score, solution=solution)
    return ScoredChild(0, 0, draft, evaluation, Response(text=""))


class FakeStore:
    def __init__(self) -> None:
        self.current: ProgramRecord | None = record(1, 0.5)

    def best(self) -> ProgramRecord | None:
        return self.current


class FakeSession:
    """What the recorder touches of a Session: the store's best, the log, the best files."""

    def __init__(self) -> None:
        self.database = FakeStore()
        self.lines: list[tuple[str, dict[str, Any]]] = []
        self.saved: list[dict[str, Any] | None] = []
        self.gym = self
        self.evaluations = 0

    def log(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))

    def save_best(self, solution: dict[str, Any] | None) -> None:
        self.saved.append(solution)


def test_a_training_commit_with_a_new_best_saves_that_childs_solution_and_logs_one_line():
    session = FakeSession()
    recorder = RunRecorder(session)  # type: ignore[arg-type]  # a stand-in for Session
    records = [record(2, 0.4), record(3, 0.9)]
    session.database.current, session.evaluations = records[1], 2
    report = recorder.report_commit(1, records, [[child(0.4, {"x": 0.4}), child(0.9, {"x": 0.9})]],
                                    wall_s=0.25)
    assert report.improved and report.best_solution == {"x": 0.9}
    recorder.on_batch(report, step=1, mean_reward=0.65)
    assert session.saved == [{"x": 0.9}]
    event, line = session.lines[-1]
    assert event == "batch"
    assert list(line) == ["batch", "step", "evaluations", "best_score", "improved", "mean_reward"]
    assert line == {"batch": 1, "step": 1, "evaluations": 2, "best_score": 0.9,
                    "improved": True, "mean_reward": 0.65}

    # The next commit is judged against that best: no improvement, nothing saved.
    report = recorder.report_commit(2, [record(4, 0.7)], [[child(0.7, {"x": 0.7})]], wall_s=0.1)
    recorder.on_batch(report)
    assert not report.improved and session.saved == [{"x": 0.9}]
    assert "step" not in session.lines[-1][1]
