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
    runs = _Runs()
    try:
        experiment = _experiment(program_path, experiment_fn_name)
        _run_all(experiment, int(num_runs), get_experiment_kwargs, validate_fn, runs)
        metrics = _metrics(runs, aggregate_metrics_fn, validate_fn)
        correct, error = runs.invalid == 0, runs.error
        problem = _score_problem(metrics)
        if problem is not None:
            correct = False
            error = error or problem
    except Exception as exc:  # noqa: BLE001 - Shinka's contract: any failure is "incorrect"
        metrics = _metrics_on_error(exc, runs, num_runs, validate_fn, default_metrics_on_error)
        correct = False
        error = f"{type(exc).__name__}: {exc}"
        print(f"Evaluation error: {error}", file=sys.stderr)
    _save_extra_data(metrics, results_dir)
    _write_results(results_dir, metrics, correct, error)
    return metrics, correct, error


class _Runs:
    """What the runs so far produced: their results and times, and the validation tally."""

    def __init__(self) -> None:
        self.results: List[Any] = []
        self.times: List[float] = []
        self.validation_errors: List[str] = []  # each distinct message once
        self.valid = 0
        self.invalid = 0
        self.error: Optional[str] = None  # the first failed validation's message


def _experiment(program_path: str, name: str) -> Callable[..., Any]:
    module = _load_candidate(program_path)
    experiment = getattr(module, name, None)
    if not callable(experiment):
        raise AttributeError(f"the program defines no function {name!r}")
    return experiment


def _run_all(
    experiment: Callable[..., Any],
    num_runs: int,
    get_experiment_kwargs: Optional[Callable[[int], Dict[str, Any]]],
    validate_fn: Optional[Callable[[Any], Tuple[bool, Optional[str]]]],
    runs: _Runs,
) -> None:
    """Call the experiment ``num_runs`` times, timing and validating each result."""
    for i in range(num_runs):
        kwargs = get_experiment_kwargs(i) if get_experiment_kwargs else {"seed": i + 1}
        started = time.perf_counter()
        result = experiment(**kwargs)
        runs.times.append(time.perf_counter() - started)
        runs.results.append(result)
        if validate_fn is None:
            continue
        ok, message = validate_fn(result)
        if ok:
            runs.valid += 1
            continue
        runs.invalid += 1
        text = str(message) if message else "validation failed"
        runs.error = runs.error or text
        if text not in runs.validation_errors:
            runs.validation_errors.append(text)


def _metrics(
    runs: _Runs,
    aggregate_metrics_fn: Optional[Callable[[List[Any]], Dict[str, Any]]],
    validate_fn: Optional[Callable[[Any], Tuple[bool, Optional[str]]]],
) -> Dict[str, Any]:
    """The aggregated metrics, with Shinka's timing and validation fields added."""
    if aggregate_metrics_fn is not None:
        metrics = dict(aggregate_metrics_fn(runs.results))
    else:
        metrics = {"num_successful_runs": len(runs.results)}
    metrics["execution_time_mean"] = statistics.fmean(runs.times) if runs.times else 0.0
    metrics["execution_time_std"] = statistics.pstdev(runs.times) if runs.times else 0.0
    if validate_fn is not None:
        metrics["num_valid_runs"] = runs.valid
        metrics["num_invalid_runs"] = runs.invalid
        metrics["all_validation_errors"] = runs.validation_errors
    return metrics


def _score_problem(metrics: Dict[str, Any]) -> Optional[str]:
    """Why ``combined_score`` is unusable (present but not a finite number); None if fine."""
    score = metrics.get("combined_score")
    try:
        finite = score is None or math.isfinite(float(score))
    except (TypeError, ValueError):
        finite = False
    return None if finite else f"combined_score is not a finite number ({score!r})"


def _metrics_on_error(
    exc: Exception,
    runs: _Runs,
    num_runs: int,
    validate_fn: Optional[Callable[[Any], Tuple[bool, Optional[str]]]],
    default_metrics_on_error: Optional[Dict[str, Any]],
) -> Dict[str, Any]:
    """Shinka's metrics for a failed evaluation: its defaults, overridden by the caller's."""
    defaults = {**DEFAULT_METRICS_ON_ERROR, **(default_metrics_on_error or {})}
    metrics = {key: defaults[key] for key in DEFAULT_METRICS_ON_ERROR}
    if validate_fn is not None:
        metrics["num_invalid_runs"] = len(runs.results) or int(num_runs)
        metrics["all_validation_errors"] = [str(exc)]
    return metrics


def _save_extra_data(metrics: Dict[str, Any], results_dir: str) -> None:
    """Shinka's ``extra_data`` metric is pickled to ``extra.pkl``, not kept in the metrics."""
    if "extra_data" in metrics:
        extra = metrics.pop("extra_data")
        os.makedirs(results_dir, exist_ok=True)
        try:
            with open(os.path.join(results_dir, "extra.pkl"), "wb") as handle:
                pickle.dump(extra, handle)
        except Exception as exc:  # noqa: BLE001 - extra data is optional
            print(f"could not save extra_data: {exc}", file=sys.stderr)
