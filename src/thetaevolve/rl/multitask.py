"""Multi-task test-time RL: one policy, one program store per task (``train --tasks A,B``).

Layout of a multi-task run directory:

    run.json, config.yaml     kind "train-multi"; rl.tasks lists the tasks in order
    metrics.jsonl             training events and one "batch" line per step, all tasks
    checkpoints/, training.json   the one policy, as for a single-task run
    tasks/<i>-<name>/         a complete run directory per task (kind "train-task"): its
                              store, summary, best program, plots and per-task batch lines,
                              so `show` and `compare` read it like any run

Each step draws B prompts over the tasks in proportion to ``rl.task_weights``. Slot k
of batch b goes to the task whose share of [0, 1) holds frac((t + 1) * 0.618...), t =
(b - 1) B + k: a low-discrepancy sequence, so every task gets its share even when B is
smaller than the number of tasks, and the allocation is a pure function of the batch
index (a resume continues it exactly). All prompts of a GRPO group share one task.

Per-task reward normalisation (``rl.task_reward_normalization=zscore``): the trainer gets
``(r - mean) / std`` of the task's rewards so far (this batch included; std 1 until two
rewards are known or while they are all equal). The store keeps the gym's raw reward, so
a task's store means the same as in a single-task run; the running sums are written to
that store's meta in the same transaction as the children, so a resume restores them.
The audit still holds: what the trainer receives is exactly what the coordinator handed
out.

This module imports no torch.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from thetaevolve import __version__
from thetaevolve.atomic import write_json_atomic
from thetaevolve.config import ConfigError, RunConfig, dump_config, load_run_config
from thetaevolve.database import ChildDraft, ProgramRecord
from thetaevolve.gym import Gym, ScoredChild
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.rl.coordinator import CommitInfo, batch_metrics
from thetaevolve.rl.recording import StepRecorder
from thetaevolve.run_safety import claim_default_run_dir
from thetaevolve.session import (
    CONFIG_FILE,
    METRICS_FILE,
    RUN_FORMAT,
    RUN_MARKER,
    SUMMARY_FILE,
    RunDirError,
    RunKind,
    Session,
    read_marker,
)
from thetaevolve.types import Evaluation

MULTI_KIND = "train-multi"
TASK_KIND: RunKind = "train-task"
TASKS_DIR = "tasks"
STATS_KEY = "task_reward_stats"  # {count, sum, sum_sq} of the task's raw rewards
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def task_dir_name(position: int, task: str) -> str:
    """A folder name for a task: its position and a filesystem-safe form of its name."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(task).name if "/" in task else task)
    return f"{position}-{slug.strip('._') or 'task'}"


def slot_tasks(weights: list[float], batch_index: int, count: int) -> list[int]:
    """Which task each of a batch's ``count`` prompt slots is for (see the module doc)."""
    total = sum(weights)
    edges, running = [], 0.0
    for w in weights:
        running += w / total
        edges.append(running)
    out = []
    for k in range(count):
        t = (batch_index - 1) * count + k
        u = ((t + 1) * _GOLDEN) % 1.0
        out.append(next((i for i, e in enumerate(edges) if u < e), len(weights) - 1))
    return out


@dataclass
class RewardStats:
    """Running count, sum and sum of squares of one task's raw rewards."""

    count: int = 0
    total: float = 0.0
    total_sq: float = 0.0

    @classmethod
    def from_meta(cls, value: Any) -> "RewardStats":
        if not isinstance(value, dict):
            return cls()
        return cls(int(value["count"]), float(value["sum"]), float(value["sum_sq"]))

    def to_meta(self) -> dict[str, Any]:
        return {"count": self.count, "sum": self.total, "sum_sq": self.total_sq}

    def plus(self, rewards: list[float]) -> "RewardStats":
        return RewardStats(self.count + len(rewards), self.total + math.fsum(rewards),
                           self.total_sq + math.fsum(r * r for r in rewards))

    def normalize(self, reward: float) -> float:
        if self.count == 0:
            return reward
        mean = self.total / self.count
        var = (self.total_sq - self.count * mean * mean) / (self.count - 1) if self.count > 1 else 0.0
        std = math.sqrt(var) if var > 1e-12 else 1.0
        return (reward - mean) / std


@dataclass(frozen=True)
class TaskChild:
    """A task gym's scored child, with the reward the trainer gets (normalised or not)."""

    child: ScoredChild
    task_index: int
    reward: float

    @property
    def draft(self) -> ChildDraft:
        return self.child.draft

    @property
    def evaluation(self) -> Evaluation | None:
        return self.child.evaluation

    @property
    def response(self) -> Response:
        return self.child.response


@dataclass(frozen=True)
class TaskCommit:
    """One task's part of a committed multi-task step (what its recorder reports)."""

    task_index: int
    scored: list[list[ScoredChild]]
    records: list[ProgramRecord]


class MultiTaskGym:
    """The ``GymLike`` surface the coordinator drives, over one gym per task."""

    def __init__(self, gyms: Sequence[Gym], weights: list[float], normalization: str) -> None:
        self.gyms = list(gyms)
        self.weights = weights
        self.normalization = normalization
        self._drawn: list[int] = []  # the task of each prompt of the open step
        self._pending_stats: dict[int, RewardStats] = {}
        self.last_split: list[TaskCommit] = []  # the last commit, task by task

    @property
    def next_batch_index(self) -> int:
        return max(g.next_batch_index for g in self.gyms)

    @property
    def evaluations(self) -> int:
        return sum(g.evaluations for g in self.gyms)

    def stats(self, task_index: int) -> RewardStats:
        return RewardStats.from_meta(self.gyms[task_index].database.get_meta(STATS_KEY))

    def draw_prompts(self, count: int, batch_index: int | None = None) -> list[Prompt]:
        index = self.next_batch_index if batch_index is None else batch_index
        slots = slot_tasks(self.weights, index, count)
        drawn: dict[int, list[Prompt]] = {}
        for task_index in sorted(set(slots)):
            drawn[task_index] = self.gyms[task_index].draw_prompts(slots.count(task_index), index)
        prompts = [drawn[t].pop(0) for t in slots]
        self._drawn = slots
        return prompts

    async def score(self, prompts: list[Prompt], responses: list[list[Response]],
                    batch_index: int | None = None) -> list[list[TaskChild]]:
        if len(prompts) != len(self._drawn):
            raise RuntimeError("score() called with prompts that draw_prompts() did not hand out")
        index = self.next_batch_index if batch_index is None else batch_index
        positions: dict[int, list[int]] = {}
        for position, task_index in enumerate(self._drawn):
            positions.setdefault(task_index, []).append(position)
        rows: list[list[TaskChild] | None] = [None] * len(prompts)
        scored_by_task = await asyncio.gather(*(
            self.gyms[t].score([prompts[p] for p in ps], [responses[p] for p in ps], index)
            for t, ps in positions.items()
        ))
        self._pending_stats = {}
        for (task_index, ps), scored in zip(positions.items(), scored_by_task):
            raw = [child.reward for row in scored for child in row]
            stats = self.stats(task_index).plus(raw)
            self._pending_stats[task_index] = stats
            for position, row in zip(ps, scored):
                rows[position] = [
                    TaskChild(child, task_index, stats.normalize(child.reward)
                              if self.normalization == "zscore" else child.reward)
                    for child in row
                ]
        return [row for row in rows if row is not None]

    def commit(self, scored: list[list[TaskChild]], wall_s: float = 0.0,
               meta: dict[str, Any] | None = None) -> list[ProgramRecord]:
        """Commit each task's children to its own store; records come back in row order."""
        by_task: dict[int, list[int]] = {}
        for position, row in enumerate(scored):
            by_task.setdefault(row[0].task_index, []).append(position)
        records: list[list[ProgramRecord] | None] = [None] * len(scored)
        self.last_split = []
        for task_index, ps in by_task.items():
            rows = [[c.child for c in scored[p]] for p in ps]
            stats = self._pending_stats.get(task_index) or self.stats(task_index).plus(
                [c.reward for row in rows for c in row])
            # Wall time is shared: each store gets its share by children.
            share = wall_s * sum(len(r) for r in rows) / max(1, sum(len(r) for r in scored))
            stored = self.gyms[task_index].commit(
                rows, wall_s=share, meta={**(meta or {}), STATS_KEY: stats.to_meta()})
            at = 0
            for p, task_row in zip(ps, rows):
                records[p] = stored[at:at + len(task_row)]
                at += len(task_row)
            self.last_split.append(TaskCommit(task_index, rows, stored))
        self._drawn = []
        return [rec for block in records if block is not None for rec in block]


class MultiTaskSession:
    """A multi-task run directory: one Session per task, one log and policy for all."""

    kind = MULTI_KIND

    def __init__(self, run_dir: Path, config: RunConfig, sessions: list[Session]) -> None:
        self.run_dir = run_dir
        self.config = config
        self.sessions = sessions
        rl = config.rl
        weights = list(rl.task_weights) or [1.0] * len(rl.tasks)
        self.gym = MultiTaskGym([s.gym for s in sessions], weights,
                                rl.task_reward_normalization)

    @staticmethod
    def task_configs(config: RunConfig, run_dir: Path) -> list[tuple[Path, RunConfig]]:
        out = []
        for position, name in enumerate(config.rl.tasks):
            folder = run_dir / TASKS_DIR / task_dir_name(position, name)
            out.append((folder, config.model_copy(update={"task": name,
                                                          "run_dir": str(folder)})))
        return out

    @classmethod
    def create(cls, config: RunConfig, run_dir: Path | None = None) -> "MultiTaskSession":
        from thetaevolve.tasks import get_task

        if len(config.rl.tasks) < 2:
            raise ConfigError("multi-task training needs at least two tasks in rl.tasks")
        for name in config.rl.tasks:
            get_task(name)  # a bad name fails before anything is written
        run_dir = Path(run_dir or config.run_dir or claim_default_run_dir("multi"))
        if (run_dir / RUN_MARKER).exists():
            raise RunDirError(f"{run_dir} already holds a run; continue it with "
                              f"`thetaevolve resume {run_dir}` or choose another --run-dir")
        if run_dir.exists() and any(run_dir.iterdir()):
            raise RunDirError(f"{run_dir} exists and is not empty; choose a new --run-dir")
        run_dir.mkdir(parents=True, exist_ok=True)
        config = config.model_copy(update={"run_dir": str(run_dir), "task": config.rl.tasks[0]})
        dump_config(config, run_dir / CONFIG_FILE)
        write_json_atomic(run_dir / RUN_MARKER, {
            "format": RUN_FORMAT, "version": 1, "kind": MULTI_KIND, "task": config.task,
            "tasks": list(config.rl.tasks),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "thetaevolve": __version__,
        })
        sessions: list[Session] = []
        try:
            for folder, task_config in cls.task_configs(config, run_dir):
                sessions.append(Session.create(task_config, folder, kind=TASK_KIND))
        except BaseException:
            for session in sessions:
                session.close()
            raise
        return cls(run_dir, config, sessions)

    @classmethod
    def resume(cls, run_dir: Path, overrides: list[str] | None = None) -> "MultiTaskSession":
        marker = read_marker(run_dir)
        if marker.get("kind") != MULTI_KIND:
            raise RunDirError(f"{run_dir} is not a multi-task training run")
        try:
            config = load_run_config(run_dir / CONFIG_FILE, overrides=overrides)
        except ConfigError as exc:
            raise RunDirError(f"{run_dir / CONFIG_FILE}: {exc}") from None
        if overrides:
            dump_config(config, run_dir / CONFIG_FILE)
        sessions: list[Session] = []
        try:
            for folder, _ in cls.task_configs(config, run_dir):
                sessions.append(Session.resume(folder))
        except BaseException:
            for session in sessions:
                session.close()
            raise
        return cls(run_dir, config, sessions)

    # ---- what training uses ----------------------------------------------------------

    def log(self, event: str, **fields: Any) -> None:
        """One event in the run's own metrics.jsonl (each task also has its own)."""
        record = {"event": event, "time": round(time.time(), 3), **fields}
        with open(self.run_dir / METRICS_FILE, "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def finalize(self) -> dict[str, Any]:
        summaries = {s.task.name: s.finalize() for s in self.sessions}
        summary = {
            "kind": MULTI_KIND,
            "tasks": summaries,
            "evaluations": sum(s["evaluations"] for s in summaries.values()),
        }
        write_json_atomic(self.run_dir / SUMMARY_FILE, summary)
        return summary

    def close(self) -> None:
        for session in self.sessions:
            session.close()


class MultiTaskRecorder:
    """``on_commit`` of a multi-task run: each task's record (its best files, batch line
    and progress line, as in a single-task run), then one line for the step in the run's
    own metrics.jsonl."""

    def __init__(self, session: MultiTaskSession, total_steps: int, quiet: bool) -> None:
        self.session = session
        self.tasks = [StepRecorder(s, total_steps, quiet) for s in session.sessions]

    def __call__(self, info: CommitInfo[TaskChild]) -> None:
        per_task: dict[str, Any] = {}
        for part in self.session.gym.last_split:
            rewards = [[c.reward for c in row] for row in part.scored]
            metrics = batch_metrics(rewards, part.records, info.metrics.get("wall_s", 0.0))
            self.tasks[part.task_index](CommitInfo(info.step, info.batch_index, part.scored,
                                                   part.records, metrics))
            task_session = self.session.sessions[part.task_index]
            best = task_session.database.best()
            per_task[task_session.task.name] = {
                "children": len(part.records), "mean_reward": metrics["mean_reward"],
                "best_score": best.score if best else None,
            }
        self.session.log("batch", batch=info.batch_index, step=info.step,
                         evaluations=self.session.gym.evaluations, tasks=per_task,
                         **info.metrics)

    def on_summary(self, summary: dict[str, Any]) -> None:
        self.session.log("summary", **summary)


def is_multitask_dir(run_dir: Path) -> bool:
    try:
        return read_marker(run_dir).get("kind") == MULTI_KIND
    except RunDirError:
        return False


def read_task_runs(run_dir: Path) -> list[Path]:
    """The per-task run directories of a multi-task run, in rl.tasks order."""
    marker = json.loads((run_dir / RUN_MARKER).read_text())
    return [run_dir / TASKS_DIR / task_dir_name(i, name)
            for i, name in enumerate(marker.get("tasks", []))]


def task_summaries(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Each task's run summary (read-only), keyed by its folder name, for `show`."""
    from thetaevolve.database.store import ProgramDatabase
    from thetaevolve.session import STORE_FILE, summarize
    from thetaevolve.problems.provenance import open_run_problem

    out = {}
    for task_run in read_task_runs(run_dir):
        config = load_run_config(task_run / CONFIG_FILE)
        database = ProgramDatabase.open(task_run / STORE_FILE, config.database, read_only=True)
        task = open_run_problem(task_run, config.task, check_changes=False)
        try:
            out[task_run.name] = summarize(task_run, database, task)
        finally:
            database.close()
            task.close()
    return out
