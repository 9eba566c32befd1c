"""The sandbox seam: run untrusted candidate code, get back data or a typed failure.

``make_sandbox(task, config)`` returns a ``Sandbox`` (the protocol of ``base``), with:
- ``run(code: str, timeout_s: float | None = None) -> RunResult``: thread-safe and blocking;
  runs the program's ``solve()`` in an isolated, killable child process and returns the
  solution *data* (never a score), or a typed failure (TIMEOUT, MEMORY, CRASH, NO_OUTPUT,
  MALFORMED_OUTPUT). It never raises for anything the candidate does.
- ``close()``: stops any pre-started worker processes.
It is also a context manager.

Layout: ``base`` (the ``Sandbox`` protocol and the limits every backend applies),
``factory`` (``make_sandbox``), ``runner`` (``LocalSandbox``, the pool, on the trusted
side), ``results`` (defensive parsing into a RunResult), ``bwrap`` (the bubblewrap command
line), ``uids`` (dedicated candidate uids when started as root); and, running in the worker
processes with the standard library only, ``worker`` (protocol and collection), ``child``
(lock-down and the ``solve()`` harness), ``proctree`` (memory of, and cleanup after, a
candidate's processes) and ``kill_reasons`` (how a child ended, in the words ``results``
reads back).

With ``sandbox.backend=ray``, ``make_sandbox`` returns ``ray_backend.RaySandbox`` instead:
the same seam, with one such pool on every node of a Ray cluster (docs/scale-out.md).
"""

from thetaevolve.sandbox.base import Sandbox
from thetaevolve.sandbox.factory import make_sandbox
from thetaevolve.sandbox.runner import LocalSandbox

__all__ = ["LocalSandbox", "Sandbox", "make_sandbox"]
