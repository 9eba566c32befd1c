"""Shared pieces for the sandbox tests: a trivial task and sandbox factories."""

from __future__ import annotations

import shutil

from thetaevolve.tasks.base import Task
from thetaevolve.types import Solution, Verdict


class TinyTask(Task):
    """A task whose verifier accepts anything: these tests look at the sandbox only."""

    name = "tiny"
    direction = "max"
    statement = "return any dict"
    solution_format = "{}"
    timeout_s = 5.0
    heavy_modules = ("numpy",)

    @property
    def initial_program(self) -> str:
        return "def solve():\n    return {'x': 1}\n"

    def verify(self, solution: Solution, tol: float = 0.0) -> Verdict:
        return Verdict(valid=True, score=0.0)


def bwrap_modes() -> list[str]:
    """Both isolation paths where bwrap exists; only the plain one where it does not."""
    return ["never", "always"] if shutil.which("bwrap") else ["never"]
