"""Leases of dedicated candidate uids, for a sandbox started as root.

Root's RLIMIT_NPROC is not enforced, so candidates run as an unprivileged uid. Each worker
gets its *own* uid, held under an exclusive ``flock`` for as long as the sandbox lives:
the process cap then counts one candidate at a time, and the cleanup ``kill(-1)`` run as
that uid reaches that worker's stragglers only, never another sandbox's candidates (other
test runs, another ``thetaevolve`` process on the same host). A lock dies with its holder.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

LOCK_DIR = "/tmp/thetaevolve-sandbox-uids"


@dataclass
class UidLease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def acquire_uid(base: int, count: int) -> UidLease:
    """The first free uid in ``[base, base + count)``; raises RuntimeError when all are taken."""
    os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
    for uid in range(base, base + count):
        fd = os.open(os.path.join(LOCK_DIR, f"{uid}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return UidLease(uid=uid, fd=fd)
    raise RuntimeError(
        f"all candidate uids {base}..{base + count - 1} are in use by other sandboxes; "
        "raise sandbox.uid_count or close other runs"
    )
