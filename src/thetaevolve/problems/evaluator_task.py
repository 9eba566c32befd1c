"""The Task for a problem scored by the user's own evaluator (OpenEvolve, ShinkaEvolve).

The evaluator runs inside the sandbox with the candidate (``sandbox/evaluator_host.py``);
what reaches this side is the report it produced: ``{"evaluator": kind, "metrics": {...},
...}``. ``judge`` turns that report into a score by the other project's own rules
(``score_report``, per kind). Because the candidate ran in the evaluator's process, it could
have written that report itself: such a score is ``"evaluator-reported"``.

With a trusted verify (a native ``problem.py`` beside the evaluator) the candidate's own
``solve()`` data travels along in the report, the trusted verify scores it, and the
evaluator's report is only feedback for the next prompt; the score is ``"verified"``.
"""

from __future__ import annotations

import abc
import math
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

from thetaevolve.prompts import format_value
from thetaevolve.sandbox.evaluator_host import EvaluatorHost
from thetaevolve.tasks.base import Direction, Task
from thetaevolve.types import Solution, Verdict

FEEDBACK_CAP_BYTES = 20_000  # OpenEvolve's prompt.max_artifact_bytes default (20 KB)
METRIC_TEXT_CHARS = 300  # one non-numeric metric's share of the feedback


MAX_METRICS = 100  # stored with every program and shown in prompts: a handful is the point


def numeric_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """Finite, non-bool numbers only (the first MAX_METRICS): what is stored and shown."""
    kept: dict[str, float] = {}
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            kept[str(k)] = float(v)
            if len(kept) >= MAX_METRICS:
                break
    return kept


def folder_name(folder: Path) -> str:
    """The problem's name: its folder's, with the parent's for a bare number
    (OpenEvolve's ``hexagon_packing/11`` is ``hexagon_packing_11``)."""
    if folder.name.isdigit() and folder.parent.name:
        return f"{folder.parent.name}_{folder.name}"
    return folder.name


def unreadable_warning(folder: Path) -> str:
    """Started as root, candidates (and the evaluator with them) run as an unprivileged
    uid: a folder that others may not read is invisible to them."""
    if os.geteuid() != 0:
        return ""
    mode = folder.stat().st_mode
    if mode & stat.S_IROTH and mode & stat.S_IXOTH:
        return ""
    return (f"{folder} is not readable by other users (mode {stat.filemode(mode)}); candidates "
            "run as an unprivileged uid and the evaluator with them, so files it opens while "
            "evaluating are out of reach: chmod o+rx the folder (and o+r its files)")


def cap_text(text: str, limit: int) -> str:
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", errors="ignore")
    return kept + f"\n[... {len(data) - limit} bytes cut ...]"


def describe_metrics(metrics: dict[str, Any]) -> str:
    """One line per metric the score line does not show (text, flags, nested values)."""
    lines = []
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            continue
        text = value if isinstance(value, str) else format_value(value)
        lines.append(f"- {name}: {str(text)[:METRIC_TEXT_CHARS]}")
    return "\n".join(lines)


class EvaluatorTask(Task, abc.ABC):
    """A problem folder scored by its own evaluator; see the module docstring."""

    direction: Direction = "max"  # OpenEvolve and Shinka: higher is always better
    score_trust = "evaluator-reported"
    kind = "evaluator"

    def __init__(
        self,
        *,
        name: str,
        statement: str,
        initial_program: str,
        folder: Path,
        host: EvaluatorHost,
        timeout_s: float,
        trusted_verify: Task | None = None,
        default_budget: int | None = None,
        warnings: tuple[str, ...] = (),
        feedback_cap_bytes: int = FEEDBACK_CAP_BYTES,
    ) -> None:
        self.name = name
        self.statement = statement
        self._initial_program = initial_program
        self.folder = folder
        self.evaluator_host = host
        self.timeout_s = timeout_s
        self.trusted_verify = trusted_verify
        self.default_budget = default_budget
        # What loading found questionable (unused settings, an unreadable folder): `run`
        # and `check` print them once; nothing is logged at load, so resume stays quiet.
        self.warnings = warnings
        self.feedback_cap_bytes = feedback_cap_bytes
        self.solution_format = (
            f"the report of the folder's evaluator: {{\"evaluator\": \"{self.kind}\", "
            "\"metrics\": {...}, ...}"
        )
        if trusted_verify is not None:
            self.score_trust = "verified"
            self.direction = trusted_verify.direction
            self.known_bounds = trusted_verify.known_bounds
            self.reward_shaping = trusted_verify.reward_shaping
            self.solution_format = trusted_verify.solution_format
            self.score_meaning = trusted_verify.score_meaning
            self.proven_bound = trusted_verify.proven_bound
            self.heavy_modules = tuple(
                dict.fromkeys([*self.heavy_modules, *trusted_verify.heavy_modules])
            )

    @property
    def initial_program(self) -> str:
        return self._initial_program

    # ---- scoring ----------------------------------------------------------------------

    def verify(self, solution: Solution, tol: float = 0.0) -> Verdict:
        """With a trusted verify, that verify's own judgement (its failures propagate, so a
        broken verify is reported as such); otherwise the evaluator's report, scored here."""
        if self.trusted_verify is None:
            return super().verify(solution, tol)
        if solution.get("evaluator") != self.kind:
            return self.trusted_verify.verify(solution, tol)  # plain data, e.g. from a file
        if isinstance(solution.get("invalid"), str):
            return Verdict.invalid(solution["invalid"][:2000], tolerance=tol)
        data = solution.get("solution")
        if not isinstance(data, dict):
            return Verdict.invalid("the report carries no solve() data to verify", tol)
        verdict = self.trusted_verify.verify(data, tol)
        feedback = "\n\n".join(t for t in (verdict.feedback, self._feedback(solution)) if t)
        return replace(verdict, feedback=cap_text(feedback, self.feedback_cap_bytes))

    def judge(self, solution: Solution, tol: float) -> Verdict:
        """The evaluator's report, scored by the other project's rules (untrusted mode)."""
        if solution.get("evaluator") != self.kind:
            return Verdict.invalid(
                f"not a report of a {self.kind} evaluator (it has no \"evaluator\": "
                f"\"{self.kind}\" entry)", tolerance=tol,
            )
        if isinstance(solution.get("invalid"), str):
            return Verdict.invalid(solution["invalid"][:2000], tolerance=tol)
        verdict = self.score_report(solution, tol)
        if not verdict.valid:
            return verdict
        return replace(verdict, tolerance=tol, feedback=self._feedback(solution))

    def _feedback(self, report: dict[str, Any]) -> str:
        return cap_text(self.feedback(report), self.feedback_cap_bytes)

    def close(self) -> None:
        close = getattr(self.trusted_verify, "close", None)
        if callable(close):
            close()

    @abc.abstractmethod
    def score_report(self, report: dict[str, Any], tol: float) -> Verdict:
        """The score the other project's rules give this evaluator report."""

    @abc.abstractmethod
    def feedback(self, report: dict[str, Any]) -> str:
        """Text for the next prompt (artifacts, text feedback, non-numeric metrics)."""

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        if self.trusted_verify is None:
            return False
        data = solution.get("solution") if solution.get("evaluator") == self.kind else solution
        return isinstance(data, dict) and self.trusted_verify.plot_solution(data, path)
