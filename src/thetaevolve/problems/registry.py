"""One registry for every problem: built-in tasks, installed packages, and paths.

``resolve_problem(spec)`` tries, in this order:
1. a built-in or registered task name (``thetaevolve.tasks.get_task``, which also reads
   parametrised names);
2. an entry point of the group ``thetaevolve.problems`` (a pip-installed problem package);
3. a path: a folder holding ``problem.py`` (native), ``evaluator.py`` + ``initial_program.*``
   (OpenEvolve) or ``evaluate.py`` + ``initial.*`` (ShinkaEvolve), or a single ``.py`` file.

An entry point may name a native problem module (``mypkg.problem``), a ``Task`` instance,
or a callable (a ``Task`` subclass or factory) that returns one. Whatever the form, the
result is a ``Task`` with ``problem_source`` set to a ``ProblemSource`` saying where it came
from, which the run directory's provenance records.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from thetaevolve.errors import UserError
from thetaevolve.problems.native import PROBLEM_FILE, load_native_module, load_native_problem
from thetaevolve.tasks.base import Task

ENTRY_POINT_GROUP = "thetaevolve.problems"
OPENEVOLVE_EVALUATOR = "evaluator.py"
SHINKA_EVALUATOR = "evaluate.py"


class UnknownProblemError(UserError):
    """Neither a task name, nor an installed problem, nor a usable path."""


@dataclass(frozen=True)
class ProblemSource:
    """Where a problem came from: what a run directory records to find it again."""

    kind: str  # "builtin", "entry_point", "native", "openevolve" or "shinka"
    spec: str  # what the user typed
    path: Path | None = None  # the folder or file, for path problems (absolute)
    distribution: str | None = None  # entry points: the installing package, "name==version"
    extra_files: tuple[Path, ...] = field(default_factory=tuple)  # e.g. --openevolve-config


def resolve_problem(spec: str, *, openevolve_config: Path | None = None) -> Task:
    """The Task named by ``spec``; a clear UserError when nothing matches."""
    from thetaevolve.tasks import get_task

    try:
        task = get_task(spec)
    except KeyError as exc:
        builtin_error = str(exc.args[0]) if exc.args else f"unknown task {spec!r}"
    else:
        return _stamp(task, ProblemSource("builtin", spec))
    entry = installed_entry_points().get(spec)
    if entry is not None:
        return _load_entry_point(spec, entry)
    path = Path(spec).expanduser()
    if path.exists():
        return resolve_path(path, spec=spec, openevolve_config=openevolve_config)
    raise UnknownProblemError(_unknown_message(spec, builtin_error))


def resolve_path(path: Path, *, spec: str | None = None,
                 openevolve_config: Path | None = None) -> Task:
    """A problem from a folder or file; the folder's contents decide its form."""
    spec = spec if spec is not None else str(path)
    absolute = path.resolve()
    kind = problem_kind(path)
    if openevolve_config is not None and kind != "openevolve":
        raise UserError(f"--openevolve-config applies to OpenEvolve folders only; {path} "
                        f"is a {kind} problem")
    if kind == "openevolve":
        loader = _optional_loader("openevolve", "load_openevolve_problem", "OpenEvolve")
        trusted = load_native_problem(path) if (path / PROBLEM_FILE).is_file() else None
        task = loader(path, openevolve_config, trusted_verify=trusted)
        extra = (openevolve_config.resolve(),) if openevolve_config is not None else ()
        return _stamp(task, ProblemSource("openevolve", spec, absolute, extra_files=extra))
    if kind == "shinka":
        loader = _optional_loader("shinka", "load_shinka_problem", "ShinkaEvolve")
        return _stamp(loader(path), ProblemSource("shinka", spec, absolute))
    return _stamp(load_native_problem(path), ProblemSource("native", spec, absolute))


def problem_kind(path: Path) -> str:
    """"native", "openevolve" or "shinka", from the files a folder holds."""
    if not path.is_dir():
        return "native"
    if (path / OPENEVOLVE_EVALUATOR).is_file() and any(path.glob("initial_program.*")):
        return "openevolve"
    if (path / SHINKA_EVALUATOR).is_file() and any(path.glob("initial.*")):
        return "shinka"
    return "native"


def _optional_loader(module: str, function: str, label: str) -> Any:
    # The OpenEvolve and Shinka forms live in their own modules; until they are present,
    # say so plainly rather than mistaking the folder for a broken native problem.
    try:
        loaded = importlib.import_module(f"thetaevolve.problems.{module}")
        return getattr(loaded, function)
    except (ImportError, AttributeError):
        raise UserError(f"{label} problem folders are not supported by this version of "
                        "thetaevolve yet; write a native problem.py (see docs/problems.md)") from None


def _stamp(task: Task, source: ProblemSource) -> Task:
    task.problem_source = source  # type: ignore[attr-defined]
    return task


def source_of(task: Task) -> ProblemSource:
    """Where ``task`` came from (built-in when it was made without the registry)."""
    source = getattr(task, "problem_source", None)
    return source if isinstance(source, ProblemSource) else ProblemSource("builtin", task.name)


# ---- entry points -------------------------------------------------------------------------


def installed_entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    """Problems that installed packages declare in the ``thetaevolve.problems`` group."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def distribution_of(entry: importlib.metadata.EntryPoint) -> str | None:
    dist = getattr(entry, "dist", None)
    if dist is None:
        return None
    return f"{dist.metadata['Name']}=={dist.version}"


def _load_entry_point(name: str, entry: importlib.metadata.EntryPoint) -> Task:
    source = ProblemSource("entry_point", name, distribution=distribution_of(entry))
    where = f"entry point {name!r} ({entry.value}, group {ENTRY_POINT_GROUP})"
    if not entry.attr:
        # A module: a native problem, imported by the verifier worker rather than here.
        if importlib.util.find_spec(entry.module) is None:
            raise UserError(f"{where}: module {entry.module} is not importable; reinstall "
                            "the package that provides it")
        return _stamp(load_native_module(entry.module), source)
    try:
        obj = entry.load()
    except Exception as exc:  # noqa: BLE001 - a broken package is a user-facing error
        raise UserError(f"{where} failed to load: {type(exc).__name__}: {exc}") from None
    if isinstance(obj, types.ModuleType):
        return _stamp(load_native_module(obj.__name__), source)
    if isinstance(obj, (str, Path)):
        return _stamp(resolve_path(Path(obj)), source)
    if not isinstance(obj, Task) and callable(obj):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"{where}: calling it raised {type(exc).__name__}: {exc}") from None
    if not isinstance(obj, Task):
        raise UserError(f"{where} gives a {type(obj).__name__}; it must name a problem module, "
                        "a Task, or a callable returning a Task")
    return _stamp(obj, source)


# ---- listing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemEntry:
    name: str
    kind: str
    spec: str


def available_problems(paths: Iterable[str] = ()) -> list[ProblemEntry]:
    """Built-in names, installed entry points, and the given paths (not yet loaded)."""
    from thetaevolve.tasks import task_names

    entries = [ProblemEntry(name, "builtin", name) for name in task_names()]
    entries += [ProblemEntry(name, "entry_point", name) for name in sorted(installed_entry_points())]
    for spec in paths:
        path = Path(spec).expanduser()
        entries.append(ProblemEntry(spec, problem_kind(path), spec))
    return entries


def _unknown_message(spec: str, builtin_error: str) -> str:
    """The built-in registry's own words (they know family parameters), plus the other forms."""
    looks_like_path = "/" in spec or spec.endswith(".py") or spec.startswith(".")
    if looks_like_path:
        return (f"no problem at {spec}: the path does not exist; give a folder holding "
                f"{PROBLEM_FILE} (create one with `thetaevolve init DIR`) or a .py file")
    if ":" in spec:
        return builtin_error  # a sized family name: its own message says what is wrong
    installed = ", ".join(sorted(installed_entry_points())) or "none"
    return (f"{builtin_error}; installed problems: {installed}; or give a path to a folder "
            f"holding {PROBLEM_FILE} or a .py file")
