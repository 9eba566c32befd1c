"""The Ray backend against the local one, on a local Ray cluster started here.

- per-candidate overhead: a trivial candidate, one at a time, through both backends in
  interleaved rounds. ``ray_overhead_ms`` is timed on both ends of each Ray call (the
  driver's wall time minus the node's own time for that run: the actor call, the object
  store, the slot bookkeeping); ``latency_difference_ms`` is the plain difference of the
  two medians, blurred by the load drift of a busy machine;
- throughput: candidates that sleep 50 ms, as many in flight as there are slots, on the
  local backend (``workers`` = the cluster's slots, on this one machine) and on the
  cluster (a head and one more node; their slots together).

Sleeping candidates keep the comparison about the backends, not about how many cores this
machine has free. Last line: one JSON object with ``ray_overhead_ms`` (target < 5),
``ray_throughput_per_s`` and ``local_throughput_per_s``.

    python benchmarks/ray_eval.py [--calls 200] [--candidates 200] [--cpus-per-node 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import ray
from ray.cluster_utils import Cluster

from thetaevolve.config import SandboxConfig
from thetaevolve.sandbox import make_sandbox
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Solution, Verdict

TRIVIAL = "def solve():\n    return {'x': 1}\n"
SLEEP_50MS = "import time\ndef solve():\n    time.sleep(0.05)\n    return {'x': 1}\n"


class BenchTask(Task):
    name = "bench"
    direction = "max"
    statement = "return any dict"
    solution_format = "{}"
    timeout_s = 10.0
    heavy_modules = ()

    @property
    def initial_program(self) -> str:
        return TRIVIAL

    def judge(self, solution: Solution, tol: float) -> Verdict:
        return Verdict(valid=True, score=0.0)


def latencies_ms(sandbox, calls: int) -> list[float]:
    """Wall times of one trivial candidate, sent one at a time."""
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        result = sandbox.run(TRIVIAL)
        times.append((time.perf_counter() - started) * 1000)
        assert result.outcome is Outcome.OK, result
    return times


def throughput(sandbox, slots: int, candidates: int) -> tuple[int, float]:
    """(candidates, wall seconds) for 50 ms candidates with ``slots`` callers."""
    with ThreadPoolExecutor(slots) as pool:
        started = time.perf_counter()
        results = list(pool.map(sandbox.run, [SLEEP_50MS] * candidates))
        wall = time.perf_counter() - started
    assert all(r.outcome is Outcome.OK for r in results)
    return candidates, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--cpus-per-node", type=int, default=2)
    args = parser.parse_args()
    slots = 2 * args.cpus_per_node

    node = {"num_cpus": args.cpus_per_node, "object_store_memory": 100 << 20}
    cluster = Cluster(initialize_head=True, head_node_args={**node, "include_dashboard": False})
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, logging_level=logging.WARNING)
        measured = measure(cluster.address, slots, args.calls, args.candidates)
    finally:
        ray.shutdown()
        cluster.shutdown()
    print(json.dumps(summarize(slots, *measured)))


def measure(
    address: str, slots: int, calls: int, candidates: int
) -> tuple[list[float], list[float], list[float], dict[str, list]]:
    """Latencies on this machine's pool and on the cluster (ms), Ray's own share of each
    cluster call (ms), and per backend [candidates, wall seconds] of the throughput runs."""
    task = BenchTask()
    local_ms: list[float] = []
    ray_ms: list[float] = []
    done = {"local": [0, 0.0], "ray": [0, 0.0]}
    local_config = SandboxConfig(workers=slots, timeout_s=10)
    ray_config = local_config.model_copy(update={"backend": "ray", "ray_address": address})
    with make_sandbox(task, local_config) as local, make_sandbox(task, ray_config) as on_ray:
        assert on_ray.slots == slots, on_ray.slots
        sandboxes = {"local": local, "ray": on_ray}
        for sandbox in sandboxes.values():  # warm both paths
            latencies_ms(sandbox, 10)
            throughput(sandbox, slots, 2 * slots)
        on_ray.overheads_s.clear()
        # Interleaved rounds: this machine's load drifts, and both backends see the drift.
        rounds = 5
        for _ in range(rounds):
            local_ms += latencies_ms(local, calls // rounds)
            ray_ms += latencies_ms(on_ray, calls // rounds)
        transport_ms = [1000 * s for s in on_ray.overheads_s]
        for _ in range(rounds):
            for name, sandbox in sandboxes.items():
                count, wall = throughput(sandbox, slots, candidates // rounds)
                done[name][0] += count
                done[name][1] += wall
    return local_ms, ray_ms, transport_ms, done


def summarize(
    slots: int, local_ms: list[float], ray_ms: list[float], transport_ms: list[float],
    done: dict[str, list],
) -> dict[str, float]:
    local_median = statistics.median(local_ms)
    ray_median = statistics.median(ray_ms)
    return {
        "slots": slots,
        "local_latency_ms": round(local_median, 3),
        "ray_latency_ms": round(ray_median, 3),
        # What Ray adds per candidate, timed on both ends of each call (driver wall time
        # minus the node's own time for the same run): immune to the load drift that
        # blurs the difference of two medians on a busy machine.
        "ray_overhead_ms": round(statistics.median(transport_ms), 3),
        "ray_overhead_p90_ms": round(sorted(transport_ms)[int(0.9 * len(transport_ms))], 3),
        "latency_difference_ms": round(ray_median - local_median, 3),
        "local_throughput_per_s": round(done["local"][0] / done["local"][1], 2),
        "ray_throughput_per_s": round(done["ray"][0] / done["ray"][1], 2),
        "ideal_throughput_per_s": round(slots / 0.05, 2),
        "overhead_target_ms": 5.0,
    }


if __name__ == "__main__":
    main()
