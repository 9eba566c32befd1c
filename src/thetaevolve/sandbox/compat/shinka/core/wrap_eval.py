"""``run_shinka_eval``: ShinkaEvolve's evaluation helper, re-implemented for the sandbox.

Our own implementation of the published interface: load the candidate at ``program_path``
in this process, call its ``experiment_fn_name`` ``num_runs`` times (keyword arguments from
``get_experiment_kwargs(i)``, by default ``{"seed": i + 1}``), validate each result with
``validate_fn(result) -> (ok, message)``, aggregate with ``aggregate_metrics_fn(results)``,
and write ``metrics.json`` and ``correct.json`` into ``results_dir``. Returns
``(metrics, correct, error)``.

Differences, on purpose: runs are sequential (``run_workers`` is accepted and ignored: the
whole evaluation already runs in one sandboxed process under one deadline); early stopping
and ``plotting_fn`` are accepted and ignored (ThetaEvolve draws no per-candidate plots), and
so is any keyword a newer Shinka may add.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

DEFAULT_METRICS_ON_ERROR: Dict[str, Any] = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}


def _load_candidate(program_path: str) -> Any:
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the program at {program_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["program"] = module
    spec.loader.exec_module(module)
    return module


def _jsonable(value: Any) -> Any:
    """What json.dump can write: numpy scalars and arrays become numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    for method in ("item", "tolist"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return _jsonable(convert())
            except (TypeError, ValueError):
                pass
    return str(value)


def _write_results(results_dir: str, metrics: Dict[str, Any], correct: bool,
                   error: Optional[str]) -> None:
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "correct.json"), "w") as handle:
        json.dump({"correct": bool(correct), "error": error}, handle, indent=2)
    with open(os.path.join(results_dir, "metrics.json"), "w") as handle:
        json.dump(_jsonable(metrics), handle, indent=2)


def run_shinka_eval(
    program_path: str,
    results_dir: str,
    experiment_fn_name: str,
    num_runs: int,
    get_experiment_kwargs: Optional[Callable[[int], Dict[str, Any]]] = None,
    aggregate_metrics_fn: Optional[Callable[[List[Any]], Dict[str, Any]]] = None,
    validate_fn: Optional[Callable[[Any], Tuple[bool, Optional[str]]]] = None,
    plotting_fn: Optional[Callable[[Any], List[Any]]] = None,
    default_metrics_on_error: Optional[Dict[str, Any]] = None,
    early_stop_method: Any = None,
    early_stop_threshold: Optional[float] = None,
    early_stop_score_fn: Optional[Callable[[Any], float]] = None,
    early_stop_kwargs: Optional[Dict[str, Any]] = None,
    run_workers: int = 1,
    max_workers_cap: Optional[int] = None,
    verbose: Optional[bool] = None,
    **newer_options: Any,
) -> Tuple[Dict[str, Any], bool, Optional[str]]:
    correct = True
    error: Optional[str] = None
    results: List[Any] = []
    times: List[float] = []
    validation_errors: List[str] = []
    valid_runs = invalid_runs = 0
    try:
        module = _load_candidate(program_path)
        experiment = getattr(module, experiment_fn_name, None)
        if not callable(experiment):
            raise AttributeError(f"the program defines no function {experiment_fn_name!r}")
        for i in range(int(num_runs)):
            kwargs = get_experiment_kwargs(i) if get_experiment_kwargs else {"seed": i + 1}
            started = time.perf_counter()
            result = experiment(**kwargs)
            times.append(time.perf_counter() - started)
            results.append(result)
            if validate_fn is not None:
                ok, message = validate_fn(result)
                if ok:
                    valid_runs += 1
                else:
                    invalid_runs += 1
                    correct = False
                    text = str(message) if message else "validation failed"
                    error = error or text
                    if text not in validation_errors:
                        validation_errors.append(text)
        if aggregate_metrics_fn is not None:
            metrics = dict(aggregate_metrics_fn(results))
        else:
            metrics = {"num_successful_runs": len(results)}
        metrics["execution_time_mean"] = statistics.fmean(times) if times else 0.0
        metrics["execution_time_std"] = statistics.pstdev(times) if times else 0.0
        if validate_fn is not None:
            metrics["num_valid_runs"] = valid_runs
            metrics["num_invalid_runs"] = invalid_runs
            metrics["all_validation_errors"] = validation_errors
        score = metrics.get("combined_score")
        try:
            finite = score is None or math.isfinite(float(score))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            correct = False
            error = error or f"combined_score is not a finite number ({score!r})"
    except Exception as exc:  # noqa: BLE001 - Shinka's contract: any failure is "incorrect"
        defaults = {**DEFAULT_METRICS_ON_ERROR, **(default_metrics_on_error or {})}
        metrics = {key: defaults[key] for key in DEFAULT_METRICS_ON_ERROR}
        if validate_fn is not None:
            metrics["num_invalid_runs"] = len(results) or int(num_runs)
            metrics["all_validation_errors"] = [str(exc)]
        correct = False
        error = f"{type(exc).__name__}: {exc}"
        print(f"Evaluation error: {error}", file=sys.stderr)
    if "extra_data" in metrics:
        extra = metrics.pop("extra_data")
        os.makedirs(results_dir, exist_ok=True)
        try:
            with open(os.path.join(results_dir, "extra.pkl"), "wb") as handle:
                pickle.dump(extra, handle)
        except Exception as exc:  # noqa: BLE001 - extra data is optional
            print(f"could not save extra_data: {exc}", file=sys.stderr)
    _write_results(results_dir, metrics, correct, error)
    return metrics, correct, error
