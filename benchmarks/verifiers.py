"""Trusted-verifier speed (issue 3; target: 10^6 step heights verify in under 2 s).

    python benchmarks/verifiers.py             # 10^5 and 10^6 heights, every packing task
    python benchmarks/verifiers.py --repeat 5

What is timed is ``Task.verify`` end to end on plain JSON-like data (a Python list of
floats, as the sandbox hands it back): type checks, the certified FFT convolution, the
score and its error bound. Heights are random non-negative floats with a fixed seed
(C3 gets signed heights). Packings are the tasks' own initial programs' output and, for
n = 26 / 32 / 21, a published construction (the exact pairwise check is the same cost for
any valid packing of that size). Each figure is the median over ``--repeat`` runs.

The AlphaEvolve-suite tasks are timed on their published constructions (the fixtures):
``<task>_s`` is the median wall time of one verify in seconds, for erdos_min_overlap (95
steps), sums_differences (the 54,265-element set; ``sums_differences_2003_s`` for the small
one), the distance ratios, the Heilbronn tasks, kissing_number_11 (593 points) and
uncertainty_inequality (12 roots). ``--skip-large`` leaves out the 54,265-element set.

Last line: one JSON object with ``c1_1e5_s``, ``c1_1e6_s``, ``c2_*``, ``c3_*`` and
``<packing task>_ms`` / ``<packing task>_published_ms`` (median wall time of one verify,
in milliseconds), ``hadamard_29_ms``, and the ``<task>_s`` entries above.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

from thetaevolve.tasks import get_task

PACKING_TASKS = ("circle_packing_26", "circle_packing_32", "circles_rectangle_21")
FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "constructions"
# (task, fixture, tolerance, key, how to turn the file into a solution)
SUITE_PUBLISHED = (
    ("erdos_min_overlap", "alphaevolve_erdos_minimum_overlap.json", 0.0, "erdos_min_overlap_s", "mirror"),
    ("sums_differences", "alphaevolve_sums_differences.json", 0.0, "sums_differences_2003_s", None),
    ("sums_differences", "alphaevolve_sums_differences_54265.json", 0.0, "sums_differences_s", None),
    ("min_max_distance_16_2d", "alphaevolve_min_max_distance_16_2d.json", 0.0, "min_max_distance_16_2d_s", None),
    ("min_max_distance_14_3d", "alphaevolve_min_max_distance_14_3d.json", 0.0, "min_max_distance_14_3d_s", None),
    # AlphaEvolve's point 8 is outside the triangle by 9.2e-18 in exact arithmetic.
    ("heilbronn_triangle_11", "alphaevolve_heilbronn_triangle_11.json", 1e-15, "heilbronn_triangle_11_s", None),
    ("heilbronn_convex_13", "alphaevolve_heilbronn_convex_13.json", 0.0, "heilbronn_convex_13_s", None),
    ("heilbronn_convex_14", "alphaevolve_heilbronn_convex_14.json", 0.0, "heilbronn_convex_14_s", None),
    ("kissing_number_11", "alphaevolve_kissing_number_11.json", 0.0, "kissing_number_11_s", None),
    ("uncertainty_inequality", "alphaevolve_uncertainty_laguerre_12.json", 0.0, "uncertainty_inequality_s", None),
)
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
    parser.add_argument("--skip-large", action="store_true", help="skip the 54,265-element sums/differences set")
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
            seconds, verdict = _median_time(partial(task.verify, {"heights": heights}), args.repeat)
            assert verdict.valid, verdict.reason
            summary[f"{label}_{tag}_s"] = round(seconds, 4)
            print(f"{name:24s} n={size:>8d}  {seconds:7.3f} s  score={verdict.score:.12f} +- {verdict.error_bound:.1e}")

    for name in PACKING_TASKS:
        task = get_task(name)
        solution = _initial_solution(name)
        seconds, verdict = _median_time(partial(task.verify, solution), max(args.repeat, 20))
        assert verdict.valid, verdict.reason
        summary[f"{name}_ms"] = round(seconds * 1e3, 3)
        print(f"{name:24s} exact check  {seconds * 1e3:7.3f} ms  score={verdict.score:.10f} (initial program)")
        published = FIXTURES / PUBLISHED[name]
        if published.exists():
            data = json.loads(published.read_text())
            seconds, verdict = _median_time(partial(task.verify, data), max(args.repeat, 20))
            assert verdict.valid, verdict.reason
            summary[f"{name}_published_ms"] = round(seconds * 1e3, 3)
            print(f"{name:24s} exact check  {seconds * 1e3:7.3f} ms  score={verdict.score:.10f} ({published.name})")

    hadamard = get_task("hadamard_29")
    matrix = {"matrix": rng.choice([-1, 1], size=(29, 29)).tolist()}
    seconds, verdict = _median_time(lambda: hadamard.verify(matrix), max(args.repeat, 20))
    summary["hadamard_29_ms"] = round(seconds * 1e3, 3)
    print(f"{'hadamard_29':24s} Bareiss      {seconds * 1e3:7.3f} ms")

    for name, fixture, tol, key, shape in SUITE_PUBLISHED:
        if args.skip_large and fixture.endswith("_54265.json"):
            continue
        data = json.loads((FIXTURES / fixture).read_text())
        if shape == "mirror":  # the file holds the first half of a mirrored sequence
            data = {"heights": data["heights"][:-1] + data["heights"][::-1]}
        task = get_task(name)
        repeat = 1 if name in ("sums_differences", "uncertainty_inequality") and "2003" not in key else max(args.repeat, 5)
        seconds, verdict = _median_time(partial(task.verify, data, tol=tol), repeat)
        assert verdict.valid, (name, verdict.reason)
        summary[key] = round(seconds, 4)
        print(f"{name:24s} published    {seconds:9.4f} s   score={verdict.score!r} ({fixture})")

    print(json.dumps(summary))


if __name__ == "__main__":
    main()
