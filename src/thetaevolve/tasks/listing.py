"""What ``thetaevolve tasks`` shows: one row per built-in task, as JSON data or a table.

The JSON rows are the full record (every known bound with its source and note); the
table is for a person: what the score means, the direction, the best known value and
who holds it, and a mark where that value is reported but not independently verified.
"""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

from thetaevolve.tasks.base import KnownBound, Task

UNVERIFIED_MARK = "*"


def _bound(b: KnownBound | None) -> dict[str, Any] | None:
    return None if b is None else {"value": b.value, "source": b.source, "note": b.note}


def task_row(name: str, task: Task) -> dict[str, Any]:
    best = task.best_known
    return {
        "name": name,
        "direction": task.direction,
        "score_meaning": task.score_meaning,
        "best_known": best.value if best else None,
        "best_known_source": best.source if best else None,
        "best_known_note": best.note if best else None,
        "proven_bound": _bound(task.proven_bound),
        "timeout_s": task.timeout_s,
        "solution_format": task.solution_format,
        "known_bounds": [_bound(b) for b in task.known_bounds],
    }


def _is_unverified(note: str | None) -> bool:
    return bool(note) and "not independently verified" in str(note)


def format_table(rows: list[dict[str, Any]], families: str = "", width: int | None = None) -> str:
    """A plain-text table that fits ``width`` columns (the terminal's by default)."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    headers = ("task", "goal", "score", "best known", "held by")
    cells = []
    for row in rows:
        best = "-" if row["best_known"] is None else f"{row['best_known']:.10g}"
        if _is_unverified(row.get("best_known_note")):
            best += UNVERIFIED_MARK
        cells.append((row["name"], row["direction"], row.get("score_meaning") or "", best, row["best_known_source"] or "-"))
    fixed = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers[:4])]
    meaning_width = min(fixed[2], 30)
    fixed[2] = meaning_width
    source_width = max(20, width - sum(fixed) - 2 * len(fixed) - 1)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, fixed + [source_width])).rstrip()]
    lines.append("  ".join("-" * w for w in fixed + [min(source_width, 40)]))
    for cell in cells:
        meaning = textwrap.wrap(cell[2], meaning_width) or [""]
        source = textwrap.wrap(cell[4], source_width, break_on_hyphens=False) or [""]
        for k in range(max(len(meaning), len(source))):
            first = k == 0
            parts = [
                cell[0] if first else "",
                cell[1] if first else "",
                meaning[k] if k < len(meaning) else "",
                cell[3] if first else "",
                source[k] if k < len(source) else "",
            ]
            lines.append("  ".join(p.ljust(w) for p, w in zip(parts, fixed + [source_width])).rstrip())
    lines.append("")
    lines.append(f"{UNVERIFIED_MARK} reported, not independently verified.  Full bounds and formats: thetaevolve tasks --json")
    if families:
        lines.append(f"Sized families (any size; bounds shown only where known): {families}")
    return "\n".join(lines)
