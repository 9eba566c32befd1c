"""`thetaevolve compare`: best-so-far at equal candidate counts, AUC, time to threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thetaevolve.cli import main
from thetaevolve.compare import RunCurve, compare_curves, format_table
from thetaevolve.config import load_config
from thetaevolve.database.store import ProgramDatabase

TASK = "circle_packing_26"


def test_numbers_on_a_hand_computed_curve():
    up = RunCurve("a", "t", "max", 1.0, [None, 2.0, 1.5, 3.0, 0.5])
    assert up.best_so_far() == [1.0, 2.0, 2.0, 3.0, 3.0]
    down = RunCurve("b", "t", "min", 5.0, [6.0, 4.0, None, 1.0])
    assert down.best_so_far() == [5.0, 4.0, 4.0, 1.0]
    result = compare_curves([up, down][:1] + [RunCurve("c", "t", "max", 1.0, [4.0] * 4)],
                            threshold=2.5)
    assert result["n"] == 4  # the smaller run's count
    a, c = result["runs"]
    assert a["auc"] == pytest.approx((1 + 2 + 2 + 3) / 4) and a["best_at_n"] == 3.0
    assert a["to_threshold"] == 4 and a["final_best"] == 3.0  # 0.5 later changes nothing
    assert c["auc"] == 4.0 and c["to_threshold"] == 1
    low = compare_curves([down], threshold=4.5)["runs"][0]
    assert low["auc"] == pytest.approx((5 + 4 + 4 + 1) / 4) and low["to_threshold"] == 2
    assert compare_curves([down], threshold=9.0)["runs"][0]["to_threshold"] == 0
    assert compare_curves([down], threshold=0.5)["runs"][0]["to_threshold"] is None
    assert "AUC@4" in format_table(result)


def test_runs_of_different_tasks_are_refused():
    from thetaevolve.errors import UserError

    with pytest.raises(UserError, match="one task"):
        compare_curves([RunCurve("a", "x", "max", 0, [1.0]), RunCurve("b", "y", "max", 0, [1.0])])
    with pytest.raises(UserError, match="beyond"):
        compare_curves([RunCurve("a", "x", "max", 0, [1.0])], at=2)


def expected_auc(run_dir: Path, n: int) -> float:
    """Independently of compare.py: from whole stored records."""
    db = ProgramDatabase.open(run_dir / "programs.sqlite",
                              load_config(run_dir / "config.yaml").database, read_only=True)
    try:
        proposals = list(db.iter_programs(include_copies=False))
    finally:
        db.close()
    best = proposals[0].score
    total = 0.0
    for record in proposals[1:n + 1]:
        if record.outcome.value == "ok" and record.score > best:
            best = record.score
        total += best
    return total / n


def test_compare_prints_the_right_auc_for_runs_made_here(tmp_path, capsys, monkeypatch):
    runs = []
    for name, extra in (("islands", ["--budget", "16"]), ("puct", ["--sampler", "puct",
                                                                    "--budget", "12"]),
                        ("best_of_n", ["--sampler", "initial", "--budget", "12"])):
        run_dir = tmp_path / name
        assert main(["run", TASK, *extra, "--batch-size", "2", "--samples-per-prompt", "2",
                     "--seed", "1", "--run-dir", str(run_dir), "--quiet"]) == 0
        runs.append(run_dir)
    capsys.readouterr()
    plot = tmp_path / "compare.png"
    assert main(["compare", *map(str, runs), "--threshold", "0.98", "--plot", str(plot),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 12 and plot.stat().st_size > 1000
    for row, run_dir in zip(result["runs"], runs):
        assert row["auc"] == pytest.approx(expected_auc(run_dir, 12), rel=1e-12)
    assert result["runs"][0]["candidates"] == 16
    assert main(["compare", *map(str, runs), "--plot", str(plot)]) == 0
    table = capsys.readouterr().out
    assert "AUC@12" in table and str(runs[1]) in table
    assert main(["compare", str(tmp_path / "nothing")]) == 2
