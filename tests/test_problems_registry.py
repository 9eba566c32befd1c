"""The problem registry: built-in names, installed packages (entry points), and paths,
and what a score's trust level changes (summary, show, verify)."""

from __future__ import annotations

import json
import textwrap

import pytest

from helpers import HEAD, INITIAL, VERIFY, write_problem
from thetaevolve.cli import main
from thetaevolve.errors import UserError
from thetaevolve.problems.registry import (
    ENTRY_POINT_GROUP,
    available_problems,
    problem_kind,
    resolve_problem,
    source_of,
)

FACTORIES = '''
from thetaevolve.tasks.base import Task
from thetaevolve.types import Verdict


class Forgeable(Task):
    """Stands in for an evaluator-reported problem: its score is whatever it was told."""

    name = "forgeable"
    direction = "max"
    statement = "Return a score."
    solution_format = '{"score": float}'
    heavy_modules = ()
    score_trust = "evaluator-reported"

    @property
    def initial_program(self):
        return "def solve():\\n    return {'score': 1.0}\\n"

    def judge(self, solution, tol):
        return Verdict(valid=True, score=float(solution["score"]))


def make_forgeable():
    return Forgeable()


def make_nothing():
    return 42
'''


def _install(base, version="1.0"):
    """A fake installed distribution providing three problems through entry points."""
    for old in base.glob("tp_problems-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    info = base / f"tp_problems-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: tp-problems\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(f"""\
        [{ENTRY_POINT_GROUP}]
        tp_native = tp_native_problem
        tp_forgeable = tp_factories:make_forgeable
        tp_nothing = tp_factories:make_nothing
        """))


@pytest.fixture
def installed(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    (site / "tp_native_problem.py").write_text(
        HEAD.replace('"half"', '"tp_half"') + f"INITIAL_PROGRAM = {INITIAL!r}\n" + VERIFY)
    (site / "tp_factories.py").write_text(FACTORIES)
    _install(site)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_a_builtin_name_goes_through_the_registry():
    task = resolve_problem("circle_packing_26")
    assert task.name == "circle_packing_26" and source_of(task).kind == "builtin"
    assert task.score_trust == "verified"


def test_unknown_names_and_missing_paths_say_what_exists(tmp_path):
    with pytest.raises(UserError, match="unknown task 'nope'; known tasks: .*circle_packing_26"):
        resolve_problem("nope")
    with pytest.raises(UserError, match="no problem at .*missing/problem: the path does not exist"):
        resolve_problem(str(tmp_path / "missing" / "problem"))


def test_folder_forms_are_told_apart(tmp_path):
    native = write_problem(tmp_path / "native")
    oe = tmp_path / "oe"
    oe.mkdir()
    (oe / "evaluator.py").write_text("def evaluate(path):\n    return {}\n")
    (oe / "initial_program.py").write_text("x = 1\n")
    shinka = tmp_path / "shinka"
    shinka.mkdir()
    (shinka / "evaluate.py").write_text("")
    (shinka / "initial.py").write_text("")
    assert [problem_kind(p) for p in (native, oe, shinka)] == ["native", "openevolve", "shinka"]
    assert problem_kind(native / "problem.py") == "native"


def test_an_installed_native_module_is_a_problem(installed):
    task = resolve_problem("tp_native")
    try:
        source = source_of(task)
        assert (source.kind, source.distribution) == ("entry_point", "tp-problems==1.0")
        assert task.name == "tp_half" and task.verify({"x": 0.25}).score == 0.25
    finally:
        task.close()


def test_an_installed_factory_returns_a_task(installed):
    task = resolve_problem("tp_forgeable")
    assert task.name == "forgeable" and task.score_trust == "evaluator-reported"


def test_an_installed_entry_point_that_gives_no_task_is_a_clear_error(installed):
    with pytest.raises(UserError, match="entry point 'tp_nothing'.*gives a int"):
        resolve_problem("tp_nothing")


def test_tasks_lists_builtins_installed_problems_and_paths(installed, tmp_path, capsys):
    folder = write_problem(tmp_path / "mine")
    kinds = {e.name: e.kind for e in available_problems([str(folder)])}
    assert kinds["circle_packing_26"] == "builtin" and kinds["tp_native"] == "entry_point"
    assert kinds[str(folder)] == "native"
    capsys.readouterr()
    assert main(["tasks", str(folder), "--json"]) == 0  # one broken package spoils nothing
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["tp_native"]["problem"] == "tp_half" and rows["tp_native"]["error"] is None
    assert "gives a int" in rows["tp_nothing"]["error"]
    assert main(["tasks"]) == 0
    assert "tp_nothing" in capsys.readouterr().out


def test_verify_refuses_a_problem_without_a_trusted_verifier(installed, tmp_path, capsys):
    solution = tmp_path / "s.json"
    solution.write_text('{"score": 1e9}')
    assert main(["verify", "tp_forgeable", str(solution)]) == 2
    err = capsys.readouterr().err
    assert "no trusted verifier" in err and "evaluator-reported" in err


def test_evaluator_reported_trust_reaches_summary_and_show(installed, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", "tp_forgeable", "--budget", "2", "--batch-size", "2",
                 "--samples-per-prompt", "1", "--run-dir", str(run_dir), "--quiet",
                 "--set", "sandbox.workers=1"]) == 0
    assert json.loads((run_dir / "summary.json").read_text())["score_trust"] == \
        "evaluator-reported"
    capsys.readouterr()
    assert main(["show", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "scores: evaluator-reported" in out and "can forge" in out


def test_an_installed_problem_of_another_version_is_a_change(installed, tmp_path, capsys):
    run_dir = tmp_path / "run"
    common = ["--batch-size", "2", "--samples-per-prompt", "1", "--quiet",
              "--set", "sandbox.workers=1"]
    assert main(["run", "tp_native", "--budget", "2", "--run-dir", str(run_dir), *common]) == 0
    assert json.loads((run_dir / "problem.json").read_text())["distribution"] == \
        "tp-problems==1.0"
    _install(installed, version="2.0")
    capsys.readouterr()
    assert main(["resume", str(run_dir), "--budget", "4", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "tp-problems==1.0" in err and "tp-problems==2.0" in err
    assert main(["resume", str(run_dir), "--budget", "4", "--quiet",
                 "--allow-problem-change"]) == 0
    assert json.loads((run_dir / "problem.json").read_text())["distribution"] == \
        "tp-problems==2.0"
