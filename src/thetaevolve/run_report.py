"""The run summary as a table a person can read (printed at the end of a run and by ``show``).

``summary.json`` stays the machine-readable form; this module only formats it, plus two
facts summary.json cannot hold: whether the run is still running (its store's writer lock
is held), and its budget (from config.yaml).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not POSIX: a live run cannot be told from a stopped one
    fcntl = None  # type: ignore[assignment]

# What each failure kind means, for the reader of the table (types.Outcome holds the kinds).
FAILURE_MEANINGS = {
    "llm_error": "the model call failed after its retries (no response to use)",
    "no_diff": "the response held no edit block",
    "edit_no_match": "an edit's SEARCH text matched nothing in the parent",
    "edit_ambiguous": "an edit's SEARCH text matched more than one place",
    "edit_outside_block": "an edit touched code outside the EVOLVE-BLOCK",
    "too_long": "the child program was longer than gym.max_code_length",
    "no_change": "the child equals its parent (not run)",
    "duplicate": "the child equals a program already stored (not run)",
    "timeout": "killed at the sandbox deadline",
    "memory": "ran out of its memory limit",
    "crash": "raised, exited non-zero or was killed by a signal",
    "no_output": "exited without handing back a solution",
    "malformed_output": "handed back something that is not solution data",
    "invalid_solution": "ran, but the trusted verifier rejected its solution",
}
_FILES = ("best_program.py", "best_solution.json", "summary.json", "progress.png", "solution.png")


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.10g}"


def is_running(run_dir: Path) -> bool:
    """True while another process holds the run's store for writing."""
    if fcntl is None:
        return False
    try:
        fd = os.open(run_dir / "programs.sqlite.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also releases the shared lock if it was granted
    return False


def run_state(summary: dict[str, Any], budget: int | None, run_dir: Path | None) -> str:
    done = int(summary.get("evaluations") or 0)
    training = summary.get("training") or {}
    if run_dir is not None and is_running(run_dir):
        return f"running: {done} candidates so far (another process is writing)"
    if training:
        steps, total = training.get("steps_done"), training.get("steps_total")
        finished = steps is not None and total is not None and steps >= total
        state = "finished" if finished else "stopped"
        return f"{state}: {steps} of {total} training steps, last checkpoint " \
               f"{training.get('last_checkpoint') or 'none'}"
    if budget is None:
        return f"{done} candidates"
    if done >= budget:
        return f"finished: {done} of {budget} candidates"
    hint = f" (continue with `thetaevolve resume {run_dir}`)" if run_dir is not None else ""
    return f"stopped: {done} of {budget} candidates{hint}"


def _best_line(summary: dict[str, Any]) -> str:
    best, known = summary.get("best_score"), summary.get("best_known")
    parts = [f"initial {_num(summary.get('initial_score'))}"]
    if known is not None and best is not None:
        gap = (known - best) if summary.get("direction", "max") == "max" else (best - known)
        if gap > 0:
            relative = f" = {100 * gap / abs(known):.2f}%" if known else ""
            parts.append(f"best known {_num(known)}, gap {gap:.6g}{relative}")
        else:
            parts.append(f"best known {_num(known)}, beaten by {-gap:.6g}")
    elif known is not None:
        parts.append(f"best known {_num(known)}")
    return f"{_num(best)}  ({'; '.join(parts)})"


def _llm_lines(llm: dict[str, Any]) -> list[str]:
    calls = int(llm.get("calls") or 0)
    offline = int(llm.get("offline_proposals") or 0)
    if not calls:
        return [f"offline mutator, {offline} proposals (no model calls)"] if offline else []
    lines = [
        f"{calls} HTTP calls (retries included), {llm.get('failed_calls', 0)} of them failed for good",
        f"tokens: {llm.get('tokens_in', 0)} in, {llm.get('tokens_out', 0)} out",
    ]
    failures = llm.get("failures") or {}
    if failures:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(failures.items()))
        lines.append(f"candidates left without a response, by cause: {kinds}")
    retries = llm.get("retries") or {}
    if retries:
        lines.append("retried past: " + ", ".join(f"{k} {v}" for k, v in sorted(retries.items())))
    if llm.get("cost_usd") is not None:
        lines.append(f"cost: ${llm['cost_usd']:.4f}")
    return lines


def format_summary(
    summary: dict[str, Any], run_dir: Path | None = None, budget: int | None = None
) -> str:
    """The table: task, best (with best known and gap), state, candidates, failures, LLM, files."""
    direction = "higher" if summary.get("direction", "max") == "max" else "lower"
    rows: list[tuple[str, str]] = [
        ("task", f"{summary.get('task')} ({direction} is better)"),
        ("best score", _best_line(summary)),
        ("best valid", "yes (re-verified exactly)" if summary.get("best_valid") else "no"),
        ("state", run_state(summary, budget, run_dir)),
    ]
    done = int(summary.get("evaluations") or 0)
    failures = summary.get("failures") or {}
    failed = sum(failures.values())
    rows.append(("candidates", f"{done}: {summary.get('ok', done - failed)} valid, {failed} failed"))
    for kind, count in sorted(failures.items(), key=lambda kv: -kv[1]):
        rows.append(("  " + kind, f"{count:<7} {FAILURE_MEANINGS.get(kind, '')}".rstrip()))
    for line in _llm_lines(summary.get("llm") or {}):
        rows.append(("llm", line))
    training = summary.get("training") or {}
    times = training.get("step_seconds") or []
    if times:
        rows.append(("training", f"{sum(times) / len(times):.2f} s per step"))
    rows.append(("time", f"{float(summary.get('wall_seconds') or 0.0):.1f} s in the loop"))
    if run_dir is not None:
        present = [name for name in _FILES if (run_dir / name).exists()]
        rows.append(("files", f"{run_dir}/ " + ", ".join(present)))
    width = max(len(label) for label, _ in rows)
    out = []
    for index, (label, text) in enumerate(rows):
        repeat = index > 0 and rows[index - 1][0] == label
        out.append(f"{'' if repeat else label:<{width}}  {text}")
    return "\n".join(out)
