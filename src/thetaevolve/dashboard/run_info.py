"""What a run directory says about itself: its task, direction, record and trust level.

Read once per run (and again while it is unusable). Every problem becomes one sentence for
the page: a foreign folder, a damaged marker, an unknown task never raise past here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thetaevolve.session import (
    BEST_SOLUTION_FILE,
    METRICS_FILE,
    STORE_FILE,
    SUMMARY_FILE,
    RunDirError,
    read_marker,
)

VERIFIED = "verified"  # our trusted verifier recomputed every score from the data


@dataclass(frozen=True)
class RunInfo:
    key: str  # stable name of the run in links (from its folder name)
    run_dir: Path
    task: str
    kind: str  # "evolve" or "train"
    created: str | None
    direction: str  # "max" or "min"
    best_known: float | None
    best_known_source: str | None
    trust: str  # "verified", "evaluator-reported", or "unknown"
    trust_note: str
    has_picture: bool
    direction_known: bool = True  # False: guessed until the stored fitness tells

    @property
    def store_path(self) -> Path:
        return self.run_dir / STORE_FILE

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / METRICS_FILE

    @property
    def summary_path(self) -> Path:
        return self.run_dir / SUMMARY_FILE

    @property
    def best_solution_path(self) -> Path:
        return self.run_dir / BEST_SOLUTION_FILE

    def fitness(self, score: float) -> float:
        return score if self.direction == "max" else -score

    def gap(self, best: float | None) -> float | None:
        """How far the best score is from the best-known value, in the improving direction:
        positive while short of the record, negative once past it."""
        if best is None or self.best_known is None:
            return None
        gap = self.best_known - best if self.direction == "max" else best - self.best_known
        return gap if math.isfinite(gap) else None

    def describe(self) -> dict[str, Any]:
        return {
            "key": self.key, "path": str(self.run_dir), "task": self.task, "kind": self.kind,
            "created": self.created, "direction": self.direction,
            "best_known": self.best_known, "best_known_source": self.best_known_source,
            "trust": self.trust, "trust_note": self.trust_note,
            "has_picture": self.has_picture,
        }


def load_run_info(key: str, run_dir: Path) -> RunInfo:
    """The run's facts; ``RunDirError`` with a clear message when the folder is unusable."""
    marker = read_marker(run_dir)
    name = str(marker.get("task") or "")
    if not name:
        raise RunDirError(f"{run_dir / 'run.json'} names no task; the run directory is damaged")
    summary = _read_json(run_dir / SUMMARY_FILE)
    task = _builtin_task(name)
    direction = getattr(task, "direction", None) or summary.get("direction")
    best = getattr(task, "best_known", None)
    trust, note = _trust(task, summary)
    picture = task is not None and type(task).plot_solution is not _base_plot_solution()
    return RunInfo(
        key=key, run_dir=run_dir, task=name, kind=str(marker.get("kind") or "evolve"),
        created=marker.get("created"), direction=str(direction or "max"),
        direction_known=direction is not None,
        best_known=best.value if best is not None else _number(summary.get("best_known")),
        best_known_source=best.source if best is not None else None,
        trust=trust, trust_note=note, has_picture=bool(picture),
    )


def run_key(run_dir: Path, taken: set[str]) -> str:
    """A short, stable name for links: the folder's name, made unique among the runs."""
    base = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_dir.name) or "run"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}~{n}", n + 1
    taken.add(key)
    return key


def _builtin_task(name: str) -> Any:
    """The built-in task (or sized family member, e.g. ``circle_packing:n=30``) of that name;
    None for anything else. A problem folder's own code is never imported by the dashboard:
    its facts come from the run's files and store."""
    from thetaevolve.tasks import get_task

    if "/" in name or "\\" in name or Path(name).exists():
        return None
    try:
        return get_task(name)
    except Exception:  # noqa: BLE001 - an unknown or broken task must not take the page down
        return None


def _trust(task: Any, summary: dict[str, Any]) -> tuple[str, str]:
    stated = summary.get("score_trust") or getattr(task, "score_trust", None)
    if stated:
        return str(stated), "as the run's summary states"
    if task is not None:
        return VERIFIED, "built-in task: the trusted verifier recomputes every score from the data"
    return "unknown", "not a built-in task and no summary yet: the score's trust level is unknown"


def _base_plot_solution() -> Any:
    from thetaevolve.tasks.base import Task

    return Task.plot_solution


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
