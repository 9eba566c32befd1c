"""The run's record of its problem: which files are copied, and what counts as a change."""

from __future__ import annotations

import json

import pytest

from helpers import write_problem
from thetaevolve.errors import UserError
from thetaevolve.problems import provenance
from thetaevolve.problems.registry import ProblemSource, resolve_problem


@pytest.fixture
def task_in(tmp_path):
    opened = []

    def make(folder, **source):
        task = resolve_problem(str(folder))
        if source:
            task.problem_source = ProblemSource(**{"kind": "native", "spec": str(folder),
                                                   "path": folder.resolve(), **source})
        opened.append(task)
        return task

    yield make
    for task in opened:
        task.close()


def test_what_a_folder_copy_holds(tmp_path):
    folder = write_problem(tmp_path / "p")
    (folder / "data").mkdir()
    (folder / "data" / "table.csv").write_text("1,2\n")
    for junk in ["__pycache__/problem.cpython-311.pyc", ".git/HEAD", "runs/old/run.json",
                 "openevolve_output/best.py", "inner_run/run.json", "inner_run/programs.sqlite"]:
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_text("x")
    (folder / ".env").write_text("SECRET=1")
    files = sorted(p.as_posix() for p in provenance.problem_files(folder))
    assert files == ["data/table.csv", "initial_program.py", "problem.py"]


def test_a_folder_too_big_to_copy_is_refused_before_the_run(tmp_path, monkeypatch):
    folder = write_problem(tmp_path / "p")
    monkeypatch.setattr(provenance, "MAX_FILES", 1)
    with pytest.raises(UserError, match="move large data out of the problem folder"):
        provenance.problem_files(folder)


def test_extra_files_are_copied_hashed_and_checked(tmp_path, task_in):
    folder = write_problem(tmp_path / "p")
    config = tmp_path / "phase_1.yaml"
    config.write_text("max_iterations: 5\n")
    task = task_in(folder, extra_files=(config.resolve(),))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = provenance.record_problem(run_dir, task)
    extra = record["extra_files"][str(config.resolve())]
    assert (run_dir / "problem" / extra["copy"]).read_text() == "max_iterations: 5\n"
    assert provenance.changed_files(record) == []
    config.write_text("max_iterations: 6\n")
    assert provenance.changed_files(record) == [str(config.resolve())]
    (folder / "initial_program.py").unlink()
    assert f"{folder.resolve() / 'initial_program.py'} (removed)" in provenance.changed_files(record)
    folder.rename(tmp_path / "moved")
    assert provenance.changed_files(record) is None  # gone: the copy is what counts


def test_a_damaged_record_is_a_clear_error(tmp_path):
    (tmp_path / "problem.json").write_text("{not json")
    with pytest.raises(UserError, match="problem.json is unreadable"):
        provenance.read_record(tmp_path)
    (tmp_path / "problem.json").write_text(json.dumps({"kind": "native", "source": "/x",
                                                       "entry": ".", "files": {}}))
    with pytest.raises(UserError, match="copy of its problem is damaged"):
        provenance.open_run_problem(tmp_path, "/x")
