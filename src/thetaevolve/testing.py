"""Fast test doubles for problem authors and for ThetaEvolve's own tests.

- ``InProcessSandbox``: runs a program with ``exec`` in the calling process and counts the
  runs. **It is NOT a sandbox**: the program can do anything the test process can, with no
  time or memory limit. Use it only for code you wrote yourself, to test a task or the gym
  loop in milliseconds; candidates from a model always go through ``make_sandbox``.
- ``ScriptedProposer``: answers every prompt with the same scripted response texts and
  records which parents it was asked about, so a test can drive ``Gym.step`` without a model.
- ``TinyTask``: maximise a number x in [0, 1]; the smallest complete ``Task``, for tests
  that are about the loop, the sandbox or the store rather than a problem.

How a problem author uses them is in docs/problems.md ("Testing a problem quickly").
"""

from __future__ import annotations

import threading
from typing import Any, Sequence

from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.tasks.base import ENTRY_POINT, RewardShaping, Task
from thetaevolve.types import Outcome, RunResult, Solution, Verdict

TINY_PROGRAM = """import math

# EVOLVE-BLOCK-START
def value():
    return 0.25 * 2.0
# EVOLVE-BLOCK-END

def solve():
    return {"x": value()}
"""
"""``TinyTask``'s initial program: scores 0.5, and one edit of the block improves it."""


class TinyTask(Task):
    """Maximise x in [0, 1]; anything else is invalid. Fast enough for gym tests.

    numpy is pre-imported in the sandbox's warm worker, as for real tasks, so that the
    sandbox tests check that one candidate cannot change a module the next one sees.
    """

    name = "tiny"
    direction = "max"
    statement = "Return a number x in [0, 1] as large as possible."
    solution_format = '{"x": float}'
    timeout_s = 5.0
    heavy_modules = ("numpy",)
    reward_shaping = RewardShaping(0.0, 1.0, 1.0, 1.0)

    @property
    def initial_program(self) -> str:
        return TINY_PROGRAM

    def judge(self, solution: Solution, tol: float) -> Verdict:
        x = solution.get("x") if isinstance(solution, dict) else None
        if not isinstance(x, (int, float)) or not (0.0 <= x <= 1.0 + tol):
            return Verdict.invalid(f"x must be a number in [0, 1], got {x!r}")
        return Verdict(valid=True, score=float(x), tolerance=tol)


class InProcessSandbox:
    """Runs trusted programs in this process and records each one. NOT A SANDBOX.

    Same seam as ``make_sandbox(...)``'s result (``run``, ``close``, a context manager), so
    it can stand in for one in tests; an exception in the program is a ``CRASH`` result.
    There is no isolation, no deadline (``timeout_s`` is accepted and ignored) and no
    memory limit: never hand it code you did not write.
    """

    def __init__(self) -> None:
        self.runs: list[str] = []  # every program run, in order
        self._lock = threading.Lock()  # the gym runs candidates from a thread pool

    def run(self, code: str, timeout_s: float | None = None) -> RunResult:
        with self._lock:
            self.runs.append(code)
        namespace: dict[str, Any] = {}
        try:
            exec(compile(code, "<candidate>", "exec"), namespace)
            solution = namespace[ENTRY_POINT]()
        except Exception as exc:  # noqa: BLE001 - an exception is the candidate's crash, as in a sandbox
            return RunResult(solution=None, outcome=Outcome.CRASH, detail=repr(exc))
        return RunResult(solution=solution, outcome=Outcome.OK)

    def close(self) -> None:
        """Nothing to release: no worker processes."""

    def __enter__(self) -> "InProcessSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ScriptedProposer:
    """Answers every prompt with ``n`` of the scripted ``texts``, cycling through them.

    ``seen_parents`` lists the parent id of every prompt it was given, in order.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = list(texts)
        self.seen_parents: list[int] = []

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        self.seen_parents.extend(p.sample.parent.id for p in prompts)
        texts = [self.texts[j % len(self.texts)] for j in range(n)]
        return [[Response(text=t) for t in texts] for _ in prompts]

    async def aclose(self) -> None:
        """Nothing to close: no connections."""


__all__ = ["TINY_PROGRAM", "InProcessSandbox", "ScriptedProposer", "TinyTask"]
