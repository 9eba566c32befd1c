"""A `thetaevolve run` killed with SIGKILL mid-run: `show` reports it, `resume` finishes it,
and nothing committed before the kill is lost or evaluated again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from thetaevolve.cli import main
from thetaevolve.database import ProgramDatabase


def _proposals(run_dir: Path) -> list[tuple[int, str]]:
    database = ProgramDatabase.open(run_dir / "programs.sqlite", read_only=True)
    try:
        return [(r.id, r.code) for r in database.iter_programs(include_copies=False)]
    finally:
        database.close()


def test_sigkilled_run_is_shown_and_resumed(tmp_path, capsys):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "thetaevolve.cli", "run", "circle_packing_26",
               "--budget", "100000", "--batch-size", "4", "--samples-per-prompt", "4",
               "--run-dir", str(run_dir), "--quiet"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        # Wait until a few batches are committed, then kill the whole process group.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            metrics = run_dir / "metrics.jsonl"
            if metrics.exists() and metrics.read_text().count('"event": "batch"') >= 3:
                break
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
        else:
            raise AssertionError("the run committed no batch in 120 s")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    before = _proposals(run_dir)
    done = len(before) - 1  # the initial program is not a candidate
    assert done >= 3 * 16 and done % 16 == 0  # whole batches only: a batch commits at once

    assert main(["show", str(run_dir), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["evaluations"] == done and shown["best_score"] >= shown["initial_score"]

    assert main(["resume", str(run_dir), "--budget", str(done + 20), "--quiet"]) == 0
    after = _proposals(run_dir)
    assert after[: len(before)] == before
    assert len(after) - 1 == done + 20
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == done + 20 and summary["best_valid"] is True
