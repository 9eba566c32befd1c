"""The OpenAI-compatible proposer against a local fake server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import random
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from thetaevolve.config import LLMConfig
from thetaevolve.database.records import ParentSample, ProgramRecord
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.proposers.openai_client import (
    OpenAIProposer,
    choice_text,
    parse_completion,
    resolve_api_key,
    split_base_urls,
    split_tokens,
)
from thetaevolve.proposers.usage import FAILURE_KINDS, UsageTotals
from thetaevolve.types import Outcome

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm_server import FakeLLMServer  # noqa: E402

TIMEOUT_S = 0.6
SLACK_S = 1.0  # the bound: no call outlives its deadline by more than a second


def parent() -> ProgramRecord:
    return ProgramRecord(
        id=1, parent_id=None, island=0, generation=0, iteration=0, code="x = 1\n",
        code_hash="h", outcome=Outcome.OK, score=1.0, fitness=1.0, reward=0.0, metrics={},
        prompt="", response="", detail="", created_at=0.0,
    )


def prompts(count: int) -> list[Prompt]:
    return [
        Prompt(
            messages=({"role": "system", "content": "sys"}, {"role": "user", "content": f"p{i}"}),
            sample=ParentSample(parent()),
            key=f"0:{i}",
        )
        for i in range(count)
    ]


def config(url: str, **kw: object) -> LLMConfig:
    values: dict[str, object] = dict(
        kind="openai", base_url=url, model="fake", timeout_s=TIMEOUT_S, max_retries=3,
        retry_backoff_s=0.01, retry_backoff_max_s=0.05, max_concurrency=16,
    )
    values.update(kw)
    return LLMConfig(**values)  # type: ignore[arg-type]


def run(proposer: OpenAIProposer, count: int, n: int) -> list[list[Response]]:
    async def go() -> list[list[Response]]:
        try:
            return await proposer.propose(prompts(count), n)
        finally:
            await proposer.aclose()

    return asyncio.run(go())


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(max_hang_s=30) as s:
        yield s


def flat(groups: list[list[Response]]) -> list[Response]:
    return [r for g in groups for r in g]


# ---- batch sampling ---------------------------------------------------------------


def test_native_n_is_detected_and_used() -> None:
    with FakeLLMServer(n_mode="native") as server:
        proposer = OpenAIProposer(config(server.base_url))
        groups = run(proposer, 3, 4)
        assert proposer.native_n is True
        assert server.requests == 3  # one request per prompt
        assert all(body.get("n") == 4 for body in server.bodies)
    assert [len(g) for g in groups] == [4, 4, 4]
    assert all(not r.error and r.text.startswith("reply") for r in flat(groups))
    assert len({r.text for r in flat(groups)}) == 12
    totals = UsageTotals()
    totals.add_all(groups)
    assert totals.calls == 3 and totals.responses == 12 and totals.failed_calls == 0


@pytest.mark.parametrize("mode", ["reject", "ignore"])
def test_servers_without_n_fall_back_to_fan_out(mode: str) -> None:
    with FakeLLMServer(n_mode=mode) as server:
        proposer = OpenAIProposer(config(server.base_url))

        async def go() -> tuple[list[list[Response]], int, list[list[Response]]]:
            first = await proposer.propose(prompts(3), 4)
            seen = server.requests
            second = await proposer.propose(prompts(2), 4)
            await proposer.aclose()
            return first, seen, second

        first, seen, second = asyncio.run(go())
        assert proposer.native_n is False
        # The first batch probes with every prompt (for "ignore" each probe yields one
        # usable choice), then single requests fill the groups.
        assert seen == (3 + 12 if mode == "reject" else 3 + 9)
        assert server.requests == seen + 8  # the next batch fans out straight away
        assert sum("n" in body for body in server.bodies) == 3
    groups = first + second
    assert [len(g) for g in groups] == [4] * 5
    assert all(not r.error for r in flat(groups))
    totals = UsageTotals()
    totals.add_all(groups)
    assert totals.calls == seen + 8


def test_n_equal_one_never_sends_n(server: FakeLLMServer) -> None:
    groups = run(OpenAIProposer(config(server.base_url)), 2, 1)
    assert [len(g) for g in groups] == [1, 1]
    assert all("n" not in body for body in server.bodies)


def test_concurrency_limit_is_respected() -> None:
    peak = 0
    active = 0
    import threading

    lock = threading.Lock()

    def script(index: int, body: dict) -> str:
        return "delay"

    with FakeLLMServer(script=script, delay_s=0.05) as server:
        original = server._answer

        async def counting(*args: object) -> bool:
            nonlocal peak, active
            with lock:
                active += 1
                peak = max(peak, active)
            try:
                return await original(*args)  # type: ignore[arg-type]
            finally:
                with lock:
                    active -= 1

        server._answer = counting  # type: ignore[method-assign]
        groups = run(OpenAIProposer(config(server.base_url, max_concurrency=3)), 10, 1)
    assert all(not r.error for r in flat(groups))
    assert 1 <= peak <= 3


# ---- faults -------------------------------------------------------------------------


def test_transient_faults_are_retried_and_recorded() -> None:
    with FakeLLMServer(script=["429", "500", "malformed", "cut"]) as server:
        groups = run(OpenAIProposer(config(server.base_url, max_retries=4)), 1, 1)
    (response,) = flat(groups)
    assert not response.error and response.text.startswith("reply")
    assert response.stats.calls == 5
    assert response.stats.retries == {
        "rate_limit": 1, "server_error": 1, "malformed": 1, "connection": 1
    }


def test_retries_exhausted_gives_failure_by_kind() -> None:
    with FakeLLMServer(script=["500"] * 3) as server:
        groups = run(OpenAIProposer(config(server.base_url, max_retries=2)), 1, 1)
        assert server.requests == 3
    (response,) = flat(groups)
    assert response.error and response.text == ""
    assert response.stats.failure == "server_error" and response.stats.status == 500


def test_client_error_is_not_retried(server: FakeLLMServer) -> None:
    with FakeLLMServer(script=["400"]) as server:
        groups = run(OpenAIProposer(config(server.base_url)), 1, 1)
        assert server.requests == 1
    assert flat(groups)[0].stats.failure == "client_error"


def test_hanging_server_hits_the_deadline_within_a_second() -> None:
    with FakeLLMServer(script=lambda i, b: "hang", max_hang_s=30) as server:
        groups = run(OpenAIProposer(config(server.base_url, max_concurrency=8)), 4, 2)
    responses = flat(groups)
    assert len(responses) == 8
    for response in responses:
        assert response.error and response.stats.failure == "deadline"
        assert response.latency_s <= TIMEOUT_S + SLACK_S
    assert "llm.timeout_s" in responses[0].error


def test_slow_server_with_backoff_longer_than_deadline() -> None:
    # A long Retry-After style backoff must not stretch the call past its deadline.
    with FakeLLMServer(script=lambda i, b: "429") as server:
        cfg = config(server.base_url, retry_backoff_s=5.0, retry_backoff_max_s=5.0)
        groups = run(OpenAIProposer(cfg), 1, 1)
    (response,) = flat(groups)
    assert response.stats.failure == "deadline"
    assert response.latency_s <= TIMEOUT_S + SLACK_S


def test_truncated_responses_are_marked() -> None:
    with FakeLLMServer(script=["length"]) as server:
        groups = run(OpenAIProposer(config(server.base_url)), 1, 1)
    (response,) = flat(groups)
    assert response.truncated and not response.error
    assert response.stats.finish_reason == "length"


def test_unreachable_endpoint_never_raises() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    proposer = OpenAIProposer(config(f"http://127.0.0.1:{port}/v1", max_retries=1))
    groups = run(proposer, 2, 3)
    assert [len(g) for g in groups] == [3, 3]
    assert {r.stats.failure for r in flat(groups)} <= {"connection", "deadline"}


def test_replicas_round_robin_and_survive_a_dead_one() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    with FakeLLMServer() as a, FakeLLMServer() as b:
        groups = run(OpenAIProposer(config(f"{a.base_url},{b.base_url}")), 6, 1)
        assert a.requests == 3 and b.requests == 3
        assert all(not r.error for r in flat(groups))
        groups = run(OpenAIProposer(config(f"{dead}, {a.base_url}")), 4, 1)
    assert all(not r.error for r in flat(groups))
    assert any(r.stats.retries.get("connection") for r in flat(groups))


def test_fault_injection_run_accounts_for_every_response() -> None:
    rng = random.Random(7)
    kinds = ["ok"] * 10 + ["429", "500", "malformed", "cut", "length", "hang", "400", "delay"]

    def script(index: int, body: dict) -> str:
        return rng.choice(kinds)

    totals = UsageTotals()
    with FakeLLMServer(script=script, delay_s=0.05, max_hang_s=30) as server:
        proposer = OpenAIProposer(
            config(server.base_url, price_per_mtok_in=1.0, price_per_mtok_out=2.0, max_retries=2)
        )

        async def go() -> list[list[list[Response]]]:
            batches = []
            for _ in range(4):  # a small "budget" of 4 batches x 4 prompts x 3 samples
                batches.append(await proposer.propose(prompts(4), 3))
            await proposer.aclose()
            return batches

        batches = asyncio.run(go())
    for groups in batches:
        assert [len(g) for g in groups] == [3, 3, 3, 3]
        totals.add_all(groups)
    responses = [r for groups in batches for r in flat(groups)]
    assert totals.responses == 48
    assert all(r.latency_s <= TIMEOUT_S + SLACK_S for r in responses)
    failed = [r for r in responses if r.error]
    assert sum(totals.failures.values()) == len(failed) == totals.failed_responses
    assert set(totals.failures) <= set(FAILURE_KINDS)
    assert totals.retries  # some transient faults were got past
    assert totals.calls == server.requests  # every request is attributed to one response
    assert totals.cost_usd is not None and totals.cost_usd > 0
    ok = [r for r in responses if not r.error]
    assert ok and sum(r.tokens_out for r in ok) == totals.tokens_out


# ---- usage, keys, text --------------------------------------------------------------


def test_usage_and_cost() -> None:
    with FakeLLMServer(reply=lambda i, j, b: "y" * (40 * (j + 1))) as server:
        proposer = OpenAIProposer(
            config(server.base_url, price_per_mtok_in=3.0, price_per_mtok_out=15.0)
        )
        groups = run(proposer, 1, 2)
    first, second = groups[0]
    assert first.tokens_in > 0 and second.tokens_in == 0  # the prompt is billed once
    assert first.tokens_out + second.tokens_out == (40 // 4 + 1) + (80 // 4 + 1)
    assert second.tokens_out > first.tokens_out  # shared by completion length
    expected = (first.tokens_in * 3.0 + first.tokens_out * 15.0) / 1e6
    assert first.stats.cost_usd == pytest.approx(expected)
    totals = UsageTotals()
    totals.add_all(groups)
    assert totals.cost_usd == pytest.approx(
        sum(r.stats.cost_usd or 0.0 for r in groups[0])
    )


def test_no_cost_without_prices(server: FakeLLMServer) -> None:
    groups = run(OpenAIProposer(config(server.base_url)), 1, 1)
    totals = UsageTotals()
    totals.add_all(groups)
    assert groups[0][0].stats.cost_usd is None and totals.cost_usd is None
    assert totals.to_dict()["tokens_in"] > 0


def test_api_key_is_read_from_env_and_never_exposed(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-secret-value-1234567890"
    monkeypatch.setenv("MY_LLM_KEY", secret)
    proposer = OpenAIProposer(config(server.base_url, api_key_env="MY_LLM_KEY"))
    assert secret not in repr(proposer) and secret not in repr(vars(proposer).get("config"))
    groups = run(proposer, 1, 2)
    for response in flat(groups):
        assert secret not in repr(response)


def test_missing_key_is_fine_locally_and_an_error_remotely(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    assert resolve_api_key("NO_SUCH_KEY_VAR", ["http://localhost:8000/v1"])
    with pytest.raises(ValueError, match="NO_SUCH_KEY_VAR"):
        resolve_api_key("NO_SUCH_KEY_VAR", ["http://localhost:1/v1", "https://api.example.com/v1"])


def test_bad_base_urls_are_clear_errors() -> None:
    assert split_base_urls(" http://a:1/v1/ ,http://b:2/v1") == ["http://a:1/v1", "http://b:2/v1"]
    with pytest.raises(ValueError, match="not an http"):
        split_base_urls("localhost:8000")
    with pytest.raises(ValueError, match="empty"):
        split_base_urls(" , ")


def test_reasoning_field_is_kept_as_think_text() -> None:
    choice = {"message": {"role": "assistant", "content": "answer", "reasoning_content": "hmm"}}
    assert choice_text(choice) == "<think>\nhmm\n</think>\nanswer"
    inline = {"message": {"content": "<think>a</think>b", "reasoning": "a"}}
    assert choice_text(inline) == "<think>a</think>b"
    assert choice_text({"message": {"content": None}}) == ""


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", b'{"choices": []}', b'{"choices": [{"text": "x"}]}',
     b'{"choices": [{"message": {"content": 5}}]}'],
)
def test_malformed_bodies_are_recognised(raw: bytes) -> None:
    with pytest.raises(Exception) as info:
        parse_completion(raw)
    assert getattr(info.value, "kind", None) == "malformed"


def test_extra_body_is_sent() -> None:
    with FakeLLMServer() as server:
        run(OpenAIProposer(config(server.base_url, extra_body={"top_k": 20})), 1, 1)
        assert server.bodies[0]["top_k"] == 20 and server.bodies[0]["max_tokens"] == 16384


def test_split_tokens_sums_exactly() -> None:
    assert split_tokens(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(split_tokens(7, [0, 0])) == 7
    assert split_tokens(5, []) == []


def test_fake_server_is_local_and_bounded() -> None:
    with FakeLLMServer(max_requests=2) as server:
        assert server._server is not None
        assert server._server.sockets[0].getsockname()[0] == "127.0.0.1"
        groups = run(OpenAIProposer(config(server.base_url, max_retries=1)), 3, 1)
    failures = sorted(str(r.stats.failure or "") for r in flat(groups))
    assert failures == ["", "", "server_error"]  # the third request met the request budget
    with pytest.raises(ValueError, match="unknown behaviours"):
        FakeLLMServer(script=["explode"])
