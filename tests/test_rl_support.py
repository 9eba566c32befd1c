"""Test doubles for the RL tests: a synthetic task and an in-memory gym.

The synthetic task rewards a target character in the completion, something a random
tiny model can learn in a few dozen GRPO steps on a CPU. Its rewards go through the real
reward shaping (``thetaevolve.rewards.compute_reward``), so the ``random`` reward control
is exactly the control a user would run.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from thetaevolve.config import GymConfig
from thetaevolve.database.records import ChildDraft, ParentSample, ProgramRecord
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.rewards import compute_reward
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Verdict

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
