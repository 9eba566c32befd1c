"""SIGTERM (schedulers, `timeout`) stops a run like Ctrl-C: message, summary, pictures, 143."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest


@pytest.mark.slow
def test_sigterm_writes_the_summary_and_exits_143(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "thetaevolve.cli", "run", "circle_packing_26",
               "--budget", "1000000", "--batch-size", "4", "--samples-per-prompt", "2",
               "--set", "sandbox.workers=1", "--run-dir", str(run_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until batches are being committed
            line = process.stderr.readline()
            if "candidates |" in line and "starting at" not in line:
                break
            assert line or process.poll() is None, "the run ended before it started"
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert "terminated (SIGTERM); every committed candidate is kept" in err
    assert f"thetaevolve resume {run_dir}" in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert 0 < summary["evaluations"] < 1000000
    assert f"stopped: {summary['evaluations']} of 1000000 candidates" in out
    assert (run_dir / "progress.png").exists()


@pytest.mark.slow
@pytest.mark.rl
def test_interrupted_training_keeps_its_last_step_and_resume_continues_from_it(
        tmp_path, monkeypatch):
    pytest.importorskip("trl", reason="the rl extra is not installed")
    import os

    run_dir = tmp_path / "train"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "thetaevolve.cli", "train", "circle_packing_26",
               "--model", "random:tiny", "--steps", "50", "--batch-size", "1",
               "--samples-per-prompt", "2", "--max-new-tokens", "8", "--checkpoint-every", "100",
               "--reward", "random", "--set", "sandbox.workers=1", "--run-dir", str(run_dir)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=env)
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # wait for the first finished step
            line = process.stderr.readline()
            if "step 2/50" in line:
                break
            assert line or process.poll() is None, "training ended before its first step"
        # SIGTERM rather than SIGINT: a CI shell may start jobs with SIGINT ignored.
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err
    assert "Traceback" not in err
    assert "terminated (SIGTERM); every committed candidate is kept; saved the checkpoint of step" in err
    assert f"thetaevolve resume {run_dir}" in err
    step = int(err.split("saved the checkpoint of step ")[1].split(":")[0])
    assert step >= 1
    checkpoint = run_dir / "checkpoints" / f"checkpoint-{step}"
    assert (checkpoint / "thetaevolve_state.json").exists()

    from thetaevolve.cli import main  # in-process: torch is imported once, not twice

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["resume", str(run_dir), "--steps", str(step + 1), "--quiet"]) == 0
    events = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    resume = [e for e in events if e["event"] == "resume"][-1]
    assert resume["checkpoint_step"] == step
    training = json.loads((run_dir / "training.json").read_text())
    assert training["steps_done"] == step + 1
