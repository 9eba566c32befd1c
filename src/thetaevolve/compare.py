"""``thetaevolve compare``: runs of one task side by side, at equal candidate counts.

What is reported per run (``candidates`` count every proposal, failures included, the
initial program excluded; ``best_k`` is the best score among the initial program and the
first k candidates, in the task's direction):

* ``best_at_n``: best_N at the common budget N (by default the smallest run's count, so
  every run is judged on the same number of candidates);
* ``auc``: the area under the best-so-far curve over candidates 1..N, divided by N, i.e.
  the mean of best_1 .. best_N, in score units. It credits getting good early, not only
  ending good, which is what a faster-progress claim (ThetaEvolve's, for RL checkpoints
  on unseen tasks) is about;
* ``to_threshold``: the smallest k with best_k at or beyond ``--threshold`` (0 when the
  initial program already is; None when the run never gets there);
* ``final_best``: the best score over all of the run's candidates (not cut at N).

Reads stores read-only, so it works on runs that are still going.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thetaevolve.errors import UserError


@dataclass(frozen=True)
class RunCurve:
    run_dir: str
    task: str
    direction: str  # "max" or "min"
    initial: float
    scores: list[float | None]  # each candidate's score in commit order (None: failure)

    @property
    def candidates(self) -> int:
        return len(self.scores)

    def best_so_far(self) -> list[float]:
        """best_k for k = 1 .. candidates."""
        better = (lambda a, b: a > b) if self.direction == "max" else (lambda a, b: a < b)
        best, out = self.initial, []
        for score in self.scores:
            if score is not None and math.isfinite(score) and better(score, best):
                best = score
            out.append(best)
        return out


def auc(curve: list[float], n: int) -> float:
    """Mean of the best-so-far curve over its first n points."""
    if n < 1 or n > len(curve):
        raise ValueError(f"AUC over {n} candidates of a curve of {len(curve)}")
    return math.fsum(curve[:n]) / n


def candidates_to_reach(curve: list[float], initial: float, threshold: float,
                        direction: str) -> int | None:
    reached = (lambda v: v >= threshold) if direction == "max" else (lambda v: v <= threshold)
    if reached(initial):
        return 0
    return next((k for k, value in enumerate(curve, start=1) if reached(value)), None)


def load_curve(run_dir: Path) -> RunCurve:
    from thetaevolve.config import ConfigError, load_run_config
    from thetaevolve.database.store import ProgramDatabase
    from thetaevolve.session import CONFIG_FILE, STORE_FILE, read_marker
    from thetaevolve.problems.provenance import open_run_problem

    marker = read_marker(run_dir)
    if marker.get("kind") == "train-multi":
        raise UserError(f"{run_dir} is a multi-task run; compare one of its tasks, e.g. "
                        f"{run_dir}/tasks/0-{marker.get('task')}")
    if not (run_dir / STORE_FILE).exists():
        raise UserError(f"{run_dir} has no program store yet ({STORE_FILE})")
    try:
        config = load_run_config(run_dir / CONFIG_FILE)
        task = open_run_problem(run_dir, str(marker.get("task")), check_changes=False)
        task.close()  # only its name and direction are needed
    except (ConfigError, KeyError) as exc:
        raise UserError(f"{run_dir}: {exc}") from None
    database = ProgramDatabase.open(run_dir / STORE_FILE, config.database, read_only=True)
    try:
        initial = database.initial()
        skip = int(database.get_meta("initial_programs") or 0)
        scores = database.proposal_scores()[skip:]
    finally:
        database.close()
    if initial is None or initial.score is None:
        raise UserError(f"{run_dir} has no successful initial program to compare from")
    return RunCurve(str(run_dir), task.name, task.direction, float(initial.score), scores)


def compare_curves(curves: list[RunCurve], at: int | None = None,
                   threshold: float | None = None) -> dict[str, Any]:
    """The comparison table as data (what ``--json`` prints)."""
    if not curves:
        raise UserError("compare needs at least one run directory")
    tasks = sorted({c.task for c in curves})
    if len(tasks) > 1:
        raise UserError(f"compare takes runs of one task; these runs are of {', '.join(tasks)}")
    smallest = min(c.candidates for c in curves)
    n = smallest if at is None else at
    if n < 1:
        raise UserError("the runs have no candidates yet; there is nothing to compare")
    if n > smallest:
        raise UserError(f"--at {n} is beyond the smallest run's {smallest} candidates")
    rows = []
    for curve in curves:
        best = curve.best_so_far()
        rows.append({
            "run": curve.run_dir,
            "candidates": curve.candidates,
            "initial": curve.initial,
            "best_at_n": best[n - 1],
            "auc": auc(best, n),
            "to_threshold": (None if threshold is None else
                             candidates_to_reach(best, curve.initial, threshold, curve.direction)),
            "final_best": best[-1],
        })
    return {"task": tasks[0], "direction": curves[0].direction, "n": n,
            "threshold": threshold, "runs": rows}


def format_table(result: dict[str, Any]) -> str:
    n = result["n"]
    header = ["run", "candidates", f"best@{n}", f"AUC@{n}"]
    if result["threshold"] is not None:
        header.append(f"to reach {result['threshold']:g}")
    header.append("final best")
    lines = [header]
    for row in result["runs"]:
        cells = [row["run"], str(row["candidates"]), f"{row['best_at_n']:.10g}",
                 f"{row['auc']:.10g}"]
        if result["threshold"] is not None:
            cells.append("-" if row["to_threshold"] is None else str(row["to_threshold"]))
        cells.append(f"{row['final_best']:.10g}")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    title = (f"{result['task']} ({'higher' if result['direction'] == 'max' else 'lower'} "
             f"is better), at {n} candidates each")
    body = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in lines]
    return "\n".join([title, *body])


def plot_comparison(curves: list[RunCurve], result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for curve in curves:
        best = [curve.initial, *curve.best_so_far()]
        ax.step(range(len(best)), best, where="post", label=Path(curve.run_dir).name)
    ax.axvline(result["n"], color="gray", linestyle=":", label=f"N = {result['n']}")
    if result["threshold"] is not None:
        ax.axhline(result["threshold"], color="gray", linestyle="--", label="threshold")
    ax.set_xlabel("candidates evaluated")
    ax.set_ylabel(f"best score ({'higher' if result['direction'] == 'max' else 'lower'} "
                  "is better)")
    ax.set_title(f"{result['task']}: best so far")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


__all__ = ["RunCurve", "auc", "candidates_to_reach", "compare_curves",
           "format_table", "load_curve", "plot_comparison"]
