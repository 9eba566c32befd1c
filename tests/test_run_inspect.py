"""What a run tells you: the summary table, `top`, `export`, and a progress display whose
failure count continues across a resume."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from thetaevolve.cli import main

TASK = "circle_packing_26"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("inspect") / "run"
    assert main(["run", TASK, "--budget", "24", "--batch-size", "4", "--samples-per-prompt", "3",
                 "--seed", "1", "--run-dir", str(run_dir), "--quiet",
                 "--set", "sandbox.workers=1"]) == 0
    return run_dir


def test_show_prints_a_readable_table(finished, capsys):
    assert main(["show", str(finished)]) == 0
    out = capsys.readouterr().out
    summary = json.loads((finished / "summary.json").read_text())
    assert "{" not in out  # no Python dict repr
    assert re.search(r"^best score +[\d.]+ +\(initial [\d.]+; best known 2\.635983085, gap ", out, re.M)
    assert re.search(r"^state +finished: 24 of 24 candidates$", out, re.M)
    failed = sum(summary["failures"].values())
    assert re.search(rf"^candidates +24: {summary['ok']} valid, {failed} failed$", out, re.M)
    for kind, count in summary["failures"].items():
        assert re.search(rf"^  {kind} +{count} +\S", out, re.M), kind  # with its meaning
    assert "offline mutator, 24 proposals (no model calls)" in out
    assert f"{finished}/ best_program.py" in out


def test_top_lists_the_best_programs_in_order(finished, capsys):
    assert main(["top", str(finished), "-k", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    summary = json.loads((finished / "summary.json").read_text())
    assert 1 <= len(rows) <= 3
    scores = [row["score"] for row in rows]
    assert scores == sorted(scores, reverse=True)
    assert rows[0]["id"] == summary["best_program_id"] and scores[0] == summary["best_score"]
    assert {"id", "score", "parent_id", "generation"} <= set(rows[0])
    from thetaevolve.run_inspect import top_programs

    lowest = [row.score for row in top_programs(finished, 3, "min")]  # a minimising task's order
    assert lowest == sorted(lowest) and lowest[0] <= scores[-1]
    assert main(["top", str(finished), "-k", "3"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["id", "score", "parent", "generation"]
    assert table[1].split()[0] == str(rows[0]["id"])


def test_export_writes_a_program_and_a_solution_the_verifier_accepts(finished, tmp_path, capsys):
    summary = json.loads((finished / "summary.json").read_text())
    best = summary["best_program_id"]
    out_dir = tmp_path / "export"
    assert main(["export", str(finished), "--program", str(best), "--out", str(out_dir)]) == 0
    assert (out_dir / f"program_{best}.py").read_text() == (finished / "best_program.py").read_text()
    solution = out_dir / f"solution_{best}.json"
    assert json.loads(solution.read_text()) == json.loads((finished / "best_solution.json").read_text())
    capsys.readouterr()
    # A program that is not the best: its solution is produced again in the sandbox.
    assert main(["top", str(finished), "-k", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2
    other = rows[1]
    assert main(["export", str(finished), "--program", str(other["id"]), "--out", str(out_dir)]) == 0
    capsys.readouterr()
    assert main(["verify", TASK, str(out_dir / f"solution_{other['id']}.json"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == pytest.approx(other["score"], rel=1e-12)
    assert main(["export", str(finished), "--program", "999999", "--out", str(out_dir)]) == 2
    err = capsys.readouterr().err
    assert "has no program 999999" in err and "Traceback" not in err


def test_progress_failure_count_continues_across_resume(finished, tmp_path, capsys):
    run_dir = tmp_path / "copy"
    shutil.copytree(finished, run_dir)
    failed = sum(json.loads((run_dir / "summary.json").read_text())["failures"].values())
    assert main(["resume", str(run_dir), "--budget", "28"]) == 0
    first = [l for l in capsys.readouterr().err.splitlines() if "starting at" in l][0]
    assert first.endswith(f"| failures {failed}") and "starting at 24/28 candidates" in first
