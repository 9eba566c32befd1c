"""SIGTERM handled like Ctrl-C, so schedulers and ``timeout`` get a summary too.

Batch schedulers, ``timeout`` and ``docker stop`` send SIGTERM; by default Python dies at
once and the run writes no summary.json or pictures (newcomer audit, finding 10). Inside
``terminate_as_interrupt()`` a SIGTERM raises ``Terminated`` (a ``KeyboardInterrupt``)
where the program was, so the same cleanup as for Ctrl-C runs; the command then exits
with 143 (128 + SIGTERM), the status a shell reports for a terminated process. A second
SIGTERM during that cleanup kills the process as usual.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM inside ``terminate_as_interrupt``."""


def _raise_terminated(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (e.g. called from a test thread): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
