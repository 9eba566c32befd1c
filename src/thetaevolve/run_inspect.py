"""Looking into a run's store without loading it: the top programs, one program's files.

These read ``programs.sqlite`` through a read-only SQLite connection with one indexed
query each, so they cost the same for a run of 10^2 programs and of 10^6, and they work
while the run is still writing (WAL readers never block the writer).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thetaevolve.errors import UserError

STORE_FILE = "programs.sqlite"


@dataclass(frozen=True)
class ProgramRow:
    id: int
    score: float | None
    parent_id: int | None
    generation: int
    island: int
    batch: int
    outcome: str


def _connect(run_dir: Path) -> sqlite3.Connection:
    store = run_dir / STORE_FILE
    if not store.is_file() or store.stat().st_size == 0:
        raise UserError(f"{run_dir} has no program store ({STORE_FILE}); is it a run directory?")
    try:
        return sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise UserError(f"cannot open {store} read-only: {exc}") from None


def _damaged(run_dir: Path, exc: sqlite3.Error) -> UserError:
    return UserError(f"{run_dir / STORE_FILE} cannot be read ({exc}); the store is damaged, "
                     "see README 'Damaged store' to recover its programs")


def top_programs(run_dir: Path, k: int, direction: str) -> list[ProgramRow]:
    """The ``k`` best valid proposals (copies made by the database are left out)."""
    if k < 1:
        raise UserError(f"-k must be at least 1, got {k}")
    order = "DESC" if direction == "max" else "ASC"
    db = _connect(run_dir)
    try:
        rows = db.execute(
            "SELECT id, score, parent_id, generation, island, batch, outcome FROM programs "
            "WHERE kind = 'proposal' AND outcome = 'ok' AND score IS NOT NULL "
            f"ORDER BY score {order}, id LIMIT ?",
            (k,),
        ).fetchall()
    except sqlite3.Error as exc:
        raise _damaged(run_dir, exc) from None
    finally:
        db.close()
    return [ProgramRow(*row) for row in rows]


def program_code(run_dir: Path, program_id: int) -> tuple[ProgramRow, str]:
    """One program's row and code (a copy's code is its origin's)."""
    db = _connect(run_dir)
    try:
        row = db.execute(
            "SELECT p.id, p.score, p.parent_id, p.generation, p.island, p.batch, p.outcome, t.code "
            "FROM programs p LEFT JOIN program_texts t ON t.id = p.origin_id WHERE p.id = ?",
            (program_id,),
        ).fetchone()
    except sqlite3.Error as exc:
        raise _damaged(run_dir, exc) from None
    finally:
        db.close()
    if row is None:
        raise UserError(f"{run_dir} has no program {program_id}; `thetaevolve top {run_dir}` lists ids")
    return ProgramRow(*row[:7]), row[7] or ""


def export_program(run_dir: Path, program_id: int, out_dir: Path, task: Any,
                   best_program_id: int | None, timeout_s: float | None = None) -> dict[str, Any]:
    """Write ``program_<id>.py`` and, for a valid program, ``solution_<id>.json``.

    The store keeps code, not solution data, so the solution is produced again by running
    the program in the sandbox and checked by the trusted verifier; for the run's best
    program the run's own best_solution.json is copied instead.
    """
    row, code = program_code(run_dir, program_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    program_path = out_dir / f"program_{program_id}.py"
    program_path.write_text(code)
    result: dict[str, Any] = {"program": str(program_path), "score": row.score,
                              "outcome": row.outcome, "solution": None}
    solution = None
    best_file = run_dir / "best_solution.json"
    if program_id == best_program_id and best_file.is_file():
        solution = json.loads(best_file.read_text())
    elif row.outcome == "ok":
        from thetaevolve.config import SandboxConfig
        from thetaevolve.evaluation import evaluate_run
        from thetaevolve.sandbox import make_sandbox

        with make_sandbox(task, SandboxConfig(workers=1, timeout_s=timeout_s)) as sandbox:
            evaluation = evaluate_run(task, sandbox.run(code, timeout_s))
        if evaluation.solution is None:
            result["note"] = f"re-running it gave {evaluation.outcome.value}: {evaluation.detail}"
        else:
            solution = evaluation.solution
            result["score"] = evaluation.score
    if solution is not None:
        solution_path = out_dir / f"solution_{program_id}.json"
        solution_path.write_text(json.dumps(solution, indent=2, allow_nan=True) + "\n")
        result["solution"] = str(solution_path)
    return result
