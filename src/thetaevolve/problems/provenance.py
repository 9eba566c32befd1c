"""A run directory's own copy of its problem, so that the run outlives the problem folder.

At the start of a run, the problem's files are copied into ``RUN/problem/`` and their
SHA-256 hashes written to ``RUN/problem.json``. ``resume`` and ``show`` load the problem
from that copy, so they work after the folder moved or was deleted. When the original
folder is still there and a recorded file differs (or is gone), ``resume`` refuses and
names the file: a run whose scores came from two different verifiers is not one run. An
explicit ``allow_change`` takes the new version, refreshes the copy and keeps the old
hashes in the record's history.

Built-in tasks need no copy (the package version is recorded in run.json); an installed
problem package is recorded by its name and version, and a different version is a change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from thetaevolve.atomic import write_json_atomic
from thetaevolve.errors import UserError
from thetaevolve.problems.registry import (
    ProblemSource,
    installed_entry_points,
    distribution_of,
    resolve_path,
    resolve_problem,
    source_of,
)
from thetaevolve.tasks.base import Task

log = logging.getLogger("thetaevolve.problems")

COPY_DIR = "problem"
RECORD_FILE = "problem.json"
EXTRA_DIR = "extra"  # files named outside the folder (e.g. --openevolve-config), under COPY_DIR
MAX_FILES = 2000
MAX_BYTES = 64 << 20
# Never part of a problem: caches, version control, and what runs write into the folder.
SKIPPED_DIRS = {"__pycache__", "runs", "openevolve_output", "node_modules"}
_MARKER = "run.json"


class ProblemChangedError(UserError):
    """The problem's files differ from the ones the run started with."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def problem_files(root: Path, exclude: Path | None = None) -> list[Path]:
    """The files that make up a problem folder (relative paths), or a single file's name."""
    if root.is_file():
        return [Path(root.name)]
    files: list[Path] = []
    total = 0
    exclude = exclude.resolve() if exclude is not None else None
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d for d in dirs
            if not d.startswith(".") and d not in SKIPPED_DIRS
            and not (here / d / _MARKER).exists()  # a run directory inside the folder
            and (exclude is None or (here / d).resolve() != exclude)
        )
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or name.endswith(".pyc") or not path.is_file():
                continue
            files.append(path.relative_to(root))
            total += path.stat().st_size
            if len(files) > MAX_FILES or total > MAX_BYTES:
                raise UserError(
                    f"{root} holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MB; a run "
                    "keeps a copy of its problem, so move large data out of the problem folder "
                    "(and load it from an absolute path)"
                )
    return files


def _extra_files(task: Task, source: ProblemSource) -> list[Path]:
    """Files a single-file problem uses beside itself (its initial_program.py)."""
    spec = getattr(task, "spec", None)
    initial = getattr(spec, "initial_program_file", None)
    if source.path is not None and source.path.is_file() and initial is not None:
        return [Path(initial).resolve()]
    return []


def check_recordable(task: Task) -> None:
    """Fail now, before a run directory exists, if the problem folder cannot be copied."""
    source = source_of(task)
    if source.path is not None:
        problem_files(source.path)


def record_problem(run_dir: Path, task: Task) -> dict[str, Any]:
    """Copy the problem's files into the run directory and write their hashes."""
    source = source_of(task)
    record: dict[str, Any] = {
        "kind": source.kind, "spec": source.spec, "name": task.name,
        "score_trust": task.score_trust, "distribution": source.distribution,
        "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "history": [],
    }
    if source.path is not None:
        record.update(_snapshot(run_dir, source, task))
        pin = getattr(task, "pin_to_copy", None)
        if pin is not None:  # verifiers started later read the copy, not the live folder
            pin(run_dir / COPY_DIR)
    _write_record(run_dir, record)
    return record


def _snapshot(run_dir: Path, source: ProblemSource, task: Task) -> dict[str, Any]:
    assert source.path is not None
    root = source.path
    copy = run_dir / COPY_DIR
    if copy.exists():
        shutil.rmtree(copy)
    copy.mkdir(parents=True)
    files: dict[str, str] = {}
    base = root if root.is_dir() else root.parent
    for rel in problem_files(root, exclude=run_dir):
        target = copy / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(base / rel, target)
        files[rel.as_posix()] = _sha256(target)
    for path in _extra_files(task, source):
        if path.parent == base:
            shutil.copy2(path, copy / path.name)
            files[path.name] = _sha256(copy / path.name)
    extras: dict[str, dict[str, str]] = {}
    for path in source.extra_files:
        target = copy / EXTRA_DIR / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        extras[str(path)] = {"copy": f"{EXTRA_DIR}/{path.name}", "sha256": _sha256(target)}
    return {
        "source": str(root),
        "entry": root.name if root.is_file() else ".",
        "files": files,
        "extra_files": extras,
    }


def _write_record(run_dir: Path, record: dict[str, Any]) -> None:
    write_json_atomic(run_dir / RECORD_FILE, record)


def read_record(run_dir: Path) -> dict[str, Any] | None:
    """The run's problem record; None for runs made before records existed."""
    path = run_dir / RECORD_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); the run directory is damaged") from None
    if not isinstance(record, dict):
        raise UserError(f"{path} is not a problem record; the run directory is damaged")
    return record


def changed_files(record: dict[str, Any]) -> list[str] | None:
    """Recorded files that now differ in the original folder; None when the folder is gone."""
    source = Path(record["source"])
    if not source.exists():
        return None
    base = source if source.is_dir() else source.parent
    changed = []
    for rel, digest in sorted(record.get("files", {}).items()):
        path = base / rel
        if not path.is_file():
            changed.append(f"{path} (removed)")
        elif _sha256(path) != digest:
            changed.append(str(path))
    for original, extra in sorted(record.get("extra_files", {}).items()):
        path = Path(original)
        if path.is_file() and _sha256(path) != extra["sha256"]:
            changed.append(str(path))
    return changed


def open_run_problem(run_dir: Path, spec: str, *, check_changes: bool = True,
                     allow_change: bool = False) -> Task:
    """The problem of a run, as the run knows it (from its copy).

    ``check_changes`` (resume): refuse when the original changed, naming the file, unless
    ``allow_change``, which takes the new version into the run. ``show`` passes False.
    """
    record = read_record(run_dir)
    if record is None:
        return resolve_problem(spec)  # an older run: the problem is found as it was named
    kind = record.get("kind")
    if kind == "builtin":
        return resolve_problem(record.get("spec") or spec)
    if kind == "entry_point":
        return _open_entry_point(run_dir, record, check_changes, allow_change)
    if check_changes:
        changed = changed_files(record)
        if changed is None:
            log.warning("the problem folder %s is gone; using the run's copy in %s",
                        record["source"], run_dir / COPY_DIR)
        elif changed and not allow_change:
            raise ProblemChangedError(
                f"the problem changed since this run started: {', '.join(changed)}. The run "
                f"keeps the version it started with in {run_dir / COPY_DIR}; restore it, or "
                "resume with --allow-problem-change to continue with the new version"
            )
        elif changed:
            task = resolve_path(Path(record["source"]), spec=record.get("spec"),
                                openevolve_config=_first_extra(record, original=True))
            history = list(record.get("history", [])) + [
                {"files": record.get("files"), "replaced": datetime.now(timezone.utc)
                 .isoformat(timespec="seconds"), "changed": changed}
            ]
            task.close()
            new = record_problem(run_dir, task)
            new["history"] = history
            _write_record(run_dir, new)
            record = new
    copy = run_dir / COPY_DIR
    entry = copy / record.get("entry", ".")
    if not entry.exists():
        raise UserError(f"{entry} is missing: the run's copy of its problem is damaged")
    task = resolve_path(entry, spec=record.get("spec"),
                        openevolve_config=_first_extra(record, original=False, copy=copy))
    if kind in ("openevolve", "shinka") and getattr(task, "trusted_verify", None) is None:
        # Such a problem is named after its folder; the copy's folder is COPY_DIR.
        from thetaevolve.problems.evaluator_task import folder_name

        task.name = folder_name(Path(record["source"]))
    return task


def _first_extra(record: dict[str, Any], *, original: bool, copy: Path | None = None) -> Path | None:
    extras = record.get("extra_files") or {}
    for path, extra in extras.items():
        return Path(path) if original else (copy or Path()) / extra["copy"]
    return None


def _open_entry_point(run_dir: Path, record: dict[str, Any], check_changes: bool,
                      allow_change: bool) -> Task:
    name = record["spec"]
    entry = installed_entry_points().get(name)
    if entry is None:
        raise UserError(f"this run's problem {name!r} came from an installed package "
                        f"({record.get('distribution')}) that is no longer installed; "
                        "install it again to resume or show the run")
    now = distribution_of(entry)
    if check_changes and now != record.get("distribution") and not allow_change:
        raise ProblemChangedError(
            f"the problem {name!r} changed since this run started: it came from "
            f"{record.get('distribution')} and now comes from {now}; install that version, "
            "or resume with --allow-problem-change to continue with the new one"
        )
    task = resolve_problem(name)
    if now != record.get("distribution") and check_changes:
        record["history"] = list(record.get("history", [])) + [
            {"distribution": record.get("distribution")}]
        record["distribution"] = now
        _write_record(run_dir, record)
    return task
