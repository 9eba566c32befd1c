"""Sandbox benchmark: fixed overhead per candidate (warm pool vs fresh interpreter) and
throughput for a candidate that burns 50 ms of CPU.

Usage: .venv/bin/python benchmarks/sandbox.py [--runs 40] [--fresh-runs 12] [--jobs 120]
Its last line is one JSON object (warm_overhead_ms, fresh_overhead_ms, overhead_ratio,
throughput_fraction, ...). The issue's targets: warm overhead at most 15 ms, at least 10x
below a fresh interpreter, throughput at least 85% of cores / 0.05 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import time

from thetaevolve.config import SandboxConfig
from thetaevolve.sandbox import make_sandbox
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Solution, Verdict

TINY = """import numpy
import scipy
import scipy.optimize


def solve():
    return {"x": [float(numpy.float64(1.0))]}
"""

BURN_50MS = """import time


def solve():
    start = time.process_time()
    while time.process_time() - start < 0.05:
        pass
    return {"x": [1.0]}
"""


class BenchTask(Task):
    name = "bench"
    direction = "max"
    statement = "benchmark"
    solution_format = '{"x": [float]}'
    timeout_s = 30.0
    heavy_modules = ("numpy", "scipy", "scipy.optimize")

    @property
    def initial_program(self) -> str:
        return TINY

    def judge(self, solution: Solution, tol: float) -> Verdict:
        return Verdict(valid=True, score=0.0)


def serial_overhead_ms(warm: bool, runs: int) -> tuple[float, bool]:
    """Median wall time of one trivial candidate, cleanup of the previous one included."""
    config = SandboxConfig(workers=1, warm_pool=warm)
    with make_sandbox(BenchTask(), config) as sb:
        sb.run(TINY)  # the first run may pay for page faults of a cold worker
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            result = sb.run(TINY)
            times.append(time.perf_counter() - start)
            if result.outcome is not Outcome.OK:
                raise SystemExit(f"benchmark candidate failed: {result}")
        return statistics.median(times) * 1000, sb.use_bwrap


def throughput(jobs: int, cores: int) -> dict[str, float]:
    config = SandboxConfig(workers=cores, warm_pool=True)
    with make_sandbox(BenchTask(), config) as sb:
        with concurrent.futures.ThreadPoolExecutor(cores) as pool:
            list(pool.map(lambda _: sb.run(BURN_50MS), range(cores)))  # warm up
            start = time.perf_counter()
            results = list(pool.map(lambda _: sb.run(BURN_50MS), range(jobs)))
            elapsed = time.perf_counter() - start
    failed = sum(r.outcome is not Outcome.OK for r in results)
    if failed:
        raise SystemExit(f"{failed} throughput candidates failed")
    rate = jobs / elapsed
    ideal = cores / 0.05
    return {"per_s": rate, "ideal_per_s": ideal, "fraction": rate / ideal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--fresh-runs", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=120)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    load_before = os.getloadavg()
    warm_ms, used_bwrap = serial_overhead_ms(True, args.runs)
    fresh_ms, _ = serial_overhead_ms(False, args.fresh_runs)
    tput = throughput(args.jobs, cores)
    load_after = os.getloadavg()
    print(f"warm pool:          {warm_ms:8.1f} ms per trivial candidate (median of {args.runs})")
    print(
        f"fresh interpreter:  {fresh_ms:8.1f} ms per trivial candidate "
        f"(median of {args.fresh_runs})"
    )
    print(f"ratio:              {fresh_ms / warm_ms:8.1f}x")
    print(
        f"throughput:         {tput['per_s']:8.1f} /s of 50 ms candidates on {cores} cores "
        f"(ideal {tput['ideal_per_s']:.0f}/s): {100 * tput['fraction']:.0f}%"
    )
    print(
        f"bwrap: {used_bwrap}; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f}"
    )
    summary = {
        "warm_overhead_ms": round(warm_ms, 2),
        "fresh_overhead_ms": round(fresh_ms, 2),
        "overhead_ratio": round(fresh_ms / warm_ms, 1),
        "throughput_fraction": round(tput["fraction"], 3),
        "throughput_per_s": round(tput["per_s"], 2),
        "cores": cores,
        "bwrap": used_bwrap,
        "as_root": os.geteuid() == 0,
        "load_avg_1min_before": round(load_before[0], 2),
        "load_avg_1min_after": round(load_after[0], 2),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
