"""Shared pieces for the sandbox tests: the test task and which isolation paths work here."""

from __future__ import annotations

import os
import sys

from thetaevolve.sandbox.bwrap import bwrap_problem
from thetaevolve.sandbox.runner import WORKER_PATH
from thetaevolve.testing import TinyTask  # noqa: F401 - the one test task, re-exported for the sandbox tests


def bwrap_modes() -> list[str]:
    """Both isolation paths where bwrap works here; only the plain one where it does not
    (not installed, or a container that forbids the namespaces it needs)."""
    works = bwrap_problem(sys.executable, WORKER_PATH, os.geteuid() == 0) is None
    return ["never", "always"] if works else ["never"]


def can_unshare(flags: int) -> bool:
    """Whether this process may create the namespaces ``flags`` (root without bwrap uses a
    network and a mount namespace per candidate; some containers forbid them)."""
    import ctypes

    pid = os.fork()
    if pid == 0:
        ok = ctypes.CDLL(None, use_errno=True).unshare(flags) == 0
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
