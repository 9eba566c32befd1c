"""Multi-task training: one policy, one store per task, per-task normalisation, resume."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
from collections import Counter

import pytest

from thetaevolve.rl.multitask import RewardStats, slot_tasks, task_dir_name

os.environ["HF_HUB_OFFLINE"] = "1"


def test_slots_follow_the_weights_and_depend_only_on_the_batch():
    counts = Counter(t for b in range(1, 201) for t in slot_tasks([3.0, 1.0], b, 4))
    assert abs(counts[0] / 800 - 0.75) < 0.01 and abs(counts[1] / 800 - 0.25) < 0.01
    assert slot_tasks([1, 1, 1], 7, 5) == slot_tasks([1, 1, 1], 7, 5)
    # Fewer slots than tasks: every task still gets its turn within a few batches.
    assert set(t for b in range(1, 4) for t in slot_tasks([1, 1, 1], b, 1)) == {0, 1, 2}


def test_reward_stats_normalise_like_a_z_score():
    stats = RewardStats().plus([1.0, 2.0, 3.0, 6.0])
    mean, std = 3.0, statistics.stdev([1.0, 2.0, 3.0, 6.0])
    assert stats.normalize(6.0) == pytest.approx((6.0 - mean) / std)
    assert RewardStats().plus([0.5, 0.5]).normalize(0.5) == 0.0  # no spread: std 1
    assert RewardStats.from_meta(stats.to_meta()) == stats


def test_task_lists_keep_a_familys_parameters_together():
    from thetaevolve.rl.cli import split_tasks

    assert split_tasks("circle_packing_26, hadamard_29") == ["circle_packing_26", "hadamard_29"]
    assert split_tasks("min_max_distance:n=20,d=2,circle_packing:n=30,hadamard_29") == [
        "min_max_distance:n=20,d=2", "circle_packing:n=30", "hadamard_29"]


def test_task_folders_are_safe_names():
    assert task_dir_name(0, "circle_packing_26") == "0-circle_packing_26"
    assert task_dir_name(1, "/home/me/problems/my problem") == "1-my_problem"
    assert task_dir_name(2, "min_max_distance:n=20,d=2") == "2-min_max_distance_n_20_d_2"


class _OneTaskGym:
    """Enough of a gym for MultiTaskGym: a fixed raw reward per task, an in-memory meta."""

    def __init__(self, reward: float) -> None:
        from helpers import SyntheticGym

        self.inner = SyntheticGym(fixed_reward=reward)
        self.meta: dict = {}
        self.database = self

    def get_meta(self, key, default=None):
        return self.meta.get(key, default)

    next_batch_index = property(lambda self: self.inner.next_batch_index)
    evaluations = property(lambda self: self.inner.evaluations)

    def draw_prompts(self, count, batch_index=None):
        return self.inner.draw_prompts(count, batch_index)

    async def score(self, prompts, responses, batch_index=None):
        return await self.inner.score(prompts, responses, batch_index)

    def commit(self, scored, wall_s=0.0, meta=None):
        self.meta.update(meta or {})
        return self.inner.commit(scored, wall_s, meta)


def test_multitask_gym_routes_rows_and_normalises_per_task():
    from thetaevolve.proposers.base import Response
    from thetaevolve.rl.multitask import MultiTaskGym

    gyms = [_OneTaskGym(10.0), _OneTaskGym(-0.5)]
    multi = MultiTaskGym(gyms, [1.0, 1.0], "zscore")
    prompts = multi.draw_prompts(4, 1)
    tasks = slot_tasks([1.0, 1.0], 1, 4)
    responses = [[Response(text="x" * k) for k in range(3)] for _ in prompts]
    scored = asyncio.run(multi.score(prompts, responses, 1))
    assert [row[0].task_index for row in scored] == tasks
    # Every reward of a task is equal, so each is normalised to 0 whatever its raw scale.
    assert all(c.reward == 0.0 for row in scored for c in row)
    records = multi.commit(scored)
    assert len(records) == 12
    for t, gym in enumerate(gyms):
        assert len(gym.inner.records) == 1 + 3 * tasks.count(t)
        assert gym.meta["task_reward_stats"]["count"] == 3 * tasks.count(t)


torch = pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")

from helpers import events, programs  # noqa: E402

from thetaevolve.cli import main  # noqa: E402
from thetaevolve.config import load_config  # noqa: E402
from thetaevolve.database.store import ProgramDatabase  # noqa: E402

MULTI = ["train", "--tasks", "circle_packing_26,hadamard_29", "--task-weights", "1,1",
         "--model", "random:tiny", "--steps", "2", "--batch-size", "2",
         "--samples-per-prompt", "2", "--max-new-tokens", "8", "--checkpoint-every", "1",
         "--quiet"]


@pytest.mark.rl
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_multitask_training_writes_each_tasks_store_and_resumes(tmp_path, capsys):
    run_dir = tmp_path / "multi"
    assert main([*MULTI, "--run-dir", str(run_dir)]) == 0
    marker = json.loads((run_dir / "run.json").read_text())
    assert marker["kind"] == "train-multi"
    folders = [run_dir / "tasks" / "0-circle_packing_26", run_dir / "tasks" / "1-hadamard_29"]
    expected = Counter(t for b in (1, 2) for t in slot_tasks([1, 1], b, 2))
    for t, folder in enumerate(folders):
        children = programs(folder)[1:]
        assert len(children) == 2 * expected[t]  # n = 2 children per prompt of that task
        assert all(c.iteration in (1, 2) for c in children)
        assert json.loads((folder / "summary.json").read_text())["best_valid"]
    assert (run_dir / "checkpoints" / "checkpoint-2").is_dir()
    batches = [e for e in events(run_dir) if e["event"] == "batch"]
    assert [b["batch"] for b in batches] == [1, 2]
    capsys.readouterr()
    assert main(["show", str(run_dir), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert set(shown["tasks"]) == {f.name for f in folders}
    assert shown["tasks"]["1-hadamard_29"]["task"] == "hadamard_29"
    assert main(["resume", str(folders[0])]) == 2  # a task's folder is not resumed alone

    assert main(["resume", str(run_dir), "--steps", "3", "--quiet"]) == 0
    expected3 = Counter(t for b in (1, 2, 3) for t in slot_tasks([1, 1], b, 2))
    total = 0
    for t, folder in enumerate(folders):
        children = programs(folder)[1:]
        assert len(children) == 2 * expected3[t]
        total += len(children)
        db = ProgramDatabase.open(folder / "programs.sqlite",
                                  load_config(folder / "config.yaml").database, read_only=True)
        try:
            stats = db.get_meta("task_reward_stats")
        finally:
            db.close()
        # The running statistics survived the resume and cover every child of the task.
        assert stats["count"] == len(children)
        assert stats["sum"] == pytest.approx(sum(c.reward for c in children))
    assert total == 3 * 2 * 2
    resumed = [e for e in events(run_dir) if e["event"] == "resume"]
    assert resumed and resumed[0]["checkpoint_step"] == 2
    assert json.loads((run_dir / "training.json").read_text())["steps_done"] == 3
