"""PUCT parent selection at scale: its cost must follow the archive, not the store.

    python benchmarks/puct.py                         # N = 10^3, 10^4, 10^5
    python benchmarks/puct.py --programs 20000        # one size

For each N it builds a store of N small synthetic programs by the gym's own loop (sample
a batch of parents with ``database.sampler=puct``, make children, commit them), then
reports

* ``batch_ms``: median wall time of ``sample_batch(32, rng)`` (32 parents, PUCT scores over
  the archive, lineage blocking, records read) over 200 calls after a reopen;
* ``per_parent_us``: the same divided by 32;
* ``reopen_s``: reopening the store, PUCT state rebuild included.

The archive is 1000 states (TTT-Discover's buffer size). The per-batch work is one
vectorised pass over the archive plus lineage walks: O(K + B D) for an archive of K, a
batch of B and lineages D generations deep; nothing in it scans the N stored programs.
D grows as the search deepens (``max_generation`` is reported beside the times), so
batch_ms grows with D, not with N. The last line printed is one JSON object keyed by N.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ChildDraft, ProgramDatabase
from thetaevolve.types import Outcome

BATCH = 32


def child(parent: int | None, serial: int, fitness: float, iteration: int) -> ChildDraft:
    code = f"def f():\n    return {serial}\n"
    return ChildDraft(parent_id=parent, code=code,
                      code_hash=hashlib.sha256(code.encode()).hexdigest(), outcome=Outcome.OK,
                      score=fitness, fitness=fitness, reward=fitness, iteration=iteration)


def measure(n: int, folder: Path) -> dict[str, float]:
    config = DatabaseConfig(num_islands=4, archive_size=1000, population_size=max(10, n),
                            migration_interval=0, sampler="puct")
    path = folder / f"puct_{n}.sqlite"
    db = ProgramDatabase.open(path, config)
    rng = random.Random(0)
    db.commit([child(None, 0, 0.0, 0)])
    serial, iteration = 1, 1
    while db.count() < n:
        parents = db.sample_batch(BATCH, rng)
        kids = []
        for sample in parents:
            for _ in range(8):
                kids.append(child(sample.parent.id, serial,
                                  (sample.parent.fitness or 0.0) + rng.gauss(0.0, 1.0), iteration))
                serial += 1
        db.commit(kids[: n - db.count()])
        iteration += 1
    db.close()
    started = time.perf_counter()
    db = ProgramDatabase.open(path, config)
    reopen = time.perf_counter() - started
    times = []
    for _ in range(200):
        started = time.perf_counter()
        db.sample_batch(BATCH, rng)
        times.append(time.perf_counter() - started)
    depth = max(db.debug_snapshot().index.generation)  # once, after the timing
    db.close()
    median = statistics.median(times)
    return {"batch_ms": round(median * 1e3, 3), "per_parent_us": round(median / BATCH * 1e6, 1),
            "reopen_s": round(reopen, 3), "max_generation": depth}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--programs", type=int, action="append")
    args = parser.parse_args()
    sizes = args.programs or [1_000, 10_000, 100_000]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for n in sizes:
            results[n] = measure(n, Path(folder))
            print(f"N={n}: {results[n]}", flush=True)
    print(json.dumps({"benchmark": "puct_sampling", "batch": BATCH, "archive": 1000,
                      "results": results}))


if __name__ == "__main__":
    main()
