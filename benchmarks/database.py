"""Program database at scale: sampling, commit, index memory and reopen time.

    python benchmarks/database.py                      # N = 10^5 and 10^6
    python benchmarks/database.py --programs 20000     # one quick size

For each N it builds a store of N synthetic programs of realistic size (4 KB of code, a
1.5 KB prompt, a 1 KB response, a few metrics; 15% failures) by the gym's own loop: sample
a batch of parents, make children, commit them, 256 per transaction. It reports

* ``sample_us``: median time of ``sample_batch(1, rng, num_inspirations=2)`` (one parent with
  two inspirations, full records), over 2,000 calls right after a reopen, with the record
  cache on (the default); ``sample_uncached_us`` is the same with every record read from
  the store;
* ``commit_us``: wall time of all ``commit`` calls divided by the programs committed;
* ``index_bytes_per_program``: memory the in-memory index holds after a reopen (traced with
  tracemalloc, so SQLite's own page cache is not counted), divided by N;
* ``reopen_s``: time to reopen the store (validation plus index rebuild).

Migration is off while building (its copies would add rows beyond N); the population cap
is N, so every successful program stays sampleable. The last line printed is one JSON object
keyed by N. Targets (issue 5): sample_us <= 50 at 10^6 and at most twice its 10^5 value;
index <= 300 bytes/program; reopen of 10^6 <= 20 s.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ChildDraft, ProgramDatabase
from thetaevolve.types import Outcome

BATCH = 256

_BODY = "\n".join(
    f"    x{i} = np.clip(x{i - 1} * {0.5 + i / 100:.4f} + rng.normal(0, 0.01, size=n), 0, 1)"
    for i in range(1, 57)
)
CODE_TEMPLATE = (
    "import numpy as np\n\n# EVOLVE-BLOCK-START\n"
    "def construct_packing(n=26, seed={seed}):\n"
    "    rng = np.random.default_rng(seed)\n    x0 = rng.random(n)\n"
    + _BODY.replace("{", "{{").replace("}", "}}")
    + "\n    step = {step!r}\n    return x0 * step\n# EVOLVE-BLOCK-END\n"
)
PROMPT = ("You are an expert in geometry and optimisation. Improve the program below so that "
          "the sum of radii grows while no two circles overlap. " * 8)[:1500]
RESPONSE = ("<<<<<<< SEARCH\n    step = 0.1\n=======\n    step = 0.2\n>>>>>>> REPLACE\n" * 20)[:1000]


def synthetic_child(parent: int | None, serial: int, fitness: float | None,
                    iteration: int) -> ChildDraft:
    code = CODE_TEMPLATE.format(seed=serial, step=serial * 1e-6)
    ok = fitness is not None
    return ChildDraft(
        parent_id=parent, code=code,
        code_hash=hashlib.sha256(code.encode()).hexdigest(),
        outcome=Outcome.OK if ok else Outcome.CRASH, score=fitness, fitness=fitness,
        reward=fitness if ok else -0.2, iteration=iteration,
        metrics={"sum_radii": fitness, "runtime_s": 0.5} if ok else {},
        prompt=PROMPT, response=RESPONSE, detail="" if ok else "ZeroDivisionError",
    )


def build(path: Path, config: DatabaseConfig, n: int) -> float:
    """Fill a new store with ``n`` programs by the gym's loop; returns the seconds spent in
    ``commit``."""
    db = ProgramDatabase.open(path, config)
    rng = random.Random(0)
    db.commit([synthetic_child(None, 0, 0.5, 0)])
    serial, iteration, commit_time = 1, 1, 0.0
    started = time.perf_counter()
    while serial < n:
        size = min(BATCH, n - serial)
        parents = db.sample_batch(size, rng)
        kids = []
        for sample in parents:
            fit = None if rng.random() < 0.15 else sample.parent.fitness + rng.gauss(0, 0.01)
            kids.append(synthetic_child(sample.parent.id, serial, fit, iteration))
            serial += 1
        t0 = time.perf_counter()
        db.commit(kids)
        commit_time += time.perf_counter() - t0
        iteration += 1
        if iteration % 200 == 0:
            print(f"  N={n}: {serial} programs, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)
    db.close()
    return commit_time


def sample_times(db: ProgramDatabase, rng: random.Random, calls: int = 2000) -> list[float]:
    """Seconds per ``sample_batch(1, rng, num_inspirations=2)``, ``calls`` times."""
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        db.sample_batch(1, rng, num_inspirations=2)
        times.append(time.perf_counter() - t0)
    return times


def traced_index_bytes(path: Path, config: DatabaseConfig) -> int:
    """Memory a reopen allocates and keeps (the index), traced by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    db = ProgramDatabase.open(path, config)
    gc.collect()
    index_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    db.close()
    return index_bytes


def measure(n: int, folder: Path) -> dict[str, float]:
    config = DatabaseConfig(num_islands=10, archive_size=1000, population_size=max(10, n),
                            migration_interval=0, num_inspirations=2)
    path = folder / f"bench_{n}.sqlite"
    commit_time = build(path, config, n)

    gc.collect()
    t0 = time.perf_counter()
    db = ProgramDatabase.open(path, config)
    reopen_s = time.perf_counter() - t0
    sample_rng = random.Random(1)
    times = sample_times(db, sample_rng)
    batch_t0 = time.perf_counter()
    db.sample_batch(512, sample_rng, num_inspirations=2)
    batch_us = (time.perf_counter() - batch_t0) / 512 * 1e6
    t0 = time.perf_counter()
    for k in range(2000):
        db.contains_hash(f"{k:064x}")
    lookup_us = (time.perf_counter() - t0) / 2000 * 1e6
    estimate = db.index_nbytes() / n
    db.close()
    # The same draws with the record cache off: every record is read from the store.
    db = ProgramDatabase.open(path, config.model_copy(update={"record_cache_size": 0}))
    cold = sample_times(db, random.Random(1))
    db.close()
    del db
    index_bytes = traced_index_bytes(path, config)
    return {
        "sample_us": round(statistics.median(times) * 1e6, 2),
        "sample_uncached_us": round(statistics.median(cold) * 1e6, 2),
        "sample_batch512_us_per_parent": round(batch_us, 2),
        "commit_us": round(commit_time / n * 1e6, 2),
        "index_bytes_per_program": round(index_bytes / n, 1),
        "index_bytes_estimate": round(estimate, 1),
        "contains_hash_us": round(lookup_us, 2),
        "reopen_s": round(reopen_s, 3),
        "store_mb": round(sum(p.stat().st_size for p in folder.glob(f"bench_{n}.sqlite*"))
                          / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, action="append",
                        help="store size N (repeatable; default 100000 and 1000000)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to build the stores (default: a temporary folder)")
    args = parser.parse_args()
    sizes = args.programs or [100_000, 1_000_000]
    if any(n < 1 for n in sizes):
        parser.error("--programs must be at least 1")
    folder = Path(tempfile.mkdtemp(prefix="thetaevolve-dbbench-", dir=args.dir))
    results: dict[str, dict[str, float]] = {}
    try:
        for n in sizes:
            results[str(n)] = measure(n, folder)
            print(f"N={n}: {json.dumps(results[str(n)])}", flush=True)
            for leftover in folder.glob(f"bench_{n}.sqlite*"):
                leftover.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
