"""Stop a run whose problem verifier is broken, rather than burn its budget.

One ``verifier_error`` is the problem's bad luck on one solution; twenty in a row means
the problem's ``verify`` itself is broken, and every further candidate would be wasted.
The gym feeds each committed batch here, in commit order; the streak survives batch
boundaries and resets on any other outcome.
"""

from __future__ import annotations

from collections.abc import Iterable

from thetaevolve.errors import UserError
from thetaevolve.types import Outcome

VERIFIER_ERROR_LIMIT = 20


class VerifierBrokenError(UserError):
    """The problem's verify failed on too many candidates in a row; the run stops."""


class VerifierStreak:
    """Counts consecutive ``verifier_error`` outcomes; raises at the limit."""

    def __init__(self, limit: int = VERIFIER_ERROR_LIMIT, run_dir: str | None = None) -> None:
        self.limit = limit
        self.run_dir = run_dir or "RUN_DIR"
        self.count = 0
        self.last_detail = ""

    def observe(self, results: Iterable[tuple[Outcome, str]]) -> None:
        """Feed (outcome, detail) pairs in commit order (after they are committed)."""
        for outcome, detail in results:
            if outcome is Outcome.VERIFIER_ERROR:
                self.count += 1
                self.last_detail = detail
            elif outcome.was_evaluated:
                self.count = 0  # only a verdict reached resets it; lazy failures say nothing
        if self.count >= self.limit:
            last = self.last_detail.strip().splitlines()[0] if self.last_detail.strip() else ""
            raise VerifierBrokenError(
                f"the problem's verify is broken: {self.count} candidates in a row got "
                f"verifier_error (last: {last}). Every committed candidate is kept; fix the "
                f"problem's verify and continue with `thetaevolve resume {self.run_dir} "
                "--allow-problem-change`"
            )
