"""The sandbox: a pool of worker processes, one per evaluation slot (see sandbox/worker.py).

``run`` takes an idle worker, sends it the code, and waits for the reply under a deadline
of its own (the candidate's deadline plus slack): if the worker itself misbehaves (killed
by a candidate, wedged, lying about sizes) it is killed and restarted, and the candidate
gets a typed failure. With ``warm_pool`` the workers live across candidates and have
imported the task's heavy modules; without it each candidate gets a fresh interpreter.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from thetaevolve.config import SandboxConfig
from thetaevolve.sandbox.base import MAX_CODE_BYTES, START_TIMEOUT_S
from thetaevolve.sandbox.bwrap import bwrap_command, resolve_use_bwrap
from thetaevolve.sandbox.results import to_run_result
from thetaevolve.sandbox.uids import UidLease, acquire_uid
from thetaevolve.tasks.base import ENTRY_POINT, Task
from thetaevolve.types import Outcome, RunResult

log = logging.getLogger("thetaevolve.sandbox")

WORKER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
CLEANUP_TIMEOUT_S = 60.0
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "BLIS_NUM_THREADS",
)


@dataclass(frozen=True)
class WorkerInfo:
    """A read-only look at one worker slot, for tests and diagnostics (``LocalSandbox.workers``)."""

    slot: int
    uid: int | None  # the candidates' uid (started as root), else None
    pid: int | None  # the worker process (bwrap's own process under bubblewrap); None: not running
    namespace_init: int | None  # under bubblewrap: the sandbox's pid 1, seen from here


class WorkerError(Exception):
    """The worker process failed (not the candidate): it is restarted."""


class WorkerTimeout(WorkerError):
    pass


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerTimeout("the worker did not accept the request in time")
        _, writable, _ = select.select([], [fd], [], min(remaining, 3600.0))
        if writable:
            try:
                view = view[os.write(fd, view[: 1 << 16]) :]
            except BrokenPipeError as exc:
                raise WorkerError("the worker is gone") from exc


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    while n > 0:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerTimeout("the worker did not answer in time")
        readable, _, _ = select.select([fd], [], [], min(remaining, 3600.0))
        if readable:
            chunk = os.read(fd, min(n, 1 << 20))
            if not chunk:
                raise WorkerError("the worker died")
            chunks.append(chunk)
            n -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int, limit: int, deadline: float) -> bytes:
    size = int.from_bytes(_read_exact(fd, 4, deadline), "big")
    if size > limit:
        raise WorkerError(f"the worker sent a frame of {size} bytes (limit {limit})")
    return _read_exact(fd, size, deadline)


def _read_child_pid(fd: int, deadline: float) -> int | None:
    """bwrap's --info-fd JSON names the sandbox's pid 1 (as seen from here)."""
    chunks = []
    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([fd], [], [], deadline - time.monotonic())
            if not readable:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
            if b"}" in chunk:
                break
    finally:
        os.close(fd)
    try:
        pid = json.loads(b"".join(chunks)).get("child-pid")
    except (ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) and pid > 1 else None


def _frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + payload


def _user_task_count(uid: int) -> int:
    """Threads owned by ``uid`` now: RLIMIT_NPROC counts them all, not just ours."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as fh:
                status = fh.read()
        except OSError:
            continue
        uid_line = status.split(b"\nUid:", 1)[-1].split(None, 1)[0]
        if uid_line == str(uid).encode():
            threads = status.split(b"\nThreads:", 1)[-1].split(None, 1)[0]
            count += int(threads) if threads.isdigit() else 1
    return count


class _Worker:
    """One worker process, owned by one slot; used by one thread at a time."""

    def __init__(self, sandbox: LocalSandbox, slot: int) -> None:
        self.sandbox = sandbox
        self.slot = slot
        self.lease: UidLease | None = None
        if sandbox.as_root:
            self.lease = acquire_uid(sandbox.config.uid_base, sandbox.config.uid_count)
        self.proc: subprocess.Popen[bytes] | None = None
        self.namespace_init: int | None = None  # bwrap's pid 1, seen from the host
        self.awaiting_cleanup = False
        self.workdir_base = ""

    @property
    def uid(self) -> int | None:
        return self.lease.uid if self.lease is not None else None

    # -- process lifetime -------------------------------------------------------------

    def start(self) -> None:
        cmd, base, info_r, info_w = self._command()
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=self.sandbox.env,
                cwd=base,
                start_new_session=True,
                close_fds=True,
                pass_fds=(info_w,) if info_w >= 0 else (),
            )
        finally:
            if info_w >= 0:
                os.close(info_w)
        deadline = time.monotonic() + START_TIMEOUT_S
        if info_r >= 0:
            self.namespace_init = _read_child_pid(info_r, deadline)
        ready = self._handshake(self._init_message(base), deadline)
        self._warn_about(ready)
        self.awaiting_cleanup = False

    def _command(self) -> tuple[list[str], str, int, int]:
        """The worker's command line and the directory its candidates' directories go in;
        under bubblewrap also the pipe (read end, write end) on which bwrap names the
        sandbox's pid 1, else (-1, -1)."""
        sb = self.sandbox
        if sb.use_bwrap:
            info_r, info_w = os.pipe()
            cmd = bwrap_command(
                sys.executable, WORKER_PATH, sb.env, sb.tmp_bytes, sb.as_root, info_fd=info_w,
                extra_ro=sb.import_paths,
            )
            return cmd, "/tmp", info_r, info_w
        self.workdir_base = tempfile.mkdtemp(prefix=f"thetaevolve-sandbox-w{self.slot}-")
        os.chmod(self.workdir_base, 0o711)  # the candidate uid must reach its own dir
        return [sys.executable, "-I", WORKER_PATH], self.workdir_base, -1, -1

    def _init_message(self, base: str) -> dict[str, object]:
        """What the worker needs to know once (sandbox/worker.py, ``main``)."""
        sb = self.sandbox
        return {
            "heavy_modules": sb.heavy_modules,
            # A problem whose evaluator runs in here: its folder and our shims, then the
            # evaluator imported once, before any fork (sandbox/evaluator_host.py).
            "import_paths": list(sb.import_paths),
            "preload": sb.host.preload if sb.host is not None else "",
            "preload_timeout_s": sb.host.preload_timeout_s if sb.host is not None else 0,
            "uid": self.uid,
            "workdir_base": base,
            "entry_point": ENTRY_POINT,
            "max_output_bytes": sb.config.max_output_bytes,
            "max_solution_bytes": sb.config.max_solution_bytes,
            "max_code_bytes": MAX_CODE_BYTES,
            "unshare_net": sb.as_root and not sb.use_bwrap,
            "private_tmp": sb.as_root and not sb.use_bwrap,
            "tmp_bytes": sb.tmp_bytes,
            # Inside bwrap these are the worker's own tmpfs: emptied after every candidate.
            "clear_dirs": ["/tmp", "/dev/shm"] if sb.use_bwrap else [],
            "clear_ipc": sb.use_bwrap,  # so is its SysV IPC namespace
            # ~30 ms once, repaid at about 0.4 ms per fork: only for workers that live on.
            "huge_pages": sb.config.warm_pool,
        }

    def _handshake(self, init: dict[str, object], deadline: float) -> dict[str, object]:
        """Send the init message and wait for "ready"; a worker that fails it is stopped."""
        try:
            _write_all(self._stdin_fd(), _frame(json.dumps(init).encode()), deadline)
            ready = json.loads(_read_frame(self._stdout_fd(), 1 << 16, deadline))
        except (WorkerError, ValueError) as exc:
            self.stop()
            raise RuntimeError(f"the sandbox worker failed to start: {exc}") from exc
        if not isinstance(ready, dict):
            self.stop()
            raise RuntimeError("the sandbox worker sent a malformed ready message")
        return ready

    def _warn_about(self, ready: dict[str, object]) -> None:
        """Once per sandbox: what the worker could not import, or may not read."""
        sb = self.sandbox
        if ready.get("import_errors"):
            sb.warn_once("imports", f"the worker could not import {ready['import_errors']}")
        if ready.get("stdlib_readable") is False:
            sb.warn_once(
                "stdlib",
                f"candidates run as uid {self.uid}, which cannot read the Python installation "
                f"({ready.get('stdlib')}); they can import only what the worker preloaded. "
                "Run where bubblewrap or mount namespaces work, or use an interpreter "
                "outside /root.",
            )

    def _stdin_fd(self) -> int:
        assert self.proc is not None and self.proc.stdin is not None
        return self.proc.stdin.fileno()

    def _stdout_fd(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def stop(self, sweep: bool = False) -> None:
        """Kill the worker. ``sweep``: it died or was killed mid-run, so candidates may
        have outlived it."""
        proc, self.proc = self.proc, None
        namespace_init, self.namespace_init = self.namespace_init, None
        if namespace_init is not None:
            # The pid namespace dies with its init: the worker and every candidate in it.
            try:
                os.kill(namespace_init, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        if sweep and namespace_init is None and self.uid is not None:
            # Candidates of a worker killed mid-run may have escaped its process group and
            # outlived it: sweep the uid (the next worker on this uid would, too).
            subprocess.run(
                [sys.executable, "-I", WORKER_PATH, "--sweep-uid", str(self.uid)],
                env={},
                timeout=30,
                check=False,
            )
        if self.workdir_base:
            shutil.rmtree(self.workdir_base, ignore_errors=True)
            self.workdir_base = ""

    def wait_clean(self) -> None:
        """Wait until the worker has swept the last candidate's stragglers and files."""
        if self.proc is not None and self.awaiting_cleanup:
            try:
                _read_frame(self._stdout_fd(), 1 << 16, time.monotonic() + CLEANUP_TIMEOUT_S)
                self.awaiting_cleanup = False
            except WorkerError:
                self.stop(sweep=True)

    def finish(self) -> None:
        """Fresh-interpreter mode: clean up after the one candidate, then end the worker."""
        self.wait_clean()
        self.stop()

    def close(self) -> None:
        self.wait_clean()
        self.stop()
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    # -- one candidate ----------------------------------------------------------------

    def run(self, code: bytes, timeout_s: float) -> RunResult:
        sb = self.sandbox
        request = {"timeout": timeout_s, "rlimits": sb.rlimits(timeout_s, self.uid)}
        payload = _frame(json.dumps(request).encode()) + _frame(code)
        started = time.monotonic()
        deadline = started + timeout_s + 2.0 + 0.1 * timeout_s
        cap_out = sb.config.max_output_bytes + 100  # room for the "bytes cut" marker
        cap_result = sb.config.max_solution_bytes + 4097
        try:
            self._send(payload, deadline)
            header = json.loads(_read_frame(self._stdout_fd(), 1 << 16, deadline))
            stdout = _read_frame(self._stdout_fd(), cap_out, deadline)
            stderr = _read_frame(self._stdout_fd(), cap_out, deadline)
            result = _read_frame(self._stdout_fd(), cap_result, deadline)
            if not isinstance(header, dict):
                raise WorkerError("the worker sent a header that is not an object")
        except (WorkerError, ValueError) as exc:
            # The worker itself failed or overran: it is replaced, the candidate fails.
            self.stop(sweep=True)
            if isinstance(exc, WorkerTimeout):
                outcome, detail = Outcome.TIMEOUT, f"killed after the {timeout_s:g} s deadline ({exc})"
            else:
                outcome = Outcome.CRASH
                detail = f"the sandbox worker failed while running the program: {exc}"
            return RunResult(
                solution=None, outcome=outcome, detail=detail, runtime_s=time.monotonic() - started
            )
        self.awaiting_cleanup = True
        return to_run_result(
            header,
            stdout,
            stderr,
            result,
            timeout_s=timeout_s,
            max_solution_bytes=sb.config.max_solution_bytes,
        )

    def _send(self, payload: bytes, deadline: float) -> None:
        """Hand the request to a live worker. The worker acknowledges it before forking, so
        a worker found dead before the acknowledgement never ran the candidate: it is
        replaced and the request sent again, once."""
        for attempt in range(2):
            self.wait_clean()
            if self.proc is None or self.proc.poll() is not None:
                self.stop()
                self.start()
            try:
                _write_all(self._stdin_fd(), payload, deadline)
                if _read_frame(self._stdout_fd(), 16, deadline) != b"started":
                    raise WorkerError("the worker did not acknowledge the request")
                return
            except WorkerTimeout:
                raise
            except WorkerError:
                if attempt == 1:
                    raise
                self.stop()


class LocalSandbox:
    """This machine's pool (the ``Sandbox`` seam of sandbox/base.py): runs candidate
    programs; thread-safe, one worker per ``config.workers`` slot."""

    def __init__(self, task: Task, config: SandboxConfig) -> None:
        self.config = config
        self.task = task
        self.default_timeout_s = float(config.timeout_s or task.timeout_s)
        self.as_root = os.geteuid() == 0
        self.use_bwrap = resolve_use_bwrap(
            config.use_bwrap, sys.executable, WORKER_PATH, self.as_root
        )
        self.heavy_modules = list(task.heavy_modules)
        # The Ray backend hands each node a PoolSpec instead of the task: it carries the host.
        self.host = getattr(task, "evaluator_host", None)
        self.import_paths: tuple[str, ...] = self.host.import_paths if self.host else ()
        self.tmp_bytes = max(64 << 20, 4 * config.max_file_bytes)
        threads = str(config.threads)
        self.env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
        self.env.update({name: threads for name in THREAD_VARS})
        self._nproc_base = 0 if self.as_root else _user_task_count(os.getuid())
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers = [_Worker(self, slot) for slot in range(config.workers)]
        if config.warm_pool:
            self._start_all()
        for w in self._workers:
            self._idle.put(w)

    def _start_all(self) -> None:
        errors: list[BaseException] = []

        def start(w: _Worker) -> None:
            try:
                w.start()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(w,)) for w in self._workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            self.close()
            raise errors[0]

    def warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning("sandbox: %s", message[:1000])

    def rlimits(self, timeout_s: float, uid: int | None) -> dict[str, int]:
        cfg = self.config
        limits = {
            "RLIMIT_AS": cfg.memory_mb << 20,
            # CPU time adds up over threads: a candidate allowed N threads may use N cores.
            "RLIMIT_CPU": int(math.ceil(timeout_s * cfg.threads)) + 1,
            "RLIMIT_FSIZE": cfg.max_file_bytes,
            "RLIMIT_NOFILE": cfg.max_open_files,
            "RLIMIT_CORE": 0,
        }
        # Root is exempt from RLIMIT_NPROC, so it only binds once the child has dropped to
        # ``uid``; as an ordinary user it counts every thread the user already has.
        limits["RLIMIT_NPROC"] = cfg.max_processes + (0 if uid is not None else self._nproc_base)
        return limits

    def run(self, code: str, timeout_s: float | None = None) -> RunResult:
        """Run ``code``'s ``solve()`` isolated; data or a typed failure, never an exception."""
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if timeout_s is not None and not (timeout_s > 0 and math.isfinite(timeout_s)):
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        timeout = float(timeout_s) if timeout_s is not None else self.default_timeout_s
        if self.host is not None:
            code = self.host.wrap(code)  # the child runs the evaluator on the candidate
        data = code.encode("utf-8", errors="surrogatepass")
        if len(data) > MAX_CODE_BYTES:
            return RunResult(
                solution=None,
                outcome=Outcome.CRASH,
                detail=f"the program is {len(data)} bytes; the limit is {MAX_CODE_BYTES}",
            )
        w = self._idle.get()
        try:
            result = w.run(data, timeout)
            if not self.config.warm_pool:
                w.finish()
            return result
        finally:
            self._idle.put(w)

    def workers(self) -> list[WorkerInfo]:
        """What each worker slot is now: its candidate uid and its processes (read-only)."""
        return [
            WorkerInfo(
                slot=w.slot,
                uid=w.uid,
                pid=w.proc.pid if w.proc is not None else None,
                namespace_init=w.namespace_init,
            )
            for w in self._workers
        ]

    def wait_idle(self) -> None:
        """Block until every worker has cleaned up after its last candidate (stragglers
        killed, directory removed). ``run`` never needs it; tests and benchmarks do."""
        taken = [self._idle.get() for _ in self._workers]
        try:
            for w in taken:
                w.wait_clean()
        finally:
            for w in taken:
                self._idle.put(w)

    def close(self) -> None:
        """Stop the workers (after their cleanup); call it once no ``run`` is in flight."""
        self._closed = True
        for w in self._workers:
            w.close()

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # A forgotten close: kill the workers without waiting on anything.
        if getattr(self, "_closed", True):
            return
        self._closed = True
        for w in getattr(self, "_workers", []):
            try:
                w.stop(sweep=True)
                if w.lease is not None:
                    w.lease.release()
            except Exception:  # noqa: BLE001 - never raise from a finalizer
                pass
