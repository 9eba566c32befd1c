"""The evolve command closes its session (store lock, sandbox workers) however the loop ends."""

from __future__ import annotations

import pytest

from thetaevolve.cli import main
from thetaevolve.run_report import is_running

TASK = "circle_packing_26"


def _run(run_dir):
    return main(["run", TASK, "--budget", "8", "--batch-size", "4", "--run-dir", str(run_dir),
                 "--quiet"])


def test_a_bug_in_the_loop_still_releases_the_store(tmp_path, monkeypatch):
    async def broken(session, budget, quiet=False):
        raise RuntimeError("a bug in the loop")

    monkeypatch.setattr("thetaevolve.evolve.evolve", broken)
    with pytest.raises(RuntimeError, match="a bug in the loop"):
        _run(tmp_path / "run")
    assert (tmp_path / "run" / "programs.sqlite").exists()
    assert not is_running(tmp_path / "run")


def test_an_interrupt_keeps_the_run_and_releases_the_store(tmp_path, monkeypatch, capsys):
    async def interrupted(session, budget, quiet=False):
        raise KeyboardInterrupt

    monkeypatch.setattr("thetaevolve.evolve.evolve", interrupted)
    assert _run(tmp_path / "run") == 130
    assert not is_running(tmp_path / "run")
    assert (tmp_path / "run" / "summary.json").exists()
    err = capsys.readouterr().err
    assert "interrupted; every committed candidate is kept" in err
