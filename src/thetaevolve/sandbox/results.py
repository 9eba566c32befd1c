"""Trusted side: turn what a worker reports about one child into a typed ``RunResult``.

Everything here is untrusted bytes (the candidate wrote the result record, and could have
written anything to its result channel), so it is parsed under size caps and any surprise
becomes MALFORMED_OUTPUT, never an exception. How each kill reason and each kind of error
record reads (sandbox/kill_reasons.py) is a table here: ``KILLS`` and ``ERROR_RECORDS``.
"""

from __future__ import annotations

import json
import math
import signal
from typing import Any, NamedTuple

from thetaevolve.sandbox import kill_reasons
from thetaevolve.sandbox.child import EXIT_SETUP_FAILED
from thetaevolve.types import Outcome, RunResult

DETAIL_CHARS = 2000


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _text(blob: bytes) -> str:
    return blob.decode("utf-8", errors="replace")


def parse_solution_record(blob: bytes, max_bytes: int) -> tuple[dict[str, Any] | None, str]:
    """The record the harness wrote: ``({"solution": ...} or {"error": ...}, problem)``."""
    if len(blob) > max_bytes:
        return None, f"the result record exceeds {max_bytes} bytes"
    try:
        # NaN and inf are kept as floats: they are data for the verifier to reject.
        record = json.loads(blob)
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, f"the result record is not valid JSON: {str(exc)[:200]}"
    if not isinstance(record, dict):
        return None, "the result record is not a JSON object"
    return record, ""


# How each kill of the worker reads: the outcome and its detail, formatted with
# ``timeout_s`` and ``max_solution_bytes``. Any other kill reason is a CRASH.
KILLS: dict[str, tuple[Outcome, str]] = {
    kill_reasons.TIMEOUT: (Outcome.TIMEOUT, "killed after the {timeout_s:g} s deadline"),
    kill_reasons.MEMORY: (
        Outcome.MEMORY, "killed: its processes together exceeded the memory limit"
    ),
    kill_reasons.STDOUT_CAP: (Outcome.CRASH, "killed: stdout flooded far past the output cap"),
    kill_reasons.STDERR_CAP: (Outcome.CRASH, "killed: stderr flooded far past the output cap"),
    kill_reasons.RESULT_CAP: (
        Outcome.MALFORMED_OUTPUT, "killed: the solution exceeded {max_solution_bytes} bytes"
    ),
}

# How each kind of error record reads: the outcome and the detail used when the record
# carries no message. Any other kind is a CRASH ("exited with code N" without a message).
ERROR_RECORDS: dict[str, tuple[Outcome, str]] = {
    kill_reasons.ERROR_MEMORY: (Outcome.MEMORY, "the memory limit was reached"),
    kill_reasons.ERROR_MALFORMED: (Outcome.MALFORMED_OUTPUT, ""),
    kill_reasons.ERROR_NONE: (Outcome.NO_OUTPUT, ""),
}


class _Failure(NamedTuple):
    outcome: Outcome
    detail: str


def to_run_result(
    header: dict[str, Any],
    stdout: bytes,
    stderr: bytes,
    result: bytes,
    *,
    timeout_s: float,
    max_solution_bytes: int,
) -> RunResult:
    """Classify one child's run. The order matters: our own kills first, then the record."""
    exit_code = header.get("exit_code")
    exit_code = exit_code if isinstance(exit_code, int) else None
    killed = header.get("killed") or kill_reasons.NOT_KILLED
    verdict = _kill_failure(killed, exit_code, timeout_s, max_solution_bytes) or _record_verdict(
        result, stderr, exit_code, max_solution_bytes
    )
    out, err, runtime = _text(stdout), _text(stderr), _runtime(header.get("runtime_s"))
    if isinstance(verdict, _Failure):
        return RunResult(
            solution=None, outcome=verdict.outcome, detail=verdict.detail[:DETAIL_CHARS],
            stdout=out, stderr=err, runtime_s=runtime, exit_code=exit_code,
        )
    return RunResult(
        solution=verdict, outcome=Outcome.OK,
        stdout=out, stderr=err, runtime_s=runtime, exit_code=exit_code,
    )


def _runtime(value: object) -> float:
    """The worker's measured runtime; 0 when it is not a finite number."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return 0.0


def _kill_failure(
    killed: object, exit_code: int | None, timeout_s: float, max_solution_bytes: int
) -> _Failure | None:
    """The worker killed the child, or a signal did: the record, if any, does not count."""
    if isinstance(killed, str) and killed in KILLS:
        outcome, template = KILLS[killed]
        detail = template.format(timeout_s=timeout_s, max_solution_bytes=max_solution_bytes)
        return _Failure(outcome, detail)
    if killed:
        return _Failure(Outcome.CRASH, f"killed by the sandbox ({str(killed)[:100]})")
    if exit_code is not None and exit_code < 0:
        if -exit_code == signal.SIGXCPU:
            return _Failure(Outcome.TIMEOUT, "killed by SIGXCPU: the CPU-time limit was reached")
        return _Failure(Outcome.CRASH, f"killed by {_signal_name(-exit_code)}")
    return None


def _record_verdict(
    result: bytes, stderr: bytes, exit_code: int | None, max_solution_bytes: int
) -> _Failure | dict[str, Any]:
    """The child ended by itself: what its result record says, a failure or the solution."""
    record: dict[str, Any] | None = None
    problem = ""
    if result:
        record, problem = parse_solution_record(result, max_solution_bytes + 4096)
    if record is None:
        if problem:
            return _Failure(Outcome.MALFORMED_OUTPUT, problem)
        return _missing_record_failure(stderr, exit_code)
    if "error" in record:
        return _error_record_failure(record, exit_code)
    solution = record.get("solution")
    if not isinstance(solution, dict):
        return _Failure(Outcome.MALFORMED_OUTPUT, "the solution is not a JSON object")
    if exit_code != 0:
        detail = f"exited with code {exit_code} after handing back a solution"
        return _Failure(Outcome.CRASH, detail)
    return solution


def _missing_record_failure(stderr: bytes, exit_code: int | None) -> _Failure:
    """No record at all: the sandbox's own setup failed, or the program never handed one."""
    if exit_code == EXIT_SETUP_FAILED and stderr.startswith(b"sandbox setup failed"):
        reason = _text(stderr).splitlines()[0]
        return _Failure(Outcome.CRASH, f"the sandbox could not start the program ({reason})")
    if exit_code == 0:
        return _Failure(Outcome.NO_OUTPUT, "the program exited without handing back a solution")
    return _Failure(Outcome.CRASH, f"exited with code {exit_code} and no solution")


def _error_record_failure(record: dict[str, Any], exit_code: int | None) -> _Failure:
    """An error record (child.py): its kind picks the outcome, its message is the detail."""
    kind = record.get("error")
    message = record.get("message")
    message = message if isinstance(message, str) else ""
    if isinstance(kind, str) and kind in ERROR_RECORDS:
        outcome, fallback = ERROR_RECORDS[kind]
        return _Failure(outcome, message or fallback)
    return _Failure(Outcome.CRASH, message or f"exited with code {exit_code}")
