"""Problems through the command line: init + check + run of the scaffold, paths accepted by
every command, the run's copy of its problem (resume after a move, refusal on a change),
a broken verify stopping the run, feedback reaching the next prompt, and trust."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import HEAD, VERIFY, fast_run_flags, stored_proposals, write_problem
from thetaevolve.cli import main

FAST = fast_run_flags(batch_size=4, seed=3)


@pytest.fixture(scope="module")
def scaffold_run(tmp_path_factory):
    """`init`, then `run` of what it wrote, as a user would on day one."""
    base = tmp_path_factory.mktemp("scaffold")
    folder = base / "spread"
    assert main(["init", str(folder)]) == 0
    run_dir = base / "run"
    assert main(["run", str(folder), "--budget", "16", "--run-dir", str(run_dir), *FAST]) == 0
    return folder, run_dir


def test_init_writes_a_problem_that_checks_clean(tmp_path, capsys):
    folder = tmp_path / "mine"
    assert main(["init", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["initial_program.py", "problem.py"]
    capsys.readouterr()
    assert main(["check", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["problem"] == "mine" and report["kind"] == "native"
    assert report["score_trust"] == "verified"
    assert report["score"] == pytest.approx(0.1 * 13 ** 0.5)  # the badly placed eighth point
    assert "closest pair" in report["feedback"]
    assert report["warnings"] == []
    assert main(["init", str(folder)]) == 2  # never overwrites


def test_the_scaffold_runs_and_every_command_takes_its_path(scaffold_run, capsys):
    folder, run_dir = scaffold_run
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["task"] == "spread" and summary["evaluations"] == 16
    assert summary["score_trust"] == "verified" and summary["best_valid"] is True
    assert summary["best_known"] == pytest.approx((6 ** 0.5 - 2 ** 0.5) / 2)
    assert (run_dir / "solution.png").stat().st_size > 0  # drawn by the problem's plot()
    capsys.readouterr()
    assert main(["verify", str(folder), str(run_dir / "best_solution.json"), "--json"]) == 0
    verified = json.loads(capsys.readouterr().out)
    assert verified["score"] == summary["best_score"] and verified["score_trust"] == "verified"
    assert main(["eval", str(folder), str(run_dir / "best_program.py"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == summary["best_score"]
    assert main(["show", str(run_dir)]) == 0
    assert "scores: verified" in capsys.readouterr().out
    assert main(["tasks", str(folder), "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[str(folder)]["kind"] == "native" and rows["circle_packing_26"]["kind"] == "builtin"


def test_the_run_keeps_a_copy_of_its_problem_and_hashes(scaffold_run):
    folder, run_dir = scaffold_run
    record = json.loads((run_dir / "problem.json").read_text())
    assert record["kind"] == "native" and record["source"] == str(folder.resolve())
    assert set(record["files"]) == {"problem.py", "initial_program.py"}
    for name in record["files"]:
        assert (run_dir / "problem" / name).read_bytes() == (folder / name).read_bytes()


def test_resume_and_show_after_the_folder_moved(tmp_path, capsys):
    folder = write_problem(tmp_path / "p")
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--budget", "8", "--run-dir", str(run_dir), *FAST]) == 0
    folder.rename(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["show", str(run_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluations"] == 8
    assert main(["resume", str(run_dir), "--budget", "16", "--quiet"]) == 0
    assert len(stored_proposals(run_dir)) == 17  # initial + 16, nothing lost or redone


def test_resume_refuses_a_changed_problem_naming_the_file(tmp_path, capsys):
    folder = write_problem(tmp_path / "p")
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--budget", "8", "--run-dir", str(run_dir), *FAST]) == 0
    (folder / "problem.py").write_text(HEAD + VERIFY.replace("return x", "return x / 2"))
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--budget", "12", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert str(folder / "problem.py") in err and "--allow-problem-change" in err
    assert len(stored_proposals(run_dir)) == 9  # nothing ran
    assert main(["resume", str(run_dir), "--budget", "12", "--quiet",
                 "--allow-problem-change"]) == 0
    assert len(stored_proposals(run_dir)) == 13
    record = json.loads((run_dir / "problem.json").read_text())
    assert len(record["history"]) == 1
    assert "return x / 2" in (run_dir / "problem" / "problem.py").read_text()


def test_a_broken_problem_file_stops_before_any_run_directory(tmp_path, capsys):
    folder = write_problem(tmp_path / "p", head=HEAD.replace('"max"', '"upwards"'))
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--budget", "4", "--run-dir", str(run_dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thetaevolve: error: ") and "DIRECTION is 'upwards'" in err
    assert not run_dir.exists()
    assert main(["check", str(folder)]) == 2


def test_check_exits_1_when_the_initial_program_fails(tmp_path, capsys):
    folder = write_problem(tmp_path / "p", initial="def solve():\n    return {'x': 7}\n")
    assert main(["check", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "invalid_solution: x must be a number in [0, 1], got 7" in out
    assert "no EVOLVE-BLOCK markers" in out


def test_a_verify_broken_for_every_child_stops_the_run_after_20(tmp_path, capsys):
    # The initial program's x = 0.5 passes; every other value makes verify raise.
    verify = '''
def verify(solution, tol=0.0):
    if solution["x"] != 0.5:
        raise RuntimeError("verify bug")
    return 0.5
'''
    folder = write_problem(tmp_path / "p", verify=verify)
    run_dir = tmp_path / "run"
    code = main(["run", str(folder), "--budget", "200", "--run-dir", str(run_dir), *FAST,
                 "--set", "gym.lazy_penalty_level=0"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("thetaevolve: error:") == 1 and "verify is broken" in err
    assert "verify raised RuntimeError: verify bug" in err and f"resume {run_dir}" in err
    records = stored_proposals(run_dir)
    outcomes = [r.outcome.value for r in records[1:]]
    assert 20 <= outcomes.count("verifier_error") < 200 and len(outcomes) % 8 == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == len(outcomes)  # every committed candidate kept


def test_a_verify_that_fails_on_the_initial_program_is_one_clear_error(tmp_path, capsys):
    folder = write_problem(tmp_path / "p", verify="def verify(solution, tol=0.0):\n"
                                                  "    return float('nan')\n")
    assert main(["run", str(folder), "--budget", "4", "--run-dir", str(tmp_path / "r"),
                 "--quiet"]) == 2
    assert "verify failed on the initial program" in capsys.readouterr().err
    assert main(["check", str(folder)]) == 2
    solution = tmp_path / "s.json"
    solution.write_text('{"x": 0.5}')
    capsys.readouterr()
    assert main(["verify", str(folder), str(solution)]) == 2
    assert "verify returned nan" in capsys.readouterr().err
    program = tmp_path / "program.py"
    program.write_text("def solve():\n    return {'x': 0.5}\n")
    assert main(["eval", str(folder), str(program)]) == 2
    assert "verifier_error" in capsys.readouterr().out


def test_feedback_from_verify_reaches_the_childrens_prompt(tmp_path):
    verify = '''
def verify(solution, tol=0.0):
    return solution["x"], f"FEEDBACK: x was {solution['x']}"
'''
    folder = write_problem(tmp_path / "p", verify=verify)
    run_dir = tmp_path / "run"
    assert main(["run", str(folder), "--budget", "8", "--run-dir", str(run_dir), *FAST]) == 0
    records = stored_proposals(run_dir)
    assert records[0].metrics["feedback"] == "FEEDBACK: x was 0.5"
    children_of_initial = [r for r in records if r.parent_id == records[0].id]
    assert children_of_initial
    for child in children_of_initial:
        assert "# Feedback on the current program" in child.prompt
        assert "FEEDBACK: x was 0.5" in child.prompt
        assert "feedback: FEEDBACK" not in child.prompt  # a section, not a metrics entry


def test_a_copy_of_a_folder_skips_run_directories_inside_it(tmp_path):
    folder = write_problem(tmp_path / "p")
    run_dir = folder / "runs" / "first"
    assert main(["run", str(folder), "--budget", "4", "--run-dir", str(run_dir), *FAST]) == 0
    other = folder / "second_run"
    assert main(["run", str(folder), "--budget", "4", "--run-dir", str(other), *FAST]) == 0
    assert set(json.loads((other / "problem.json").read_text())["files"]) == {
        "problem.py", "initial_program.py"}
    # And the first run still resumes: the second run's files are not part of its problem.
    assert main(["resume", str(run_dir), "--budget", "8", "--quiet"]) == 0
    shutil.rmtree(other)


@pytest.mark.parametrize("example", ["thomson_5.py", "golomb_ruler_10"])
def test_the_shipped_examples_check_clean(example):
    from pathlib import Path

    from thetaevolve.problems.check import check_problem

    path = Path(__file__).resolve().parent.parent / "examples" / example
    report = check_problem(str(path))
    assert report.ok and report.score_trust == "verified", report
    assert report.best_known is not None and report.warnings == []
    assert report.feedback  # both examples say something useful to the next prompt


def test_a_single_file_problem_resumes_after_it_is_deleted(tmp_path, capsys):
    from helpers import INITIAL

    file = tmp_path / "solo.py"
    file.write_text(HEAD + f"INITIAL_PROGRAM = {INITIAL!r}\n" + VERIFY)
    run_dir = tmp_path / "run"
    assert main(["run", str(file), "--budget", "4", "--run-dir", str(run_dir), *FAST]) == 0
    assert sorted(p.name for p in (run_dir / "problem").iterdir()) == ["solo.py"]
    file.unlink()
    assert main(["resume", str(run_dir), "--budget", "8", "--quiet"]) == 0
    assert len(stored_proposals(run_dir)) == 9


@pytest.mark.rl
@pytest.mark.slow
def test_train_takes_a_problem_path(tmp_path, capsys):
    pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
    pytest.importorskip("trl", reason="the rl extra (trl) is not installed")
    import os

    os.environ["HF_HUB_OFFLINE"] = "1"
    broken = write_problem(tmp_path / "broken", head=HEAD.replace("NAME", "NAMED"))
    assert main(["train", str(broken), "--run-dir", str(tmp_path / "r0")]) == 2
    assert "NAME is missing" in capsys.readouterr().err and not (tmp_path / "r0").exists()
    folder = write_problem(tmp_path / "p")
    run_dir = tmp_path / "run"
    assert main(["train", str(folder), "--model", "random:tiny", "--steps", "1",
                 "--batch-size", "2", "--samples-per-prompt", "2", "--max-new-tokens", "8",
                 "--reward", "random", "--quiet", "--run-dir", str(run_dir),
                 "--set", "sandbox.workers=1"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["task"] == "half" and summary["kind"] == "train"
    assert summary["evaluations"] == 4 and summary["score_trust"] == "verified"
    (folder / "problem.py").write_text(HEAD + VERIFY.replace("return x", "return x / 2"))
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--quiet"]) == 2
    assert str(folder / "problem.py") in capsys.readouterr().err
    assert main(["resume", str(run_dir), "--quiet", "--allow-problem-change"]) == 0


def test_editing_the_problem_mid_run_does_not_change_the_runs_verifier(tmp_path):
    from thetaevolve.config import load_config
    from thetaevolve.session import Session

    folder = write_problem(tmp_path / "p")
    config = load_config(overrides=[f"task={folder}", "sandbox.workers=1"])
    session = Session.create(config, tmp_path / "run")
    try:
        (folder / "problem.py").write_text(HEAD + VERIFY.replace("return x", "return x / 2"))
        for worker in list(session.task._pool._all):
            worker.kill()  # as if the warm verifier died: the next one starts afresh
        assert session.task.verify({"x": 0.5}).score == 0.5  # the run's copy, not the edit
    finally:
        session.close()
