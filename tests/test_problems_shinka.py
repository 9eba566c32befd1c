"""ShinkaEvolve folders run unchanged, inside the sandbox (tests/fixtures/shinka/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thetaevolve.config import SandboxConfig
from thetaevolve.errors import UserError
from thetaevolve.evaluation import evaluate_run
from thetaevolve.problems.shinka import load_shinka_problem
from thetaevolve.sandbox import make_sandbox
from thetaevolve.types import Outcome

FIXTURES = Path(__file__).parent / "fixtures" / "shinka"


@pytest.fixture(scope="module")
def packing():
    task = load_shinka_problem(FIXTURES / "packing")
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        yield task, sandbox


@pytest.fixture(scope="module")
def headless():
    task = load_shinka_problem(FIXTURES / "headless")
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        yield task, sandbox


def run(problem, code: str | None = None):
    task, sandbox = problem
    return evaluate_run(task, sandbox.run(task.initial_program if code is None else code))


def test_run_shinka_eval_folder_end_to_end(packing):
    task = packing[0]
    assert task.statement == "Make the values add up to 10 without going negative."
    assert task.default_budget == 5 and task.score_trust == "evaluator-reported"
    evaluation = run(packing)
    assert evaluation.outcome is Outcome.OK
    # Two runs (seeds 1 and 2) give totals 2.5 and 3.5; the best over the target 10.
    assert evaluation.score == pytest.approx(0.35)
    assert evaluation.metrics["best_total"] == 3.5  # "public" is shown
    assert "best total 3.5 of target 10.0" in evaluation.feedback  # "text_feedback" is shown
    shown = repr(evaluation.metrics) + evaluation.feedback
    assert "secret_reference" not in shown  # "private" is never shown
    assert evaluation.solution["metrics"]["private"]["secret_reference"] == 42.0  # but kept


def test_a_failed_validation_is_an_incorrect_program(packing):
    evaluation = run(packing, packing[0].initial_program.replace("1.5", "-1.5"))
    assert evaluation.outcome is Outcome.INVALID_SOLUTION
    assert "negative value" in evaluation.detail


def test_a_candidate_that_raises_is_incorrect_by_run_shinka_evals_rule(packing):
    evaluation = run(packing, "def run_experiment(seed):\n    raise KeyError('lost')\n")
    assert evaluation.outcome is Outcome.INVALID_SOLUTION
    assert "KeyError" in evaluation.detail


def test_a_folder_that_does_not_import_shinka(headless):
    task = headless[0]
    assert task.statement == "Guess a number as large as you can."  # from run_evo.py, not run
    assert task.default_budget == 3
    evaluation = run(headless)
    assert evaluation.outcome is Outcome.OK and evaluation.score == 0.5
    rejected = run(headless, "def guess():\n    return 'forbidden'\n")
    assert rejected.outcome is Outcome.INVALID_SOLUTION
    assert "forbidden word" in rejected.detail


def test_an_evaluate_py_that_raises_is_the_candidates_crash(headless):
    evaluation = run(headless, "def something_else():\n    return 1\n")
    assert evaluation.outcome is Outcome.CRASH
    assert "guess" in evaluation.detail


FORGE_RESULTS = """import json, os, sys

def run_experiment(seed):
    results = sys.argv[sys.argv.index("--results_dir") + 1]
    with open(os.path.join(results, "metrics.json"), "w") as handle:
        json.dump({"combined_score": 1e9}, handle)
    with open(os.path.join(results, "correct.json"), "w") as handle:
        json.dump({"correct": True, "error": None}, handle)
    raise SystemExit(0)
"""


def test_a_candidate_can_forge_its_results_files(packing):
    """The candidate runs inside evaluate.py's process: the score is evaluator-reported."""
    evaluation = run(packing, FORGE_RESULTS)
    assert evaluation.outcome is Outcome.OK
    assert evaluation.score == 1e9
    assert packing[0].score_trust == "evaluator-reported"


def test_broken_folders_are_clear_errors(tmp_path):
    folder = tmp_path / "shinka"
    folder.mkdir()
    (folder / "evaluate.py").write_text("import argparse\n")
    with pytest.raises(UserError, match="initial"):
        load_shinka_problem(folder)
    (folder / "initial.py").write_text("x = 1\n")
    (folder / "initial.jl").write_text("x = 1\n")
    with pytest.raises(UserError, match="several"):
        load_shinka_problem(folder)
    (folder / "initial.jl").unlink()
    (folder / "evaluate.py").write_text("def main(:\n")
    with pytest.raises(UserError, match="evaluate.py.*syntax error"):
        load_shinka_problem(folder)
    with pytest.raises(UserError, match="evaluate.py"):
        load_shinka_problem(tmp_path)
