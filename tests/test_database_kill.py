"""Kill-and-resume: SIGKILL a committing process at random moments; nothing is lost or doubled.

A worker process opens the store, resumes from ``max_iteration() + 1`` and commits batches
of children (each child's code names its iteration and slot), printing each iteration once
``commit`` has returned. The test kills it with SIGKILL at random moments, at least ten
times, reopening the store after each kill: every iteration the worker reported is present
with its whole batch, no child is stored twice, the meta written with each batch matches the
batches stored, and the rebuilt index equals the one a clean reopen gives. Three more
workers kill themselves just before a chosen COMMIT, with the whole batch already written
inside the transaction: that batch must vanish and every earlier one stay.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ProgramDatabase

BATCH = 8
CONFIG = dict(num_islands=3, population_size=40, migration_interval=3, archive_size=10,
              reinit_every=0)

WORKER = r"""
import hashlib, os, random, signal, sqlite3, sys, time
from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ChildDraft, ProgramDatabase
from thetaevolve.types import Outcome

path, batch, kill_at_commit = sys.argv[1], int(sys.argv[2]), int(sys.argv[4])


class KillBeforeCommit:
    # Every row of the batch is written inside the transaction; the process dies just
    # before COMMIT, the worst moment for a store that is not transactional.
    def __init__(self, inner, countdown):
        self.inner, self.countdown = inner, countdown

    def execute(self, sql, *args):
        if sql == "COMMIT" and self.countdown:
            self.countdown -= 1
            if self.countdown == 0:
                os.kill(os.getpid(), signal.SIGKILL)
        return self.inner.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self.inner, name)


# The store's connection is wrapped where SQLite hands it out; it is armed once the store
# is open, so the countdown counts the commits of batches only.
connections = []
real_connect = sqlite3.connect


def wrapped_connect(*args, **kwargs):
    connection = KillBeforeCommit(real_connect(*args, **kwargs), 0)
    connections.append(connection)
    return connection


if kill_at_commit:
    sqlite3.connect = wrapped_connect
db = ProgramDatabase.open(path, DatabaseConfig(**eval(sys.argv[3])))
for connection in connections:
    connection.countdown = kill_at_commit
print("ready", flush=True)

def child(parent, it, slot, fitness):
    code = f"# iteration {it} slot {slot}\nx = {fitness!r}\n"
    ok = fitness is not None
    return ChildDraft(parent_id=parent, code=code,
                      code_hash=hashlib.sha256(code.encode()).hexdigest(),
                      outcome=Outcome.OK if ok else Outcome.CRASH, score=fitness,
                      fitness=fitness, reward=0.0, iteration=it, prompt="p" * 2000,
                      response="r" * 2000)

if db.count() == 0:
    db.commit([child(None, 0, 0, 0.0)], meta={"batches": 1})
    print(0, flush=True)
while True:
    it = db.max_iteration() + 1
    rng = random.Random(it)
    samples = db.sample_batch(batch, rng, num_inspirations=2)
    kids = [child(s.parent.id, it, k, None if rng.random() < 0.2 else
                  s.parent.fitness + rng.gauss(0, 1)) for k, s in enumerate(samples)]
    db.commit(kids, meta={"batches": db.get_meta("batches") + 1})
    print(it, flush=True)
    time.sleep(0.004)  # keeps the store small, so checking it after each kill stays quick
"""


def run_worker(path: Path, seconds: float, kill_at_commit: int = 0,
               after_ready: bool = True) -> list[int]:
    """Start a worker, SIGKILL it ``seconds`` after it has opened the store (or after it
    started, while it may still be opening it), or let it kill itself inside its
    ``kill_at_commit``-th commit; returns the iterations it reported committed."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(path), str(BATCH), repr(CONFIG), str(kill_at_commit)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    if kill_at_commit:
        proc.wait(timeout=60)
    else:
        if after_ready:
            # Start-up time varies with the machine's load; time the kill from the loop.
            assert proc.stdout is not None
            first = proc.stdout.readline()
            assert first == b"ready\n", first + proc.stderr.read() if proc.stderr else first
        time.sleep(seconds)
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    return [int(line) for line in out.decode().split() if line != "ready"]


def check(path: Path, reported: set[int]) -> int:
    db = ProgramDatabase.open(path, DatabaseConfig(**CONFIG))
    try:
        proposals = list(db.iter_programs(include_copies=False))
        per_iteration = Counter(r.iteration for r in proposals)
        missing = sorted(reported - set(per_iteration))
        assert not missing, f"iterations reported committed but not stored: {missing}"
        if not proposals:  # killed before the initial program was committed
            return -1
        assert per_iteration[0] == 1
        assert all(per_iteration[it] == BATCH for it in per_iteration if it > 0), per_iteration
        top = db.max_iteration()
        assert sorted(per_iteration) == list(range(top + 1))  # no gap, no repeat
        assert len({r.code_hash for r in proposals}) == len(proposals)  # no duplicate child
        assert db.count() == len(proposals) == 1 + BATCH * top
        assert db.get_meta("batches") == top + 1  # meta committed with its batch
        ids = [r.id for r in db.iter_programs()]
        assert ids == list(range(1, len(ids) + 1))
        state = db.debug_snapshot()
    finally:
        db.close()
    again = ProgramDatabase.open(path, DatabaseConfig(**CONFIG))
    try:
        assert again.debug_snapshot() == state
    finally:
        again.close()
    return top


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("needs SIGKILL")
    path = tmp_path / "programs.sqlite"
    rng = random.Random(2026)
    reported: set[int] = set()
    kills = 0
    progress = []
    while kills < 12:
        # Most kills land in the commit loop; every third one may land while the worker
        # is still starting or rebuilding its index.
        if kills % 3 == 2:
            reported.update(run_worker(path, rng.uniform(0.0, 0.8), after_ready=False))
        else:
            reported.update(run_worker(path, rng.uniform(0.0, 0.6)))
        kills += 1
        progress.append(check(path, reported))
    assert progress[-1] > 10, f"the worker hardly committed anything: {progress}"
    assert len(reported) > 10
    for countdown in (1, 3, 7):
        before = progress[-1]
        reported.update(run_worker(path, 0.0, kill_at_commit=countdown))
        progress.append(check(path, reported))
        # The batch being committed when the process died is gone; the ones before it stay.
        assert progress[-1] == before + countdown - 1
