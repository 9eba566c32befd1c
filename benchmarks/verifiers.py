"""Trusted-verifier speed (issue 3; target: 10^6 step heights verify in under 2 s).

    python benchmarks/verifiers.py             # 10^5 and 10^6 heights, every packing task
    python benchmarks/verifiers.py --repeat 5

What is timed is ``Task.verify`` end to end on plain JSON-like data (a Python list of
floats, as the sandbox hands it back): type checks, the certified FFT convolution, the
score and its error bound. Heights are random non-negative floats with a fixed seed
(C3 gets signed heights). Packings are the tasks' own initial programs' output and, for
n = 26 / 32 / 21, a published construction (the exact pairwise check is the same cost for
any valid packing of that size). Each figure is the median over ``--repeat`` runs.

Last line: one JSON object with ``c1_1e5_s``, ``c1_1e6_s``, ``c2_*``, ``c3_*`` and
``<packing task>_ms`` / ``<packing task>_published_ms`` (median wall time of one verify,
in milliseconds), ``hadamard_29_ms``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from thetaevolve.tasks import get_task

PACKING_TASKS = ("circle_packing_26", "circle_packing_32", "circles_rectangle_21")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "constructions"
PUBLISHED = {
    "circle_packing_26": "alphaevolve_circle_packing_26.json",
    "circle_packing_32": "alphaevolve_circle_packing_32.json",
    "circles_rectangle_21": "alphaevolve_circles_rectangle_21.json",
}


def _median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _initial_solution(name: str) -> dict:
    namespace: dict = {}
    exec(get_task(name).initial_program, namespace)  # trusted: the task's own initial program
    return namespace["solve"]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    summary: dict[str, float] = {}

    for label, name, signed in (
        ("c1", "first_autocorrelation", False),
        ("c2", "second_autocorrelation", False),
        ("c3", "third_autocorrelation", True),
    ):
        task = get_task(name)
        for size, tag in ((10**5, "1e5"), (10**6, "1e6")):
            heights = rng.uniform(-0.2 if signed else 0.0, 1.0, size).tolist()
            seconds, verdict = _median_time(lambda: task.verify({"heights": heights}), args.repeat)
            assert verdict.valid, verdict.reason
            summary[f"{label}_{tag}_s"] = round(seconds, 4)
            print(f"{name:24s} n={size:>8d}  {seconds:7.3f} s  score={verdict.score:.12f} +- {verdict.error_bound:.1e}")

    for name in PACKING_TASKS:
        task = get_task(name)
        solution = _initial_solution(name)
        seconds, verdict = _median_time(lambda: task.verify(solution), max(args.repeat, 20))
        assert verdict.valid, verdict.reason
        summary[f"{name}_ms"] = round(seconds * 1e3, 3)
        print(f"{name:24s} exact check  {seconds * 1e3:7.3f} ms  score={verdict.score:.10f} (initial program)")
        published = FIXTURES / PUBLISHED[name]
        if published.exists():
            data = json.loads(published.read_text())
            seconds, verdict = _median_time(lambda: task.verify(data), max(args.repeat, 20))
            assert verdict.valid, verdict.reason
            summary[f"{name}_published_ms"] = round(seconds * 1e3, 3)
            print(f"{name:24s} exact check  {seconds * 1e3:7.3f} ms  score={verdict.score:.10f} ({published.name})")

    hadamard = get_task("hadamard_29")
    matrix = {"matrix": rng.choice([-1, 1], size=(29, 29)).tolist()}
    seconds, verdict = _median_time(lambda: hadamard.verify(matrix), max(args.repeat, 20))
    summary["hadamard_29_ms"] = round(seconds * 1e3, 3)
    print(f"{'hadamard_29':24s} Bareiss      {seconds * 1e3:7.3f} ms")

    print(json.dumps(summary))


if __name__ == "__main__":
    main()
