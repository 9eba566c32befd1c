"""OpenEvolve and ShinkaEvolve folders through the command line: check, run (budget from the
folder, --openevolve-config), artifacts in the next prompt, trust in the summary, resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import fast_run_flags, stored_proposals
from thetaevolve.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
FAST = fast_run_flags(batch_size=2, seed=5)


def _copy(tmp_path, kind, name):
    folder = tmp_path / name
    shutil.copytree(FIXTURES / kind / name, folder)
    return folder


def test_check_reports_the_score_the_trust_and_the_unused_settings(capsys):
    assert main(["check", str(FIXTURES / "openevolve" / "dict_metrics"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["kind"] == "openevolve"
    assert report["score"] == pytest.approx(14 / 3)
    assert report["score_trust"] == "evaluator-reported"
    warnings = "\n".join(report["warnings"])
    assert "can forge its score" in warnings and "llm.models" in warnings


def test_check_takes_another_openevolve_config(capsys):
    folder = FIXTURES / "openevolve" / "cascade"
    assert main(["check", str(folder), "--openevolve-config",
                 str(folder / "config_phase_1.yaml"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    # QUALITY 0.7 with gates [0.1, 0.2]: all three stages run.
    assert report["score"] == pytest.approx(0.9)


def test_check_fails_on_a_crashing_evaluator(capsys):
    assert main(["check", str(FIXTURES / "openevolve" / "crash")]) == 1
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_run_of_a_folder_whose_evaluator_crashes_is_one_clear_error(tmp_path, capsys):
    folder = _copy(tmp_path, "openevolve", "crash")
    assert main(["run", str(folder), "--run-dir", str(tmp_path / "run"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "thetaevolve: error: the initial program" in err and "ZeroDivisionError" in err
    assert "Traceback (most recent call last)" not in err.split("thetaevolve: error:")[0]


@pytest.fixture(scope="module")
def openevolve_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("openevolve")
    folder = _copy(base, "openevolve", "dict_metrics")
    run_dir = base / "run"
    # No --budget: the folder's max_iterations (7) is the budget.
    assert main(["run", str(folder), "--run-dir", str(run_dir), *FAST]) == 0
    return folder, run_dir


def test_an_openevolve_folder_runs_with_its_own_budget_and_statement(openevolve_run):
    _, run_dir = openevolve_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 7
    assert summary["score_trust"] == "evaluator-reported"
    assert summary["initial_score"] == pytest.approx(14 / 3)
    children = [r for r in stored_proposals(run_dir) if r.parent_id is not None]
    assert children and all("You improve a list of numbers" in r.prompt for r in children)


def test_show_and_verify_say_what_the_trust_means(openevolve_run, capsys):
    folder, run_dir = openevolve_run
    assert main(["show", str(run_dir)]) == 0
    assert "evaluator-reported" in capsys.readouterr().out
    assert main(["verify", str(folder), str(run_dir / "best_solution.json")]) == 2
    assert "no trusted verifier" in capsys.readouterr().err


def test_an_openevolve_run_resumes_after_the_folder_moved(openevolve_run, tmp_path):
    folder, run_dir = openevolve_run
    moved = tmp_path / "moved"
    shutil.move(str(folder), str(moved))
    try:
        assert main(["resume", str(run_dir), "--budget", "9", "--quiet"]) == 0
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["evaluations"] == 9
        assert summary["task"] == "dict_metrics"  # named after the original folder, not the copy
    finally:
        shutil.move(str(moved), str(folder))


def test_run_warns_once_about_unused_openevolve_settings(tmp_path, capsys):
    folder = _copy(tmp_path, "openevolve", "dict_metrics")
    assert main(["run", str(folder), "--budget", "1", "--run-dir", str(tmp_path / "run"),
                 *FAST]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "not used by ThetaEvolve" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "llm.models" in lines[0]
    assert "budget" not in err  # --budget given: the folder's max_iterations is not used


def test_artifacts_reach_the_next_prompt(tmp_path):
    folder = _copy(tmp_path, "openevolve", "result_artifacts")
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--budget", "2", "--run-dir", str(run_dir), *FAST]) == 0
    children = [r for r in stored_proposals(run_dir) if r.parent_id is not None]
    assert children
    prompt = children[0].prompt  # its parent is the initial program (the only one yet)
    assert "value() returned 0.25; try something closer to 1" in prompt
    assert "bytes cut" in prompt and "x" * 3000 not in prompt  # capped


def test_a_problem_py_beside_the_evaluator_makes_the_run_verified(tmp_path):
    folder = _copy(tmp_path, "openevolve", "with_problem_py")
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--budget", "2", "--run-dir", str(run_dir), *FAST]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["score_trust"] == "verified" and summary["best_valid"] is True
    assert summary["initial_score"] == 0.5
    children = [r for r in stored_proposals(run_dir) if r.parent_id is not None]
    assert children and "x was 0.5" in children[0].prompt  # the evaluator's artifact


def test_a_shinka_folder_runs_end_to_end(tmp_path):
    folder = _copy(tmp_path, "shinka", "packing")
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--run-dir", str(run_dir), *FAST]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 5  # evo_config.num_generations
    assert summary["score_trust"] == "evaluator-reported"
    assert summary["initial_score"] == pytest.approx(0.35)
    children = [r for r in stored_proposals(run_dir) if r.parent_id is not None]
    assert "Make the values add up to 10" in children[0].prompt
    assert "secret_reference" not in children[0].prompt
