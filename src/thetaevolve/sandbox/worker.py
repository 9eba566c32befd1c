"""The sandbox worker: a pre-started process that forks one fresh child per candidate.

This file runs as a script (``python -I worker.py``), possibly inside bubblewrap where the
``thetaevolve`` package is not visible, so it imports nothing but the standard library.
The trusted parent also imports it, for the message framing only.

Life of a worker: read an init message (limits, heavy modules, candidate uid), import
the heavy modules once, answer "ready", then serve run requests one at a time. For each
request it forks a child that becomes its own session, sets rlimits, drops to the
candidate uid (when started as root), runs the candidate's ``solve()`` and writes the
solution JSON to fd 3. The worker collects stdout/stderr/result under size caps, enforces
the wall-clock deadline by killing the child's whole process group, replies, and only then
cleans up (kills every straggler, which as a child subreaper it finds among its own
children, and removes the private directory), so cleanup never delays a reply.

The worker never runs candidate code itself and never parses the solution: the bytes go
back as they are, and the trusted side parses them defensively.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import resource
import select
import shutil
import signal
import struct
import sys
import time
import traceback
from typing import Any, BinaryIO

_LEN = struct.Struct("!I")
MAX_HEADER_BYTES = 1 << 16
RESULT_FD = 3
# Exit codes of the child that the harness itself chooses; anything else is the candidate's.
EXIT_HANDED_BACK = 0  # a record (solution or error) was written to RESULT_FD
EXIT_SETUP_FAILED = 121  # the sandbox could not set the child up (never the candidate's fault)


# ---------------------------------------------------------------------------------------
# Framing, shared with the trusted parent: a 4-byte big-endian length, then the bytes.


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


# ---------------------------------------------------------------------------------------
# Inside the child: turning the candidate's return value into JSON text.


class _Unconvertible(Exception):
    """The solution holds something that is not plain data."""


def _to_plain(value: Any, depth: int = 0) -> Any:
    """Plain JSON-able data from numpy arrays, numpy scalars, tuples; refuses the rest."""
    if depth > 64:
        raise _Unconvertible("nested deeper than 64 levels")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Unconvertible(f"dict key {key!r} is a {type(key).__name__}, not a str")
            out[key] = _to_plain(item, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_to_plain(item, depth + 1) for item in value]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.ndarray):
            if value.dtype.kind not in "biuf":
                raise _Unconvertible(f"numpy array of dtype {value.dtype} is not numeric")
            return _to_plain(value.tolist(), depth + 1)
        if isinstance(value, numpy.generic):
            return _to_plain(value.item(), depth + 1)
    raise _Unconvertible(f"a value of type {type(value).__name__} is not plain data")


def _array_too_big(value: Any, max_bytes: int, depth: int = 0) -> bool:
    """Cheap pre-check so a huge array is refused before ``tolist`` blows up memory."""
    numpy = sys.modules.get("numpy")
    if numpy is None or depth > 64:
        return False
    if isinstance(value, numpy.ndarray):
        return value.size * 2 > max_bytes  # every element takes at least 2 JSON bytes
    if isinstance(value, dict):
        return any(_array_too_big(v, max_bytes, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_array_too_big(v, max_bytes, depth + 1) for v in value[:1000])
    return False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _record(kind: str, message: str) -> bytes:
    return json.dumps({"error": kind, "message": message[:4000]}).encode()


def _run_candidate(code: bytes, entry_point: str, max_bytes: int) -> int:
    """Execute the candidate and hand its solution (or a typed error) to RESULT_FD."""
    try:
        namespace: dict[str, Any] = {"__name__": "candidate", "__file__": "candidate.py"}
        exec(compile(code, "candidate.py", "exec"), namespace)
        solve = namespace.get(entry_point)
        if not callable(solve):
            _write_all(RESULT_FD, _record("no_entry", f"the program defines no {entry_point}()"))
            return 1
        value = solve()
        if value is None:
            _write_all(RESULT_FD, _record("none", f"{entry_point}() returned None"))
            return 0
        if not isinstance(value, dict):
            message = f"{entry_point}() must return a dict, got {type(value).__name__}"
            _write_all(RESULT_FD, _record("malformed", message))
            return 0
        if _array_too_big(value, max_bytes):
            _write_all(RESULT_FD, _record("malformed", f"solution exceeds {max_bytes} bytes"))
            return 0
        try:
            text = json.dumps(_to_plain(value), allow_nan=True, separators=(",", ":"))
        except _Unconvertible as exc:
            _write_all(RESULT_FD, _record("malformed", f"solution is not plain data: {exc}"))
            return 0
        except (RecursionError, ValueError) as exc:
            _write_all(RESULT_FD, _record("malformed", f"solution is not JSON data: {exc}"))
            return 0
        if len(text) > max_bytes:
            _write_all(RESULT_FD, _record("malformed", f"solution exceeds {max_bytes} bytes"))
            return 0
        _write_all(RESULT_FD, b'{"solution":' + text.encode() + b"}")
        return 0
    except MemoryError:
        # Free what we can before formatting the message.
        namespace = {}
        _write_all(RESULT_FD, _record("memory", "MemoryError: the memory limit was reached"))
        return 1
    except BaseException as exc:  # noqa: BLE001 - any failure of the candidate is data
        if isinstance(exc, SystemExit) and exc.code in (None, 0):
            return 0
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
        try:
            _write_all(RESULT_FD, _record("exception", line))
        except OSError:
            pass
        return exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1


_LIBC = ctypes.CDLL(None, use_errno=True)
# Loaded before any fork: a candidate running as an unprivileged uid may be unable to read
# an interpreter installed under /root, so what it commonly imports must already be here.
COMMON_MODULES = (
    "math", "cmath", "random", "itertools", "functools", "collections", "heapq", "bisect",
    "copy", "dataclasses", "fractions", "decimal", "statistics", "typing", "re", "time",
    "string", "operator", "array", "struct", "enum", "abc", "numbers", "warnings",
    "subprocess", "signal", "socket", "tempfile", "pathlib", "threading",
)


PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
PR_SET_CHILD_SUBREAPER = 36


MS_NOSUID = 2
MS_NODEV = 4
MS_REC = 16384
MS_PRIVATE = 1 << 18


def _mount(source: bytes, target: bytes, fstype: bytes | None, flags: int, data: bytes | None) -> None:
    if _LIBC.mount(source, target, fstype, flags, data) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target.decode()}: {os.strerror(errno)}")


def _private_tmp(fallback: str, uid: int, size: int) -> str:
    """Root without bwrap: give the candidate fresh, size-capped /tmp, /var/tmp and /dev/shm
    in a mount namespace of its own, so it can neither fill the host's disk through them
    nor leave files there for the next candidate. They vanish with its last process."""
    if _LIBC.unshare(CLONE_NEWNS) != 0:
        return fallback  # no CAP_SYS_ADMIN here (some containers): the host directory it is
    _mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    for path, room in (("/tmp", size), ("/var/tmp", 4096), ("/dev/shm", 4096)):
        if os.path.isdir(path) and not os.path.islink(path):
            options = f"size={room},mode=0755".encode()
            _mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options)
    workdir = "/tmp/work"
    os.mkdir(workdir, 0o700)
    os.chown(workdir, uid, uid)
    return workdir


def _child_main(
    code: bytes, workdir: str, out_w: int, err_w: int, res_w: int, cfg: dict[str, Any]
) -> None:
    """Runs in the forked child; never returns."""
    status = EXIT_SETUP_FAILED
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.dup2(res_w, RESULT_FD)
        # Nothing else may leak into the candidate: above all not the pipes to the parent.
        os.closerange(RESULT_FD + 1, 1 << 20)
        if cfg.get("private_tmp"):
            workdir = _private_tmp(workdir, cfg["uid"], cfg["tmp_bytes"])
        os.chdir(workdir)
        for name, value in cfg["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        if cfg.get("unshare_net"):
            # Root without bwrap: an empty network namespace costs about a millisecond.
            _LIBC.unshare(CLONE_NEWNET)
        uid = cfg.get("uid")
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        # Set after the uid change, which clears it.
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        os.environ["HOME"] = workdir
        os.environ["TMPDIR"] = workdir
        sys.argv = ["candidate.py"]
        status = _run_candidate(code, cfg["entry_point"], cfg["max_solution_bytes"])
    except BaseException as exc:  # noqa: BLE001 - a setup failure must still end the child
        try:
            os.write(2, f"sandbox setup failed: {type(exc).__name__}: {exc}\n".encode())
        except BaseException:  # noqa: BLE001
            pass
        status = EXIT_SETUP_FAILED
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        os._exit(status if 0 <= status < 256 else 1)


# ---------------------------------------------------------------------------------------
# In the worker: run one candidate and collect what it hands back.


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


class _Capture:
    """One output pipe read into memory up to a cap."""

    def __init__(self, fd: int, cap: int) -> None:
        self.fd = fd
        self.cap = cap
        self.data = bytearray()
        self.closed = False

    def read(self) -> bool:
        """Reads what is available; returns False when the cap is exceeded."""
        try:
            chunk = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return True
        if not chunk:
            self.closed = True
            return True
        room = self.cap + 1 - len(self.data)
        self.data += chunk[:room]
        return len(self.data) <= self.cap


# RLIMIT_AS bounds each process, not their sum: a candidate that forks 60 children could
# still take 60 times the limit. So the worker also sums its descendants' private memory.
MEMORY_CHECK_S = 0.1
_PAGE = os.sysconf("SC_PAGE_SIZE")
_baseline_pages = 0  # the worker's own anonymous pages, which every child starts sharing


def _anon_pages(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            fields = fh.read().split()
        return int(fields[1]) - int(fields[2])  # resident minus file-backed and shared
    except (OSError, IndexError, ValueError):
        return 0


def _task_children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(x) for x in fh.read().split())
    except (OSError, ValueError):
        pass
    return found


def _tree_memory() -> int:
    """Bytes of anonymous memory in all our descendants beyond what they share with us."""
    total = 0
    pending = _task_children(os.getpid())
    seen: set[int] = set()
    while pending and len(seen) < 10_000:
        pid = pending.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += max(0, _anon_pages(pid) - _baseline_pages)
        pending.extend(_task_children(pid))
    return total * _PAGE


def run_one(code: bytes, timeout: float, cfg: dict[str, Any], workdir: str) -> tuple[dict, list[bytes]]:
    """Fork, collect, kill on deadline or overflow. Returns the reply header and blobs."""
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
        _child_main(code, workdir, out_w, err_w, res_w, cfg)
    for fd in (out_w, err_w, res_w):
        os.close(fd)
    captures = {
        out_r: _Capture(out_r, cfg["max_output_bytes"]),
        err_r: _Capture(err_r, cfg["max_output_bytes"]),
        res_r: _Capture(res_r, cfg["max_solution_bytes"] + 4096),
    }
    names = {out_r: "stdout", err_r: "stderr", res_r: "result"}
    for fd in captures:
        os.set_blocking(fd, False)
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    deadline = start + timeout
    killed = ""
    status: int | None = None
    poller = select.poll()
    for fd in captures:
        poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    memory_limit = int(cfg["rlimits"].get("RLIMIT_AS", 0))
    next_memory_check = start + MEMORY_CHECK_S
    while status is None:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            killed = "timeout"
            _kill_group(pid)
            break
        if memory_limit and now >= next_memory_check:
            next_memory_check = now + MEMORY_CHECK_S
            if _tree_memory() > memory_limit:
                killed = "memory"
                _kill_group(pid)
                break
        wait_s = min(remaining, next_memory_check - now) if memory_limit else remaining
        wait_ms = wait_s * 1000 if pidfd >= 0 else min(wait_s * 1000, 5)
        for fd, _event in poller.poll(max(1, wait_ms)):
            if fd == pidfd:
                continue
            capture = captures[fd]
            if not capture.read():
                killed = f"{names[fd]}_cap"
            if capture.closed:
                poller.unregister(fd)
        if killed:
            _kill_group(pid)
            break
        done, wstatus = os.waitpid(pid, os.WNOHANG)
        if done:
            status = wstatus
    runtime = time.monotonic() - start
    # Grandchildren may still hold the pipes: kill the group, then drain what is buffered.
    _kill_group(pid)
    if status is None:
        _, status = os.waitpid(pid, 0)
    if pidfd >= 0:
        os.close(pidfd)
    drain_until = time.monotonic() + 0.2
    for fd, capture in captures.items():
        while not capture.closed and time.monotonic() < drain_until:
            before = len(capture.data)
            if not capture.read() and not killed:
                killed = f"{names[fd]}_cap"
            if len(capture.data) == before and not capture.closed:
                break
        os.close(fd)
    if os.WIFSIGNALED(status):
        exit_code = -os.WTERMSIG(status)
    else:
        exit_code = os.WEXITSTATUS(status)
    header = {"exit_code": exit_code, "killed": killed, "runtime_s": runtime}
    blobs = [bytes(c.data[: c.cap]) for c in (captures[out_r], captures[err_r], captures[res_r])]
    return header, blobs


# ---------------------------------------------------------------------------------------
# Cleanup after a candidate, off the critical path.


def _force_rmtree(path: str) -> None:
    def fix(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


def sweep(workdir: str) -> None:
    """Kill whatever the last candidate left running and remove its directory.

    The worker is a child subreaper, so every straggler, even one that escaped the
    process group with setsid and a double fork, is a descendant of ours: killing our
    children until none is left (each death hands its children to us) gets them all.
    """
    give_up = time.monotonic() + 5.0
    while True:
        _reap_orphans()
        children = _children()
        if not children or time.monotonic() > give_up:
            break
        for pid in children:
            _kill_group(pid)
        time.sleep(0.001)
    if os.path.lexists(workdir):
        _force_rmtree(workdir)


def _children() -> list[int]:
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children") as fh:
            return [int(pid) for pid in fh.read().split()]
    except OSError:
        pass
    found = []  # kernels without CONFIG_PROC_CHILDREN: scan for our pid as parent
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == str(me):
            found.append(int(entry))
    return found


def sweep_uid(uid: int) -> None:
    """At startup: kill anything still running as our leased uid, e.g. stragglers of a
    worker that died before it could clean up (they are no descendants of ours)."""
    helper = os.fork()
    if helper == 0:
        code = 0
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            # kill(-1) succeeds whenever any other process exists, so check by signal 0.
            give_up = time.monotonic() + 5.0
            while time.monotonic() < give_up:
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                if not _has_processes(os.getpid()):
                    break
                time.sleep(0.002)
        except BaseException:  # noqa: BLE001
            code = 1
        os._exit(code)
    os.waitpid(helper, 0)


def _has_processes(me: int) -> bool:
    """Whether any process but ``me`` is still signalable, i.e. runs as our uid.

    Tested with signal 0 rather than by /proc ownership: a process that changed uid is not
    dumpable, and its /proc entry belongs to root.
    """
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                os.kill(int(entry), 0)
                return True
            except OSError:
                pass
    return False


def _reap_orphans() -> None:
    """Collect zombies of orphaned candidate descendants reparented to us."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


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


def _stdlib_readable(uid: int | None) -> bool:
    """Whether a child running as ``uid`` can still import from the standard library."""
    if uid is None:
        return True
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            os.listdir(os.path.dirname(os.__file__))
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def _make_workdir(base: str, counter: int, uid: int | None) -> str:
    path = os.path.join(base, f"c{counter}")
    if os.path.lexists(path):
        _force_rmtree(path)
    os.mkdir(path, 0o700)
    if uid is not None:
        os.chown(path, uid, uid)
    return path


def main() -> None:
    # The protocol owns the original stdin/stdout; stray prints go to stderr instead.
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    # Orphaned candidate descendants come to us (not to the host's init), to be reaped.
    _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    # No PR_SET_PDEATHSIG here: it fires when the *thread* that started us ends, and the
    # parent starts workers from short-lived threads. EOF on the request pipe ends us instead.
    cfg = json.loads(read_frame(proto_in, MAX_HEADER_BYTES))
    import_errors = _import_heavy([*COMMON_MODULES, *cfg["heavy_modules"]])
    # Objects imported so far move out of the collector's sight, so a child's collection
    # does not touch (and copy-on-write) every page of numpy and scipy.
    gc.collect()
    gc.freeze()
    global _baseline_pages
    _baseline_pages = _anon_pages(os.getpid())
    uid = cfg.get("uid")
    base = cfg["workdir_base"]
    if uid is not None:
        sweep_uid(uid)
    ready = {
        "ready": True,
        "import_errors": import_errors,
        "stdlib_readable": _stdlib_readable(uid),
        "stdlib": os.path.dirname(os.__file__),
    }
    write_frame(proto_out, json.dumps(ready).encode())
    proto_out.flush()
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
        workdir = _make_workdir(base, counter, uid)
        header, blobs = run_one(code, float(request["timeout"]), {**cfg, **request}, workdir)
        write_frame(proto_out, json.dumps(header).encode())
        for blob in blobs:
            write_frame(proto_out, blob)
        proto_out.flush()
        sweep(workdir)
        # Tells the parent this worker is clean again, before it sends the next candidate.
        write_frame(proto_out, b'{"clean":true}')
        proto_out.flush()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--sweep-uid":
        sweep_uid(int(sys.argv[2]))
    else:
        main()
