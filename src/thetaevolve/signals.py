"""SIGTERM handled like Ctrl-C, so schedulers and ``timeout`` get a summary too.

Batch schedulers, ``timeout`` and ``docker stop`` send SIGTERM; by default Python dies at
once and the run writes no summary.json or pictures. Inside ``terminate_as_interrupt()``
a SIGTERM stops the command the way Ctrl-C does, so the same cleanup runs, and the command
then exits with 143 (128 + SIGTERM), the status a shell reports for a terminated process. A second SIGTERM during that cleanup kills the process.

Inside ``asyncio.run`` the SIGINT handler that asyncio installs is called, which cancels
the main task so every coroutine unwinds (raising from the handler instead would leave a
task holding the exception, and asyncio would print it as "never retrieved");
``asyncio.run`` then raises ``KeyboardInterrupt`` and ``was_terminated()`` tells the two
signals apart. Elsewhere ``Terminated`` (a ``KeyboardInterrupt``) is raised at once.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXIT_TERMINATED = 128 + signal.SIGTERM
_terminated = False


class Terminated(KeyboardInterrupt):
    """Raised by SIGTERM inside ``terminate_as_interrupt`` outside an event loop."""


def was_terminated() -> bool:
    """True once a SIGTERM arrived inside ``terminate_as_interrupt``."""
    return _terminated


def _asyncio_sigint_handler() -> Any:
    handler = signal.getsignal(signal.SIGINT)
    if isinstance(handler, functools.partial) and getattr(handler.func, "__name__", "") == "_on_sigint":
        return handler  # asyncio.Runner's: cancels the main task on the first signal
    return None


def _on_sigterm(signum: int, frame: Any) -> None:
    global _terminated
    _terminated = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process
    handler = _asyncio_sigint_handler()
    if handler is not None:
        handler(signal.SIGINT, frame)
        return
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    global _terminated
    _terminated = False
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (e.g. called from a test thread): leave it
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
