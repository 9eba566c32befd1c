"""End to end through the CLI: run, show, verify, resume, and bad input, on circle_packing_26."""

from __future__ import annotations

import json
import pytest

from thetaevolve.cli import main
from thetaevolve.database import ProgramDatabase

TASK = "circle_packing_26"


def _run(tmp_path, *extra):
    run_dir = tmp_path / "run"
    code = main(["run", TASK, "--budget", "24", "--batch-size", "4", "--samples-per-prompt",
                 "3", "--seed", "1", "--run-dir", str(run_dir), "--quiet", *extra])
    return code, run_dir


def _codes(run_dir):
    database = ProgramDatabase.open(run_dir / "programs.sqlite", read_only=True)
    try:
        return [(r.id, r.code) for r in database.iter_programs(include_copies=False)]
    finally:
        database.close()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    code, run_dir = _run(tmp_path_factory.mktemp("e2e"))
    assert code == 0
    return run_dir


def test_run_writes_the_promised_run_directory(finished_run):
    for name in ["run.json", "config.yaml", "programs.sqlite", "metrics.jsonl", "summary.json",
                 "best_program.py", "best_solution.json", "progress.png", "solution.png"]:
        assert (finished_run / name).exists(), name
    summary = json.loads((finished_run / "summary.json").read_text())
    for key in ["task", "initial_score", "best_score", "best_valid", "evaluations", "failures",
                "wall_seconds"]:
        assert key in summary
    assert summary["task"] == TASK
    assert summary["evaluations"] == 24
    assert summary["best_valid"] is True
    assert summary["best_score"] >= summary["initial_score"]
    events = [json.loads(line)["event"] for line in
              (finished_run / "metrics.jsonl").read_text().splitlines()]
    assert events[0] == "initial" and "batch" in events and events[-1] == "summary"


def test_verify_agrees_with_the_best_solution(finished_run, capsys):
    assert main(["verify", TASK, str(finished_run / "best_solution.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    summary = json.loads((finished_run / "summary.json").read_text())
    assert result["valid"] and result["score"] == summary["best_score"]


def test_eval_runs_the_best_program(finished_run, capsys):
    assert main(["eval", TASK, str(finished_run / "best_program.py"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "ok"


def test_show_prints_the_summary_fields(finished_run, capsys):
    assert main(["show", str(finished_run), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    summary = json.loads((finished_run / "summary.json").read_text())
    assert {k: shown[k] for k in ("best_score", "evaluations", "failures")} == \
        {k: summary[k] for k in ("best_score", "evaluations", "failures")}


def test_resume_continues_without_re_evaluating(tmp_path):
    code, run_dir = _run(tmp_path)
    assert code == 0
    before = _codes(run_dir)
    best_before = json.loads((run_dir / "summary.json").read_text())["best_score"]
    assert main(["resume", str(run_dir), "--budget", "36", "--quiet"]) == 0
    after = _codes(run_dir)
    assert after[: len(before)] == before  # nothing rewritten
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 36
    assert summary["best_score"] >= best_before
    # Resuming a finished run does nothing.
    assert main(["resume", str(run_dir), "--budget", "36", "--quiet"]) == 0
    assert _codes(run_dir) == after


def test_same_seed_same_run(tmp_path):
    _, first = _run(tmp_path / "a")
    _, second = _run(tmp_path / "b")
    assert _codes(first) == _codes(second)


def test_run_refuses_an_existing_run_directory(finished_run, capsys):
    assert main(["run", TASK, "--run-dir", str(finished_run), "--quiet"]) == 2
    assert "resume" in capsys.readouterr().err


def test_bad_override_is_one_clear_error(tmp_path, capsys):
    code = main(["run", TASK, "--set", "database.num_islandz=2", "--run-dir",
                 str(tmp_path / "x"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "database.num_islandz" in err
    assert not (tmp_path / "x").exists()


def test_unknown_task_lists_known_ones(capsys):
    assert main(["verify", "no_such_task", "x.json"]) == 2
    assert TASK in capsys.readouterr().err


def test_resume_of_a_foreign_directory_is_refused(tmp_path, capsys):
    (tmp_path / "stuff.txt").write_text("hello")
    assert main(["resume", str(tmp_path)]) == 2
    assert "not a ThetaEvolve run directory" in capsys.readouterr().err


def test_tasks_json_lists_direction_and_bound(capsys):
    assert main(["tasks", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[TASK]["direction"] == "max"
    assert rows[TASK]["best_known"] > 2.63
    assert "circles" in rows[TASK]["solution_format"]


def test_show_works_while_another_process_holds_the_store(finished_run, capsys):
    writer = ProgramDatabase.open(finished_run / "programs.sqlite")  # as a live run would
    try:
        assert main(["show", str(finished_run), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["evaluations"] == 24
    finally:
        writer.close()
