"""Shared test helpers: a tiny task and an in-process sandbox that counts its runs."""

from __future__ import annotations

import threading

import pytest

from thetaevolve.tasks.base import RewardShaping, Task
from thetaevolve.types import Outcome, RunResult, Verdict

TINY_PROGRAM = """import math

# EVOLVE-BLOCK-START
def value():
    return 0.25 * 2.0
# EVOLVE-BLOCK-END

def solve():
    return {"x": value()}
"""


class TinyTask(Task):
    """Maximise x in [0, 1]; anything else is invalid. Fast enough for gym tests."""

    name = "tiny"
    direction = "max"
    statement = "Return a number x in [0, 1] as large as possible."
    solution_format = '{"x": float}'
    timeout_s = 5.0
    heavy_modules = ()
    reward_shaping = RewardShaping(0.0, 1.0, 1.0, 1.0)

    @property
    def initial_program(self) -> str:
        return TINY_PROGRAM

    def judge(self, solution, tol):
        x = solution.get("x") if isinstance(solution, dict) else None
        if not isinstance(x, (int, float)) or not (0.0 <= x <= 1.0 + tol):
            return Verdict.invalid(f"x must be a number in [0, 1], got {x!r}")
        return Verdict(valid=True, score=float(x), tolerance=tol)


class CountingSandbox:
    """Runs trusted test programs in-process and counts how many ran (tests only)."""

    def __init__(self) -> None:
        self.runs: list[str] = []
        self._lock = threading.Lock()

    def run(self, code: str, timeout_s: float | None = None) -> RunResult:
        with self._lock:
            self.runs.append(code)
        namespace: dict = {}
        try:
            exec(compile(code, "<candidate>", "exec"), namespace)
            solution = namespace["solve"]()
        except Exception as exc:  # noqa: BLE001 - mirrors a sandbox crash
            return RunResult(solution=None, outcome=Outcome.CRASH, detail=repr(exc))
        return RunResult(solution=solution, outcome=Outcome.OK)

    def close(self) -> None:
        pass


@pytest.fixture
def tiny_task() -> TinyTask:
    return TinyTask()
