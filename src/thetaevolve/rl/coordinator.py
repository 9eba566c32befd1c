"""One owner of the gym and the store, however many training processes there are.

With several ranks (``torchrun`` / ``accelerate launch``), every rank generates and trains
on its slice of the batch, but only rank 0 holds the gym, the database and the sandbox.
Each step, all ranks call the same two methods in the same order:

1. ``assign_prompts``: rank 0 draws the step's B prompts from the *current* database and
   every rank learns the prompt, group and sample index of each of its rows;
2. ``score``: every rank sends its completions to rank 0, which scores the whole batch
   through the gym (edit -> sandbox -> verifier -> reward shaping), commits all B x n
   children in one transaction, and sends every rank the rewards of its rows.

So there is one population, one batch index per step, and each stored reward is the very
number the trainer gets. The exchange uses torch.distributed object collectives on a gloo
group (CPU tensors), which works next to an NCCL training group.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable, Coroutine, Generic, Protocol, Sequence, TypeVar

from thetaevolve.database import ProgramRecord
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.proposers.calls import CallStats
from thetaevolve.rl.advantages import group_advantages as estimate


class Rewarded(Protocol):
    """A scored child as training sees it: the reward the trainer gets for it."""

    @property
    def reward(self) -> float: ...


ChildT = TypeVar("ChildT", bound=Rewarded)
ResultT = TypeVar("ResultT")
ValueT = TypeVar("ValueT")  # what travels between ranks (picklable)


class GymLike(Protocol[ChildT]):
    """The part of ``thetaevolve.gym.Gym`` that training uses.

    ``ChildT`` is what ``score`` hands back and ``commit`` takes: ``gym.ScoredChild`` for
    one task, ``multitask.TaskChild`` (a task's child with its normalised reward) for many.
    """

    @property
    def next_batch_index(self) -> int: ...

    @property
    def evaluations(self) -> int: ...

    def draw_prompts(self, count: int, batch_index: int | None = None) -> list[Prompt]: ...

    async def score(
        self, prompts: list[Prompt], responses: list[list[Response]], batch_index: int | None = None
    ) -> list[list[ChildT]]: ...

    def commit(self, scored: list[list[ChildT]], wall_s: float = 0.0,
               meta: dict[str, Any] | None = None) -> list[ProgramRecord]: ...


@dataclass(frozen=True)
class RankFailure:
    """What rank 0 broadcasts instead of its result when its part failed, so that the
    other ranks raise instead of waiting forever (and a payload can never be mistaken for
    a failure, whatever its type)."""

    message: str


class Channel:
    """Object collectives among the training ranks; trivial with one process."""

    def __init__(self, timeout_s: float = 6 * 3600.0) -> None:
        import datetime

        import torch.distributed as dist

        self._dist = dist
        self.enabled = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        self.rank = dist.get_rank() if self.enabled else 0
        self.world_size = dist.get_world_size() if self.enabled else 1
        # A gloo group of its own: object collectives then stay on the CPU even when the
        # training group is NCCL, and never interleave with gradient all-reduces.
        # Its timeout must outlast rank 0 scoring a whole batch in the sandbox (minutes to
        # hours for slow tasks) while the other ranks wait in a collective.
        timeout = datetime.timedelta(seconds=timeout_s)
        self._group = dist.new_group(backend="gloo", timeout=timeout) if self.enabled else None

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def broadcast(self, obj: ValueT) -> ValueT:
        """Rank 0's ``obj`` on every rank (the others pass a placeholder of its type)."""
        if not self.enabled:
            return obj
        box: list[Any] = [obj if self.is_root else None]
        self._dist.broadcast_object_list(box, src=0, group=self._group)
        received: ValueT = box[0]  # rank 0's object, on every rank
        return received

    def all_gather(self, obj: ValueT) -> list[ValueT]:
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        self._dist.all_gather_object(out, obj, group=self._group)
        return out

    def gather(self, obj: ValueT) -> list[ValueT] | None:
        """Every rank's ``obj`` on rank 0 (None elsewhere)."""
        if not self.enabled:
            return [obj]
        out: list[Any] | None = [None] * self.world_size if self.is_root else None
        self._dist.gather_object(obj, out, dst=0, group=self._group)
        return out

    def barrier(self) -> None:
        if self.enabled:
            self._dist.barrier(group=self._group)


@dataclass(frozen=True)
class RowAssignment:
    """What one local row of the generation batch is: prompt ``group``, sample ``sample``."""

    messages: list[dict[str, str]]
    group: int
    sample: int


@dataclass(frozen=True)
class Completion:
    """One rank's completion for one row, as sent to rank 0."""

    group: int
    sample: int
    text: str
    tokens_out: int
    truncated: bool


@dataclass
class StepRecord:
    """Rank 0's account of one committed step (the audit the tests read)."""

    step: int
    batch_index: int
    program_ids: list[int]  # in global row order: group * n + sample
    parent_ids: list[int | None]  # the parent shown in each group's prompt
    rewards: list[float]  # as stored, global row order
    rewards_used: list[float] = field(default_factory=list)  # as the trainer received them
    ranks: list[int] = field(default_factory=list)  # which rank generated each row


@dataclass
class _OpenStep:
    batch_index: int
    prompts: list[Prompt]
    prompt_tokens: list[int]
    row_ranks: list[int]
    started: float


@dataclass(frozen=True)
class CommitInfo(Generic[ChildT]):
    """Handed to ``on_commit`` on rank 0 right after a step's children are stored."""

    step: int
    batch_index: int
    scored: list[list[ChildT]]
    records: list[ProgramRecord]  # in the order of the children of ``scored``, row by row
    metrics: dict[str, Any]


class StepError(RuntimeError):
    """Rank 0 failed during a step; every rank raises it instead of hanging."""


class StepCoordinator(Generic[ChildT]):
    """Drives the gym for the trainer; see the module docstring for the protocol."""

    def __init__(
        self,
        channel: Channel,
        samples_per_prompt: int,
        gym: GymLike[ChildT] | None = None,
        count_tokens: Callable[[list[dict[str, str]]], int] | None = None,
        on_commit: Callable[[CommitInfo[ChildT]], None] | None = None,
        audit_size: int = 64,
        advantage: str = "grpo",
        entropic_beta: float = 1.0,
    ) -> None:
        if channel.is_root and gym is None:
            raise ValueError("rank 0 must own the gym")
        self.channel = channel
        self.n = samples_per_prompt
        self.gym = gym if channel.is_root else None
        self.count_tokens = count_tokens  # messages -> prompt token count (rank 0)
        self.on_commit = on_commit  # CommitInfo -> None, on rank 0 after each commit
        self.audit: deque[StepRecord] = deque(maxlen=audit_size)
        self.advantage, self.entropic_beta = advantage, entropic_beta  # for the metrics
        self.step = 0  # optimizer steps done; the trainer keeps it current
        self._open: _OpenStep | None = None
        # The last step's reward table (group x sample), on every rank: advantage
        # estimators other than TRL's own read whole groups from it.
        self.last_rewards: list[list[float]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- 1. prompts -------------------------------------------------------------------------

    def assign_prompts(self, local_rows: int) -> list[RowAssignment]:
        counts = self.channel.all_gather(local_rows)
        total = sum(counts)
        payload: list[list[dict[str, str]]] | RankFailure | None = None
        if self.channel.is_root:
            payload = self._guard(lambda: self._draw(counts))
        payload = self.channel.broadcast(payload)
        if isinstance(payload, RankFailure):
            raise StepError(payload.message)
        assert payload is not None  # rank 0 always sends the prompts or a failure
        offset = sum(counts[: self.channel.rank])
        return [
            RowAssignment(payload[g // self.n], g // self.n, g % self.n)
            for g in range(offset, offset + local_rows)
        ] if total else []

    def _draw(self, counts: list[int]) -> list[list[dict[str, str]]]:
        assert self.gym is not None
        total = sum(counts)
        if total % self.n:
            raise StepError(
                f"the generation batch holds {total} rows, not a multiple of "
                f"samples_per_prompt={self.n}"
            )
        batch_index = self.gym.next_batch_index
        prompts = self.gym.draw_prompts(total // self.n, batch_index)
        if len(prompts) != total // self.n:
            raise StepError(f"the gym drew {len(prompts)} prompts, {total // self.n} were needed")
        messages = [[dict(m) for m in p.messages] for p in prompts]
        tokens = [int(self.count_tokens(m)) if self.count_tokens else 0 for m in messages]
        ranks = [r for r, c in enumerate(counts) for _ in range(c)]
        self._open = _OpenStep(batch_index, prompts, tokens, ranks, time.perf_counter())
        return messages

    # ---- 2. rewards -------------------------------------------------------------------------

    def score(self, local: Sequence[Completion]) -> list[float]:
        """Rewards for this rank's rows, in the order given."""
        gathered = self.channel.gather(list(local))
        table: list[list[float]] | RankFailure | None = None
        if self.channel.is_root:
            table = self._guard(lambda: self._score_and_commit(gathered or []))
        table = self.channel.broadcast(table)
        if isinstance(table, RankFailure):
            raise StepError(table.message)
        assert table is not None  # rank 0 always sends the rewards or a failure
        self.last_rewards = table
        return [table[c.group][c.sample] for c in local]

    def _score_and_commit(self, gathered: list[list[Completion]]) -> list[list[float]]:
        assert self.gym is not None
        step = self._open
        if step is None:
            raise StepError("completions arrived for a step whose prompts were never drawn")
        self._open = None
        generated = time.perf_counter()  # every rank has generated by now
        tokens_out = sum(c.tokens_out for rows in gathered for c in rows)
        groups = len(step.prompts)
        grid: list[list[Response | None]] = [[None] * self.n for _ in range(groups)]
        for rank_rows in gathered:
            for c in rank_rows:
                if grid[c.group][c.sample] is not None:
                    raise StepError(f"row ({c.group}, {c.sample}) was reported twice")
                grid[c.group][c.sample] = Response(
                    text=c.text, truncated=c.truncated, tokens_in=step.prompt_tokens[c.group],
                    tokens_out=c.tokens_out, stats=CallStats(calls=0),
                )
        missing = [(g, s) for g in range(groups) for s in range(self.n) if grid[g][s] is None]
        if missing:
            raise StepError(f"{len(missing)} rows never reported a completion, e.g. {missing[0]}")
        responses: list[list[Response]] = [[r for r in row if r is not None] for row in grid]
        scored = self._run(self.gym.score(step.prompts, responses, step.batch_index))
        wall = time.perf_counter() - step.started
        records = self.gym.commit(scored, wall_s=wall, meta={"rl_step": self.step + 1})
        rewards = [[float(child.reward) for child in row] for row in scored]
        flat = [r for row in rewards for r in row]
        self.audit.append(StepRecord(
            step=self.step + 1, batch_index=step.batch_index,
            program_ids=[rec.id for rec in records],
            parent_ids=[p.sample.parent.id for p in step.prompts],
            rewards=flat, ranks=step.row_ranks,
        ))
        if self.on_commit is not None:
            self.on_commit(CommitInfo(
                step=self.step + 1, batch_index=step.batch_index, scored=scored,
                records=records,
                metrics={
                    **batch_metrics(rewards, records, wall, self.advantage,
                                    self.entropic_beta),
                    "generate_s": round(generated - step.started, 4),
                    "score_s": round(time.perf_counter() - generated, 4),
                    "tokens_out": tokens_out,
                    "prompt_tokens_mean": round(statistics.fmean(step.prompt_tokens), 1),
                },
            ))
        return rewards

    def record_used_rewards(self, used: list[float]) -> None:
        """Rank 0: check the trainer got exactly the stored rewards, and keep them."""
        if not self.channel.is_root or not self.audit:
            return
        entry = self.audit[-1]
        stored32 = [_as_float32(r) for r in entry.rewards]
        if len(used) != len(stored32) or any(
            not (u == s or (math.isnan(u) and math.isnan(s))) for u, s in zip(used, stored32)
        ):
            raise StepError(
                "the rewards the trainer received differ from the rewards stored for batch "
                f"{entry.batch_index}; rows may be misaligned between ranks"
            )
        entry.rewards_used = list(used)

    # ---- plumbing ---------------------------------------------------------------------------

    def _run(self, coroutine: Coroutine[Any, Any, ResultT]) -> ResultT:
        # One private event loop, reused: the gym's evaluations run on its thread pool.
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(coroutine)

    def _guard(self, work: Callable[[], ResultT]) -> ResultT:
        """Run rank 0's part; on failure hand the message to the other ranks, then raise."""
        try:
            return work()
        except Exception as exc:
            if self.channel.enabled:
                # Unblock the other ranks (they raise StepError) before raising here.
                self.channel.broadcast(RankFailure(f"rank 0 failed: {type(exc).__name__}: {exc}"))
            raise

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None


def _as_float32(value: float) -> float:
    import struct

    return struct.unpack("f", struct.pack("f", value))[0]


def step_advantages(rewards: list[list[float]], objective: str = "grpo",
                    beta: float = 1.0) -> list[float]:
    """The advantages of a step's rows under ``objective`` (rl.advantage), group by group."""
    out: list[float] = []
    for row in rewards:
        if len(row) < 2:
            out.extend(0.0 for _ in row)
        else:
            out.extend(estimate(row, objective, beta)[0])
    return out


def batch_metrics(rewards: list[list[float]], records: Sequence[ProgramRecord], wall_s: float,
                  objective: str = "grpo", beta: float = 1.0) -> dict[str, Any]:
    """Reward statistics of one step for the metrics log (advantages as the trainer's)."""
    flat = [r for row in rewards for r in row]
    advantages = step_advantages(rewards, objective, beta)
    outcomes = Counter(rec.outcome.value for rec in records)
    flat_groups = sum(1 for row in rewards if max(row) - min(row) == 0)
    return {
        "children": len(records),
        "mean_reward": round(statistics.fmean(flat), 6) if flat else None,
        "max_reward": max(flat) if flat else None,
        "min_reward": min(flat) if flat else None,
        "reward_std": round(statistics.pstdev(flat), 6) if flat else None,
        "advantage_std": round(statistics.pstdev(advantages), 6) if advantages else None,
        "advantage_abs_max": round(max(abs(a) for a in advantages), 6) if advantages else None,
        "groups_without_spread": flat_groups,
        "outcomes": dict(sorted(outcomes.items())),
        "wall_s": round(wall_s, 4),
    }
