"""What runs inside the forked child: lock it down, then run the candidate's ``solve()``.

Standard library only (see worker.py). Setup failures exit with EXIT_SETUP_FAILED and a
line on stderr; everything the candidate does ends as a record on RESULT_FD (a solution or
a typed error) or as an exit status the trusted side classifies.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import traceback
from typing import Any, Iterable

if __package__:  # imported by the trusted side, or by a worker imported from the package
    from thetaevolve.sandbox import kill_reasons
else:  # imported by a worker run by path, with this folder on sys.path (worker.py)
    import kill_reasons  # type: ignore[no-redef]

RESULT_FD = 3
EXIT_SETUP_FAILED = 121  # the sandbox could not set the child up (never the candidate's fault)

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000

MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_BIND = 4096
MS_MOVE = 8192


# Turning the candidate's return value into JSON text.


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


def _write_error(kind: str, message: str) -> None:
    """Hand back an error record (a kind from kill_reasons) instead of a solution."""
    _write_all(RESULT_FD, _record(kind, message))


def _run_candidate(code: bytes, entry_point: str, max_bytes: int) -> int:
    """Execute the candidate and hand its solution (or a typed error) to RESULT_FD."""
    try:
        namespace: dict[str, Any] = {"__name__": "candidate", "__file__": "candidate.py"}
        exec(compile(code, "candidate.py", "exec"), namespace)
        solve = namespace.get(entry_point)
        if not callable(solve):
            _write_error(kill_reasons.ERROR_NO_ENTRY, f"the program defines no {entry_point}()")
            return 1
        value = solve()
        if value is None:
            _write_error(kill_reasons.ERROR_NONE, f"{entry_point}() returned None")
            return 0
        if not isinstance(value, dict):
            message = f"{entry_point}() must return a dict, got {type(value).__name__}"
            _write_error(kill_reasons.ERROR_MALFORMED, message)
            return 0
        if _array_too_big(value, max_bytes):
            _write_error(kill_reasons.ERROR_MALFORMED, f"solution exceeds {max_bytes} bytes")
            return 0
        try:
            text = json.dumps(_to_plain(value), allow_nan=True, separators=(",", ":"))
        except _Unconvertible as exc:
            _write_error(kill_reasons.ERROR_MALFORMED, f"solution is not plain data: {exc}")
            return 0
        except (RecursionError, ValueError) as exc:
            _write_error(kill_reasons.ERROR_MALFORMED, f"solution is not JSON data: {exc}")
            return 0
        if len(text) > max_bytes:
            _write_error(kill_reasons.ERROR_MALFORMED, f"solution exceeds {max_bytes} bytes")
            return 0
        _write_all(RESULT_FD, b'{"solution":' + text.encode() + b"}")
        return 0
    except MemoryError:
        namespace = {}  # free what we can before formatting the message
        try:
            _write_error(kill_reasons.ERROR_MEMORY, "MemoryError: the memory limit was reached")
        except (OSError, MemoryError):
            pass
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
            _write_error(kill_reasons.ERROR_EXCEPTION, line)
        except OSError:
            pass
        return exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1


# Lock-down of the child, before any candidate code runs.


def _mount(
    source: bytes, target: bytes, fstype: bytes | None, flags: int, data: bytes | None
) -> None:
    if LIBC.mount(source, target, fstype, flags, data) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {target.decode()}: {os.strerror(errno)}")


def private_mounts(fallback: str, uid: int, size: int, reexpose: dict[str, list[str]]) -> str:
    """Root without bwrap: a mount namespace of the candidate's own, where

    - /tmp and the other world-writable places (/var/tmp, /dev/shm, /run/lock, ...) are
      fresh size-capped tmpfs, so the candidate can neither fill the host's disk through
      them nor leave files there for the next candidate (they vanish with its last
      process); its working directory lives in the new /tmp;
    - /proc is a fresh instance that hides other users' processes;
    - a directory its uid cannot traverse (``reexpose`` keys, e.g. /root with 0700) is
      covered by an empty one, into which the Python installation found below it (the
      values, e.g. /root/.pyenv) is bound back at the same path, so imports keep working
      and nothing else there is visible.

    Returns the working directory; ``fallback`` where namespaces are not allowed here.
    """
    if LIBC.unshare(CLONE_NEWNS) != 0:
        return fallback  # no CAP_SYS_ADMIN (some containers): the host directory it is
    _mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None)
    # A virtualenv or checkout under /tmp (a CI clone, say) must stay importable once a
    # fresh tmpfs covers /tmp: hold each such directory open now, bind it back after.
    held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY))
            for path in outermost_paths(p for p in python_dirs() if _under(p, _COVERED))]
    flags = MS_NOSUID | MS_NODEV
    _mount(b"tmpfs", b"/tmp", b"tmpfs", flags, f"size={size},mode=0755".encode())
    for path in _COVERED[1:]:
        if os.path.isdir(path) and not os.path.islink(path):
            try:
                _mount(b"tmpfs", path.encode(), b"tmpfs", flags, b"size=4096,mode=0755")
            except OSError:
                pass  # an odd host layout: that place stays as it is
    for path, fd in held:
        _make_dirs(path)
        _mount(f"/proc/self/fd/{fd}".encode(), path.encode(), None, MS_BIND | MS_REC, None)
        os.close(fd)
    try:
        # Its own view of /proc: other users' processes (their command lines) are hidden.
        _mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"hidepid=2")
    except OSError:
        pass  # kernels before 5.8 share one set of procfs options: keep the host's view
    for top, paths in reexpose.items():
        stashed = []
        for i, path in enumerate(paths):
            stash = f"/tmp/.reexpose{i}"
            os.mkdir(stash, 0o755)
            _mount(path.encode(), stash.encode(), None, MS_BIND | MS_REC, None)
            stashed.append((stash, path))
        _mount(b"tmpfs", top.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=65536,mode=0755")
        for stash, path in stashed:
            _make_dirs(path)
            _mount(stash.encode(), path.encode(), None, MS_MOVE, None)
            os.rmdir(stash)
    workdir = "/tmp/work"
    os.mkdir(workdir, 0o700)
    os.chown(workdir, uid, uid)
    return workdir


# World-writable places that get a fresh tmpfs in the candidate's mount namespace.
_COVERED = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue")


def python_dirs() -> set[str]:
    """Where this interpreter imports from: its prefixes and the directories on sys.path."""
    dirs = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    dirs |= {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    return dirs


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path.startswith(root + "/") for root in roots)


def outermost_paths(paths: Iterable[str]) -> list[str]:
    """The paths that are not inside another one of them (binding those covers the rest)."""
    kept: list[str] = []
    for path in sorted(set(paths)):
        if not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    return kept


def _make_dirs(path: str) -> None:
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts) + 1):
        current = "/" + "/".join(parts[:depth])
        if not os.path.isdir(current):
            os.mkdir(current)
            os.chmod(current, 0o755)


def drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def child_main(
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
            workdir = private_mounts(workdir, cfg["uid"], cfg["tmp_bytes"], cfg["reexpose"])
        os.chdir(workdir)
        for name, value in cfg["rlimits"].items():
            resource.setrlimit(getattr(resource, name), (value, value))
        if cfg.get("unshare_net"):
            # Root without bwrap: an empty network namespace and SysV IPC of its own cost
            # about a millisecond; where they are not allowed, the candidate goes without.
            LIBC.unshare(CLONE_NEWNET | CLONE_NEWIPC)
        uid = cfg.get("uid")
        if uid is not None:
            drop_privileges(uid)
        LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        # Set after the uid change, which clears it.
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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
