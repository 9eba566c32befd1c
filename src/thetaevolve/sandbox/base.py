"""The sandbox seam as a type: what every backend offers and every caller may rely on.

The gym, the session, the RL driver and the problem checker only ever call ``run`` and
``close`` (and use a sandbox as a context manager), so that is the whole ``Sandbox``
protocol. ``runner.LocalSandbox`` (this machine's warm pool) and ``ray_backend.RaySandbox``
(one such pool per node of a Ray cluster, docs/scale-out.md) both satisfy it; a test or a
problem author may pass any object that does.

The limits that both backends apply before a candidate is even sent live here too, so
that neither backend has to import the other.
"""

from __future__ import annotations

from typing import Protocol

from thetaevolve.types import RunResult

MAX_CODE_BYTES = 16 << 20  # a program longer than this is refused as a CRASH, never sent
START_TIMEOUT_S = 120.0  # a worker's start; importing scipy on a loaded machine can take seconds


class Sandbox(Protocol):
    """Runs candidate programs in isolation; thread-safe.

    ``run`` executes the program's ``solve()`` in an isolated, killable child process and
    returns its solution *data* (never a score) or a typed failure (TIMEOUT, MEMORY, CRASH,
    NO_OUTPUT, MALFORMED_OUTPUT); it never raises for anything the candidate does.
    ``timeout_s`` None means the task's own deadline (or ``sandbox.timeout_s``).
    ``close`` stops the worker processes; call it once no ``run`` is in flight.
    """

    def run(self, code: str, timeout_s: float | None = None) -> RunResult: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...
