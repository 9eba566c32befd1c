"""Warm verifier workers: a native problem's ``verify`` run in processes we can kill.

Each worker (``verify_worker.py``) imports the problem once and then judges one solution
per request, so a verify costs a pipe round trip rather than an interpreter start. The
deadline lives here, on the framework's side: a worker that does not answer in time is
killed with its whole process group (threads cannot be killed, processes can), and the
next request starts a fresh one. A worker that dies (segfault, out-of-memory kill) is
replaced the same way. Nothing a problem's code does can block the run past its deadline.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKER_PATH = Path(__file__).with_name("verify_worker.py")
START_TIMEOUT_S = 120.0  # importing a problem that imports scipy on a loaded machine
_SLACK_S = 0.5  # pipe and JSON time on top of the verify's own deadline
_MAX_REPLY_BYTES = 1 << 20
_LEN = struct.Struct("!I")
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_POOLS: "weakref.WeakSet[VerifierPool]" = weakref.WeakSet()


class WorkerFailed(Exception):
    """The worker did not answer: it hung past the deadline or died. ``reason`` says which."""


@dataclass(frozen=True)
class ProblemTarget:
    """What a worker imports: a file (its folder goes first on sys.path) or a module name."""

    file: Path | None = None
    module: str | None = None

    @property
    def argv(self) -> list[str]:
        if self.file is not None:
            return ["--file", str(self.file)]
        assert self.module is not None
        return ["--module", self.module]

    @property
    def cwd(self) -> Path | None:
        return self.file.parent if self.file is not None else None

    def __str__(self) -> str:
        return str(self.file) if self.file is not None else f"module {self.module}"


class _Worker:
    def __init__(self, target: ProblemTarget, start_timeout_s: float) -> None:
        env = dict(os.environ)
        for name in _THREAD_VARS:  # one verify per core: several workers run side by side
            env.setdefault(name, "1")
        if target.module is not None:
            # A module is found the way this process finds it (entry points, sys.path edits).
            paths = [p for p in sys.path if p] + [p for p in [env.get("PYTHONPATH")] if p]
            env["PYTHONPATH"] = os.pathsep.join(paths)
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER_PATH), *target.argv, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=target.cwd, env=env,
            start_new_session=True, close_fds=True,
        )
        try:
            self.ready = self._read(time.monotonic() + start_timeout_s, "import the problem")
        except WorkerFailed:
            self.kill()
            raise

    def request(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        payload = json.dumps(message, allow_nan=True).encode()
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(_LEN.pack(len(payload)) + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerFailed(self._death("before it got the request")) from None
        return self._read(time.monotonic() + timeout_s + _SLACK_S, "answer", timeout_s)

    def _read(self, deadline: float, doing: str, timeout_s: float | None = None) -> dict[str, Any]:
        head = self._read_exact(_LEN.size, deadline, doing, timeout_s)
        (size,) = _LEN.unpack(head)
        if size > _MAX_REPLY_BYTES:
            self.kill()
            raise WorkerFailed(f"sent a reply of {size} bytes (limit {_MAX_REPLY_BYTES})")
        return json.loads(self._read_exact(size, deadline, doing, timeout_s))

    def _read_exact(self, n: int, deadline: float, doing: str, timeout_s: float | None) -> bytes:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        while n > 0:
            remaining = deadline - time.monotonic()
            readable = select.select([fd], [], [], max(0.0, remaining))[0] if remaining > 0 else []
            if not readable:
                self.kill()
                limit = f"{timeout_s:g} s (VERIFY_TIMEOUT_S)" if timeout_s is not None else \
                    f"{START_TIMEOUT_S:g} s"
                raise WorkerFailed(f"did not {doing} within {limit}; it was killed")
            chunk = os.read(fd, n)
            if not chunk:
                raise WorkerFailed(self._death(f"while trying to {doing}"))
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _death(self, when: str) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        self.kill()
        if code is not None and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
            if -code == signal.SIGKILL:
                how += " (out of memory?)"
        else:
            how = f"exited with code {code}"
        return f"crashed: its process {how} {when}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the verify's own children too
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def close(self) -> None:
        """Ask politely (closing the pipe ends the loop); kill if it does not go."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()


class VerifierPool:
    """Warm workers for one problem; thread-safe, one worker per concurrent caller, at most
    ``max_workers`` (the cores: a sandbox spread over a cluster may have many more callers
    in flight, and every worker holds its own copy of the problem's imports)."""

    def __init__(self, target: ProblemTarget, start_timeout_s: float = START_TIMEOUT_S,
                 max_workers: int | None = None) -> None:
        self.target = target
        self.start_timeout_s = start_timeout_s
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        # Waiting for a worker is not the verify's time: its deadline starts with the request.
        self._slots = threading.BoundedSemaphore(self.max_workers)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False
        _POOLS.add(self)

    def start(self) -> dict[str, Any]:
        """Start one worker and return its ready message (what the problem defines, or why
        it failed to import). A worker that imported the problem stays warm for ``call``."""
        worker = _Worker(self.target, self.start_timeout_s)
        if not worker.ready.get("ready"):
            worker.close()
            return worker.ready
        self._release(worker)
        return worker.ready

    def call(self, message: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """One request under a hard deadline. Raises WorkerFailed when no answer came."""
        with self._slots:
            worker = self._take()
            try:
                reply = worker.request(message, timeout_s)
            except BaseException:
                self._discard(worker)
                raise
            if reply.get("restart") or not worker.alive():
                self._discard(worker, polite=True)
            else:
                self._release(worker)
            return reply

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise WorkerFailed("the verifier is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.discard(worker)
        worker = _Worker(self.target, self.start_timeout_s)
        if not worker.ready.get("ready"):
            worker.close()
            error = worker.ready.get("error") or {}
            raise WorkerFailed(f"the problem no longer imports: {error.get('type')}: "
                               f"{error.get('message')}")
        with self._lock:
            self._all.add(worker)
        return worker

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            if self._closed:
                worker.close()
                return
            self._all.add(worker)
            self._idle.append(worker)

    def _discard(self, worker: _Worker, polite: bool = False) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.close() if polite else worker.kill()

    def retarget(self, target: ProblemTarget) -> None:
        """Workers started from now on import ``target`` (the same code, kept elsewhere);
        the warm ones stay."""
        with self._lock:
            self.target = target

    @property
    def pids(self) -> list[int]:
        """Process ids of the live workers; each leads its own process group."""
        with self._lock:
            return [worker.proc.pid for worker in self._all]

    @property
    def worker_count(self) -> int:
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = list(self._all), set(), []
        for worker in workers:
            worker.close()


@atexit.register
def _close_all() -> None:
    for pool in list(_POOLS):
        pool.close()
