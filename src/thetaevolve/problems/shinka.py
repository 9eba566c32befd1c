"""ShinkaEvolve problem folders, run unchanged: ``evaluate.py`` + ``initial.<suffix>``.

What we follow of ShinkaEvolve's published behaviour (facts only, none of its code): each
candidate is written to ``gen_N/main.<suffix>`` and ``evaluate.py --program_path
gen_N/main.<suffix> --results_dir gen_N/results`` runs with the task folder first on
``sys.path``; it writes ``results/metrics.json`` (``combined_score``, higher is better;
``public`` shown to the model; ``private`` stored, never shown; ``text_feedback``) and
``results/correct.json`` (``{"correct": bool, "error": str | null}``). Missing files mean an
incorrect program. ``from shinka.core import run_shinka_eval`` works inside the sandbox.

Where we differ, on purpose: ``evaluate.py`` runs as ``__main__`` inside our sandbox's
forked child (its imports preloaded by the warm worker), not as a fresh subprocess; an
incorrect program is an invalid solution (Shinka stores it too, and never ranks it best); an
``evaluate.py`` that raises or hangs is the candidate's crash or timeout, with the reason.
The statement comes from ``shinka.yaml`` (``evo_config.task_sys_msg``) or a ``task_sys_msg``
string in ``run_evo.py``, read without running it.
"""

from __future__ import annotations

import ast
import math
from pathlib import Path
from typing import Any

import yaml

from thetaevolve.errors import UserError
from thetaevolve.problems.evaluator_task import (
    EvaluatorTask,
    describe_metrics,
    folder_name,
    numeric_metrics,
    unreadable_warning,
)
from thetaevolve.problems.openevolve import top_level_names
from thetaevolve.sandbox.evaluator_host import EvaluatorHost
from thetaevolve.tasks.base import Task
from thetaevolve.types import Verdict

EVALUATE_FILE = "evaluate.py"
CONFIG_FILE = "shinka.yaml"
LAUNCHER_FILE = "run_evo.py"
DEFAULT_TIMEOUT_S = 300.0
DEFAULT_STATEMENT = (
    "Improve the program below. It is scored by the problem's evaluate.py "
    "(combined_score; higher is better)."
)


class ShinkaTask(EvaluatorTask):
    kind = "shinka"
    score_meaning = "combined_score from evaluate.py's metrics.json"

    def score_report(self, report: dict[str, Any], tol: float) -> Verdict:
        metrics = report.get("metrics")
        correct = report.get("correct")
        if metrics is None:
            return Verdict.invalid(
                f"evaluate.py wrote no metrics.json (exit code {report.get('exit_code')})",
                tolerance=tol,
            )
        if not isinstance(metrics, dict):
            return Verdict.invalid(f"metrics.json is not an object: {str(metrics)[:200]}", tol)
        if not isinstance(correct, dict) or correct.get("correct") is not True:
            error = correct.get("error") if isinstance(correct, dict) else None
            reason = "incorrect" if correct is not None else "no correct.json"
            detail = f": {error}" if error else ""
            feedback = metrics.get("text_feedback")
            extra = f" (feedback: {str(feedback)[:500]})" if feedback else ""
            return Verdict.invalid(f"evaluate.py judged it {reason}{detail}{extra}", tol)
        score = metrics.get("combined_score")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            return Verdict.invalid(f"combined_score is not a finite number ({score!r})", tol)
        public = metrics.get("public")
        shown = numeric_metrics(public) if isinstance(public, dict) else {}
        return Verdict(valid=True, score=float(score), tolerance=tol, metrics=shown)

    def feedback(self, report: dict[str, Any]) -> str:
        metrics = report.get("metrics")
        if not isinstance(metrics, dict):
            return ""
        parts = []
        public = metrics.get("public")
        if isinstance(public, dict) and describe_metrics(public):
            parts.append("Evaluator metrics:\n" + describe_metrics(public))
        text = metrics.get("text_feedback")
        if isinstance(text, str) and text.strip():
            parts.append("## text_feedback\n" + text.strip())
        return "\n\n".join(parts)  # ``private`` is never shown


def _statement(folder: Path) -> tuple[str, int | None]:
    """The task message and the generation count, from shinka.yaml or run_evo.py."""
    config = folder / CONFIG_FILE
    if config.is_file():
        try:
            tree = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise UserError(f"cannot read {config}: {exc}") from None
        evo = tree.get("evo_config") if isinstance(tree, dict) else None
        if isinstance(evo, dict):
            message = evo.get("task_sys_msg")
            generations = evo.get("num_generations")
            budget = generations if isinstance(generations, int) and generations >= 0 else None
            if isinstance(message, str) and message.strip():
                return message, budget
    launcher = folder / LAUNCHER_FILE
    if launcher.is_file():
        return _read_launcher(launcher)
    return "", None


def _read_launcher(path: Path) -> tuple[str, int | None]:
    """``task_sys_msg`` and ``num_generations`` from a ``run_evo.py``, read, never run.

    Shinka's launchers pass them as keywords (``EvolutionConfig(task_sys_msg=MSG, ...)``) or
    store them (``config["evo_config"]["task_sys_msg"] = MSG``), with MSG a string constant
    or a module-level variable holding one.
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, OSError, UnicodeDecodeError):
        return "", None
    strings = {
        target.id: node.value.value
        for node in tree.body if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets if isinstance(target, ast.Name)
    }

    def value_of(node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return strings.get(node.id)
        return None

    found: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in ("task_sys_msg", "num_generations"):
            found.setdefault(node.arg, value_of(node.value))
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                key: object = None
                if isinstance(target, ast.Name):
                    key = target.id
                elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                    key = target.slice.value
                if key in ("task_sys_msg", "num_generations"):
                    found.setdefault(str(key), value_of(node.value))
    message = found.get("task_sys_msg")
    generations = found.get("num_generations")
    budget = generations if isinstance(generations, int) and not isinstance(generations, bool) \
        and generations >= 0 else None
    return (message if isinstance(message, str) else ""), budget


def load_shinka_problem(folder: Path) -> Task:
    """The Task for a ShinkaEvolve folder (``evaluate.py`` + ``initial.<suffix>``)."""
    folder = Path(folder).expanduser().resolve()
    evaluate = folder / EVALUATE_FILE
    if not evaluate.is_file():
        raise UserError(f"{folder} has no {EVALUATE_FILE}; a ShinkaEvolve folder needs one")
    found = sorted(p for p in folder.glob("initial.*") if p.is_file())
    if not found:
        raise UserError(f"{folder}: no initial.<suffix> (e.g. initial.py) beside evaluate.py")
    if len(found) > 1:
        raise UserError(f"{folder}: several initial programs ({', '.join(p.name for p in found)});"
                        " keep exactly one initial.<suffix>")
    try:
        initial = found[0].read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read the initial program {found[0]}: {exc}") from None
    top_level_names(evaluate)  # a syntax error is reported now, naming the file
    statement, budget = _statement(folder)
    warnings = tuple(w for w in (unreadable_warning(folder),) if w)
    host = EvaluatorHost(kind="shinka", evaluator=evaluate, suffix=found[0].suffix or ".py")
    return ShinkaTask(
        name=folder_name(folder),
        statement=statement or DEFAULT_STATEMENT,
        initial_program=initial,
        folder=folder,
        host=host,
        timeout_s=DEFAULT_TIMEOUT_S,
        default_budget=budget,
        warnings=warnings,
    )
