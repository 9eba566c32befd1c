"""Evaluate one program: run it in the sandbox (untrusted), verify its data (trusted)."""

from __future__ import annotations

from thetaevolve.tasks.base import Task
from thetaevolve.types import Evaluation, Outcome, RunResult

_STDERR_KEEP = 4000  # the tail of stderr kept with the program (shown to the model on failure)


def judge(task: Task, run: RunResult, tol: float = 0.0) -> Evaluation:
    """Turn a sandbox result into an Evaluation; the score comes only from the verifier."""
    stderr = run.stderr[-_STDERR_KEEP:]
    if run.outcome is not Outcome.OK or run.solution is None:
        outcome = run.outcome if run.outcome is not Outcome.OK else Outcome.NO_OUTPUT
        return Evaluation(
            outcome=outcome, score=None, detail=run.detail, stderr=stderr,
            runtime_s=run.runtime_s,
        )
    try:
        verdict = task.verify(run.solution, tol=tol)
    except Exception as exc:  # a verifier bug must not take the run down
        return Evaluation(
            outcome=Outcome.INVALID_SOLUTION, score=None,
            detail=f"verifier error: {type(exc).__name__}: {exc}", solution=run.solution,
            stderr=stderr, runtime_s=run.runtime_s,
        )
    if not verdict.valid or verdict.score is None:
        return Evaluation(
            outcome=Outcome.INVALID_SOLUTION, score=None, detail=verdict.reason,
            solution=run.solution, stderr=stderr, runtime_s=run.runtime_s,
        )
    metrics = {"score": verdict.score, "runtime_s": run.runtime_s, **verdict.metrics}
    if verdict.error_bound is not None:
        metrics["error_bound"] = verdict.error_bound
    return Evaluation(
        outcome=Outcome.OK, score=verdict.score, solution=run.solution, metrics=metrics,
        stderr=stderr, runtime_s=run.runtime_s, feedback=verdict.feedback,
    )
