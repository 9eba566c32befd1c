"""Every new problem works end to end with the default (offline) proposer: a short
``thetaevolve run`` improves on the task's own initial program (what ``make run TASK=...`` does)."""

from __future__ import annotations

import json

import pytest

from helpers import NEW_TASKS
from thetaevolve.cli import main
from thetaevolve.tasks import get_task



@pytest.mark.slow
@pytest.mark.parametrize("name", NEW_TASKS)
def test_a_short_offline_run_improves_the_initial_program(name, tmp_path):
    run_dir = tmp_path / "run"
    code = main(["run", name, "--budget", "12", "--batch-size", "4", "--samples-per-prompt", "3",
                 "--seed", "1", "--run-dir", str(run_dir), "--quiet"])
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_valid"] is True
    task = get_task(name)
    assert task.is_better(summary["best_score"], summary["initial_score"]), summary
    # The stored best solution verifies to the same score with the trusted verifier.
    best = json.loads((run_dir / "best_solution.json").read_text())
    assert task.verify(best).score == summary["best_score"]
