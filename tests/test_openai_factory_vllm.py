"""make_proposer's branches, and the vLLM proposer's logic against a stand-in engine
(vLLM itself needs a GPU; the stand-in has the same ``LLM.chat`` / ``SamplingParams``
surface)."""

from __future__ import annotations

import asyncio
import sys
import time
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from thetaevolve.config import LLMConfig, RunConfig
from thetaevolve.database.records import ParentSample, ProgramRecord
from thetaevolve.proposers import make_proposer
from thetaevolve.proposers.base import Prompt
from thetaevolve.proposers.openai_client import OpenAIProposer
from thetaevolve.proposers.usage import UsageTotals
from thetaevolve.types import Outcome


def prompt(i: int) -> Prompt:
    record = ProgramRecord(
        id=1, parent_id=None, island=0, generation=0, iteration=0, code="x = 1\n",
        code_hash="h", outcome=Outcome.OK, score=1.0, fitness=1.0, reward=0.0, metrics={},
        prompt="", response="", detail="", created_at=0.0,
    )
    return Prompt(messages=({"role": "user", "content": f"p{i}"},), sample=ParentSample(record))


@dataclass
class _Completion:
    text: str
    finish_reason: str
    token_ids: list[int]


@dataclass
class _Output:
    prompt_token_ids: list[int]
    outputs: list[_Completion]


@dataclass
class _Params:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 16
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class _Engine:
    def __init__(self, model: str = "", delay_s: float = 0.0, fail: bool = False, **kw: Any) -> None:
        self.model, self.delay_s, self.fail, self.options = model, delay_s, fail, kw
        self.calls: list[tuple[int, int]] = []

    def chat(self, conversations: list[list[dict[str, str]]], params: _Params, use_tqdm: bool = False) -> list[_Output]:
        self.calls.append((len(conversations), params.n))
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        time.sleep(self.delay_s)
        return [
            _Output(
                prompt_token_ids=[0] * 5,
                outputs=[
                    _Completion(f"{c[-1]['content']}:{j}", "length" if j == 1 else "stop", [1, 2, 3])
                    for j in range(params.n)
                ],
            )
            for c in conversations
        ]


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = _Engine  # type: ignore[attr-defined]
    module.SamplingParams = lambda **kw: _Params(**{k: v for k, v in kw.items() if k in _Params.__dataclass_fields__})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_factory_offline_and_openai() -> None:
    offline = make_proposer(RunConfig())
    assert type(offline).__name__ == "OfflineMutator"
    config = RunConfig(llm=LLMConfig(kind="openai", base_url="http://127.0.0.1:9/v1", model="m"))
    proposer = make_proposer(config)
    assert isinstance(proposer, OpenAIProposer)
    asyncio.run(proposer.aclose())


def test_factory_vllm_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(ImportError, match=r"thetaevolve\[vllm\]"):
        make_proposer(RunConfig(llm=LLMConfig(kind="vllm", model="m")))


def test_vllm_proposer_batches_and_accounts(fake_vllm: types.ModuleType) -> None:
    config = RunConfig(
        seed=3, llm=LLMConfig(kind="vllm", model="tiny", price_per_mtok_out=1.0,
                              vllm_options={"gpu_memory_utilization": 0.5}),
    )
    proposer = make_proposer(config)
    groups = asyncio.run(proposer.propose([prompt(0), prompt(1)], 3))
    engine = proposer.engine  # type: ignore[attr-defined]
    assert engine.calls == [(2, 3)]  # one engine call for the whole batch
    assert engine.options == {"seed": 3, "gpu_memory_utilization": 0.5}
    assert [[r.text for r in g] for g in groups] == [["p0:0", "p0:1", "p0:2"], ["p1:0", "p1:1", "p1:2"]]
    assert groups[0][1].truncated and not groups[0][0].truncated
    totals = UsageTotals()
    totals.add_all(groups)
    assert (totals.calls, totals.tokens_in, totals.tokens_out) == (2, 10, 18)
    assert totals.cost_usd == pytest.approx(18 / 1e6)


def test_vllm_engine_failure_and_deadline_never_raise(fake_vllm: types.ModuleType) -> None:
    failing = make_proposer(RunConfig(llm=LLMConfig(kind="vllm", model="m")))
    failing.engine.fail = True  # type: ignore[attr-defined]
    groups = asyncio.run(failing.propose([prompt(0)], 2))
    assert [r.stats.failure for r in groups[0]] == ["engine", "engine"]
    slow = make_proposer(RunConfig(llm=LLMConfig(kind="vllm", model="m", timeout_s=0.1)))
    slow.engine.delay_s = 0.5  # type: ignore[attr-defined]
    groups = asyncio.run(slow.propose([prompt(0), prompt(1)], 2))
    assert all(r.stats.failure == "deadline" for g in groups for r in g)
    totals = UsageTotals()
    totals.add_all(groups)
    assert totals.failed_calls == 1 and totals.failed_responses == 4


def test_bad_base_url_is_a_config_error_naming_the_field() -> None:
    from thetaevolve.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="llm.base_url"):
        load_config(overrides=["llm.kind=openai", "llm.model=m", "llm.base_url=localhost:8000"])
    config = load_config(overrides=["llm.kind=openai", "llm.model=m",
                                    "llm.base_url=http://a:1/v1,http://b:2/v1"])
    assert config.llm.base_url == "http://a:1/v1,http://b:2/v1"
