"""One flag each: the samplers in `run` and `train`, the objectives and the baselines."""

from __future__ import annotations

import argparse
import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")

from helpers import TRAIN, events, programs  # noqa: E402

from thetaevolve.cli import build_parser, main  # noqa: E402
from thetaevolve.config import load_config  # noqa: E402
from thetaevolve.rl.cli import BASELINES, training_config  # noqa: E402

pytestmark = [pytest.mark.rl, pytest.mark.filterwarnings("ignore::FutureWarning")]


def origin(everything: dict, pid: int) -> int:
    record = everything[pid]
    return record.origin_id if record.kind != "proposal" else record.id


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


def test_each_baseline_is_one_flag_over_the_same_budget():
    base = ["train", "circle_packing_26", "--steps", "7", "--batch-size", "3",
            "--samples-per-prompt", "5", "--seed", "4"]
    plain = training_config(parsed(*base))
    for name, settings in BASELINES.items():
        config = training_config(parsed(*base, "--baseline", name))
        # Same budget, model and seed as the run it controls for.
        assert (config.rl.steps, config.rl.batch_size, config.rl.samples_per_prompt,
                config.rl.model, config.seed) == (7, 3, 5, plain.rl.model, 4), name
        changed = {
            "best_of_n": (config.database.sampler, config.rl.update) == ("initial", False),
            "inference": (config.database.sampler, config.rl.update) == ("islands", False),
            "random_reward": (config.gym.reward, config.rl.update) == ("random", True),
        }
        assert changed[name], (name, settings)
    objective = training_config(parsed(*base, "--advantage", "entropic", "--kl-coef", "0.01",
                                       "--sampler", "puct"))
    assert (objective.rl.advantage, objective.rl.kl_coef, objective.database.sampler) == (
        "entropic", 0.01, "puct")


def test_run_with_the_puct_sampler(tmp_path):
    run_dir = tmp_path / "puct"
    assert main(["run", "circle_packing_26", "--sampler", "puct", "--budget", "12",
                 "--batch-size", "3", "--samples-per-prompt", "2", "--run-dir", str(run_dir),
                 "--quiet"]) == 0
    assert load_config(run_dir / "config.yaml").database.sampler == "puct"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 12 and summary["best_valid"]


def test_train_with_puct_and_the_entropic_objective(tmp_path):
    run_dir = tmp_path / "run"
    argv = [*TRAIN, "--sampler", "puct", "--advantage", "entropic_adaptive", "--run-dir",
            str(run_dir)]
    assert main(argv) == 0
    config = load_config(run_dir / "config.yaml")
    assert (config.database.sampler, config.rl.advantage) == ("puct", "entropic_adaptive")
    assert len(programs(run_dir)) == 1 + 8
    train = [e for e in events(run_dir) if e["event"] == "train" and "loss" in e]
    assert len(train) == 2 and all("entropic_beta" in e for e in train)


def test_best_of_n_baseline_samples_only_the_initial_program(tmp_path):
    run_dir = tmp_path / "bon"
    assert main([*TRAIN, "--baseline", "best_of_n", "--run-dir", str(run_dir)]) == 0
    everything = {p.id: p for p in programs(run_dir, kind=None)}
    children = programs(run_dir)[1:]
    initial = programs(run_dir)[0]
    assert len(children) == 8
    assert {origin(everything, c.parent_id) for c in children} == {initial.id}
    # No database feedback: step 2's prompts are step 1's, word for word.
    assert len({c.prompt for c in children}) == 1
    config = load_config(run_dir / "config.yaml")
    assert config.rl.update is False


@pytest.mark.parametrize("argv, message", [
    (["train"], "needs a task"),
    (["train", "circle_packing_26", "--tasks", "a,b"], "not both"),
    (["train", "--tasks", "circle_packing_26"], "at least two"),
    (["train", "circle_packing_26", "--task-weights", "1,2"], "goes with --tasks"),
    (["train", "--tasks", "circle_packing_26,hadamard_29", "--task-weights", "1"],
     "one weight per task"),
    (["train", "--tasks", "circle_packing_26,hadamard_29", "--task-weights", "1,x"],
     "must be numbers"),
    (["train", "--tasks", "circle_packing_26,no_such_task"], "no_such_task"),
])
def test_bad_task_flags_are_one_clear_error(tmp_path, capsys, argv, message):
    run_dir = tmp_path / "run"
    assert main([*argv, "--run-dir", str(run_dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("thetaevolve: error:") and message in err, err
    assert not run_dir.exists()  # nothing written
