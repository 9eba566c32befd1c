"""Trusted side: turn what a worker reports about one child into a typed ``RunResult``.

Everything here is untrusted bytes (the candidate wrote the result record, and could have
written anything to its result channel), so it is parsed under size caps and any surprise
becomes MALFORMED_OUTPUT, never an exception.
"""

from __future__ import annotations

import json
import math
import signal
from typing import Any

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
    runtime = header.get("runtime_s")
    finite = isinstance(runtime, (int, float)) and math.isfinite(runtime)
    runtime = float(runtime) if finite else 0.0
    killed = header.get("killed") or ""
    common = {
        "stdout": _text(stdout),
        "stderr": _text(stderr),
        "runtime_s": runtime,
        "exit_code": exit_code,
    }

    def failure(outcome: Outcome, detail: str) -> RunResult:
        return RunResult(solution=None, outcome=outcome, detail=detail[:DETAIL_CHARS], **common)

    if killed == "timeout":
        return failure(Outcome.TIMEOUT, f"killed after the {timeout_s:g} s deadline")
    if killed == "memory":
        return failure(Outcome.MEMORY, "killed: its processes together exceeded the memory limit")
    if killed in ("stdout_cap", "stderr_cap"):
        stream = killed.split("_")[0]
        return failure(Outcome.CRASH, f"killed: {stream} flooded far past the output cap")
    if killed == "result_cap":
        return failure(
            Outcome.MALFORMED_OUTPUT, f"killed: the solution exceeded {max_solution_bytes} bytes"
        )
    if killed:
        return failure(Outcome.CRASH, f"killed by the sandbox ({str(killed)[:100]})")
    if exit_code is not None and exit_code < 0 and -exit_code == signal.SIGXCPU:
        return failure(Outcome.TIMEOUT, "killed by SIGXCPU: the CPU-time limit was reached")
    record: dict[str, Any] | None = None
    problem = ""
    if result:
        record, problem = parse_solution_record(result, max_solution_bytes + 4096)
    if exit_code is not None and exit_code < 0:
        return failure(Outcome.CRASH, f"killed by {_signal_name(-exit_code)}")
    if record is None and problem:
        return failure(Outcome.MALFORMED_OUTPUT, problem)
    if record is None:
        if exit_code == EXIT_SETUP_FAILED and stderr.startswith(b"sandbox setup failed"):
            reason = _text(stderr).splitlines()[0]
            return failure(Outcome.CRASH, f"the sandbox could not start the program ({reason})")
        if exit_code == 0:
            return failure(Outcome.NO_OUTPUT, "the program exited without handing back a solution")
        return failure(Outcome.CRASH, f"exited with code {exit_code} and no solution")
    if "error" in record:
        kind = record.get("error")
        message = record.get("message")
        message = message if isinstance(message, str) else ""
        if kind == "memory":
            return failure(Outcome.MEMORY, message or "the memory limit was reached")
        if kind == "malformed":
            return failure(Outcome.MALFORMED_OUTPUT, message)
        if kind == "none":
            return failure(Outcome.NO_OUTPUT, message)
        return failure(Outcome.CRASH, message or f"exited with code {exit_code}")
    solution = record.get("solution")
    if not isinstance(solution, dict):
        return failure(Outcome.MALFORMED_OUTPUT, "the solution is not a JSON object")
    if exit_code != 0:
        return failure(Outcome.CRASH, f"exited with code {exit_code} after handing back a solution")
    return RunResult(solution=solution, outcome=Outcome.OK, **common)
