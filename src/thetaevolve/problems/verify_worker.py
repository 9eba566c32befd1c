"""The process that imports a native problem and runs its ``verify`` (and ``plot``).

A native ``problem.py`` is the user's own code: trusted not to be hostile, but not trusted
to be correct or quick. So the framework never imports it into its own process. This
script is started by ``thetaevolve.problems.verifier_process`` as

    python verify_worker.py (--file PROBLEM.py | --module NAME) PARENT_PID

imports the problem once, reports what it defines (``describe``), caps its own address
space at what the import mapped plus ``VERIFY_MEMORY_MB``, and then answers requests one
at a time. The parent holds
the deadline: a verify that hangs is killed with its whole process group, and a new worker
takes its place. Standard library only, so that it starts fast and imports nothing of ours
that a problem could shadow.

Messages are frames on stdin / the original stdout: a 4-byte big-endian length, then JSON.
The problem's own prints go to stderr, so they can never corrupt a frame.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import numbers
import os
import resource
import signal
import struct
import sys
import traceback
from typing import Any, BinaryIO

_HERE = os.path.dirname(os.path.abspath(__file__))
# Run by path, Python puts this folder first on sys.path: a problem that imports a module
# called `native` or `registry` must get its own, not ours.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

_LEN = struct.Struct("!I")
MAX_REQUEST_BYTES = 256 << 20
MAX_TEXT = 8000  # feedback and reasons are for prompts and one-line errors: cap them
DEFAULT_MEMORY_MB = 4096
PR_SET_PDEATHSIG = 1

# Every optional or required module-level value the parent validates. Values go back as
# JSON; anything JSON cannot carry is reported by its type so the parent can name it.
VALUE_NAMES = (
    "NAME", "DIRECTION", "STATEMENT", "INITIAL_PROGRAM", "SOLUTION_FORMAT", "SCORE_MEANING",
    "TIMEOUT_S",
    "VERIFY_TIMEOUT_S", "VERIFY_MEMORY_MB", "HEAVY_MODULES", "KNOWN_BOUNDS", "REWARD_RANGE",
)
FUNCTION_NAMES = ("verify", "plot")


def _write_frame(fd: int, data: dict[str, Any]) -> None:
    payload = json.dumps(data, allow_nan=True).encode()
    view = memoryview(_LEN.pack(len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def _read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    head = stream.read(_LEN.size)
    if len(head) < _LEN.size:
        return None  # the parent closed the pipe: it is done with us
    (size,) = _LEN.unpack(head)
    if size > MAX_REQUEST_BYTES:
        raise ValueError(f"request of {size} bytes")
    body = stream.read(size)
    if len(body) < size:
        return None
    return json.loads(body)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 20] + " [... cut ...]"


def _die_with_parent(parent_pid: int) -> None:
    """A worker stuck in a verify must not outlive the run that started it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - not Linux: the closed pipe still ends us
        pass
    if os.getppid() != parent_pid:
        os._exit(0)


def _load(mode: str, target: str) -> Any:
    if mode == "--module":
        return importlib.import_module(target)
    folder = os.path.dirname(os.path.abspath(target))
    sys.path.insert(0, folder)  # sibling helper modules import, as they would for the user
    name = os.path.splitext(os.path.basename(target))[0]
    spec = importlib.util.spec_from_file_location(name, target)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {target}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _load_error(exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type(exc).__name__, "message": _cut(str(exc))}
    if isinstance(exc, SyntaxError):
        error.update(filename=exc.filename, lineno=exc.lineno, message=_cut(exc.msg or ""))
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            error.update(filename=frames[-1].filename, lineno=frames[-1].lineno)
        error["traceback"] = _cut("".join(traceback.format_exception(exc)))
    return error


def _describe_value(value: Any) -> dict[str, Any]:
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        return {"type": type(value).__name__, "json": False}
    return {"type": type(value).__name__, "json": True, "value": value}


def _describe_function(value: Any, probe: tuple[tuple[Any, ...], dict[str, Any]]) -> dict[str, Any]:
    if not callable(value):
        return {"callable": False, "type": type(value).__name__}
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):
        return {"callable": True, "signature": "?", "binds": True}
    try:
        signature.bind(*probe[0], **probe[1])
        binds = True
    except TypeError:
        binds = False
    return {"callable": True, "signature": str(signature), "binds": binds}


def describe(module: Any) -> dict[str, Any]:
    values = {n: _describe_value(getattr(module, n)) for n in VALUE_NAMES if hasattr(module, n)}
    probes = {"verify": ((None,), {"tol": 0.0}), "plot": ((None, "solution.png"), {})}
    functions = {
        n: _describe_function(getattr(module, n), probes[n])
        for n in FUNCTION_NAMES if hasattr(module, n)
    }
    return {"values": values, "functions": functions, "file": getattr(module, "__file__", None)}


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _cap_memory(module: Any) -> int | None:
    megabytes = getattr(module, "VERIFY_MEMORY_MB", DEFAULT_MEMORY_MB)
    if isinstance(megabytes, bool) or not isinstance(megabytes, int) or megabytes <= 0:
        return None  # the parent rejects the value and stops this worker
    # On top of what importing the problem already mapped: a problem that imports a large
    # library (whose address space is mostly reserved, not used) keeps its full allowance.
    limit = _mapped_bytes() + (megabytes << 20)
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return megabytes


class _BadReturn(Exception):
    pass


def _score_of(value: Any) -> tuple[float, str]:
    feedback = ""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        value, feedback = value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise _BadReturn(
            f"verify returned {type(value).__name__} {shown}; it must return a finite number "
            "(or a (number, feedback text) pair)"
        )
    score = float(value)
    if not math.isfinite(score):
        raise _BadReturn(f"verify returned {score}; the score must be a finite number")
    return score, feedback


def _verify(module: Any, request: dict[str, Any], memory_mb: int | None) -> dict[str, Any]:
    try:
        score, feedback = _score_of(module.verify(request["solution"], tol=request["tol"]))
    except _BadReturn as exc:
        return {"status": "error", "reason": str(exc)}
    except ValueError as exc:  # the contract: invalid data raises ValueError with a reason
        return {"status": "invalid", "reason": _cut(str(exc) or type(exc).__name__)}
    except MemoryError:
        return {"status": "error", "restart": True,
                "reason": f"verify ran out of memory (VERIFY_MEMORY_MB = {memory_mb})"}
    except Exception as exc:  # noqa: BLE001 - an unexpected exception is the problem's bug
        return {"status": "error", "reason": _cut(f"verify raised {type(exc).__name__}: {exc}"),
                "traceback": _cut(traceback.format_exc())}
    except BaseException as exc:  # SystemExit and the like: report, then start afresh
        return {"status": "error", "restart": True,
                "reason": _cut(f"verify raised {type(exc).__name__}: {exc}")}
    return {"status": "ok", "score": score, "feedback": _cut(feedback)}


def _plot(module: Any, request: dict[str, Any]) -> dict[str, Any]:
    try:
        module.plot(request["solution"], request["path"])
    except BaseException as exc:  # noqa: BLE001 - a picture is never worth a crash
        return {"status": "error", "reason": _cut(f"plot raised {type(exc).__name__}: {exc}"),
                "restart": not isinstance(exc, Exception)}
    return {"status": "ok"}


def main(argv: list[str]) -> int:
    mode, target, parent_pid = argv[0], argv[1], int(argv[2])
    _die_with_parent(parent_pid)
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the problem's prints (Python or C level) go to stderr
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    try:
        module = _load(mode, target)
    except BaseException as exc:  # noqa: BLE001 - a broken problem file is reported, not raised
        _write_frame(reply_fd, {"ready": False, "error": _load_error(exc)})
        return 0
    memory_mb = _cap_memory(module)
    _write_frame(reply_fd, {"ready": True, "describe": describe(module), "memory_mb": memory_mb})
    while True:
        request = _read_frame(requests)
        if request is None:
            return 0
        op = request.get("op")
        if op == "verify" and callable(getattr(module, "verify", None)):
            reply = _verify(module, request, memory_mb)
        elif op == "plot" and callable(getattr(module, "plot", None)):
            reply = _plot(module, request)
        else:
            reply = {"status": "error", "reason": f"unknown request {op!r}"}
        _write_frame(reply_fd, reply)
        if reply.get("restart"):
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
