"""Guards that keep a run directory's results from being lost or overwritten.

Three rules, each a user's lost afternoon in the newcomer audit:
- a default run directory is created atomically under a name no other run holds, even
  for runs started in the same second (a parameter sweep does exactly that);
- a run directory whose store is missing or empty while its other files show an earlier
  run is refused on resume, because resuming would silently start over and replace the
  earlier best files with worse ones;
- the best files and summary.json are only ever replaced by a result at least as good.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from thetaevolve.errors import UserError

# Files whose presence means a run got past its initial program (see session.py's layout).
_EARLIER_RUN_FILES = ("summary.json", "metrics.jsonl", "best_program.py", "best_solution.json")
_MAX_SUFFIX = 10_000


def claim_default_run_dir(task: str, root: Path = Path("runs")) -> Path:
    """Create and return ``runs/<task>-<stamp>`` (``-2``, ``-3``, ... if taken), the task
    name made path-safe (``heilbronn_triangle:n=7`` -> ``heilbronn_triangle_n_7``).

    ``os.mkdir`` either creates the folder or fails, so two processes can never both
    claim one name.
    """
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    # Family names such as circle_packing:n=30 hold ':' and '=', which some tools mishandle in paths.
    task = re.sub(r"[^A-Za-z0-9_.-]+", "_", task)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the runs folder {root}: {exc.strerror}") from None
    for suffix in range(1, _MAX_SUFFIX):
        candidate = root / (f"{task}-{stamp}" if suffix == 1 else f"{task}-{stamp}-{suffix}")
        try:
            os.mkdir(candidate)
        except FileExistsError:
            continue
        except OSError as exc:
            raise UserError(f"cannot create the run directory {candidate}: {exc.strerror}") from None
        return candidate
    raise UserError(f"{root} holds {_MAX_SUFFIX} runs named {task}-{stamp}; choose --run-dir")


def prepare_given_run_dir(run_dir: Path) -> None:
    """Create a user-named run directory, or accept an existing empty one."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"--run-dir {run_dir} is a file, not a directory; choose another path")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(
            f"cannot create the run directory {run_dir}: {exc.strerror}; choose another --run-dir"
        ) from None


def earlier_run_files(run_dir: Path) -> list[str]:
    """The files in ``run_dir`` that show a run got past its start (non-empty ones only)."""
    found = []
    for name in _EARLIER_RUN_FILES:
        path = run_dir / name
        try:
            if path.is_file() and path.stat().st_size > 0:
                found.append(name)
        except OSError:
            continue
    return found


def refuse_lost_store(run_dir: Path, store: Path, reason: str) -> None:
    """Raise when the store is gone (``reason``) but other files show an earlier run."""
    evidence = earlier_run_files(run_dir)
    if evidence:
        raise UserError(
            f"{store} {reason}, but {', '.join(evidence)} show an earlier run in {run_dir}; "
            "resuming would start over and replace its best files, so nothing was changed. "
            "Restore the store from a backup (or recover it, see README 'Damaged store'), "
            "or start a new run with `thetaevolve run TASK`."
        )


def store_state(store: Path) -> str | None:
    """Why the store file holds nothing ("is missing", "is empty"), or None if it has bytes."""
    if not store.exists():
        return "is missing"
    if store.stat().st_size == 0:
        return "is empty"
    return None


def better_or_equal(direction: str, new: float | None, old: float | None) -> bool:
    """True when ``new`` may replace ``old`` (``old`` None: nothing to protect)."""
    if old is None:
        return True
    if new is None:
        return False
    return new >= old if direction == "max" else new <= old


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary_may_replace(path: Path, new: dict[str, Any]) -> bool:
    """A summary.json is only replaced by one whose best score is at least as good."""
    old = read_json(path)
    if not isinstance(old, dict):
        return True
    direction = str(new.get("direction") or old.get("direction") or "max")
    return better_or_equal(direction, new.get("best_score"), old.get("best_score"))
