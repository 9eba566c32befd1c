"""The evolving gym: the database becomes prompts, responses become rewards and children.

Two drivers share it: ``evolve`` (an LLM or the offline mutator proposes) and ``train``
(the policy being trained proposes, and the rewards flow back into GRPO). Both follow
ThetaEvolve's batch sampling: B parents drawn from one database state, n responses per
parent, every child scored, then all children of the batch committed in one transaction.

The gym holds no counters of its own: the batch index and the number of candidates come
from the store, so a resumed run continues exactly where the last commit left it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

from thetaevolve.config import RunConfig
from thetaevolve.database import ChildDraft, ParentSample, ProgramRecord, ProgramStore
from thetaevolve.edits import apply_response
from thetaevolve.errors import UserError
from thetaevolve.evaluation import evaluate_run
from thetaevolve.normalize import code_hash
from thetaevolve.problems.verifier_guard import VerifierBrokenError, VerifierStreak
from thetaevolve.proposers.base import Prompt, Proposer, Response, inspirations_needed
from thetaevolve.proposers.usage import UsageTotals
from thetaevolve.rewards import compute_reward
from thetaevolve.sandbox import Sandbox
from thetaevolve.tasks.base import Task
from thetaevolve.types import FEEDBACK_METRIC, Evaluation, Outcome, Solution

INITIAL_ITERATION = 0


class InitialProgramError(UserError, RuntimeError):
    """The problem's initial program fails: one clear message, not a traceback (a user's own
    problem folder, or its evaluator, is where this usually comes from)."""


class PromptBuilderLike(Protocol):
    def build(self, sample: ParentSample, rng: random.Random) -> Prompt: ...


@dataclass(frozen=True)
class ScoredChild:
    """One response, turned into a child and scored, not yet committed."""

    prompt_index: int
    sample_index: int
    draft: ChildDraft
    evaluation: Evaluation | None  # None for lazy and edit failures: nothing ran
    response: Response

    @property
    def reward(self) -> float:
        return self.draft.reward


@dataclass(frozen=True)
class BatchReport:
    """What one committed batch did (for progress displays and the metrics log)."""

    batch_index: int
    records: list[ProgramRecord]
    evaluations_total: int
    best: ProgramRecord | None
    improved: bool
    wall_s: float
    best_solution: Solution | None = None  # the new best's data, when this batch improved

    @property
    def mean_reward(self) -> float:
        return sum(r.reward for r in self.records) / max(1, len(self.records))

    def outcome_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record.outcome.value] = counts.get(record.outcome.value, 0) + 1
        return counts


class Gym:
    """Propose → score → commit, on one task, one database and one sandbox."""

    def __init__(
        self,
        task: Task,
        config: RunConfig,
        database: ProgramStore,
        sandbox: Sandbox,
        prompt_builder: PromptBuilderLike,
    ) -> None:
        self.task = task
        self.config = config
        self.database = database
        self.sandbox = sandbox
        self.prompt_builder = prompt_builder
        # A sandbox that bounds its own in-flight work (the Ray backend: one candidate per
        # cluster slot, nodes may join) says how many callers it takes.
        callers = getattr(sandbox, "concurrency", None) or config.sandbox.workers
        self._executor = ThreadPoolExecutor(max_workers=callers, thread_name_prefix="evaluate")
        self._verifier_streak = VerifierStreak(run_dir=config.run_dir)

    # ---- counters, all derived from the store -------------------------------------------

    @property
    def next_batch_index(self) -> int:
        return max(self.database.max_iteration(), INITIAL_ITERATION) + 1

    @property
    def evaluations(self) -> int:
        """Candidates proposed and recorded so far, failures included, initial excluded."""
        return self.database.count() - self._initial_count()

    def _initial_count(self) -> int:
        value = self.database.get_meta("initial_programs")
        return int(value) if value is not None else 0

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    # ---- the initial program --------------------------------------------------------------

    async def initialize(self) -> tuple[ProgramRecord, Solution | None] | None:
        """Evaluate and store the task's initial program, once per store.

        Returns the stored record and its solution data, or None if the store already had it.
        """
        if self.database.count() > 0:
            return None
        started = time.perf_counter()
        code = self.task.initial_program
        evaluation = await self._evaluate(code)
        reward = compute_reward(
            self.task, self.config.gym, evaluation.outcome, evaluation.score, None,
            random.Random(self.config.seed),
        )
        draft = ChildDraft(
            parent_id=None, code=code, code_hash=code_hash(code), outcome=evaluation.outcome,
            score=evaluation.score,
            fitness=None if evaluation.score is None else self.task.fitness(evaluation.score),
            reward=reward, iteration=INITIAL_ITERATION, metrics=_metrics(evaluation),
            detail=_failure_detail(evaluation),
        )
        if evaluation.outcome is Outcome.VERIFIER_ERROR:
            raise VerifierBrokenError(
                f"the problem's verify failed on the initial program of {self.task.name} "
                f"({evaluation.detail}); nothing was evolved: fix verify and continue with "
                f"`thetaevolve resume {self.config.run_dir or 'RUN_DIR'} --allow-problem-change`"
            )
        if evaluation.outcome is not Outcome.OK:
            raise InitialProgramError(
                f"the initial program of task {self.task.name} failed in the sandbox "
                f"({evaluation.outcome.value}: {draft.detail}); nothing can evolve from it: "
                "fix it (or the problem's evaluator) and try `thetaevolve check` on the problem"
            )
        meta = {
            "initial_programs": 1,
            "wall_seconds": time.perf_counter() - started,
        }
        (record,) = self.database.commit([draft], meta=meta)
        return record, evaluation.solution

    # ---- one batch ------------------------------------------------------------------------

    def batch_rng(self, batch_index: int, purpose: str) -> random.Random:
        """A random stream fixed by (seed, batch, purpose): resumes reproduce it exactly."""
        return random.Random(f"{self.config.seed}:{batch_index}:{purpose}")

    def draw_prompts(
        self, count: int, batch_index: int | None = None, inspirations: int = 0
    ) -> list[Prompt]:
        """``count`` prompts from the current database state (one parent each).

        Each parent comes with ``prompt.num_inspirations`` other programs, or
        ``inspirations`` if the proposer needs more (``proposers.base.inspirations_needed``).
        """
        index = self.next_batch_index if batch_index is None else batch_index
        rng = self.batch_rng(index, "sample")
        samples = self.database.sample_batch(
            count,
            rng,
            num_inspirations=max(self.config.prompt.num_inspirations, inspirations),
            num_top=self.config.prompt.num_top_programs,
        )
        prompts = []
        for position, sample in enumerate(samples):
            prompt = self.prompt_builder.build(sample, rng)
            prompts.append(dataclasses.replace(prompt, key=f"{index}:{position}"))
        return prompts

    async def score(
        self,
        prompts: list[Prompt],
        responses: list[list[Response]],
        batch_index: int | None = None,
    ) -> list[list[ScoredChild]]:
        """Turn every response into a scored child. Nothing is committed here.

        Identical children within the batch are evaluated once and share the result, so a
        group of samples that agree costs one sandbox run and gets one fair reward.
        """
        index = self.next_batch_index if batch_index is None else batch_index
        pending: dict[str, asyncio.Future[Evaluation]] = {}
        rows = await asyncio.gather(*(
            self._score_group(p_index, prompt, group, index, pending)
            for p_index, (prompt, group) in enumerate(zip(prompts, responses, strict=True))
        ))
        return list(rows)

    async def _score_group(
        self,
        p_index: int,
        prompt: Prompt,
        group: list[Response],
        batch_index: int,
        pending: dict[str, "asyncio.Future[Evaluation]"],
    ) -> list[ScoredChild]:
        """Score the responses to one prompt; ``pending`` dedupes runs across the batch."""
        plans = []
        for response in group:
            plan = self._plan(prompt, response)
            # Check-and-insert with no await in between: one event loop, so no race.
            if plan.code is not None and plan.hash not in pending:
                pending[plan.hash] = asyncio.ensure_future(self._evaluate(plan.code))
            plans.append(plan)
        row = []
        for s_index, plan in enumerate(plans):
            evaluation = await pending[plan.hash] if plan.needs_run else None
            row.append(self._child(prompt, plan, evaluation, batch_index, p_index, s_index))
        return row

    def commit(
        self,
        scored: list[list[ScoredChild]],
        wall_s: float = 0.0,
        meta: dict[str, Any] | None = None,
    ) -> list[ProgramRecord]:
        """Commit every child of the batch in one transaction.

        The run's running totals (LLM usage, wall time) are written in the same
        transaction, so a killed run reports exactly what its store holds.
        """
        drafts = [child.draft for row in scored for child in row]
        usage = UsageTotals.from_dict(self.database.get_meta("usage"))
        # Stored as "offline_proposals", the name run directories have always used.
        model_free = int(self.database.get_meta("offline_proposals") or 0)
        for row in scored:
            for child in row:
                if child.response.stats.model_free:
                    model_free += 1  # no model call: nothing to account for
                else:
                    usage.add(child.response)
        totals = {
            "usage": usage.to_dict(),
            "offline_proposals": model_free,
            "wall_seconds": float(self.database.get_meta("wall_seconds") or 0.0) + wall_s,
            **(meta or {}),
        }
        records = self.database.commit(drafts, meta=totals)
        # After the commit, so that a run stopped for a broken verify keeps this batch.
        self._verifier_streak.observe((d.outcome, d.detail) for d in drafts)
        return records

    async def step(self, proposer: Proposer, max_children: int | None = None) -> BatchReport:
        """One batch with a proposer: draw, propose, score, commit.

        Each prompt's responses are scored as soon as they arrive, so the sandbox works
        while the model is still generating for the other prompts of the batch.
        """
        started = time.perf_counter()
        batch_index = self.next_batch_index
        n = self.config.gym.samples_per_prompt
        quotas = _quotas(self.config.gym.batch_size, n, max_children)
        best_before = self.database.best()
        prompts = self.draw_prompts(len(quotas), batch_index, inspirations_needed(proposer))
        pending: dict[str, asyncio.Future[Evaluation]] = {}

        async def propose_and_score(p_index: int, prompt: Prompt) -> list[ScoredChild]:
            (group,) = await proposer.propose([prompt], n)
            return await self._score_group(
                p_index, prompt, group[: quotas[p_index]], batch_index, pending
            )

        scored = list(await asyncio.gather(
            *(propose_and_score(i, prompt) for i, prompt in enumerate(prompts))
        ))
        wall = time.perf_counter() - started
        records = self.commit(scored, wall_s=wall)
        best = self.database.best()
        improved, best_solution = new_best(best, best_before, records, scored)
        return BatchReport(
            batch_index=batch_index, records=records, evaluations_total=self.evaluations,
            best=best, improved=improved, wall_s=wall, best_solution=best_solution,
        )

    # ---- internals ------------------------------------------------------------------------

    def _plan(self, prompt: Prompt, response: Response) -> "_Plan":
        """Decide, without running anything, what this response becomes."""
        parent = prompt.sample.parent
        if response.error:
            return _Plan(None, "", "", Outcome.LLM_ERROR, response.error, response)
        edit = apply_response(
            parent.code, response.text, mode=self.config.llm.edit_mode,
            scope=self.config.llm.edit_search_scope,
        )
        if edit.outcome is not None or edit.code is None:
            return _Plan(None, "", "", edit.outcome or Outcome.NO_DIFF, edit.detail, response)
        code = edit.code
        digest = code_hash(code)
        if len(code) > self.config.gym.max_code_length:
            return _Plan(None, code, digest, Outcome.TOO_LONG,
                         f"{len(code)} characters > gym.max_code_length", response)
        level = self.config.gym.lazy_penalty_level
        if level >= 1 and digest == parent.code_hash:
            return _Plan(None, code, digest, Outcome.NO_CHANGE,
                         "identical to its parent up to comments and whitespace", response)
        if level >= 2 and self.database.contains_hash(digest):
            return _Plan(None, code, digest, Outcome.DUPLICATE,
                         "identical to a program already in the database", response)
        return _Plan(code, code, digest, None, "", response)

    def _child(
        self,
        prompt: Prompt,
        plan: "_Plan",
        evaluation: Evaluation | None,
        batch_index: int,
        p_index: int,
        s_index: int,
    ) -> ScoredChild:
        parent = prompt.sample.parent
        response = plan.response
        # One stream per child: the `random` reward control stays reproducible whatever
        # order the evaluations finish in.
        reward_rng = self.batch_rng(batch_index, f"reward:{p_index}:{s_index}")
        if evaluation is not None:
            outcome, score = evaluation.outcome, evaluation.score
            detail = _failure_detail(evaluation)
            metrics: dict[str, Any] = _metrics(evaluation)
        else:
            outcome, score, detail, metrics = plan.outcome or Outcome.NO_DIFF, None, plan.detail, {}
        reward = compute_reward(self.task, self.config.gym, outcome, score, parent.score,
                                reward_rng)
        # The metrics are the evaluation's own: they are shown to the model in later prompts,
        # so LLM bookkeeping (tokens, truncation) stays in the run's usage totals instead.
        if response.truncated:
            metrics["truncated"] = True  # a cut response explains a failed edit
        draft = ChildDraft(
            parent_id=parent.id, code=plan.stored_code, code_hash=plan.hash,
            outcome=outcome, score=score,
            fitness=None if score is None else self.task.fitness(score), reward=reward,
            iteration=batch_index, metrics=metrics, prompt=prompt.text,
            response=response.text, detail=detail,
        )
        return ScoredChild(p_index, s_index, draft, evaluation, response)

    async def _evaluate(self, code: str) -> Evaluation:
        loop = asyncio.get_running_loop()
        # The verdict is reached in the worker thread too: a problem's own verify may take
        # seconds, and the event loop must keep serving the model meanwhile.
        return await loop.run_in_executor(self._executor, self._run_and_judge, code)

    def _run_and_judge(self, code: str) -> Evaluation:
        return evaluate_run(self.task, self.sandbox.run(code, self.config.sandbox.timeout_s))


@dataclass(frozen=True)
class _Plan:
    code: str | None  # the program to run; None when nothing runs
    stored_code: str  # what the database keeps ("" when no child could be built)
    hash: str
    outcome: Outcome | None  # the failure decided before running, if any
    detail: str
    response: Response

    @property
    def needs_run(self) -> bool:
        return self.code is not None


def new_best(
    best: ProgramRecord | None,
    best_before: ProgramRecord | None,
    records: Sequence[ProgramRecord],
    scored: Sequence[Sequence[ScoredChild]],
) -> tuple[bool, Solution | None]:
    """Did a commit improve the run's best, and what is the new best's solution data?

    ``records`` are the stored children of ``scored``, row by row. The data is None when
    the new best is not one of them or nothing ran for it. Both drivers decide a new best
    by this one rule (``step`` here; training through ``recorder.RunRecorder``).
    """
    improved = best is not None and (
        best_before is None or (best.fitness or 0.0) > (best_before.fitness or 0.0)
    )
    if not improved or best is None:
        return improved, None
    children = [child for row in scored for child in row]
    for record, child in zip(records, children):
        if record.id == best.id and child.evaluation is not None:
            return True, child.evaluation.solution
    return True, None


def _metrics(evaluation: Evaluation) -> dict[str, Any]:
    """What the store keeps of an evaluation; the problem's feedback rides along as a text
    metric (``FEEDBACK_METRIC``) so that the prompts of this program's children show it."""
    metrics: dict[str, Any] = dict(evaluation.metrics)
    if evaluation.feedback:
        metrics[FEEDBACK_METRIC] = evaluation.feedback
    return metrics


def _failure_detail(evaluation: Evaluation) -> str:
    if evaluation.outcome is Outcome.OK:
        return ""
    parts = [evaluation.detail.strip()]
    if evaluation.stderr.strip():
        parts.append("stderr:\n" + evaluation.stderr.strip())
    return "\n".join(p for p in parts if p)


def _quotas(batch_size: int, n: int, max_children: int | None) -> list[int]:
    """Children to keep per prompt: B prompts of n, the last batch cut to the budget."""
    if max_children is None:
        return [n] * batch_size
    count = max(1, min(batch_size, -(-max_children // n)))
    return [max(0, min(n, max_children - n * i)) for i in range(count)]
