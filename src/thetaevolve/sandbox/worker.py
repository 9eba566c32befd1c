"""The sandbox worker: a pre-started process that forks one fresh child per candidate.

This file runs as a script (``python -I worker.py``), possibly inside bubblewrap where the
``thetaevolve`` package is not visible, so it and its helpers (child.py, proctree.py, and
kill_reasons.py, the words it shares with the trusted side) import nothing but the
standard library and each other; bwrap.py binds exactly these files.

Life of a worker: read an init message (limits, heavy modules, candidate uid), import
the heavy modules once, answer "ready", then serve run requests one at a time. For each
request it acknowledges ("started"), forks a child (child.py) that becomes its own
session, sets rlimits, drops to the candidate uid (when started as root), runs the
candidate's ``solve()`` and writes the solution JSON to fd 3. The worker collects
stdout/stderr/result under size caps, enforces the wall-clock deadline and the memory
limit of the whole process tree (proctree.py) by killing the child's process group,
replies, and only then cleans up (kills every straggler, removes the private directory)
and says "clean", so cleanup never delays a reply.

The worker never runs candidate code itself and never parses the solution: the bytes go
back as they are, and the trusted side parses them defensively.

Messages are frames: a 4-byte big-endian length, then the bytes.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import stat
import struct
import sys
import time
from typing import Any, BinaryIO

if __package__:  # imported by the trusted side (tests, tools)
    from thetaevolve.sandbox import child, kill_reasons, proctree
else:  # run by path: the helpers sit next to this file
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import child  # type: ignore[no-redef]
    import kill_reasons  # type: ignore[no-redef]
    import proctree  # type: ignore[no-redef]

    del sys.path[0]  # candidates must not import the sandbox's own modules by accident

_LEN = struct.Struct("!I")
MAX_HEADER_BYTES = 1 << 16
OUTPUT_KILL_FACTOR = 16  # stdout/stderr beyond 16 times their cap is a flood: kill
PR_SET_DUMPABLE = 4


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LEN.pack(len(payload)))
    stream.write(payload)


def read_exact(stream: BinaryIO, n: int) -> bytes:
    chunks = []
    while n > 0:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, limit: int) -> bytes:
    (size,) = _LEN.unpack(read_exact(stream, _LEN.size))
    if size > limit:
        raise ValueError(f"frame of {size} bytes exceeds the limit of {limit}")
    return read_exact(stream, size)


# Loaded before any fork: cheap for every candidate, and where neither bwrap nor mount
# namespaces can re-expose an interpreter under /root to the unprivileged candidate uid,
# what candidates commonly import must already be here.
COMMON_MODULES = (
    "math", "cmath", "random", "itertools", "functools", "collections", "heapq", "bisect",
    "copy", "dataclasses", "fractions", "decimal", "statistics", "typing", "re", "time",
    "string", "operator", "array", "struct", "enum", "abc", "numbers", "warnings",
    "subprocess", "signal", "socket", "tempfile", "pathlib", "threading",
)


# ---------------------------------------------------------------------------------------
# In the worker: run one candidate and collect what it hands back.


class _Capture:
    """One pipe read into memory: everything up to ``cap`` bytes, or (``keep_ends``) its
    first and last halves of that with a marker between. Past ``kill_at`` bytes read in
    all, the candidate is killed for ``flood`` (a kill reason): a flood is cut, not
    drained to its end."""

    def __init__(
        self, fd: int, cap: int, kill_at: int, flood: str, keep_ends: bool = False
    ) -> None:
        self.fd = fd
        self.cap = cap
        self.kill_at = kill_at
        self.flood = flood
        self.keep_ends = keep_ends
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.closed = False

    def read(self) -> bool:
        """Reads what is available; returns False once more than ``kill_at`` bytes came."""
        try:
            chunk = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            self.closed = True
            return True
        self.total += len(chunk)
        head_room = (self.cap // 2 if self.keep_ends else self.cap + 1) - len(self.head)
        if head_room > 0:
            self.head += chunk[:head_room]
            chunk = chunk[head_room:]
        if self.keep_ends and chunk:
            self.tail += chunk
            keep = self.cap - self.cap // 2
            if len(self.tail) > 2 * keep:  # trim rarely, not on every chunk
                del self.tail[:-keep]
        return self.total <= self.kill_at

    def data(self) -> bytes:
        if not self.keep_ends:
            return bytes(self.head[: self.cap])
        keep = self.cap - self.cap // 2
        tail = bytes(self.tail[-keep:]) if self.tail else b""
        cut = self.total - len(self.head) - len(tail)
        marker = f"\n[... {cut} bytes cut by the sandbox ...]\n".encode() if cut > 0 else b""
        return bytes(self.head) + marker + tail


def run_one(
    code: bytes, timeout: float, cfg: dict[str, Any], workdir: str
) -> tuple[dict[str, Any], list[bytes]]:
    """Fork, collect, kill on deadline or overflow. Returns the reply header and blobs."""
    memory_limit = int(cfg["rlimits"].get("RLIMIT_AS", 0))
    pid, captures, start = _spawn(code, cfg, workdir)
    killed, status = _supervise(pid, captures, start, start + timeout, memory_limit)
    runtime = time.monotonic() - start
    # Grandchildren may still hold the pipes: kill the group, then drain what is buffered.
    proctree.kill_group(pid)
    if status is None:
        _, status = os.waitpid(pid, 0)
    killed = _drain(captures, killed)
    if os.WIFSIGNALED(status):
        exit_code = -os.WTERMSIG(status)
    else:
        exit_code = os.WEXITSTATUS(status)
    header = {"exit_code": exit_code, "killed": killed, "runtime_s": runtime}
    blobs = [capture.data() for capture in captures]  # stdout, stderr, result
    return header, blobs


def _spawn(code: bytes, cfg: dict[str, Any], workdir: str) -> tuple[int, list[_Capture], float]:
    """Fork the child (child.py) with its three pipes. Returns its pid, the captures of
    its stdout, stderr and result record (in that order, non-blocking) and when it began."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r, res_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        for fd in (out_r, err_r, res_r):
            os.close(fd)
        child.child_main(code, workdir, out_w, err_w, res_w, cfg)
    for fd in (out_w, err_w, res_w):
        os.close(fd)
    cap = cfg["max_output_bytes"]
    result_cap = cfg["max_solution_bytes"] + 4096
    flood = kill_reasons.FLOOD_OF_PIPE
    captures = [
        _Capture(out_r, cap, OUTPUT_KILL_FACTOR * cap, flood["stdout"], keep_ends=True),
        _Capture(err_r, cap, OUTPUT_KILL_FACTOR * cap, flood["stderr"], keep_ends=True),
        _Capture(res_r, result_cap, result_cap, flood["result"]),
    ]
    for capture in captures:
        os.set_blocking(capture.fd, False)
    return pid, captures, start


class _MemoryWatchdog:
    """RLIMIT_AS bounds each process alone: every ``MEMORY_CHECK_S`` the whole tree's
    private memory is summed (proctree.py) against the same limit. No limit, no checks."""

    def __init__(self, limit: int, start: float) -> None:
        self.limit = limit
        self.next_check = start + proctree.MEMORY_CHECK_S

    def exceeded(self, now: float) -> bool:
        if not self.limit or now < self.next_check:
            return False
        self.next_check = now + proctree.MEMORY_CHECK_S
        return proctree.tree_memory() > self.limit

    def wait_s(self, now: float, remaining: float) -> float:
        """How long the poll may sleep: until the deadline or the next check."""
        return min(remaining, self.next_check - now) if self.limit else remaining


def _open_pidfd(pid: int) -> int:
    """A descriptor that becomes readable when the child exits; -1 where there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1


def _supervise(
    pid: int, captures: list[_Capture], start: float, deadline: float, memory_limit: int
) -> tuple[str, int | None]:
    """The poll loop: read the pipes as they fill until the child exits, and kill its
    process group at the deadline, on a flood, or when the memory watchdog fires.
    Returns the kill reason (NOT_KILLED if none) and the wait status once it exited."""
    by_fd = {capture.fd: capture for capture in captures}
    pidfd = _open_pidfd(pid)
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    watchdog = _MemoryWatchdog(memory_limit, start)
    try:
        while True:
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                proctree.kill_group(pid)
                return kill_reasons.TIMEOUT, None
            if watchdog.exceeded(now):
                proctree.kill_group(pid)
                return kill_reasons.MEMORY, None
            wait_s = watchdog.wait_s(now, remaining)
            wait_ms = wait_s * 1000 if pidfd >= 0 else min(wait_s * 1000, 5)
            killed = _read_ready(poller, by_fd, pidfd, max(1, wait_ms))
            if killed:
                proctree.kill_group(pid)
                return killed, None
            done, wstatus = os.waitpid(pid, os.WNOHANG)
            if done:
                return kill_reasons.NOT_KILLED, wstatus
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _read_ready(
    poller: select.poll, by_fd: dict[int, _Capture], pidfd: int, wait_ms: float
) -> str:
    """One poll: read every pipe that has data. Returns the flood's kill reason if a pipe
    went past its limit (the last one, if several did), else NOT_KILLED."""
    killed = kill_reasons.NOT_KILLED
    for fd, _event in poller.poll(wait_ms):
        if fd == pidfd:
            continue
        capture = by_fd[fd]
        if not capture.read():
            killed = capture.flood
        if capture.closed:
            poller.unregister(fd)
    return killed


def _drain(captures: list[_Capture], killed: str) -> str:
    """Read what the pipes still buffer, for at most 0.2 s in all, then close them.
    Returns the kill reason, now also a flood found while draining (if none before)."""
    drain_until = time.monotonic() + 0.2
    for capture in captures:
        while not capture.closed and time.monotonic() < drain_until:
            before = capture.total
            if not capture.read() and not killed:
                killed = capture.flood
            if capture.total == before and not capture.closed:
                break
        os.close(capture.fd)
    return killed


# ---------------------------------------------------------------------------------------
# The worker's main loop.


def _import_heavy(modules: list[str]) -> list[str]:
    import importlib

    errors = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - reported to the parent, not fatal
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
    return errors


def _preload(source: str, timeout_s: float) -> list[str]:
    """Run the trusted side's preload (importing a problem's evaluator) once, pre-fork.
    A failure is reported, not fatal: each candidate then retries and fails with the reason.
    An import that hangs is cut at ``timeout_s``, so the worker still starts in time."""
    if not source:
        return []

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"it did not finish within {timeout_s:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        exec(compile(source, "<thetaevolve preload>", "exec"), {"__name__": "__preload__"})
    except BaseException as exc:  # noqa: BLE001 - the user's evaluator may raise anything
        return [f"preload: {type(exc).__name__}: {exc}"]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return []


def _unreachable_python_dirs() -> dict[str, list[str]]:
    """Python directories below an ancestor that others may not traverse (e.g. a pyenv
    under /root, mode 0700), grouped by that ancestor: what an unprivileged candidate would
    otherwise be unable to import from."""
    found: dict[str, list[str]] = {}
    for path in sorted(child.python_dirs()):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            ancestor = "/" + "/".join(parts[:depth])
            if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                paths = found.setdefault(ancestor, [])
                if not any(path == p or path.startswith(p + "/") for p in paths):
                    paths.append(path)
                break
    return found


def _stdlib_readable(cfg: dict[str, Any]) -> bool:
    """Whether a child set up like a candidate can still import from the standard library."""
    uid = cfg.get("uid")
    if uid is None:
        return True
    pid = os.fork()
    if pid == 0:
        try:
            if cfg.get("private_tmp"):
                child.private_mounts("/", uid, 1 << 20, cfg["reexpose"])
            child.drop_privileges(uid)
            os.listdir(os.path.dirname(os.__file__))
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _make_workdir(base: str, counter: int, uid: int | None) -> str:
    path = os.path.join(base, f"c{counter}")
    if os.path.lexists(path):
        proctree.force_rmtree(path)
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def main() -> None:
    proto_in, proto_out = _take_protocol_streams()
    cfg = json.loads(read_frame(proto_in, MAX_HEADER_BYTES))
    ready = _prepare(cfg)
    write_frame(proto_out, json.dumps(ready).encode())
    proto_out.flush()
    _serve(proto_in, proto_out, cfg)


def _take_protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    """Own the original stdin/stdout for the protocol (stray prints go to stderr instead),
    and make this process a safe parent for candidates."""
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    # Orphaned candidate descendants come to us (not to the host's init), to be reaped.
    proctree.LIBC.prctl(proctree.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # Not dumpable: a candidate that shares our uid (started as an ordinary user) cannot
    # ptrace the worker or read its memory to tamper with later candidates.
    proctree.LIBC.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us ends, and the
    # parent starts workers from short-lived threads. EOF on the request pipe ends us instead.
    return proto_in, proto_out


def _prepare(cfg: dict[str, Any]) -> dict[str, Any]:
    """Everything done once, before the first fork, following the init message ``cfg``
    (which gains ``reexpose``). Returns the "ready" message."""
    # A problem folder and our shims (evaluator problems only) come first, as the evaluator's
    # own folder does in OpenEvolve and Shinka; candidates inherit the path.
    sys.path[0:0] = [p for p in cfg.get("import_paths", ()) if p not in sys.path]
    import_errors = _import_heavy([*COMMON_MODULES, *cfg["heavy_modules"]])
    import_errors += _preload(cfg.get("preload", ""), float(cfg.get("preload_timeout_s", 60)))
    # Objects imported so far move out of the collector's sight, so a child's collection
    # does not touch (and copy-on-write) every page of numpy and scipy.
    gc.collect()
    gc.freeze()
    # Fewer page-table entries to copy at every fork (and to free at every child's exit).
    if cfg.get("huge_pages"):
        proctree.collapse_to_huge_pages()
    proctree.baseline_pages = proctree.anon_pages(os.getpid())
    cfg["reexpose"] = _unreachable_python_dirs() if cfg.get("private_tmp") else {}
    if cfg.get("uid") is not None:
        proctree.sweep_uid(cfg["uid"])
    return {
        "ready": True,
        "import_errors": import_errors,
        "stdlib_readable": _stdlib_readable(cfg),
        "stdlib": os.path.dirname(os.__file__),
    }


def _serve(proto_in: BinaryIO, proto_out: BinaryIO, cfg: dict[str, Any]) -> None:
    """Serve run requests one at a time until the parent closes the request pipe: reply
    first, then clean up, then say "clean" (see the module docstring)."""
    uid = cfg.get("uid")
    python_dirs = frozenset(child.python_dirs())  # never emptied out of a shared /tmp
    counter = 0
    while True:
        try:
            request = json.loads(read_frame(proto_in, MAX_HEADER_BYTES))
            code = read_frame(proto_in, cfg["max_code_bytes"])
        except (EOFError, ValueError):
            return
        write_frame(proto_out, b"started")
        proto_out.flush()
        counter += 1
        workdir = _make_workdir(cfg["workdir_base"], counter, uid)
        header, blobs = run_one(code, float(request["timeout"]), {**cfg, **request}, workdir)
        write_frame(proto_out, json.dumps(header).encode())
        for blob in blobs:
            write_frame(proto_out, blob)
        proto_out.flush()
        _clean_after(workdir, cfg, python_dirs)
        # Tells the parent this worker is clean again, before it sends the next candidate.
        write_frame(proto_out, b'{"clean":true}')
        proto_out.flush()


def _clean_after(workdir: str, cfg: dict[str, Any], python_dirs: frozenset[str]) -> None:
    """Kill the last candidate's stragglers and remove what it left behind."""
    proctree.sweep(workdir)
    for shared in cfg.get("clear_dirs", ()):
        proctree.empty_dir(shared, python_dirs)
    if cfg.get("clear_ipc"):
        proctree.clear_sysv_ipc(cfg.get("uid"))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sweep-uid":
        proctree.sweep_uid(int(sys.argv[2]))
    else:
        main()
