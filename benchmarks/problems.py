"""Problem-form benchmark: framework overhead per candidate for a native problem, against a
built-in task's and against a fresh interpreter per candidate.

Usage: .venv/bin/python benchmarks/problems.py [--runs 40] [--fresh-runs 10]

Every form runs the same trivial candidate (it returns one number), so what is timed is the
framework: sandbox round trip in the warm pool, plus the verdict. A built-in task verifies
in the framework's own process; a native problem sends the solution to its warm verifier
worker (a pipe round trip). The target: native within 2x of built-in, far below a fresh
interpreter. Its last line is one JSON object with native_overhead_ms, builtin_overhead_ms,
native_verify_ms, fresh_interpreter_ms and openevolve_overhead_ms (null until the
OpenEvolve form is present in this checkout).
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
from thetaevolve.problems.native import load_native_problem
from thetaevolve.sandbox import make_sandbox
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Solution, Verdict

HEAVY = ("numpy", "scipy", "scipy.optimize")

CANDIDATE = """import numpy


def solve():
    return {"x": float(numpy.float64(0.5))}
"""

PROBLEM = f'''
NAME = "bench_native"
DIRECTION = "max"
STATEMENT = "benchmark"
HEAVY_MODULES = {list(HEAVY)!r}
INITIAL_PROGRAM = {CANDIDATE!r}


def verify(solution, tol=0.0):
    x = solution["x"]
    if not 0 <= x <= 1:
        raise ValueError("x must lie in [0, 1]")
    return x
'''


class BuiltinLike(Task):
    """Verifies in-process, exactly as every built-in task does."""

    name = "bench_builtin"
    direction = "max"
    statement = "benchmark"
    solution_format = '{"x": float}'
    heavy_modules = HEAVY

    @property
    def initial_program(self) -> str:
        return CANDIDATE

    def judge(self, solution: Solution, tol: float) -> Verdict:
        x = float(solution["x"])
        return Verdict(valid=0 <= x <= 1, score=x)


def per_candidate_ms(task: Task, runs: int, warm: bool) -> float:
    """Median wall time of run + verdict for one candidate, after one warm-up."""
    with make_sandbox(task, SandboxConfig(workers=1, warm_pool=warm)) as sandbox:
        judge(task, sandbox.run(CANDIDATE))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            evaluation = judge(task, sandbox.run(CANDIDATE))
            times.append(time.perf_counter() - started)
            if evaluation.outcome is not Outcome.OK:
                raise SystemExit(f"benchmark candidate failed: {evaluation}")
    return statistics.median(times) * 1000


def verify_ms(task: Task, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        task.verify({"x": 0.5})
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def openevolve_overhead_ms(runs: int) -> float | None:
    """Per-candidate overhead of an OpenEvolve folder whose evaluator imports the candidate
    in-process. Measured by the OpenEvolve form's own code, which fills this slot; None
    (printed as null) while that form is absent from this checkout."""
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fresh-runs", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="thetaevolve-bench-") as tmp:
        folder = Path(tmp) / "bench_native"
        folder.mkdir()
        (folder / "problem.py").write_text(PROBLEM)
        native = load_native_problem(folder)
        try:
            builtin_ms = per_candidate_ms(BuiltinLike(), args.runs, warm=True)
            native_ms = per_candidate_ms(native, args.runs, warm=True)
            roundtrip_ms = verify_ms(native, args.runs * 5)
            fresh_ms = per_candidate_ms(native, args.fresh_runs, warm=False)
        finally:
            native.close()
    openevolve_ms = openevolve_overhead_ms(args.runs)
    print(f"built-in task, warm pool:   {builtin_ms:8.2f} ms per candidate (median of {args.runs})")
    print(f"native problem, warm pool:  {native_ms:8.2f} ms per candidate "
          f"({native_ms / builtin_ms:.2f}x built-in)")
    print(f"native verify round trip:   {roundtrip_ms:8.3f} ms")
    print(f"fresh interpreter:          {fresh_ms:8.2f} ms per candidate "
          f"({fresh_ms / native_ms:.1f}x native, median of {args.fresh_runs})")
    print(f"openevolve folder:          {openevolve_ms if openevolve_ms is not None else 'n/a'}")
    print(f"cores {os.cpu_count()}, load average before {load_before:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    print(json.dumps({
        "native_overhead_ms": round(native_ms, 2),
        "builtin_overhead_ms": round(builtin_ms, 2),
        "native_to_builtin_ratio": round(native_ms / builtin_ms, 2),
        "native_verify_ms": round(roundtrip_ms, 3),
        "fresh_interpreter_ms": round(fresh_ms, 2),
        "openevolve_overhead_ms": None if openevolve_ms is None else round(openevolve_ms, 2),
        "cores": os.cpu_count(),
        "load_avg_1min_before": round(load_before, 2),
    }))


if __name__ == "__main__":
    main()
