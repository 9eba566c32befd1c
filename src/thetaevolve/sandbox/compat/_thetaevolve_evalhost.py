"""Runs a user's evaluator on one candidate, inside the sandbox (standard library only).

The trusted side (``thetaevolve.sandbox.evaluator_host``) sends each candidate as a tiny
program whose ``solve()`` calls ``run(options, code)`` here; the sandbox's child runs it like
any candidate, so the evaluator and the candidate share the child's limits and deadline. The
worker imported the evaluator once (``preload_openevolve`` / ``preload_shinka``) before
forking, so a candidate costs a fork, not a fresh interpreter.

What comes back is plain data (``{"evaluator": ..., "metrics": ..., ...}``); the trusted side
turns it into a score with OpenEvolve's or Shinka's rules. The candidate runs in this very
process and could write anything here: that is why such scores are marked
"evaluator-reported" unless a trusted ``verify`` recomputes them from ``solve()``'s data.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import runpy
import signal
import sys
import traceback
from typing import Any

EVALUATION_MODULE = "evaluation_module"  # the name OpenEvolve registers the evaluator under
MAX_METRIC_TEXT = 4000  # a non-numeric metric is feedback text, not a payload
MAX_LIST_ITEMS = 10000  # a longer list or array in the metrics is kept as its text summary
_evaluator: Any = None
_evaluator_path = ""
_preload_error = ""  # why the worker could not import the evaluator before forking


class EvaluatorImportError(RuntimeError):
    """The evaluator module itself failed to import (not the candidate's doing)."""


# ---- loading the evaluator, once per worker --------------------------------------------


def load_evaluator(path: str) -> Any:
    """Import the evaluator file as ``evaluation_module`` (cached for the worker's life)."""
    global _evaluator, _evaluator_path
    if _evaluator is not None and _evaluator_path == path:
        return _evaluator
    if _preload_error:
        # Said on stderr, so that a candidate that now times out in the import says why.
        print(f"thetaevolve: importing {os.path.basename(path)} for this candidate, since the "
              f"warm worker could not ({_preload_error})", file=sys.stderr, flush=True)
    spec = importlib.util.spec_from_file_location(EVALUATION_MODULE, path)
    if spec is None or spec.loader is None:
        raise EvaluatorImportError(f"cannot load {path} as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[EVALUATION_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(EVALUATION_MODULE, None)
        raise EvaluatorImportError(
            f"{os.path.basename(path)} failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    _evaluator, _evaluator_path = module, path
    return module


def preload_openevolve(path: str) -> None:
    global _preload_error
    try:
        load_evaluator(path)
    except BaseException as exc:
        _preload_error = str(exc) or type(exc).__name__
        raise


def preload_shinka(path: str) -> None:
    """Import what ``evaluate.py`` imports at its top level (numpy, sibling modules, ...).

    The script itself runs per candidate as ``__main__`` (that is how Shinka runs it), so
    only its imports can be paid for once.
    """
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the per-candidate run reports it properly
            pass


# ---- turning what the evaluator returned into plain data -------------------------------


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON-able data: numpy scalars and arrays become numbers and lists, the rest text."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value[:MAX_METRIC_TEXT]
    if depth > 16:
        return str(value)[:MAX_METRIC_TEXT]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value[:MAX_LIST_ITEMS]]
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) in ((), None):
        try:
            return _plain(item(), depth + 1)
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)
    size = getattr(value, "size", 0)
    if callable(tolist) and isinstance(size, int) and size <= MAX_LIST_ITEMS:
        try:
            return _plain(tolist(), depth + 1)
        except (TypeError, ValueError):
            pass
    return str(value)[:MAX_METRIC_TEXT]


def _artifact_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else str(value)


def _capped_artifacts(artifacts: dict[Any, Any], limit: int) -> dict[str, str]:
    """Artifacts as text, cut so that together they stay within ``limit`` bytes."""
    out: dict[str, str] = {}
    room = limit
    for key, value in artifacts.items():
        text = _artifact_text(value)
        data = text.encode("utf-8", errors="replace")
        if len(data) > room:
            text = data[: max(0, room)].decode("utf-8", errors="ignore")
            text += f"\n[... {len(data) - max(0, room)} bytes cut ...]"
        out[str(key)] = text
        room -= min(len(data), max(0, room))
    return out


def _result_parts(result: Any) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """(metrics, artifacts) from a dict or an EvaluationResult; else why not."""
    if inspect.iscoroutine(result):
        result = asyncio.run(result)  # an ``async def evaluate`` is awaited, not refused
    if isinstance(result, dict):
        metrics = dict(result)
        artifacts = metrics.pop("artifacts", None) if isinstance(metrics.get("artifacts"), dict) else None
        return metrics, dict(artifacts or {})
    found = getattr(result, "metrics", None)
    if isinstance(found, dict):
        artifacts = getattr(result, "artifacts", None)
        return dict(found), dict(artifacts) if isinstance(artifacts, dict) else {}
    return f"evaluate() returned a {type(result).__name__}, not a dict or an EvaluationResult"


# ---- OpenEvolve's cascade ----------------------------------------------------------------


def passes_threshold(metrics: dict[str, Any], threshold: float) -> bool:
    """OpenEvolve's stage gate: ``combined_score`` when present, else the mean of the
    numeric metrics other than ``error`` (bools counted, as OpenEvolve counts them)."""
    if not metrics:
        return False
    score = metrics.get("combined_score")
    if isinstance(score, (int, float)):
        return float(score) >= threshold
    values = [float(v) for k, v in metrics.items() if k != "error" and isinstance(v, (int, float))]
    return bool(values) and sum(values) / len(values) >= threshold


def _numeric_merge(target: dict[str, Any], metrics: dict[str, Any]) -> None:
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and name != "error":
            target[name] = float(value)


class StageTimeout(Exception):
    """A cascade stage after the first ran past ``evaluator.timeout``."""


def _timed_stage(function: Any, path: str, timeout_s: float) -> Any:
    """Call one later cascade stage, cut at ``timeout_s`` as OpenEvolve cuts each stage."""
    if not timeout_s > 0:
        return function(path)

    def expire(signum: int, frame: Any) -> None:
        raise StageTimeout(f"the stage ran past evaluator.timeout ({timeout_s:g} s)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout_s)
    try:
        return function(path)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cascade(
    module: Any, path: str, thresholds: list[float], stage_timeout_s: float = 0.0
) -> tuple[dict, dict] | str:
    """Stages 1-3 with OpenEvolve's gates and merge rules. A stage 1 that raises is the
    candidate's crash (the exception propagates; one that hangs meets the candidate's
    deadline); a later stage that raises keeps the earlier metrics, adds ``stageN_passed:
    0.0`` and its traceback as an artifact; one that runs past ``evaluator.timeout`` also
    adds ``timeout: True``, as in OpenEvolve."""
    first = _result_parts(module.evaluate_stage1(path))
    if isinstance(first, str):
        return first
    metrics, artifacts = first
    if not passes_threshold(metrics, thresholds[0] if thresholds else 0.0):
        return metrics, artifacts
    merged: dict[str, Any] | None = None
    for stage in (2, 3):
        function = getattr(module, f"evaluate_stage{stage}", None)
        if function is None:
            break
        if stage == 3 and (len(thresholds) < 2 or not passes_threshold(merged or {}, thresholds[1])):
            break
        try:
            parts = _result_parts(_timed_stage(function, path, stage_timeout_s))
        except StageTimeout:
            current = merged if merged is not None else metrics
            current[f"stage{stage}_passed"] = 0.0
            current["timeout"] = True
            artifacts.update({f"stage{stage}_timeout": True, "failure_stage": f"stage{stage}"})
            return current, artifacts
        except Exception as exc:  # noqa: BLE001 - OpenEvolve keeps the earlier stages
            current = merged if merged is not None else metrics
            current[f"stage{stage}_passed"] = 0.0
            artifacts.update({
                f"stage{stage}_stderr": str(exc),
                f"stage{stage}_traceback": traceback.format_exc(),
                "failure_stage": f"stage{stage}",
            })
            return current, artifacts
        if isinstance(parts, str):
            return parts
        if merged is None:
            merged = {}
            _numeric_merge(merged, metrics)
        _numeric_merge(merged, parts[0])
        artifacts.update(parts[1])
    return (merged if merged is not None else metrics), artifacts


# ---- running one candidate ---------------------------------------------------------------


def _write_program(code: str, path: str) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(code)
    return path


def _candidate_data(code: str, path: str, entry_point: str) -> dict[str, Any] | str:
    """The candidate's own ``solve()`` data, for a trusted verify beside the evaluator."""
    namespace: dict[str, Any] = {"__name__": "candidate", "__file__": path}
    exec(compile(code, path, "exec"), namespace)
    solve = namespace.get(entry_point)
    if not callable(solve):
        return f"the program defines no {entry_point}() for the trusted verify"
    value = solve()
    if not isinstance(value, dict):
        return f"{entry_point}() must return a dict, got {type(value).__name__}"
    return value


def run(options: dict[str, Any], code: str) -> dict[str, Any]:
    # The candidate's file lives in a throwaway directory: caching its bytecode there (or
    # next to the read-only problem folder's modules) only costs time.
    sys.dont_write_bytecode = True
    kind = options["kind"]
    if kind == "openevolve":
        return run_openevolve(options, code)
    if kind == "shinka":
        return run_shinka(options, code)
    raise ValueError(f"unknown evaluator kind {kind!r}")


def _with_solution(options: dict[str, Any], code: str, path: str, out: dict[str, Any]) -> dict:
    if options.get("trusted_entry_point"):
        data = _candidate_data(code, path, options["trusted_entry_point"])
        if isinstance(data, str):
            out["invalid"] = data
        else:
            out["solution"] = data
    return out


def run_openevolve(options: dict[str, Any], code: str) -> dict[str, Any]:
    module = load_evaluator(options["evaluator"])
    # Like OpenEvolve: a file named like a temporary one, with the initial program's suffix,
    # outside the problem folder (here in the candidate's private directory, its TMPDIR).
    # Named directly: tempfile would first probe the directory with test files, every fork.
    name = f"tmp{os.urandom(6).hex()}{options['suffix']}"
    path = _write_program(code, os.path.join(os.environ.get("TMPDIR") or os.getcwd(), name))
    out: dict[str, Any] = {"evaluator": "openevolve"}
    _with_solution(options, code, path, out)
    if options.get("cascade") and hasattr(module, "evaluate_stage1"):
        parts = _cascade(module, path, list(options.get("thresholds") or []),
                         float(options.get("stage_timeout_s") or 0.0))
    else:
        parts = _result_parts(module.evaluate(path))
    if isinstance(parts, str):
        out["invalid"] = parts
        return out
    metrics, artifacts = parts
    out["metrics"] = _plain(metrics)
    limit = int(options.get("max_artifact_bytes", 0))
    out["artifacts"] = _capped_artifacts(artifacts, limit) if limit > 0 else {}
    return out


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return f"unreadable: {exc}"


def run_shinka(options: dict[str, Any], code: str) -> dict[str, Any]:
    """Shinka's job, in this process: ``evaluate.py --program_path P --results_dir R`` run
    as ``__main__``, then ``R/metrics.json`` and ``R/correct.json`` read back."""
    generation = os.path.join(os.getcwd(), "gen_0")
    results_dir = os.path.join(generation, "results")
    os.makedirs(results_dir, exist_ok=True)
    path = _write_program(code, os.path.join(generation, "main" + options["suffix"]))
    evaluate = options["evaluator"]
    out: dict[str, Any] = {"evaluator": "shinka"}
    _with_solution(options, code, path, out)
    saved_argv = sys.argv
    sys.argv = [evaluate, "--program_path", path, "--results_dir", results_dir]
    exit_code: Any = 0
    try:
        runpy.run_path(evaluate, run_name="__main__")
    except SystemExit as exc:
        exit_code = exc.code
    finally:
        sys.argv = saved_argv
    metrics = _read_json(os.path.join(results_dir, "metrics.json"))
    correct = _read_json(os.path.join(results_dir, "correct.json"))
    out["metrics"] = _plain(metrics)
    out["correct"] = _plain(correct)
    out["exit_code"] = exit_code if isinstance(exit_code, int) or exit_code is None else str(exit_code)
    return out
