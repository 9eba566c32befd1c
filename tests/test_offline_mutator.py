"""The offline mutator: deterministic for a seed, edits only inside EVOLVE-BLOCKs, and its
answers go through the same edit path as an LLM's."""

import asyncio
import random

from thetaevolve.config import LLMConfig, OfflineConfig
from thetaevolve.database.records import ParentSample, ProgramRecord
from thetaevolve.edits import apply_response
from thetaevolve.proposers.base import Prompt
from thetaevolve.proposers.offline import OfflineMutator, crossover, mutate_numbers
from thetaevolve.types import Outcome

PROGRAM = '''import numpy as np
LIMIT = 26.5  # outside the block: never touched

# EVOLVE-BLOCK-START
def layout():
    spacing = 0.125
    rings = 3
    return spacing * rings + 0.5

def radius():
    return 0.01
# EVOLVE-BLOCK-END

def solve():
    return {"value": layout() + radius(), "limit": LIMIT}
'''

DONOR = PROGRAM.replace("return 0.01", "return 0.02 + 0.003")


def _record(code, pid=1):
    return ProgramRecord(
        id=pid, parent_id=None, island=0, generation=0, iteration=0, code=code, code_hash="h",
        outcome=Outcome.OK, score=1.0, fitness=1.0, reward=1.0, metrics={}, prompt="",
        response="", detail="", created_at=0.0,
    )


def _prompt(key, inspirations=()):
    sample = ParentSample(parent=_record(PROGRAM), inspirations=tuple(inspirations))
    return Prompt(messages=({"role": "user", "content": "x"},), sample=sample, key=key)


def _responses(seed, n=6):
    mutator = OfflineMutator(LLMConfig(), seed=seed)
    prompts = [_prompt("1:0"), _prompt("1:1")]
    return asyncio.run(mutator.propose(prompts, n))


def test_same_seed_same_responses_different_seed_differs():
    first, again, other = _responses(3), _responses(3), _responses(4)
    texts = lambda rs: [r.text for group in rs for r in group]  # noqa: E731
    assert texts(first) == texts(again)
    assert texts(first) != texts(other)


def test_prompts_of_one_batch_get_different_mutations():
    groups = _responses(0)
    assert [r.text for r in groups[0]] != [r.text for r in groups[1]]


def test_every_mutation_applies_and_stays_inside_the_block():
    for group in _responses(11, n=20):
        for response in group:
            result = apply_response(PROGRAM, response.text)
            assert result.outcome is None, (result.detail, response.text)
            assert result.code != PROGRAM
            assert "LIMIT = 26.5" in result.code
            assert result.code.split("# EVOLVE-BLOCK-END")[1] == PROGRAM.split("# EVOLVE-BLOCK-END")[1]


def test_mutate_numbers_changes_only_literals():
    text = mutate_numbers(PROGRAM, random.Random(5), 0.1)
    child = apply_response(PROGRAM, text).code
    assert child is not None and child != PROGRAM
    assert len(child.splitlines()) == len(PROGRAM.splitlines())


def test_crossover_takes_the_donor_function():
    text = crossover(PROGRAM, DONOR, random.Random(0))
    assert text is not None
    child = apply_response(PROGRAM, text).code
    assert "return 0.02 + 0.003" in child


def test_crossover_is_used_when_inspirations_exist():
    mutator = OfflineMutator(LLMConfig(offline=OfflineConfig(crossover_rate=1.0)), seed=0)
    prompt = _prompt("2:0", inspirations=[_record(DONOR, pid=2)])
    (group,) = asyncio.run(mutator.propose([prompt], 3))
    assert all("0.02 + 0.003" in r.text for r in group)


def test_program_without_literals_gets_a_no_diff_answer():
    code = "# EVOLVE-BLOCK-START\ndef solve():\n    return {}\n# EVOLVE-BLOCK-END\n"
    assert mutate_numbers(code, random.Random(0), 0.1) is None
    mutator = OfflineMutator(LLMConfig(), seed=0)
    sample = ParentSample(parent=_record(code))
    (group,) = asyncio.run(mutator.propose([Prompt(messages=(), sample=sample, key="k")], 1))
    assert apply_response(code, group[0].text).outcome is Outcome.NO_DIFF
