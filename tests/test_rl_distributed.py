"""Two training processes (torchrun, gloo, CPU) and one store owned by rank 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")

pytestmark = [pytest.mark.rl, pytest.mark.slow]

TESTS = Path(__file__).resolve().parent

WORKER = textwrap.dedent(
    """
    import hashlib, json, sys
    from pathlib import Path

    sys.path.insert(0, {tests!r})
    from helpers import SyntheticGym
    from thetaevolve.rl import coordinator
    from thetaevolve.config import RLConfig
    from thetaevolve.rl.train import join_processes, leave_processes, train_on_gym

    out = Path({out!r})
    state = join_processes()
    rank = state.process_index
    mine = []
    original = coordinator.StepCoordinator.score

    def spy(self, local):
        mine.extend(c.text for c in local)  # what this rank generated
        return original(self, local)

    coordinator.StepCoordinator.score = spy
    gym = SyntheticGym(reward="random") if state.is_main_process else None
    rl = RLConfig(steps=2, batch_size=2, samples_per_prompt=4, micro_batch_size=2,
                  max_new_tokens=8, learning_rate=1e-3, checkpoint_every=0,
                  keep_checkpoints=None)
    result = train_on_gym(gym, rl, out / "checkpoints", seed=0)
    digest = hashlib.sha256()
    for value in result.trainer.model.state_dict().values():
        digest.update(value.detach().cpu().numpy().tobytes())
    report = {{"rank": rank, "texts": mine, "weights": digest.hexdigest(),
               "steps": result.steps_done}}
    if gym is not None:
        report["store"] = [
            {{"id": r.id, "parent": r.parent_id, "iteration": r.iteration,
              "response": r.response, "reward": r.reward, "prompt": r.prompt}}
            for r in gym.records[1:]
        ]
        report["audit"] = [
            {{"ids": a.program_ids, "ranks": a.ranks, "used": a.rewards_used,
              "parents": a.parent_ids}} for a in result.audit
        ]
        report["draws"] = gym.draws
    (out / f"rank{{rank}}.json").write_text(json.dumps(report))
    leave_processes()
    """
)


def failure_text(proc: subprocess.CompletedProcess) -> str:
    """The ranks' own errors, without the launcher's summary and library warnings."""
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if "warn" not in line.lower()]
    return "\n".join(lines)[-12000:]


def test_two_ranks_share_one_store(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(TESTS), out=str(tmp_path)))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore::FutureWarning"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, failure_text(proc)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    root = ranks[0]
    store = root["store"]
    # One store: 2 steps x 2 prompts x 4 samples, no duplicate and no loss.
    assert len(store) == 16
    assert len({row["id"] for row in store}) == 16
    assert sorted(row["iteration"] for row in store) == [1] * 8 + [2] * 8
    assert root["draws"] == [1, 9]
    # Each rank generated half of every batch, and all of it reached the store.
    stored = sorted(row["response"] for row in store)
    generated = sorted(ranks[0]["texts"] + ranks[1]["texts"])
    assert stored == generated
    assert len(ranks[0]["texts"]) == len(ranks[1]["texts"]) == 8
    for entry in root["audit"]:
        assert sorted(set(entry["ranks"])) == [0, 1]
        by_id = {row["id"]: row for row in store}
        for row_index, program_id in enumerate(entry["ids"]):
            row = by_id[program_id]
            assert row["parent"] == entry["parents"][row_index // 4]
            assert f"(parent {row['parent']})" in row["prompt"]
            assert abs(entry["used"][row_index] - row["reward"]) < 1e-6
    # Data-parallel training kept the two replicas identical.
    assert ranks[0]["weights"] == ranks[1]["weights"]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 2


def torchrun(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore::FutureWarning"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def test_thetaevolve_train_under_torchrun_keeps_one_store(tmp_path):
    from thetaevolve.config import load_config
    from thetaevolve.database.store import ProgramDatabase

    run_dir = tmp_path / "run"
    proc = torchrun(["-m", "thetaevolve.cli", "train", "circle_packing_26", "--model",
                     "random:tiny", "--steps", "2", "--batch-size", "2",
                     "--samples-per-prompt", "4", "--max-new-tokens", "16", "--reward",
                     "random", "--run-dir", str(run_dir), "--quiet"])
    assert proc.returncode == 0, failure_text(proc)
    assert sorted(p.name for p in run_dir.glob("*.sqlite")) == ["programs.sqlite"]
    config = load_config(run_dir / "config.yaml")
    database = ProgramDatabase.open(run_dir / "programs.sqlite", config.database)
    try:
        children = [p for p in database.iter_programs()
                    if p.kind == "proposal" and p.parent_id is not None]
    finally:
        database.close()
    assert len(children) == 16 and len({c.id for c in children}) == 16
    assert sorted(c.iteration for c in children) == [1] * 8 + [2] * 8
    # Random completions of 16 tokens: two ranks generating the same rows would repeat them.
    assert len({c.response for c in children}) == 16
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 16
    assert json.loads((run_dir / "training.json").read_text())["world_size"] == 2


FAILING_WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    sys.path.insert(0, {tests!r})
    from helpers import SyntheticGym
    from thetaevolve.config import RLConfig
    from thetaevolve.rl.train import join_processes, train_on_gym

    class BrokenGym(SyntheticGym):
        async def score(self, prompts, responses, batch_index=None):
            if batch_index == 2:
                raise RuntimeError("the sandbox pool died")
            return await super().score(prompts, responses, batch_index)

    state = join_processes()
    gym = BrokenGym() if state.is_main_process else None
    rl = RLConfig(steps=3, batch_size=2, samples_per_prompt=2, micro_batch_size=2,
                  max_new_tokens=4, checkpoint_every=0)
    train_on_gym(gym, rl, Path({out!r}), seed=0)
    """
)


def test_a_failure_on_rank_0_stops_every_rank_instead_of_hanging(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(FAILING_WORKER.format(tests=str(TESTS), out=str(tmp_path / "ckpt")))
    proc = torchrun([str(script)], timeout=300)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "the sandbox pool died" in output
    assert "rank 0 failed: RuntimeError: the sandbox pool died" in output  # seen by rank 1
