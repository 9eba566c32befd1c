"""One program as its page shows it: code, diffs, outcome, verdict, prompt and response."""

from __future__ import annotations

import difflib
import math
from typing import Any

from thetaevolve.dashboard.run_info import VERIFIED, RunInfo
from thetaevolve.dashboard.runstore import ReadOnlyStore
from thetaevolve.errors import UserError

MAX_TEXT = 200_000  # characters of one text shown; a longer one is cut, and says so
_DIFF_CONTEXT = 3


class NoSuchProgram(UserError):
    """The program id is not in the run's store."""


def program_page(store: ReadOnlyStore, info: RunInfo, program_id: int,
                 best_id: int | None) -> dict[str, Any]:
    row = store.row(program_id)
    if row is None:
        raise NoSuchProgram(f"run {info.key} has no program #{program_id}")
    texts = store.texts(row.origin_id)
    code = texts.code if texts else ""
    page: dict[str, Any] = {
        "id": row.id, "kind": row.kind, "origin_id": row.origin_id if row.kind != "proposal"
        else None, "parent_id": row.parent_id, "island": row.island,
        "generation": row.generation, "iteration": row.iteration, "outcome": row.outcome,
        "score": _finite(row.score), "reward": _finite(row.reward),
        "created_at": row.created_at, "evicted": store.was_evicted(row.id),
        "code": _cut(code),
        "metrics": texts.metrics if texts else {},
        "prompt": _cut(texts.prompt if texts else ""),
        "response": _cut(texts.response if texts else ""),
        "detail": _cut(texts.detail if texts else ""),
        "verdict": verdict(info, row.outcome, texts.metrics if texts else {}),
        "best_id": best_id,
        "picture": bool(info.has_picture and best_id == row.id
                        and info.best_solution_path.exists()),
    }
    page["parent"] = _relative(store, row.parent_id, code, "parent")
    page["best"] = None if best_id in (None, row.id) else _relative(store, best_id, code, "best")
    return page


def verdict(info: RunInfo, outcome: str, metrics: dict[str, Any]) -> dict[str, str]:
    """How far this program's score can be trusted, in words."""
    if outcome != "ok":
        return {"label": "no score", "text": f"the program failed ({outcome}): nothing was scored"}
    if info.trust != VERIFIED:
        return {"label": info.trust,
                "text": "the score is the one the problem's evaluator reported; a candidate "
                        "running with the evaluator could have forged it"}
    tol = metrics.get("tolerance")
    if isinstance(tol, (int, float)) and tol > 0:
        return {"label": f"tolerance {tol:g}",
                "text": f"verified by the trusted verifier with an explicit tolerance of {tol:g}"}
    bound = metrics.get("error_bound")
    extra = f"; floating-point error at most {bound:.3g}" if isinstance(bound, (int, float)) \
        else ""
    return {"label": "strict",
            "text": "recomputed from the program's data by the trusted verifier, exactly "
                    f"(tolerance 0){extra}"}


def _relative(store: ReadOnlyStore, other_id: int | None, code: str,
              name: str) -> dict[str, Any] | None:
    """Another program (the parent, the best) and the diff from it to this one."""
    if other_id is None:
        return None
    other = store.row(other_id)
    if other is None:
        return {"id": other_id, "missing": True, "diff": []}
    texts = store.texts(other.origin_id)
    other_code = texts.code if texts else ""
    lines = list(difflib.unified_diff(
        other_code.splitlines(), code.splitlines(), fromfile=f"{name} #{other_id}",
        tofile="this program", lineterm="", n=_DIFF_CONTEXT,
    ))
    return {"id": other_id, "outcome": other.outcome, "score": _finite(other.score),
            "diff": lines[:5000], "diff_cut": len(lines) > 5000}


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n… ({len(text) - MAX_TEXT} more characters not shown)"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
