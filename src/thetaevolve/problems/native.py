"""Native problems: a ``problem.py`` (or any single ``.py`` file) that defines a task.

Required names::

    NAME = "my_problem"            # letters, digits, _ - . (it names run directories)
    DIRECTION = "max"              # or "min"
    STATEMENT = "..."              # goes into every prompt
    def verify(solution, tol=0.0) -> float: ...   # raise ValueError("why") for bad data

plus the initial program: an ``initial_program.py`` beside the file, or an
``INITIAL_PROGRAM`` string; it defines ``solve()`` returning a dict, like a built-in task's.

Optional names (defaults in brackets): ``SOLUTION_FORMAT`` [generic text], ``SCORE_MEANING``
[none: a few words for listings, e.g. "sum of radii"], ``TIMEOUT_S``
[60, the candidate's limit], ``VERIFY_TIMEOUT_S`` [30], ``VERIFY_MEMORY_MB`` [4096],
``HEAVY_MODULES`` [numpy, scipy: preloaded in the warm sandbox pool], ``KNOWN_BOUNDS``
[none; numbers, ``(value, source[, note])`` or dicts], ``REWARD_RANGE`` [(0, 1): the
``rl_normalized`` shaping range], ``plot(solution, path)`` [none: draws ``solution.png``].
``verify`` may return ``(score, "feedback text")``; the text is shown in the prompts of
that program's children.

The problem file is never imported into the framework's process: a verifier worker
(``verify_worker.py``) imports it and reports what it defines, this module checks that
description and turns every mistake into one ``UserError`` naming the file, the name and
the fix, and ``NativeProblem.verify`` sends each solution to a warm worker under the
problem's deadline (``verifier_process``).
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thetaevolve.errors import UserError
from thetaevolve.evaluation import VerifierError
from thetaevolve.problems.verifier_process import ProblemTarget, VerifierPool, WorkerFailed
from thetaevolve.tasks.base import ENTRY_POINT, KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

PROBLEM_FILE = "problem.py"
INITIAL_PROGRAM_FILE = "initial_program.py"
DEFAULT_SOLUTION_FORMAT = "the dict that solve() returns (see the problem statement)"
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_VERIFY_TIMEOUT_S = 30.0
DEFAULT_VERIFY_MEMORY_MB = 4096
DEFAULT_HEAVY_MODULES = ("numpy", "scipy", "scipy.optimize")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


class ProblemFileError(UserError):
    """A problem file cannot be used; the message names the file, the name and the fix."""


@dataclass(frozen=True)
class NativeSpec:
    """Everything a native problem file defines, checked."""

    where: str  # how messages name the problem (its file, or its module)
    target: ProblemTarget
    name: str
    direction: str
    statement: str
    initial_program: str
    solution_format: str
    score_meaning: str
    timeout_s: float
    verify_timeout_s: float
    verify_memory_mb: int
    heavy_modules: tuple[str, ...]
    known_bounds: tuple[KnownBound, ...]
    reward_shaping: RewardShaping
    has_plot: bool
    initial_program_file: Path | None  # where the initial program came from, if a file


class NativeProblem(Task):
    """A Task whose verifier is the problem's own ``verify``, run in a killable worker."""

    score_trust = "verified"

    def __init__(self, spec: NativeSpec, pool: VerifierPool) -> None:
        self.spec = spec
        self._pool = pool
        self.name = spec.name
        self.direction = spec.direction  # type: ignore[assignment]
        self.statement = spec.statement
        self.solution_format = spec.solution_format
        self.score_meaning = spec.score_meaning
        self.timeout_s = spec.timeout_s
        self.heavy_modules = spec.heavy_modules
        self.known_bounds = spec.known_bounds
        self.reward_shaping = spec.reward_shaping

    @property
    def initial_program(self) -> str:
        return self.spec.initial_program

    def verify(self, solution: Solution, tol: float = 0.0) -> Verdict:
        """The problem's verdict. Invalid data (``ValueError``) is an invalid Verdict; a
        verify that cannot reach a verdict raises ``VerifierError`` with the reason."""
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (
            math.isfinite(tol) and tol >= 0
        ):
            return Verdict.invalid(f"tol must be a finite number >= 0, got {tol!r}")
        request = {"op": "verify", "solution": solution, "tol": float(tol)}
        try:
            reply = self._pool.call(request, self.spec.verify_timeout_s)
        except (TypeError, ValueError) as exc:  # data that JSON cannot carry
            return Verdict.invalid(f"the solution is not plain data ({exc})", tolerance=tol)
        except WorkerFailed as exc:
            raise VerifierError(f"{self.spec.where}: verify {exc}") from None
        status = reply.get("status")
        if status == "ok":
            return Verdict(valid=True, score=float(reply["score"]), tolerance=float(tol),
                           feedback=str(reply.get("feedback") or ""))
        if status == "invalid":
            return Verdict.invalid(str(reply.get("reason")), tolerance=float(tol))
        raise VerifierError(f"{self.spec.where}: {reply.get('reason')}")

    def judge(self, solution: Solution, tol: float) -> Verdict:
        return self.verify(solution, tol)

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        if not self.spec.has_plot:
            return False
        request = {"op": "plot", "solution": solution, "path": str(Path(path).resolve())}
        try:
            reply = self._pool.call(request, self.spec.verify_timeout_s)
        except WorkerFailed as exc:
            raise RuntimeError(f"{self.spec.where}: plot {exc}") from None
        if reply.get("status") != "ok":
            raise RuntimeError(f"{self.spec.where}: {reply.get('reason')}")
        return True

    def pin_to_copy(self, folder: Path) -> None:
        """Import the problem from the run's copy of its files from now on, so that editing
        the original mid-run never mixes two verifiers in one run (provenance.py)."""
        file = self.spec.target.file
        if file is not None and (folder / file.name).is_file():
            self._pool.retarget(ProblemTarget(file=(folder / file.name).resolve()))

    @property
    def verifier_pids(self) -> list[int]:
        """Process ids of the warm verifier processes (for tests: kill one, find a leak)."""
        return self._pool.pids

    @property
    def verifier_workers(self) -> int:
        """Warm verifier processes alive now (for tests and benchmarks)."""
        return self._pool.worker_count

    def close(self) -> None:
        self._pool.close()


# ---- finding and loading ------------------------------------------------------------------


def problem_file_of(path: Path) -> Path:
    """The problem file a path names: ``DIR/problem.py`` for a folder, a ``.py`` file itself."""
    if path.is_dir():
        file = path / PROBLEM_FILE
        if not file.is_file():
            raise ProblemFileError(
                f"{path} holds no {PROBLEM_FILE}; create one with `thetaevolve init {path}`"
            )
        return file
    if path.is_file() and path.suffix == ".py":
        return path
    raise ProblemFileError(
        f"{path} is not a problem: give a folder holding {PROBLEM_FILE} or a single .py file"
    )


def load_native_problem(path: Path) -> NativeProblem:
    """Load the native problem at ``path`` (a folder or a .py file)."""
    file = problem_file_of(path)
    return _load(ProblemTarget(file=file.resolve()), str(file), file.parent)


def load_native_module(module: str) -> NativeProblem:
    """Load a native problem by module name (pip-installed packages, entry points)."""
    return _load(ProblemTarget(module=module), f"module {module}", None)


def _load(target: ProblemTarget, where: str, folder: Path | None) -> NativeProblem:
    pool = VerifierPool(target)
    try:
        try:
            ready = pool.start()
        except WorkerFailed as exc:
            raise ProblemFileError(f"{where}: importing it {exc}") from None
        if not ready.get("ready"):
            raise _import_error(where, ready.get("error") or {}, target.file)
        description = ready["describe"]
        if folder is None and description.get("file"):
            folder = Path(description["file"]).parent
        spec = validate(description, where, target, folder)
    except BaseException:
        pool.close()
        raise
    return NativeProblem(spec, pool)


def _import_error(where: str, error: dict[str, Any], file: Path | None) -> ProblemFileError:
    kind, message = error.get("type", "Error"), error.get("message", "")
    line = f", line {error['lineno']}" if error.get("lineno") else ""
    filename = error.get("filename") or where
    if file is not None and Path(filename) == file:
        filename = where  # the problem file itself: name it as the user did
    if kind in ("SyntaxError", "IndentationError", "TabError"):
        return ProblemFileError(
            f"{filename}{line}: {kind}: {message}; fix the file and try again"
        )
    if kind in ("ModuleNotFoundError", "ImportError"):
        return ProblemFileError(
            f"{where}: importing it failed ({filename}{line}: {kind}: {message}); install the "
            "missing package, or put the helper module beside the problem file"
        )
    return ProblemFileError(
        f"{where}: importing it raised {kind}: {message} ({filename}{line}); fix the file so "
        "that it imports cleanly (module-level code runs at import)"
    )


# ---- checking what the file defines -------------------------------------------------------


class _Checker:
    def __init__(self, where: str, description: dict[str, Any]) -> None:
        self.where = where
        self.values: dict[str, Any] = description.get("values") or {}
        self.functions: dict[str, Any] = description.get("functions") or {}

    def fail(self, name: str, problem: str, fix: str) -> ProblemFileError:
        return ProblemFileError(f"{self.where}: {name} {problem}; {fix}")

    def has(self, name: str) -> bool:
        return name in self.values

    def raw(self, name: str, fix: str) -> Any:
        entry = self.values[name]
        if not entry.get("json"):
            raise self.fail(name, f"is a {entry.get('type')}", fix)
        return entry["value"]

    def text(self, name: str, fix: str, default: str | None = None) -> str:
        if not self.has(name):
            if default is not None:
                return default
            raise self.fail(name, "is missing", fix)
        value = self.raw(name, fix)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, f"must be a non-empty string, got {_shown(value)}", fix)
        return value

    def number(self, name: str, default: float, fix: str) -> float:
        if not self.has(name):
            return default
        value = self.raw(name, fix)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value > 0
        ):
            raise self.fail(name, f"must be a positive number of seconds, got {_shown(value)}", fix)
        return float(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def validate(
    description: dict[str, Any], where: str, target: ProblemTarget, folder: Path | None
) -> NativeSpec:
    """Check a worker's description of a problem module; one clear error per mistake."""
    c = _Checker(where, description)
    name = c.text("NAME", 'add NAME = "my_problem" (it names the problem and its run directories)')
    if not _NAME_PATTERN.fullmatch(name):
        raise c.fail("NAME", f"is {name!r}",
                     "use letters, digits, '_', '-' and '.' only (it names run directories)")
    direction = c.text("DIRECTION", 'add DIRECTION = "max" (or "min")')
    if direction not in ("max", "min"):
        raise c.fail("DIRECTION", f"is {direction!r}", 'write DIRECTION = "max" or "min"')
    statement = c.text("STATEMENT", "add STATEMENT = \"\"\"...\"\"\", the problem as the model "
                                    "should read it")
    initial, initial_file = _initial_program(c, folder)
    _check_function(c, "verify", required=True,
                    fix="define verify(solution, tol=0.0) returning the score "
                        "(raise ValueError with a reason for invalid data)")
    has_plot = _check_function(c, "plot", required=False,
                               fix="define plot(solution, path) or remove the name")
    timeout_s = c.number("TIMEOUT_S", DEFAULT_TIMEOUT_S,
                         "it is the candidate's wall-clock limit, e.g. TIMEOUT_S = 60")
    verify_timeout_s = c.number("VERIFY_TIMEOUT_S", DEFAULT_VERIFY_TIMEOUT_S,
                                "it is the deadline of one verify call, e.g. VERIFY_TIMEOUT_S = 30")
    memory = DEFAULT_VERIFY_MEMORY_MB
    if c.has("VERIFY_MEMORY_MB"):
        memory = c.raw("VERIFY_MEMORY_MB", "write a whole number of megabytes, e.g. 4096")
        if isinstance(memory, bool) or not isinstance(memory, int) or memory < 64:
            raise c.fail("VERIFY_MEMORY_MB", f"must be a whole number >= 64, got {_shown(memory)}",
                         "write the verifier's memory cap in megabytes, e.g. 4096")
    return NativeSpec(
        where=where, target=target, name=name, direction=direction, statement=statement,
        initial_program=initial,
        solution_format=c.text("SOLUTION_FORMAT", "describe the dict solve() returns",
                               default=DEFAULT_SOLUTION_FORMAT),
        score_meaning=_score_meaning(c),
        timeout_s=timeout_s, verify_timeout_s=verify_timeout_s, verify_memory_mb=memory,
        heavy_modules=_heavy_modules(c), known_bounds=_known_bounds(c),
        reward_shaping=_reward_shaping(c), has_plot=has_plot, initial_program_file=initial_file,
    )


def _score_meaning(c: _Checker) -> str:
    if not c.has("SCORE_MEANING"):
        return ""
    return c.text("SCORE_MEANING", 'say in a few words what the score is, e.g. "sum of radii"')


def _check_function(c: _Checker, name: str, *, required: bool, fix: str) -> bool:
    entry = c.functions.get(name)
    if entry is None:
        if required:
            raise c.fail(name, "is missing", fix)
        return False
    if not entry.get("callable"):
        raise c.fail(name, f"is a {entry.get('type')}, not a function", fix)
    if not entry.get("binds"):
        raise c.fail(name, f"has the signature {name}{entry.get('signature')}", fix)
    return True


def _initial_program(c: _Checker, folder: Path | None) -> tuple[str, Path | None]:
    beside = folder / INITIAL_PROGRAM_FILE if folder is not None else None
    has_file = beside is not None and beside.is_file()
    if c.has("INITIAL_PROGRAM") and has_file:
        raise c.fail("INITIAL_PROGRAM", f"is defined and {beside} exists too",
                     "keep one of them, so that it is clear which program evolution starts from")
    if c.has("INITIAL_PROGRAM"):
        code = c.text("INITIAL_PROGRAM", "write the initial program as a string")
        label, source = "INITIAL_PROGRAM", None
    elif has_file:
        assert beside is not None
        try:
            code = beside.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ProblemFileError(f"{beside}: cannot be read ({exc})") from None
        label, source = str(beside), beside
    else:
        raise c.fail("INITIAL_PROGRAM", f"is missing and there is no {INITIAL_PROGRAM_FILE} "
                     "beside the problem file",
                     f"write {INITIAL_PROGRAM_FILE} (or INITIAL_PROGRAM = '''...''') defining "
                     f"{ENTRY_POINT}() that returns a dict")
    _check_program(code, label, c.where)
    return code, source


def _check_program(code: str, label: str, where: str) -> None:
    """The initial program must parse and define solve() at module level (never run here)."""
    try:
        tree = ast.parse(code, filename=label)
    except SyntaxError as exc:
        raise ProblemFileError(
            f"{label}, line {exc.lineno}: SyntaxError: {exc.msg}; fix the initial program"
        ) from None
    defined = {
        node.name for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    } | {
        t.id for node in tree.body if isinstance(node, ast.Assign)
        for t in node.targets if isinstance(t, ast.Name)
    }
    if ENTRY_POINT not in defined:
        raise ProblemFileError(
            f"{label} (the initial program of {where}) defines no {ENTRY_POINT}(); "
            f"add def {ENTRY_POINT}(): returning the solution dict"
        )


def _heavy_modules(c: _Checker) -> tuple[str, ...]:
    if not c.has("HEAVY_MODULES"):
        return DEFAULT_HEAVY_MODULES
    fix = 'list module names to preload in the sandbox, e.g. HEAVY_MODULES = ["numpy"]'
    value = c.raw("HEAVY_MODULES", fix)
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise c.fail("HEAVY_MODULES", f"must be a list of module names, got {_shown(value)}", fix)
    return tuple(value)


def _known_bounds(c: _Checker) -> tuple[KnownBound, ...]:
    if not c.has("KNOWN_BOUNDS"):
        return ()
    fix = ('write a list of numbers, (value, "source"[, "note"]) pairs or '
           '{"value": ..., "source": ...} dicts')
    value = c.raw("KNOWN_BOUNDS", fix)
    if not isinstance(value, list):
        raise c.fail("KNOWN_BOUNDS", f"must be a list, got {_shown(value)}", fix)
    bounds = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            number, source, note = item.get("value"), item.get("source", ""), item.get("note", "")
        elif isinstance(item, list) and 2 <= len(item) <= 3:
            number, source, note = item[0], item[1], item[2] if len(item) == 3 else ""
        else:
            number, source, note = item, "", ""
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not (
            math.isfinite(number)
        ) or not isinstance(source, str) or not isinstance(note, str):
            raise c.fail(f"KNOWN_BOUNDS[{index}]", f"is {_shown(item)}", fix)
        bounds.append(KnownBound(float(number), source or "given in the problem file", note))
    return tuple(bounds)


def _reward_shaping(c: _Checker) -> RewardShaping:
    if not c.has("REWARD_RANGE"):
        return RewardShaping()
    fix = "write REWARD_RANGE = (low, high): the scores mapped to reward 0 and full reward"
    value = c.raw("REWARD_RANGE", fix)
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                   for v in value)
            or not value[0] < value[1]):
        raise c.fail("REWARD_RANGE", f"is {_shown(value)}", fix)
    return RewardShaping(range_min=float(value[0]), range_max=float(value[1]))
