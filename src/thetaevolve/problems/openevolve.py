"""OpenEvolve problem folders, run unchanged: ``evaluator.py`` + ``initial_program.*``.

What we follow of OpenEvolve's published behaviour (its README, ``openevolve/evaluator.py``
and ``openevolve/utils/metrics_utils.py``; facts only, none of its code):

- ``evaluate(program_path)`` returns a dict or an ``EvaluationResult`` (metrics, artifacts);
  the candidate is a temporary file with the initial program's suffix, outside the folder;
  the evaluator's folder comes first on ``sys.path`` so its sibling modules import;
- fitness is ``combined_score`` when present, else the mean of the numeric metrics (bools
  and NaN left out, MAP-Elites ``database.feature_dimensions`` left out, by default
  ``complexity`` and ``diversity``); higher is better;
- cascade evaluation (``evaluator.cascade_evaluation``, default true) runs
  ``evaluate_stage1..3`` with gates ``evaluator.cascade_thresholds`` (default
  [0.5, 0.75, 0.9]) when the module defines ``evaluate_stage1``;
- artifacts go to the next prompt (``prompt.include_artifacts``, default true; capped at
  ``prompt.max_artifact_bytes``, default 20 KB; ``ENABLE_ARTIFACTS=false`` turns them off);
- ``prompt.system_message`` is the statement, ``max_iterations`` the default budget.

Where we differ, on purpose: the whole evaluator runs in our sandbox under one deadline
(``evaluator.timeout`` per stage, default 300 s, times the stages) that really kills; an
evaluator that raises (in ``evaluate`` or cascade stage 1) or hangs is the candidate's crash
or timeout, with the reason, not a score of 0 after retries; a NaN or infinite fitness is
an invalid solution; module-level state of the evaluator does not carry from one candidate
to the next (each candidate gets a fresh fork of the worker that imported it).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import yaml

from thetaevolve.errors import UserError
from thetaevolve.problems.evaluator_task import (
    EvaluatorTask,
    cap_text,
    describe_metrics,
    folder_name,
    numeric_metrics,
    unreadable_warning,
)
from thetaevolve.sandbox.evaluator_host import EvaluatorHost
from thetaevolve.tasks.base import ENTRY_POINT, Task
from thetaevolve.types import Verdict

EVALUATOR_FILE = "evaluator.py"
CONFIG_FILE = "config.yaml"
INITIAL_STEMS = ("initial_program", "init_program")  # sldbench names its seed init_program
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_THRESHOLDS = (0.5, 0.75, 0.9)
DEFAULT_ARTIFACT_BYTES = 20 * 1024
DEFAULT_FEATURES = ("complexity", "diversity")  # MAP-Elites dimensions, left out of fitness
STAGES = ("evaluate_stage1", "evaluate_stage2", "evaluate_stage3")
# Settings of an OpenEvolve config.yaml that mean something here; every other key present
# is reported once as unused (OpenEvolve itself ignores unknown keys silently).
USED_KEYS = frozenset({
    "max_iterations",
    "prompt.system_message",
    "prompt.include_artifacts",
    "prompt.max_artifact_bytes",
    "evaluator.timeout",
    "evaluator.cascade_evaluation",
    "evaluator.cascade_thresholds",
    "evaluator.enable_artifacts",
    "database.feature_dimensions",
    "file_suffix",
})
# Where an unused OpenEvolve setting has a ThetaEvolve counterpart, the warning names it.
COUNTERPARTS = {
    "random_seed": "seed",
    "diff_based_evolution": "llm.edit_mode (diff or rewrite)",
    "max_code_length": "gym.max_code_length",
    "llm.api_base": "--base-url",
    "llm.models": "--model",
    "llm.primary_model": "--model",
    "llm.temperature": "llm.temperature",
    "llm.max_tokens": "llm.max_tokens",
    "database.num_islands": "database.num_islands",
    "prompt.num_top_programs": "prompt.num_top_programs",
    "evaluator.parallel_evaluations": "sandbox.workers",
}
DEFAULT_STATEMENT = (
    "Improve the program below. It is scored by the problem's evaluator; higher scores "
    "are better."
)


def fitness(metrics: dict[str, Any], feature_dimensions: tuple[str, ...] = ()) -> float:
    """OpenEvolve's fitness of a metrics dict (see the module docstring)."""
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
    score_meaning = "OpenEvolve fitness: combined_score, else the mean of numeric metrics"

    def __init__(self, *, feature_dimensions: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.feature_dimensions = feature_dimensions

    def score_report(self, report: dict[str, Any], tol: float) -> Verdict:
        metrics = report.get("metrics")
        if not isinstance(metrics, dict):
            return Verdict.invalid("the evaluator reported no metrics", tolerance=tol)
        score = fitness(metrics, self.feature_dimensions)
        if score != score or score in (float("inf"), float("-inf")):
            return Verdict.invalid(f"the evaluator's fitness is {score}", tolerance=tol)
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


def _flat_keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and prefix == "":
            keys += _flat_keys(value, name + ".")
        else:
            keys.append(name)
    return keys


def read_config(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the OpenEvolve config {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML ({exc}); fix it or pass another file "
                        "with --openevolve-config") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise UserError(f"{path} must hold a mapping of settings at the top level")
    return loaded


class _Settings:
    """The config keys we use, type-checked, with OpenEvolve's defaults."""

    def __init__(self, tree: dict[str, Any], path: Path | None) -> None:
        self.tree = tree
        self.path = path

    def get(self, dotted: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        node: Any = self.tree
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        if node is None:
            return default
        if not isinstance(node, kinds) or (isinstance(node, bool) and bool not in kinds):
            raise UserError(
                f"{self.path}: {dotted} must be {what}, got {node!r}; fix it in the config "
                "(or pass another one with --openevolve-config)"
            )
        return node


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
    initial_path = _find_initial(folder)
    try:
        initial = initial_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the initial program {initial_path}: {exc}") from None
    names, star = top_level_names(evaluator)
    if "evaluate" not in names and not star:
        raise UserError(
            f"{evaluator}: defines no evaluate(program_path); OpenEvolve calls "
            "evaluate(program_path) and expects a dict or an EvaluationResult"
        )
    if config_file is not None:
        config_path: Path | None = Path(config_file).expanduser().resolve()
        if not config_path.is_file():
            raise UserError(f"--openevolve-config {config_file}: no such file")
    else:
        config_path = folder / CONFIG_FILE if (folder / CONFIG_FILE).is_file() else None
    tree = read_config(config_path) if config_path is not None else {}
    settings = _Settings(tree, config_path)
    number = (int, float)
    statement = settings.get("prompt.system_message", "", (str,), "a text")
    warnings: list[str] = []
    if statement and " " not in statement.strip():
        warnings.append(
            f"{config_path}: prompt.system_message {statement!r} names an OpenEvolve template, "
            "which ThetaEvolve does not have; the statement is a generic one"
        )
        statement = ""
    budget = settings.get("max_iterations", None, (int,), "a whole number")
    if budget is not None and budget < 0:
        raise UserError(f"{config_path}: max_iterations must be >= 0, got {budget}")
    stage_timeout = float(settings.get("evaluator.timeout", DEFAULT_TIMEOUT_S, number,
                                       "a number of seconds"))
    if stage_timeout <= 0:
        raise UserError(f"{config_path}: evaluator.timeout must be positive, got {stage_timeout}")
    cascade = settings.get("evaluator.cascade_evaluation", True, (bool,), "true or false")
    thresholds = settings.get("evaluator.cascade_thresholds", list(DEFAULT_THRESHOLDS),
                              (list,), "a list of numbers")
    if not all(isinstance(t, number) and not isinstance(t, bool) for t in thresholds):
        raise UserError(f"{config_path}: evaluator.cascade_thresholds must be a list of "
                        f"numbers, got {thresholds!r}")
    include = settings.get("prompt.include_artifacts", True, (bool,), "true or false")
    enabled = settings.get("evaluator.enable_artifacts", True, (bool,), "true or false")
    if os.environ.get("ENABLE_ARTIFACTS", "true").strip().lower() in ("false", "0", "no"):
        enabled = False
    artifact_bytes = settings.get("prompt.max_artifact_bytes", DEFAULT_ARTIFACT_BYTES, (int,),
                                  "a whole number of bytes")
    suffix = settings.get("file_suffix", initial_path.suffix or ".py", (str,), "a suffix like .py")
    if not suffix.startswith(".") or "/" in suffix:
        raise UserError(f"{config_path}: file_suffix must look like .py, got {suffix!r}")
    features = settings.get("database.feature_dimensions", list(DEFAULT_FEATURES), (list,),
                            "a list of names")
    unused = sorted(k for k in _flat_keys(tree) if k not in USED_KEYS)
    if unused:
        hints = [f"{key} -> {COUNTERPARTS[key]}" for key in unused if key in COUNTERPARTS]
        warnings.append(
            f"{config_path}: OpenEvolve settings not used by ThetaEvolve: {', '.join(unused)} "
            "(LLM, database and run settings come from ThetaEvolve's own configuration, "
            "--config/--set" + (f"; counterparts: {', '.join(hints)}" if hints else "") + ")"
        )
    if unreadable_warning(folder):
        warnings.append(unreadable_warning(folder))
    stages = sum(1 for s in STAGES if s in names) if cascade and STAGES[0] in names else 1
    host = EvaluatorHost(
        kind="openevolve",
        evaluator=evaluator,
        suffix=suffix,
        options={
            "cascade": bool(cascade),
            "thresholds": [float(t) for t in thresholds],
            "stage_timeout_s": stage_timeout,
            "max_artifact_bytes": int(artifact_bytes) if include and enabled else 0,
            "trusted_entry_point": ENTRY_POINT if trusted_verify is not None else "",
        },
    )
    if trusted_verify is not None and trusted_verify.statement.strip():
        statement = trusted_verify.statement
    return OpenEvolveTask(
        name=trusted_verify.name if trusted_verify is not None else folder_name(folder),
        statement=statement or DEFAULT_STATEMENT,
        initial_program=initial,
        folder=folder,
        host=host,
        timeout_s=stage_timeout * stages,
        trusted_verify=trusted_verify,
        default_budget=budget,
        warnings=tuple(warnings),
        feedback_cap_bytes=max(1, int(artifact_bytes)),
        feature_dimensions=tuple(str(f) for f in features),
    )
