"""The Task seam: everything the framework knows about one optimisation problem.

A task owns its trusted verifier. The candidate program only hands back data (a
``Solution``); ``Task.verify`` recomputes the score from that data and never reads a
number the candidate claims about itself.

Program contract (every task): the candidate program defines a function named
``ENTRY_POINT`` (``solve``) taking no arguments and returning the task's solution as a
dict (numpy arrays are allowed inside; they are converted to lists by the sandbox).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from thetaevolve.types import Solution, Verdict

if TYPE_CHECKING:
    from thetaevolve.sandbox.evaluator_host import EvaluatorHost

ENTRY_POINT = "solve"
Direction = Literal["max", "min"]


class DataError(ValueError):
    """The candidate's data is malformed; the message says how.

    Exported as ``thetaevolve.tasks.DataError``: a task's ``judge`` raises it, and
    ``Task.verify`` turns it into an invalid ``Verdict`` with the message as the reason.
    """


@dataclass(frozen=True)
class KnownBound:
    """A published value for the task's objective, with where it comes from."""

    value: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class RewardShaping:
    """Default ``rl_normalized`` shaping (ThetaEvolve's score transform).

    reward = multiplier * ((clip(w, lo, hi) - lo) / (hi - lo)) ** alpha where, for a
    maximised objective, w = score and [lo, hi] = [range_min, range_max]; for a minimised
    one, w = -score and [lo, hi] = [-range_max, -range_min].
    """

    range_min: float = 0.0
    range_max: float = 1.0
    alpha: float = 1.0
    multiplier: float = 5.0


class Task(abc.ABC):
    """One problem: statement, initial program, trusted verifier, bounds."""

    name: str
    direction: Direction
    statement: str  # problem statement for prompts, in our own words
    solution_format: str  # documentation of the solution JSON
    timeout_s: float = 60.0  # default wall-clock limit for one candidate run
    heavy_modules: tuple[str, ...] = ("numpy", "scipy", "scipy.optimize")
    # Set for problems whose own evaluator runs inside the sandbox (OpenEvolve, Shinka).
    evaluator_host: "EvaluatorHost | None" = None
    known_bounds: tuple[KnownBound, ...] = ()
    reward_shaping: RewardShaping = RewardShaping()
    # What the raw score is, in a few words, for listings (e.g. "sum of radii").
    score_meaning: str = ""
    # A theorem no valid solution can beat (e.g. C1 >= 1.28); a verifier that finds a
    # score beyond it reports a verifier or data error instead of a record.
    proven_bound: KnownBound | None = None
    # "verified": the score is recomputed from the candidate's data by a trusted verifier
    # (built-in and native problems). "evaluator-reported": the score is what an evaluator
    # running beside the candidate said, which the candidate can forge.
    score_trust: str = "verified"

    def template_variables(self) -> dict[str, object]:
        """Values for ``{name}`` placeholders in prompt templates (e.g. the circle count)."""
        return {}

    @property
    @abc.abstractmethod
    def initial_program(self) -> str:
        """A deliberately weak but valid program, with EVOLVE-BLOCK markers."""

    def verify(self, solution: Solution, tol: float = 0.0) -> Verdict:
        """Judge a solution. ``tol`` = 0 is exact; a positive ``tol`` is an explicit opt-in.

        Never raises on bad data: malformed input (or a bad ``tol``) is an invalid Verdict
        whose reason says what is wrong.
        """
        try:
            return self.judge(solution, check_tol(tol))
        except (DataError, ArithmeticError) as exc:
            return Verdict.invalid(str(exc), tolerance=safe_tol(tol))
        except Exception as exc:  # noqa: BLE001 - a verifier must never raise on data
            return Verdict.invalid(
                f"unreadable solution ({type(exc).__name__}: {exc})", tolerance=safe_tol(tol)
            )

    @abc.abstractmethod
    def judge(self, solution: Solution, tol: float) -> Verdict:
        """The task's own check, with ``tol`` already validated.

        Raise ``thetaevolve.tasks.DataError`` for malformed data; ``verify``
        turns it into an invalid Verdict.
        """

    def is_better(self, a: float, b: float | None) -> bool:
        """True when raw score ``a`` beats ``b`` in this task's direction."""
        if b is None:
            return True
        return a > b if self.direction == "max" else a < b

    def fitness(self, score: float) -> float:
        """A larger-is-better version of the raw score, used to rank programs."""
        return score if self.direction == "max" else -score

    @property
    def best_known(self) -> KnownBound | None:
        if not self.known_bounds:
            return None
        pick = max if self.direction == "max" else min
        return pick(self.known_bounds, key=lambda b: b.value)

    def beats_proven_bound(self, score: float) -> bool:
        """True when ``score`` is impossible: strictly beyond ``proven_bound``."""
        if self.proven_bound is None:
            return False
        limit = self.proven_bound.value
        return score < limit if self.direction == "min" else score > limit

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        """Draw a picture of a solution; returns False when the task has no picture."""
        return False

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release what the task holds; a no-op by default, since a built-in task holds nothing.

        Callers close every task they built, so a task that does hold something (a native
        problem's verifier processes, ``problems/native.py``) overrides this instead.
        """


def check_tol(tol: object) -> float:
    """A verifier tolerance: a finite number >= 0 (0 means exact)."""
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not math.isfinite(tol) or tol < 0:
        raise DataError(f"tolerance must be a finite number >= 0, got {tol!r}")
    return float(tol)


def safe_tol(tol: object) -> float:
    """The tolerance to record on an invalid verdict, even when ``tol`` itself was bad."""
    if isinstance(tol, (int, float)) and not isinstance(tol, bool) and math.isfinite(tol) and tol >= 0:
        return float(tol)
    return 0.0
