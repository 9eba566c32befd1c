"""``thetaevolve train`` and ``resume`` on a real task, store and run directory."""

from __future__ import annotations

import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")

from helpers import TRAIN, events, programs  # noqa: E402

from thetaevolve.cli import main  # noqa: E402
from thetaevolve.config import load_config  # noqa: E402

pytestmark = [pytest.mark.rl, pytest.mark.filterwarnings("ignore::FutureWarning")]


def test_train_writes_a_run_directory_like_an_inference_run(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["kind"] == "train" and summary["evaluations"] == 8
    assert summary["best_valid"] is True  # the initial program, verified
    stored = programs(run_dir)
    initial, children = stored[0], stored[1:]
    assert initial.parent_id is None and len(children) == 8
    assert sorted(c.iteration for c in children) == [1] * 4 + [2] * 4
    # Parents are stored programs (the initial one, or the database's island copies of it).
    everything = {p.id: p for p in programs(run_dir, kind=None)}
    assert all(everything[c.parent_id].outcome.value == "ok" for c in children)
    assert all(0.0 <= c.reward < 1.0 for c in children)  # the random control's rewards
    config = load_config(run_dir / "config.yaml")
    assert (config.gym.batch_size, config.gym.samples_per_prompt) == (2, 2)
    assert config.gym.reward == "random" and config.rl.steps == 2

    log = events(run_dir)
    train = [e for e in log if e["event"] == "train" and "loss" in e]
    batches = [e for e in log if e["event"] == "batch"]
    assert len(train) == 2 and {"loss", "entropy", "reward", "grad_norm"} <= set(train[0])
    assert [b["batch"] for b in batches] == [1, 2]
    assert {"mean_reward", "max_reward", "advantage_std", "outcomes", "generate_s",
            "tokens_out"} <= set(batches[0])
    assert batches[0]["tokens_out"] == 4 * 8  # B x n completions of 8 tokens (no end token)
    position = json.loads((run_dir / "checkpoints/checkpoint-2/thetaevolve_state.json").read_text())
    assert position["step"] == 2 and position["next_batch_index"] == 3

    assert main(["show", str(run_dir), "--json"]) == 0

    # Resume for one more step: the model and optimizer continue from checkpoint-2.
    assert main(["resume", str(run_dir), "--steps", "3", "--quiet"]) == 0
    stored = programs(run_dir)
    assert len(stored) == 1 + 12
    assert sorted(c.iteration for c in stored[1:])[-2:] == [3, 3]
    resumed = [e for e in events(run_dir) if e["event"] == "resume"]
    assert resumed and resumed[0]["checkpoint_step"] == 2
    assert json.loads((run_dir / "training.json").read_text())["steps_done"] == 3

    # `thetaevolve resume` of a finished training run trains nothing more and succeeds.
    assert main(["resume", str(run_dir), "--quiet"]) == 0
    assert len(programs(run_dir)) == 1 + 12


def test_train_rejects_bad_settings_before_any_work(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main([*TRAIN, "--run-dir", str(run_dir), "--set", "rl.epsilon_high=0.1"]) == 2
    assert "rl" in capsys.readouterr().err
    assert not run_dir.exists()
    assert main(["train", "no_such_task", "--run-dir", str(run_dir)]) == 2
    assert not run_dir.exists()
