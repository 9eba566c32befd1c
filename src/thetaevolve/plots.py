"""Pictures: the one way to reach matplotlib, and a run's best score against candidates evaluated."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: the task modules import this one to draw
    from thetaevolve.tasks.base import Task


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the file-only Agg backend, imported on first use.

    Lazy because importing matplotlib is slow and most commands draw nothing; Agg because
    pictures are only ever written to files, often on machines without a display and from
    threads (the dashboard), where an interactive backend would fail.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def best_so_far(database, task: Task) -> tuple[list[int], list[float]]:
    """(candidates evaluated, best raw score) after every improvement, from the store."""
    xs: list[int] = []
    ys: list[float] = []
    best: float | None = None
    for position, score in enumerate(database.proposal_scores()):
        if score is None:
            continue
        if task.is_better(score, best):
            best = score
            xs.append(position)  # the initial program is position 0
            ys.append(best)
    return xs, ys


def plot_progress(database, task: Task, path: Path) -> None:
    plt = pyplot()

    xs, ys = best_so_far(database, task)
    total = database.count() - 1
    fig, ax = plt.subplots(figsize=(7, 4))
    if xs:
        ax.step(xs + [max(total, xs[-1])], ys + [ys[-1]], where="post", label="best so far")
    known = task.best_known
    if known is not None:
        ax.axhline(known.value, color="gray", linestyle="--", label=f"best known {known.value:.10g}")
    ax.set_xlabel("candidates evaluated")
    ax.set_ylabel(f"score ({'higher' if task.direction == 'max' else 'lower'} is better)")
    ax.set_title(f"{task.name}: best score")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
