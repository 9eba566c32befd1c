"""Problem-form benchmark: framework overhead per candidate for a native problem, against a
built-in task's and against a fresh interpreter per candidate.

Usage: .venv/bin/python benchmarks/problems.py [--runs 40] [--fresh-runs 10]

Every form runs the same trivial candidate (it returns one number), so what is timed is the
framework: sandbox round trip in the warm pool, plus the verdict. A built-in task verifies
in the framework's own process; a native problem sends the solution to its warm verifier
worker (a pipe round trip); an OpenEvolve folder (when that form is present) runs its
evaluator, which imports the candidate in-process, inside the sandbox. The warm pools take
turns, so load on the machine falls on every form alike. The target: native and OpenEvolve
within 2x of built-in, far below a fresh interpreter. Its last line is one JSON object with
native_overhead_ms, openevolve_overhead_ms (null while the OpenEvolve form is absent),
fresh_interpreter_ms, builtin_overhead_ms and native_verify_ms.
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
from thetaevolve.evaluation import evaluate_run
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


OPENEVOLVE_EVALUATOR = """import importlib.util


def evaluate(program_path):
    # As most OpenEvolve examples do: import the candidate into the evaluator's own process.
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"combined_score": float(module.solve()["x"])}
"""


def _one_ms(task: Task, sandbox: object, code: str) -> float:
    started = time.perf_counter()
    evaluation = evaluate_run(task, sandbox.run(code))  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    if evaluation.outcome is not Outcome.OK:
        raise SystemExit(f"benchmark candidate of {task.name} failed: {evaluation}")
    return elapsed * 1000


def warm_medians_ms(cases: list[tuple[Task, str]], runs: int) -> list[float]:
    """Median run + verdict per candidate for each case, in warm pools that take turns, so
    that a load change on the machine falls on every case alike."""
    sandboxes = [make_sandbox(task, SandboxConfig(workers=1, warm_pool=True)) for task, _ in cases]
    try:
        for (task, code), sandbox in zip(cases, sandboxes):
            _one_ms(task, sandbox, code)  # a cold worker's first run pays its page faults
        times: list[list[float]] = [[] for _ in cases]
        for _ in range(runs):
            for i, ((task, code), sandbox) in enumerate(zip(cases, sandboxes)):
                times[i].append(_one_ms(task, sandbox, code))
    finally:
        for sandbox in sandboxes:
            sandbox.close()
    return [statistics.median(t) for t in times]


def fresh_median_ms(task: Task, code: str, runs: int) -> float:
    with make_sandbox(task, SandboxConfig(workers=1, warm_pool=False)) as sandbox:
        return statistics.median(_one_ms(task, sandbox, code) for _ in range(runs))


def verify_ms(task: Task, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        task.verify({"x": 0.5})
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def openevolve_case(scratch: Path) -> tuple[Task, str] | None:
    """An OpenEvolve folder whose evaluator imports the candidate in-process; None while the
    OpenEvolve form is absent from this checkout."""
    try:
        from thetaevolve.problems.openevolve import load_openevolve_problem
    except ImportError:
        return None
    folder = scratch / "openevolve_folder"
    folder.mkdir()
    (folder / "evaluator.py").write_text(OPENEVOLVE_EVALUATOR)
    (folder / "initial_program.py").write_text(CANDIDATE)
    return load_openevolve_problem(folder), CANDIDATE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fresh-runs", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="thetaevolve-bench-") as tmp:
        scratch = Path(tmp)
        os.chmod(scratch, 0o755)  # an unprivileged candidate uid must reach its folder
        folder = scratch / "bench_native"
        folder.mkdir()
        (folder / "problem.py").write_text(PROBLEM)
        native = load_native_problem(folder)
        cases: list[tuple[Task, str]] = [(BuiltinLike(), CANDIDATE), (native, CANDIDATE)]
        openevolve = openevolve_case(scratch)
        if openevolve is not None:
            cases.append(openevolve)
        try:
            medians = warm_medians_ms(cases, args.runs)
            roundtrip_ms = verify_ms(native, args.runs * 5)
            fresh_ms = fresh_median_ms(native, CANDIDATE, args.fresh_runs)
        finally:
            for task, _ in cases:
                task.close()
    builtin_ms, native_ms = medians[0], medians[1]
    openevolve_ms = medians[2] if openevolve is not None else None
    print(f"built-in task, warm pool:   {builtin_ms:8.2f} ms per candidate (median of {args.runs})")
    print(f"native problem, warm pool:  {native_ms:8.2f} ms per candidate "
          f"({native_ms / builtin_ms:.2f}x built-in)")
    print(f"native verify round trip:   {roundtrip_ms:8.3f} ms")
    if openevolve_ms is not None:
        print(f"OpenEvolve folder, warm:    {openevolve_ms:8.2f} ms per candidate "
              f"({openevolve_ms / builtin_ms:.2f}x built-in)")
    else:
        print("OpenEvolve folder:          not measured (the form is absent from this checkout)")
    print(f"fresh interpreter:          {fresh_ms:8.2f} ms per candidate "
          f"({fresh_ms / native_ms:.1f}x native, median of {args.fresh_runs})")
    print(f"cores {os.cpu_count()}, load average before {load_before:.2f}, "
          f"after {os.getloadavg()[0]:.2f}")
    print(json.dumps({
        "native_overhead_ms": round(native_ms, 2),
        "openevolve_overhead_ms": None if openevolve_ms is None else round(openevolve_ms, 2),
        "fresh_interpreter_ms": round(fresh_ms, 2),
        "builtin_overhead_ms": round(builtin_ms, 2),
        "native_to_builtin_ratio": round(native_ms / builtin_ms, 2),
        "openevolve_to_builtin_ratio": (
            None if openevolve_ms is None else round(openevolve_ms / builtin_ms, 2)),
        "native_verify_ms": round(roundtrip_ms, 3),
        "cores": os.cpu_count(),
        "load_avg_1min_before": round(load_before, 2),
    }))


if __name__ == "__main__":
    main()
