"""OpenEvolve problem folders, run unchanged: ``evaluator.py`` + ``initial_program.*``.

What we follow of OpenEvolve's published behaviour (its README, ``openevolve/evaluator.py``
and ``openevolve/utils/metrics_utils.py``; facts only, none of its code):

- ``evaluate(program_path)`` returns a dict or an ``EvaluationResult`` (metrics, artifacts);
  the candidate is a temporary file with the initial program's suffix, outside the folder;
  the evaluator's folder comes first on ``sys.path`` so its sibling modules import;
- the score (what OpenEvolve ranks by) is ``combined_score`` when present, else the mean of the numeric metrics (bools
  and NaN left out, MAP-Elites ``database.feature_dimensions`` left out, by default
  ``complexity`` and ``diversity``); higher is better;
- cascade evaluation (``evaluator.cascade_evaluation``, default true) runs
  ``evaluate_stage1..3`` with gates ``evaluator.cascade_thresholds`` (default
  [0.5, 0.75, 0.9]) when the module defines ``evaluate_stage1``;
- artifacts go to the next prompt (``prompt.include_artifacts``, default true; capped at
  ``prompt.max_artifact_bytes``, default 20 KB; ``ENABLE_ARTIFACTS=false`` turns them off);
- ``prompt.system_message`` is the statement, ``max_iterations`` the default budget
  (the config itself is read in ``openevolve_config.py``).

Where we differ, on purpose: the whole evaluator runs in our sandbox under one deadline
(``evaluator.timeout`` per stage, default 300 s, times the stages) that really kills; an
evaluator that raises (in ``evaluate`` or cascade stage 1) or hangs is the candidate's crash
or timeout, with the reason, not a score of 0 after retries; a NaN or infinite score is
an invalid solution; module-level state of the evaluator does not carry from one candidate
to the next (each candidate gets a fresh fork of the worker that imported it).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from thetaevolve.errors import UserError
from thetaevolve.problems.evaluator_task import (
    EvaluatorTask,
    cap_text,
    describe_metrics,
    folder_name,
    numeric_metrics,
    unreadable_warning,
)
from thetaevolve.problems.openevolve_config import read_settings
from thetaevolve.sandbox.evaluator_host import EvaluatorHost
from thetaevolve.tasks.base import ENTRY_POINT, Task
from thetaevolve.types import Verdict

EVALUATOR_FILE = "evaluator.py"
CONFIG_FILE = "config.yaml"
INITIAL_STEMS = ("initial_program", "init_program")  # sldbench names its seed init_program
STAGES = ("evaluate_stage1", "evaluate_stage2", "evaluate_stage3")
DEFAULT_STATEMENT = (
    "Improve the program below. It is scored by the problem's evaluator; higher scores "
    "are better."
)


def openevolve_score(metrics: dict[str, Any], feature_dimensions: tuple[str, ...] = ()) -> float:
    """The number OpenEvolve ranks a metrics dict by (see the module docstring)."""
    if not metrics:
        return 0.0
    if "combined_score" in metrics:
        try:
            return float(metrics["combined_score"])
        except (TypeError, ValueError):
            pass  # not a number: fall back to the mean, as OpenEvolve does

    def mean(items: dict[str, Any]) -> float | None:
        values = [
            float(v) for v in items.values()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
        ]
        return sum(values) / len(values) if values else None

    kept = {k: v for k, v in metrics.items() if k not in feature_dimensions}
    value = mean(kept)
    if value is None:
        value = mean(metrics)
    return 0.0 if value is None else value


class OpenEvolveTask(EvaluatorTask):
    kind = "openevolve"
    score_meaning = "OpenEvolve's ranking score: combined_score, else the mean of numeric metrics"

    def __init__(self, *, feature_dimensions: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_dimensions = feature_dimensions

    def score_report(self, report: dict[str, Any], tol: float) -> Verdict:
        metrics = report.get("metrics")
        if not isinstance(metrics, dict):
            return Verdict.invalid("the evaluator reported no metrics", tolerance=tol)
        score = openevolve_score(metrics, self.feature_dimensions)
        if score != score or score in (float("inf"), float("-inf")):
            return Verdict.invalid(f"the evaluator's score is {score}", tolerance=tol)
        return Verdict(valid=True, score=score, tolerance=tol, metrics=numeric_metrics(metrics))

    def feedback(self, report: dict[str, Any]) -> str:
        parts = []
        metrics = report.get("metrics")
        if isinstance(metrics, dict) and describe_metrics(metrics):
            parts.append("Evaluator metrics:\n" + describe_metrics(metrics))
        artifacts = report.get("artifacts")
        if isinstance(artifacts, dict):
            for key, value in artifacts.items():
                parts.append(f"## {key}\n{cap_text(str(value), self.feedback_cap_bytes)}")
        return "\n\n".join(parts)


# ---- reading a folder ------------------------------------------------------------------


def _find_initial(folder: Path) -> Path:
    for stem in INITIAL_STEMS:
        found = sorted(p for p in folder.glob(f"{stem}.*") if p.is_file())
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise UserError(
                f"{folder}: several initial programs ({names}); keep exactly one "
                f"{stem}.<suffix> in the folder"
            )
        if found:
            return found[0]
    raise UserError(
        f"{folder}: no initial_program.<suffix> (e.g. initial_program.py); an OpenEvolve "
        "folder needs its seed program beside evaluator.py"
    )


def top_level_names(path: Path) -> tuple[set[str], bool]:
    """Names a module binds at its top level, read without running it; and whether it has
    a ``from x import *`` (which may bind anything)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except SyntaxError as exc:
        raise UserError(
            f"{path}: syntax error at line {exc.lineno}: {exc.msg}; fix the file and retry"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    names: set[str] = set()
    star = False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names, star


def _read_initial(folder: Path) -> tuple[Path, str]:
    """The folder's ``initial_program.*`` and its text."""
    initial_path = _find_initial(folder)
    try:
        return initial_path, initial_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the initial program {initial_path}: {exc}") from None


def _evaluator_names(evaluator: Path) -> tuple[set[str], bool]:
    """The evaluator's top-level names; it must define ``evaluate`` (or import ``*``)."""
    names, star = top_level_names(evaluator)
    if "evaluate" not in names and not star:
        raise UserError(
            f"{evaluator}: defines no evaluate(program_path); OpenEvolve calls "
            "evaluate(program_path) and expects a dict or an EvaluationResult"
        )
    return names, star


def _config_path(folder: Path, config_file: Path | None) -> Path | None:
    """``--openevolve-config`` when given (it must exist), else the folder's own config if any."""
    if config_file is None:
        own = folder / CONFIG_FILE
        return own if own.is_file() else None
    path = Path(config_file).expanduser().resolve()
    if not path.is_file():
        raise UserError(f"--openevolve-config {config_file}: no such file")
    return path


def load_openevolve_problem(
    folder: Path, config_file: Path | None = None, *, trusted_verify: Task | None = None
) -> Task:
    """The Task for an OpenEvolve folder (``evaluator.py`` + ``initial_program.*``).

    ``config_file``: the OpenEvolve config to read (``--openevolve-config``); by default
    ``folder/config.yaml`` when present. ``trusted_verify``: a native problem's Task whose
    ``verify`` scores the candidate's ``solve()`` data instead of the evaluator.
    """
    folder = Path(folder).expanduser().resolve()
    evaluator = folder / EVALUATOR_FILE
    if not evaluator.is_file():
        raise UserError(f"{folder} has no {EVALUATOR_FILE}; an OpenEvolve folder needs one")
    initial_path, initial = _read_initial(folder)
    names, _ = _evaluator_names(evaluator)
    settings = read_settings(_config_path(folder, config_file), initial_path.suffix)
    warnings = list(settings.warnings)
    unreadable = unreadable_warning(folder)
    if unreadable:
        warnings.append(unreadable)
    cascade = settings.cascade and STAGES[0] in names
    stages = sum(1 for s in STAGES if s in names) if cascade else 1
    host = EvaluatorHost(
        kind="openevolve",
        evaluator=evaluator,
        suffix=settings.suffix,
        options={
            "cascade": settings.cascade,
            "thresholds": list(settings.thresholds),
            "stage_timeout_s": settings.stage_timeout_s,
            "max_artifact_bytes": settings.artifact_bytes,
            "trusted_entry_point": ENTRY_POINT if trusted_verify is not None else "",
        },
    )
    statement = settings.statement
    if trusted_verify is not None and trusted_verify.statement.strip():
        statement = trusted_verify.statement
    return OpenEvolveTask(
        name=trusted_verify.name if trusted_verify is not None else folder_name(folder),
        statement=statement or DEFAULT_STATEMENT,
        initial_program=initial,
        folder=folder,
        host=host,
        timeout_s=settings.stage_timeout_s * stages,
        trusted_verify=trusted_verify,
        default_budget=settings.budget,
        warnings=tuple(warnings),
        feedback_cap_bytes=settings.feedback_cap_bytes,
        feature_dimensions=settings.feature_dimensions,
    )
