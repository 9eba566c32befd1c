"""Helpers shared by several test modules (test modules never import one another).

Each part of the suite keeps its helpers in its own section below. Fixtures live in
conftest.py; the public test doubles (a tiny task, an in-process runner, a scripted proposer)
in ``thetaevolve.testing``.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thetaevolve.config import DatabaseConfig, GymConfig, RLConfig, load_run_config
from thetaevolve.database import ChildDraft, ProgramDatabase, ProgramRecord
from thetaevolve.database.records import ParentSample
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.rewards import compute_reward
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Verdict

# =============================================================================================
# Program database (tests/test_database*.py)
# =============================================================================================


def draft(
    parent: int | None,
    fitness: float | None,
    iteration: int = 1,
    tag: str = "",
    outcome: Outcome = Outcome.OK,
    metrics: dict | None = None,
) -> ChildDraft:
    """A child whose code is unique per (fitness, parent, iteration, tag)."""
    code = f"def f():\n    return {fitness!r}  # {parent} {iteration} {tag}\n"
    ok = outcome is Outcome.OK
    return ChildDraft(
        parent_id=parent,
        code=code,
        code_hash=hashlib.sha256(code.encode()).hexdigest(),
        outcome=outcome,
        score=fitness if ok else None,
        fitness=fitness if ok else None,
        reward=fitness if ok and fitness is not None else -0.2,
        iteration=iteration,
        metrics=metrics or {},
        prompt=f"prompt {tag}",
        response=f"response {tag}",
        detail="" if ok else "boom",
    )


def db_config(**overrides: object) -> DatabaseConfig:
    """Three islands, a small archive, no population cap in practice, no migration."""
    base: dict[str, object] = dict(num_islands=3, archive_size=8, population_size=1000,
                                   migration_interval=0)
    base.update(overrides)
    return DatabaseConfig(**base)


def fresh(tmp_path: Path, **overrides: object) -> ProgramDatabase:
    """A new store holding only a successful initial program (fitness 1.0, id 1)."""
    db = ProgramDatabase.open(tmp_path / "programs.sqlite", db_config(**overrides))
    db.commit([draft(None, 1.0, 0, "initial")])
    return db


def evolve(db: ProgramDatabase, batches: int, seed: int = 0, size: int = 6,
           fail_rate: float = 0.2) -> list[ProgramRecord]:
    """Run ``batches`` random batches: children of sampled parents, some of them failures."""
    rng = random.Random(seed)
    out: list[ProgramRecord] = []
    start = db.max_iteration() + 1
    for it in range(start, start + batches):
        samples = db.sample_batch(size, rng, num_inspirations=2, num_top=2)
        kids = []
        for k, sample in enumerate(samples):
            if rng.random() < fail_rate:
                kids.append(draft(sample.parent.id, None, it, f"{seed}:{k}", Outcome.CRASH))
            else:
                fit = (sample.parent.fitness or 0.0) + rng.gauss(0.0, 1.0)
                kids.append(draft(sample.parent.id, fit, it, f"{seed}:{k}"))
        out.extend(db.commit(kids))
    return out


def reopen(db: ProgramDatabase) -> ProgramDatabase:
    """Close ``db`` and open its store again (the index is rebuilt from the rows)."""
    path, cfg = db.path, db.config
    db.close()
    return ProgramDatabase.open(path, cfg)


# =============================================================================================
# Built-in tasks (tests/test_tasks_*.py)
# =============================================================================================

FIRST_TASKS = [
    "circle_packing_26",
    "circle_packing_32",
    "circles_rectangle_21",
    "first_autocorrelation",
    "second_autocorrelation",
    "third_autocorrelation",
    "hadamard_29",
]
"""ThetaEvolve's tasks and AlphaEvolve's circle variants, the first ones built in."""

NEW_TASKS = [
    "erdos_min_overlap",
    "sums_differences",
    "min_max_distance_16_2d",
    "min_max_distance_14_3d",
    "heilbronn_triangle_11",
    "heilbronn_convex_13",
    "heilbronn_convex_14",
    "kissing_number_11",
    "uncertainty_inequality",
]
"""The problems added after those, each also checked end to end by a short offline run."""

SUITE = FIRST_TASKS + NEW_TASKS
"""Every fixed-size built-in task."""

# =============================================================================================
# Problems from outside (tests/test_problems_*.py): native folders, runs through the CLI
# =============================================================================================

INITIAL = '''# EVOLVE-BLOCK-START
def value():
    return 0.25 * 2.0
# EVOLVE-BLOCK-END


def solve():
    return {"x": value()}
'''

# Maximise x in [0, 1]. No heavy modules, so workers start in a blink.
HEAD = '''NAME = "half"
DIRECTION = "max"
STATEMENT = "Return x in [0, 1], as large as possible."
HEAVY_MODULES = []
TIMEOUT_S = 10
'''

VERIFY = '''
def verify(solution, tol=0.0):
    x = solution.get("x")
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1 + tol:
        raise ValueError(f"x must be a number in [0, 1], got {x!r}")
    return x
'''


def write_problem(folder: Path, head: str = HEAD, verify: str = VERIFY,
                  initial: str | None = INITIAL, extra: str = "") -> Path:
    """problem.py (+ initial_program.py unless ``initial`` is None) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "problem.py").write_text(head + extra + verify)
    if initial is not None:
        (folder / "initial_program.py").write_text(initial)
    return folder


def fast_run_flags(*, batch_size: int, seed: int) -> list[str]:
    """``thetaevolve run`` flags for a short, quiet, seeded run on two workers."""
    return ["--batch-size", str(batch_size), "--samples-per-prompt", "2", "--seed", str(seed),
            "--quiet", "--set", "sandbox.workers=2"]


def stored_proposals(run_dir: Path) -> list[ProgramRecord]:
    """Every proposal a finished run stored (copies left out), in id order."""
    database = ProgramDatabase.open(run_dir / "programs.sqlite", read_only=True)
    try:
        return list(database.iter_programs(include_copies=False))
    finally:
        database.close()

# =============================================================================================
# Test-time RL (tests/test_rl*.py, benchmarks/objectives_toy.py)
# =============================================================================================
# A synthetic task that rewards a target character in the completion, something a random
# tiny model can learn in a few dozen GRPO steps on a CPU, and an in-memory gym over it. Its
# rewards go through the real reward shaping (``thetaevolve.rewards.compute_reward``), so the
# ``random`` reward control is exactly the control a user would run.

TARGET = "x"


class TargetCharacterTask(Task):
    """Score = share of the first 8 characters slots filled by the target character."""

    name = "target_character"
    direction = "max"
    statement = f"Write the letter {TARGET} as often as you can."
    solution_format = '{"text": str}'

    @property
    def initial_program(self) -> str:
        return ""

    def judge(self, solution: dict[str, Any], tol: float) -> Verdict:
        text = solution.get("text")
        if not isinstance(text, str):
            return Verdict.invalid("text must be a string")
        return Verdict(valid=True, score=min(text.count(TARGET), 8) / 8.0)


@dataclass(frozen=True)
class Scored:
    prompt_index: int
    sample_index: int
    draft: ChildDraft
    evaluation: Any
    response: Response

    @property
    def reward(self) -> float:
        return self.draft.reward


class SyntheticGym:
    """The gym's public surface over an in-memory store (one initial program)."""

    def __init__(self, reward: str = "original", seed: int = 0,
                 fixed_reward: float | None = None) -> None:
        self.task = TargetCharacterTask()
        self.fixed_reward = fixed_reward  # every child gets this reward (no signal at all)
        self.gym_config = GymConfig(reward=reward)
        self.seed = seed
        self.records: list[ProgramRecord] = [self._record(1, None, 0, 0.0, 0.0, "", "")]
        self.meta: dict[str, Any] = {}
        self.draws: list[int] = []  # store size at each draw: proves prompts are fresh

    def _record(self, pid, parent, iteration, score, reward, prompt, response) -> ProgramRecord:
        return ProgramRecord(
            id=pid, parent_id=parent, island=0, generation=0, iteration=iteration,
            code=response, code_hash=str(pid), outcome=Outcome.OK, score=score, fitness=score,
            reward=reward, metrics={}, prompt=prompt, response=response, detail="",
            created_at=time.time(),
        )

    @property
    def next_batch_index(self) -> int:
        return max(r.iteration for r in self.records) + 1

    @property
    def evaluations(self) -> int:
        return len(self.records) - 1

    def draw_prompts(self, count: int, batch_index: int | None = None) -> list[Prompt]:
        index = self.next_batch_index if batch_index is None else batch_index
        rng = random.Random(f"{self.seed}:{index}:sample")
        self.draws.append(len(self.records))
        prompts = []
        for position in range(count):
            parent = rng.choice(self.records)
            text = f"{self.task.statement} (parent {parent.id})"
            prompts.append(Prompt(messages=({"role": "user", "content": text},),
                                  sample=ParentSample(parent=parent), key=f"{index}:{position}"))
        return prompts

    async def score(self, prompts, responses, batch_index=None):
        index = self.next_batch_index if batch_index is None else batch_index
        rng = random.Random(f"{self.seed}:{index}:reward")
        out = []
        for p, (prompt, group) in enumerate(zip(prompts, responses, strict=True)):
            row = []
            for s, response in enumerate(group):
                verdict = self.task.verify({"text": response.text})
                reward = compute_reward(self.task, self.gym_config, Outcome.OK, verdict.score,
                                        prompt.sample.parent.score, rng)
                if self.fixed_reward is not None:
                    reward = self.fixed_reward
                draft = ChildDraft(
                    parent_id=prompt.sample.parent.id, code=response.text, code_hash="",
                    outcome=Outcome.OK, score=verdict.score, fitness=verdict.score,
                    reward=reward, iteration=index, prompt=prompt.text, response=response.text,
                )
                row.append(Scored(p, s, draft, None, response))
            out.append(row)
        return out

    def commit(self, scored, wall_s: float = 0.0, meta: dict[str, Any] | None = None):
        added = []
        for row in scored:
            for child in row:
                d = child.draft
                record = self._record(len(self.records) + 1, d.parent_id, d.iteration, d.score,
                                      d.reward, d.prompt, d.response)
                self.records.append(record)
                added.append(record)
        self.meta.update(meta or {})
        return added


def small_rl_config(**changes: Any) -> RLConfig:
    """A two-step training config small enough for a random tiny model on a CPU."""
    base: dict[str, Any] = dict(
        steps=2, batch_size=2, samples_per_prompt=4, micro_batch_size=8, max_new_tokens=8,
        learning_rate=1e-3, checkpoint_every=0, keep_checkpoints=None)
    base.update(changes)
    return RLConfig(**base)


def weights(model: Any) -> dict[str, Any]:
    """A detached copy of a torch model's state, to compare before and after a step."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# `thetaevolve train` flags for a two-step run of the random tiny model.
TRAIN = ["train", "circle_packing_26", "--model", "random:tiny", "--steps", "2",
         "--batch-size", "2", "--samples-per-prompt", "2", "--max-new-tokens", "8",
         "--checkpoint-every", "1", "--reward", "random", "--quiet"]


def programs(run_dir: Path, kind: str | None = "proposal") -> list[ProgramRecord]:
    """A run's stored programs of one kind (all of them for ``kind=None``), in id order."""
    config = load_run_config(run_dir / "config.yaml")
    database = ProgramDatabase.open(run_dir / "programs.sqlite", config.database)
    try:
        # Migrant copies between islands are the database's own; proposals are the run's.
        return [p for p in database.iter_programs() if kind is None or p.kind == kind]
    finally:
        database.close()


def events(run_dir: Path) -> list[dict[str, Any]]:
    """The lines of a run's metrics.jsonl."""
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]
