"""Problems benchmark: per-candidate framework overhead of an OpenEvolve-style folder.

The folder's evaluator imports numpy and the candidate in-process (as most OpenEvolve examples
do) and returns a dict; the candidate is trivial, so what is measured is the framework: the
warm worker's fork, writing the candidate file, calling the evaluator, the report's trip back
and OpenEvolve's fitness rule on the trusted side. Compared with a built-in task's trivial
candidate in the same warm pool, and with the same folder run with a fresh interpreter per
candidate (what a process per evaluation costs).

Usage: .venv/bin/python benchmarks/problems.py [--runs 40] [--fresh-runs 8]
Its last line is one JSON object with native_overhead_ms, openevolve_overhead_ms and
fresh_interpreter_ms (null where this script does not measure it), plus the built-in
baseline. The issue's target: the OpenEvolve overhead within 2x of the built-in tasks' warm
overhead, far below a fresh interpreter.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from thetaevolve.config import SandboxConfig
from thetaevolve.evaluation import judge
from thetaevolve.problems.openevolve import load_openevolve_problem
from thetaevolve.sandbox import make_sandbox
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Solution, Verdict

EVALUATOR = '''import importlib.util

import numpy


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    return {"combined_score": float(numpy.sum(program.run()))}
'''
CANDIDATE = "def run():\n    return [1.0, 2.0]\n"
BUILTIN_CANDIDATE = "import numpy\n\n\ndef solve():\n    return {'x': [float(numpy.float64(1.0))]}\n"


class BuiltinLike(Task):
    """A built-in-style task: the candidate returns data, the verifier scores it."""

    name = "bench"
    direction = "max"
    statement = "benchmark"
    solution_format = '{"x": [float]}'
    timeout_s = 30.0

    @property
    def initial_program(self) -> str:
        return BUILTIN_CANDIDATE

    def judge(self, solution: Solution, tol: float) -> Verdict:
        return Verdict(valid=True, score=float(sum(solution["x"])))


def _timed(task: Task, sandbox, code: str) -> float:
    started = time.perf_counter()
    evaluation = judge(task, sandbox.run(code))
    elapsed = time.perf_counter() - started
    if evaluation.outcome is not Outcome.OK:
        raise SystemExit(f"benchmark candidate failed: {evaluation}")
    return elapsed


def warm_medians_ms(cases: list[tuple[Task, str]], runs: int) -> tuple[list[float], bool]:
    """Median wall time of one candidate (sandbox run plus scoring) per case, in warm pools
    that live side by side and take turns, so the machine's load falls on all alike."""
    sandboxes = [make_sandbox(task, SandboxConfig(workers=1)) for task, _ in cases]
    try:
        for (task, code), sandbox in zip(cases, sandboxes):
            _timed(task, sandbox, code)  # the first run pays for a cold worker's page faults
        times: list[list[float]] = [[] for _ in cases]
        for _ in range(runs):
            for i, ((task, code), sandbox) in enumerate(zip(cases, sandboxes)):
                times[i].append(_timed(task, sandbox, code))
        return [statistics.median(t) * 1000 for t in times], sandboxes[0].use_bwrap
    finally:
        for sandbox in sandboxes:
            sandbox.close()


def fresh_median_ms(task: Task, code: str, runs: int) -> float:
    with make_sandbox(task, SandboxConfig(workers=1, warm_pool=False)) as sandbox:
        return statistics.median(_timed(task, sandbox, code) for _ in range(runs)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fresh-runs", type=int, default=8)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="thetaevolve-bench-") as scratch:
        folder = Path(scratch) / "openevolve_folder"
        folder.mkdir()
        os.chmod(scratch, 0o755)  # the candidate uid must reach the folder
        (folder / "evaluator.py").write_text(EVALUATOR)
        (folder / "initial_program.py").write_text(CANDIDATE)
        task = load_openevolve_problem(folder)
        (builtin_ms, openevolve_ms), used_bwrap = warm_medians_ms(
            [(BuiltinLike(), BUILTIN_CANDIDATE), (task, CANDIDATE)], args.runs
        )
        fresh_ms = fresh_median_ms(task, CANDIDATE, args.fresh_runs)
    load_after = os.getloadavg()
    print(f"built-in task, warm pool:      {builtin_ms:8.1f} ms per trivial candidate")
    print(f"OpenEvolve folder, warm pool:  {openevolve_ms:8.1f} ms "
          f"({openevolve_ms / builtin_ms:.2f}x the built-in)")
    print(f"OpenEvolve folder, fresh interpreter per candidate: {fresh_ms:8.1f} ms "
          f"({fresh_ms / openevolve_ms:.1f}x the warm pool)")
    print(f"bwrap: {used_bwrap}; load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f}")
    print(json.dumps({
        "native_overhead_ms": None,
        "openevolve_overhead_ms": round(openevolve_ms, 2),
        "fresh_interpreter_ms": round(fresh_ms, 2),
        "builtin_warm_overhead_ms": round(builtin_ms, 2),
        "openevolve_vs_builtin": round(openevolve_ms / builtin_ms, 2),
        "bwrap": used_bwrap,
        "as_root": os.geteuid() == 0,
        "load_avg_1min_before": round(load_before[0], 2),
        "load_avg_1min_after": round(load_after[0], 2),
    }))


if __name__ == "__main__":
    main()
