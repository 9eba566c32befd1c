"""Is a run still running? Asked without touching the writer's lock.

A run holds an exclusive ``flock`` on ``programs.sqlite.lock`` for as long as its process
lives (``persistence._lock_writer``). Trying to take that lock ourselves, even for an
instant, could make a run that starts in that instant fail, so the dashboard reads the
kernel's lock table (``/proc/locks``, Linux) instead: it lists every flock by device and
inode. Where that table is missing, the state falls back to what the files say.
"""

from __future__ import annotations

import os
from pathlib import Path

RUNNING, FINISHED, STOPPED = "running", "finished", "stopped"
_PROC_LOCKS = Path("/proc/locks")


def writer_alive(store_path: Path) -> bool | None:
    """True if some process holds the store's writer lock; None when it cannot be told."""
    lock = store_path.with_name(store_path.name + ".lock")
    try:
        st = os.stat(lock)
    except FileNotFoundError:
        return False  # no run ever wrote here, or the folder was copied without it
    except OSError:
        return None
    wanted = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        table = _PROC_LOCKS.read_text()
    except OSError:
        return None
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:2146402 0 EOF"; blocked waiters start "->".
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[3] == "WRITE" \
                and fields[5] == wanted:
            return True
    return False


def run_state(alive: bool | None, finished_cleanly: bool, idle_s: float) -> str:
    """running / finished / stopped, from the lock, the event log and the last change.

    ``finished_cleanly`` is True when the run's event log ends with its ``summary`` event,
    which the drivers write only when the budget is spent; a run that was interrupted or
    killed has none after its last batch, and so it is ``stopped``.
    """
    if alive:
        return RUNNING
    if finished_cleanly:
        return FINISHED
    if alive is None and idle_s < 60.0:
        return RUNNING  # no lock table to ask: a store that changed a moment ago is live
    return STOPPED
