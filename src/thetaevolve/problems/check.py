"""``thetaevolve check PATH``: load a problem, run its initial program once, say what is wrong.

A problem file's own mistakes (syntax errors, missing or mistyped names) are raised while
loading, as one ``UserError`` (exit 2). Then the initial program runs in the sandbox as a
candidate would, the problem's verifier scores it, and the report lists the score, the
times, the trust level, and every warning worth acting on before a long run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from thetaevolve.config import SandboxConfig
from thetaevolve.edits import evolve_regions
from thetaevolve.evaluation import evaluate_run
from thetaevolve.problems.registry import resolve_problem, source_of
from thetaevolve.rewards import shaping_for
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome

SLOW_FRACTION = 0.5  # a run or verify using half its deadline on the seed will time out later


@dataclass
class CheckReport:
    problem: str
    kind: str
    source: str
    direction: str
    score_trust: str
    outcome: str
    score: float | None
    detail: str
    run_s: float
    verify_s: float
    feedback: str = ""
    best_known: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome == Outcome.OK.value

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_problem(spec: str, *, openevolve_config: Path | None = None,
                  sandbox: SandboxConfig | None = None) -> CheckReport:
    task = resolve_problem(spec, openevolve_config=openevolve_config)
    try:
        return _check(task, sandbox or SandboxConfig(workers=1, warm_pool=False))
    finally:
        task.close()


def _check(task: Task, sandbox_config: SandboxConfig) -> CheckReport:
    from thetaevolve.config import GymConfig
    from thetaevolve.sandbox import make_sandbox

    source = source_of(task)
    with make_sandbox(task, sandbox_config) as sandbox:
        run = sandbox.run(task.initial_program)
    started = time.perf_counter()
    evaluation = evaluate_run(task, run)
    verify_s = time.perf_counter() - started if run.outcome is Outcome.OK else 0.0
    best = task.best_known
    report = CheckReport(
        problem=task.name, kind=source.kind, source=str(source.path or source.spec),
        direction=task.direction, score_trust=task.score_trust,
        outcome=evaluation.outcome.value, score=evaluation.score,
        detail=evaluation.detail, run_s=run.runtime_s, verify_s=verify_s,
        feedback=evaluation.feedback, best_known=best.value if best else None,
    )
    warn = report.warnings.append
    for message in getattr(task, "warnings", ()):  # what loading found (e.g. unused settings)
        warn(message)
    if task.score_trust != "verified":
        warn("scores are evaluator-reported: a candidate runs beside the evaluator and can "
             "forge its score; add a problem.py with verify() beside it to make them verified")
    timeout = sandbox_config.timeout_s or task.timeout_s
    if run.runtime_s > SLOW_FRACTION * timeout:
        warn(f"the initial program took {run.runtime_s:.2f} s of its {timeout:g} s limit "
             "(TIMEOUT_S); its children will often time out")
    verify_timeout = getattr(getattr(task, "spec", None), "verify_timeout_s", None)
    if verify_timeout and verify_s > SLOW_FRACTION * verify_timeout:
        warn(f"verify took {verify_s:.2f} s of its {verify_timeout:g} s deadline "
             "(VERIFY_TIMEOUT_S); raise it or make verify faster")
    if evolve_regions(task.initial_program.splitlines()) is None:
        warn("the initial program has no EVOLVE-BLOCK markers: the model may edit all of it")
    if not task.known_bounds:
        warn("no KNOWN_BOUNDS: runs cannot say how far from the best known value they are")
    if evaluation.score is not None:
        shaping = shaping_for(task, GymConfig())
        lo, hi = shaping.range_min, shaping.range_max
        if not lo <= evaluation.score <= hi:
            warn(f"the initial score {evaluation.score:.6g} lies outside the reward range "
                 f"[{lo:g}, {hi:g}] (REWARD_RANGE): rl_normalized rewards are clipped there")
        if best is not None and task.is_better(evaluation.score, best.value):
            warn(f"the initial program already beats the best known value {best.value:.10g}: "
                 "check verify and KNOWN_BOUNDS")
    return report


def print_report(report: CheckReport) -> None:
    print(f"problem {report.problem} ({report.kind}, {report.source}), "
          f"direction {report.direction}")
    print(f"score trust: {report.score_trust}")
    if report.ok:
        best = "" if report.best_known is None else f" (best known {report.best_known:.10g})"
        print(f"initial program: ok, score {report.score!r}{best}; ran in {report.run_s:.3f} s, "
              f"verified in {report.verify_s * 1000:.1f} ms")
    else:
        print(f"initial program: {report.outcome}: {report.detail}")
    if report.feedback:
        print(f"feedback: {report.feedback}")
    for warning in report.warnings:
        print(f"warning: {warning}")
