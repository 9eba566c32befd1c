"""Sized task families (``circle_packing:n=30``) and the ``thetaevolve tasks`` listing."""

from __future__ import annotations

import json

import pytest

from thetaevolve.cli import main
from thetaevolve.tasks import ENTRY_POINT, get_task, task_names
from thetaevolve.tasks.listing import format_table, task_row


@pytest.mark.parametrize(
    "spec, name, n_items",
    [
        ("circle_packing:n=30", "circle_packing:n=30", 30),
        ("heilbronn_triangle:n=12", "heilbronn_triangle:n=12", 12),
        ("heilbronn_convex:n=9", "heilbronn_convex:n=9", 9),
        ("min_max_distance:n=7,d=4", "min_max_distance:n=7,d=4", 7),
        ("min_max_distance: d=2 , n=16", "min_max_distance_16_2d", 16),
        ("kissing_number:d=8", "kissing_number:d=8", None),
    ],
)
def test_family_members_are_real_tasks(spec, name, n_items):
    task = get_task(spec)
    assert task.name == name
    assert get_task(task.name).name == name  # the name finds the same task again
    namespace: dict = {}
    exec(task.initial_program, namespace)
    solution = namespace[ENTRY_POINT]()
    verdict = task.verify(solution)
    assert verdict.valid, verdict.reason
    if n_items is not None:
        key = "circles" if "circles" in solution else "points"
        assert len(solution[key]) == n_items


def test_a_builtin_size_is_the_builtin_with_its_bounds():
    assert get_task("circle_packing:n=26").name == "circle_packing_26"
    assert get_task("circle_packing:n=26").known_bounds == get_task("circle_packing_26").known_bounds
    assert get_task("heilbronn_convex:n=14").best_known.value == pytest.approx(0.027835571458)


def test_other_sizes_show_no_invented_bounds():
    for spec in ("circle_packing:n=30", "heilbronn_triangle:n=12", "kissing_number:d=12"):
        task = get_task(spec)
        assert task.known_bounds == () and task.best_known is None
        assert task.reward_shaping.range_max > task.reward_shaping.range_min


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("circle_packing:n=0", "1..500"),
        ("circle_packing:n=x", "integer"),
        ("circle_packing:m=3", "expected circle_packing:n="),
        ("circle_packing:n=3,n=4", "twice"),
        ("min_max_distance:n=5", "missing d"),
        ("torus_packing:n=3", "unknown task family"),
        ("circle_packing", "sized families"),
    ],
)
def test_bad_family_specs_are_clear_errors(spec, needle):
    with pytest.raises(KeyError) as caught:
        get_task(spec)
    assert needle in str(caught.value)


def test_cli_reports_a_bad_family_as_one_line(capsys):
    assert main(["verify", "circle_packing:n=0", "nowhere.json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1..500" in err


def test_tasks_table_is_readable_and_json_is_complete(capsys):
    assert main(["tasks"]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["task", "goal", "score", "best"]
    for name in task_names():
        assert any(line.startswith(name + " ") for line in lines), name
    assert "sum of radii" in table and "circle_packing:n=" in table
    assert "* reported, not independently verified" in table
    assert main(["tasks", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(rows) == set(task_names())
    erdos = rows["erdos_min_overlap"]
    assert erdos["proven_bound"]["value"] == 0.379005 and erdos["score_meaning"]
    assert len(erdos["known_bounds"]) >= 3 and all(b["source"] for b in erdos["known_bounds"])


def test_table_marks_unverified_best_values_and_fits_the_width():
    rows = [task_row(name, get_task(name)) for name in ("kissing_number_11", "min_max_distance_16_2d")]
    table = format_table(rows, width=100)
    kissing = next(line for line in table.splitlines() if line.startswith("kissing_number_11"))
    ratio = next(line for line in table.splitlines() if line.startswith("min_max_distance_16_2d"))
    assert "604*" in kissing and "*" not in ratio.split()[-1]
    assert max(len(line) for line in table.splitlines()[:-2]) <= 100


def test_a_family_member_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default run directory is created under ./runs
    assert main(["run", "heilbronn_triangle:n=7", "--budget", "4", "--batch-size", "2",
                 "--samples-per-prompt", "2", "--seed", "2", "--quiet"]) == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith("heilbronn_triangle_n_7-")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["best_valid"] is True
    assert main(["verify", "heilbronn_triangle:n=7", str(run_dir / "best_solution.json")]) == 0
