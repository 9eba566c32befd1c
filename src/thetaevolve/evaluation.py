"""Evaluate one program: run it in the sandbox (untrusted), verify its data (trusted)."""

from __future__ import annotations

from thetaevolve.errors import UserError
from thetaevolve.tasks.base import Task
from thetaevolve.types import Evaluation, Outcome, RunResult

_STDERR_KEEP = 4000  # the tail of stderr kept with the program (shown to the model on failure)


class VerifierError(UserError):
    """The problem's own verifier failed on a solution (not the solution's fault).

    Raised by a task's ``verify`` when it cannot reach a verdict at all: it raised an
    unexpected exception, hung past its deadline, ran out of memory, or returned something
    that is not a finite number. ``evaluate_run`` records the candidate as ``verifier_error``;
    anywhere else (``thetaevolve verify``) it is a user-facing error: the problem needs fixing.
    """


def evaluate_run(task: Task, run: RunResult) -> Evaluation:
    """Turn a sandbox result into an Evaluation; the score comes only from the verifier.

    Always verified exactly (tolerance 0): a tolerance is an explicit opt-in of
    ``thetaevolve verify --tol``, never part of a run.
    """
    stderr = run.stderr[-_STDERR_KEEP:]
    if run.outcome is not Outcome.OK or run.solution is None:
        outcome = run.outcome if run.outcome is not Outcome.OK else Outcome.NO_OUTPUT
        return Evaluation(
            outcome=outcome, score=None, detail=run.detail, stderr=stderr,
            runtime_s=run.runtime_s,
        )
    try:
        verdict = task.verify(run.solution)
    except Exception as exc:  # a verifier bug must not take the run down
        reason = str(exc) if isinstance(exc, VerifierError) else (
            f"the verifier raised {type(exc).__name__}: {exc}")
        return Evaluation(
            outcome=Outcome.VERIFIER_ERROR, score=None, detail=reason, solution=run.solution,
            stderr=stderr, runtime_s=run.runtime_s,
        )
    if not verdict.valid or verdict.score is None:
        return Evaluation(
            outcome=Outcome.INVALID_SOLUTION, score=None, detail=verdict.reason,
            solution=run.solution, stderr=stderr, runtime_s=run.runtime_s,
            feedback=verdict.feedback,
        )
    metrics = {"score": verdict.score, "runtime_s": run.runtime_s, **verdict.metrics}
    if verdict.error_bound is not None:
        metrics["error_bound"] = verdict.error_bound
    return Evaluation(
        outcome=Outcome.OK, score=verdict.score, solution=run.solution, metrics=metrics,
        stderr=stderr, runtime_s=run.runtime_s, feedback=verdict.feedback,
    )
