"""The gym's batch semantics: one database state per batch, every child committed together,
lazy penalties decided by hashing without running anything."""

from __future__ import annotations

import asyncio

import pytest

from thetaevolve.config import load_config
from thetaevolve.database.store import ProgramDatabase
from thetaevolve.edits import format_search_replace
from thetaevolve.gym import Gym
from thetaevolve.prompts import PromptBuilder
from thetaevolve.proposers.base import Response
from thetaevolve.testing import TINY_PROGRAM, InProcessSandbox, ScriptedProposer, TinyTask
from thetaevolve.types import Outcome


class SpyDatabase:
    """Wraps the real database and records the size of every commit."""

    def __init__(self, inner):
        self._inner = inner
        self.commit_sizes: list[int] = []

    def commit(self, children, meta=None):
        self.commit_sizes.append(len(children))
        return self._inner.commit(children, meta=meta)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _edit(old, new):
    return format_search_replace(old, new)


@pytest.fixture
def gym_parts(tmp_path):
    def make(**overrides):
        sets = [f"{k}={v}" for k, v in overrides.items()]
        config = load_config(overrides=["task=tiny", "sandbox.workers=2", *sets])
        database = SpyDatabase(ProgramDatabase.open(tmp_path / "store.sqlite", config.database))
        sandbox = InProcessSandbox()
        task = TinyTask()
        gym = Gym(task, config, database, sandbox, PromptBuilder(task, config.prompt))
        return gym, database, sandbox

    return make


def test_initial_program_is_stored_once_and_not_counted(gym_parts):
    gym, database, sandbox = gym_parts()
    first = asyncio.run(gym.initialize())
    assert first is not None and first[0].score == 0.5
    assert asyncio.run(gym.initialize()) is None
    assert database.count() == 1 and gym.evaluations == 0
    assert len(sandbox.runs) == 1


def test_batch_commits_all_children_together_and_lazy_ones_never_run(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.batch_size": 2, "gym.samples_per_prompt": 6})
    asyncio.run(gym.initialize())
    runs_before = len(sandbox.runs)
    better = _edit("    return 0.25 * 2.0", "    return 0.25 * 3.0")
    texts = [
        "I have no idea.",  # no diff
        _edit("    return 0.25 * 2.0", "    return 0.25 * 2.0  # same, with a comment"),  # lazy 1
        better,
        better,  # identical to the previous child: evaluated once, same reward
        _edit("    return 0.25 * 2.0", "    return 7.0"),  # runs, invalid solution
        _edit("nothing like this", "x"),  # edit that matches nowhere
    ]
    proposer = ScriptedProposer(texts)
    report = asyncio.run(gym.step(proposer))
    assert database.commit_sizes[-1] == 12  # B x n children in one commit
    assert len(report.records) == 12 and gym.evaluations == 12
    assert {r.iteration for r in report.records} == {report.batch_index}
    outcomes = [r.outcome for r in report.records[:6]]
    assert outcomes == [
        Outcome.NO_DIFF, Outcome.NO_CHANGE, Outcome.OK, Outcome.OK,
        Outcome.INVALID_SOLUTION, Outcome.EDIT_NO_MATCH,
    ]
    # Two distinct programs ran for the whole batch of 12: the improvement and the invalid one.
    assert len(sandbox.runs) - runs_before == 2
    assert report.records[2].reward == report.records[3].reward == 0.75
    assert report.records[0].reward == -0.4 and report.records[1].reward == -0.3
    assert report.records[4].reward == -0.1
    assert report.improved and report.best.score == 0.75
    assert report.best_solution == {"x": 0.75}

    # Level 2: the same improvement proposed in a later batch is a duplicate of a stored program.
    runs_before = len(sandbox.runs)
    report = asyncio.run(gym.step(ScriptedProposer([better])))
    from_initial = [r for r in report.records if database.get(r.parent_id).code == TINY_PROGRAM]
    dupes = [r for r in report.records if r.outcome is Outcome.DUPLICATE]
    assert from_initial and set(map(id, from_initial)) <= set(map(id, dupes))
    assert len(sandbox.runs) - runs_before <= len(report.records) - len(dupes)


def test_lazy_level_zero_evaluates_everything(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.lazy_penalty_level": 0, "gym.batch_size": 1,
                                         "gym.samples_per_prompt": 1})
    asyncio.run(gym.initialize())
    comment_only = _edit("    return 0.25 * 2.0", "    return 0.25 * 2.0  # note")
    report = asyncio.run(gym.step(ScriptedProposer([comment_only])))
    assert report.records[0].outcome is Outcome.OK


def test_children_link_to_the_parent_their_prompt_showed(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.batch_size": 3, "gym.samples_per_prompt": 2})
    asyncio.run(gym.initialize())
    asyncio.run(gym.step(ScriptedProposer([_edit("0.25 * 2.0", "0.25 * 3.0"), "none"])))
    proposer = ScriptedProposer(["none", "none"])
    report = asyncio.run(gym.step(proposer))
    parents = [r.parent_id for r in report.records]
    assert parents == [p for p in proposer.seen_parents for _ in range(2)]


def test_budget_trims_the_last_batch_exactly(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.batch_size": 4, "gym.samples_per_prompt": 3})
    asyncio.run(gym.initialize())
    report = asyncio.run(gym.step(ScriptedProposer(["a", "b", "c"]), max_children=5))
    assert len(report.records) == 5 and gym.evaluations == 5


def test_llm_errors_are_recorded_as_failures(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.batch_size": 1, "gym.samples_per_prompt": 1})
    asyncio.run(gym.initialize())

    class Failing(ScriptedProposer):
        async def propose(self, prompts, n):
            return [[Response(text="", error="deadline exceeded")] for _ in prompts]

    report = asyncio.run(gym.step(Failing(["x"])))
    assert report.records[0].outcome is Outcome.LLM_ERROR
    assert "deadline" in report.records[0].detail


def test_draw_prompts_is_reproducible_for_a_seed(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.batch_size": 2, "gym.samples_per_prompt": 2})
    asyncio.run(gym.initialize())
    a = [p.sample.parent.id for p in gym.draw_prompts(5, 3)]
    b = [p.sample.parent.id for p in gym.draw_prompts(5, 3)]
    assert a == b
    assert [p.key for p in gym.draw_prompts(2, 3)] == ["3:0", "3:1"]


def test_evaluation_starts_while_other_prompts_are_still_generating(gym_parts):
    gym, database, sandbox = gym_parts(**{"gym.batch_size": 2, "gym.samples_per_prompt": 1})
    asyncio.run(gym.initialize())
    runs_before = len(sandbox.runs)
    better = _edit("    return 0.25 * 2.0", "    return 0.25 * 3.0")

    class SlowSecondPrompt:
        """The second prompt answers only once the first one's child has run."""

        async def propose(self, prompts, n):
            (prompt,) = prompts
            if prompt.key.endswith(":1"):
                for _ in range(500):
                    if len(sandbox.runs) > runs_before:
                        return [[Response(text="no edit here")]]
                    await asyncio.sleep(0.01)
                return [[Response(text="", error="first prompt's child never ran")]]
            return [[Response(text=better)]]

        async def aclose(self):
            pass

    report = asyncio.run(gym.step(SlowSecondPrompt()))
    assert [r.outcome for r in report.records] == [Outcome.OK, Outcome.NO_DIFF]
