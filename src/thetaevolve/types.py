"""Small shared value types that cross module seams.

Every module that talks to another one does it through these types, so that the
sandbox, the task verifiers, the database and the proposers stay swappable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

Solution = dict[str, Any]
"""A task's solution as plain JSON-like data (e.g. ``{"circles": [[x, y, r], ...]}``)."""

FEEDBACK_METRIC = "feedback"
"""The stored metric that carries an evaluation's feedback text into its children's prompts."""


class Outcome(str, enum.Enum):
    """What happened to one proposal. ``OK`` is the only success.

    The values are stored in the database, so never rename one.
    """

    OK = "ok"
    # The LLM side.
    LLM_ERROR = "llm_error"  # the call failed after its retries (deadline, HTTP error, ...)
    # Turning a response into a child program.
    NO_DIFF = "no_diff"  # the response holds no edit block at all
    EDIT_NO_MATCH = "edit_no_match"  # a SEARCH text matches nowhere in the parent
    EDIT_AMBIGUOUS = "edit_ambiguous"  # a SEARCH text matches in more than one place
    EDIT_OUTSIDE_BLOCK = "edit_outside_block"  # an edit touches code outside EVOLVE-BLOCK regions
    TOO_LONG = "too_long"  # the child program exceeds the configured maximum length
    # Lazy penalties: decided by hashing, without running anything.
    NO_CHANGE = "no_change"  # level 1: child equals its parent after normalisation
    DUPLICATE = "duplicate"  # level 2: child equals a program already in the database
    # Running the child in the sandbox.
    TIMEOUT = "timeout"
    MEMORY = "memory"
    CRASH = "crash"  # exception, non-zero exit code or a signal
    NO_OUTPUT = "no_output"  # exited without handing back a solution
    MALFORMED_OUTPUT = "malformed_output"  # handed back something that is not parseable data
    # The trusted verifier.
    INVALID_SOLUTION = "invalid_solution"
    # The problem's own verify failed (raised an unexpected exception, hung past its
    # deadline, ran out of memory, returned no finite number): the problem's fault, not
    # the candidate's, but the candidate did run.
    VERIFIER_ERROR = "verifier_error"

    @property
    def is_failure(self) -> bool:
        return self is not Outcome.OK

    @property
    def was_evaluated(self) -> bool:
        """True when the child actually ran in the sandbox (lazy and edit failures never do)."""
        return self in _EVALUATED


_EVALUATED = {
    Outcome.OK,
    Outcome.TIMEOUT,
    Outcome.MEMORY,
    Outcome.CRASH,
    Outcome.NO_OUTPUT,
    Outcome.MALFORMED_OUTPUT,
    Outcome.INVALID_SOLUTION,
    Outcome.VERIFIER_ERROR,
}


@dataclass(frozen=True)
class Verdict:
    """The trusted verifier's judgement of one solution.

    ``score`` is the task's raw objective (e.g. the sum of radii, or C1), recomputed by the
    verifier from the data; it is None when the solution is invalid. ``reason`` names the
    violated constraint when ``valid`` is False. ``tolerance`` is the tolerance the
    verdict was reached with (0.0 means exact). ``error_bound`` is a rigorous bound on the
    floating-point error of ``score`` where the task certifies one.
    """

    valid: bool
    score: float | None
    reason: str = ""
    tolerance: float = 0.0
    error_bound: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    feedback: str = ""  # the problem's own words about this solution, for the next prompt

    @staticmethod
    def invalid(reason: str, tolerance: float = 0.0) -> "Verdict":
        return Verdict(valid=False, score=None, reason=reason, tolerance=tolerance)


@dataclass(frozen=True)
class RunResult:
    """What the sandbox hands back for one program run: data or a typed failure."""

    solution: Solution | None
    outcome: Outcome  # OK, TIMEOUT, MEMORY, CRASH, NO_OUTPUT or MALFORMED_OUTPUT
    detail: str = ""  # a short human-readable reason (exception text, signal name, ...)
    stdout: str = ""  # capped
    stderr: str = ""  # capped
    runtime_s: float = 0.0
    exit_code: int | None = None  # negative: killed by that signal


@dataclass(frozen=True)
class Evaluation:
    """A program's full evaluation: sandbox run plus trusted verification."""

    outcome: Outcome
    score: float | None  # raw objective, only when outcome is OK
    detail: str = ""
    solution: Solution | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    stderr: str = ""
    runtime_s: float = 0.0
    feedback: str = ""  # shown in the prompt of this program's children
