"""An async proposer for any OpenAI-compatible chat endpoint (vLLM, SGLang, llama.cpp,
Ollama, hosted APIs).

What it guarantees, because peers' runs hung for hours on a stalled endpoint
(docs/references.md#peer-hangs):
- every *call* (one HTTP request and its retries) ends within ``llm.timeout_s``: an
  ``asyncio.wait_for`` wraps the attempts and the backoff sleeps together; the clock starts
  when the call gets its concurrency slot, so queueing behind ``llm.max_concurrency`` other
  calls does not eat a call's deadline;
- a failed call never raises: it becomes Responses with ``error`` set and
  ``stats.failure`` naming the kind (see ``calls.FailureKind``);
- 429, 5xx, connection errors, per-attempt timeouts and malformed bodies are retried with
  exponential backoff (jittered, capped, honouring a short Retry-After); other 4xx are not.

Batch sampling: the server's native ``n`` is used where it works, found out on the first
call (docs/references.md#engines-n): vLLM and SGLang honour ``n``, llama.cpp rejects ``n`` > 1 with a 400,
Ollama silently returns one choice. A rejection or a short ``choices`` list switches the
proposer to fan-out (n concurrent single requests, sent back to back so a prefix cache
hits). Several base URLs are replicas, used round-robin; a retry goes to the next one.

The API key is read from the environment variable named by ``llm.api_key_env`` and kept
only inside the client; it is never part of a Response, a log line or the run directory.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

import openai
from openai import AsyncOpenAI

try:  # the SDK's HTTP library: httpx2 from openai 3 on, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover - older openai releases
    import httpx as _http  # type: ignore[no-redef]

from thetaevolve.config import LLMConfig
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.proposers.calls import CallStats, FailureKind
from thetaevolve.proposers.usage import cost_usd
from thetaevolve.urls import is_http_url, split_urls

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
_DUMMY_KEY = "no-key-needed"
_MAX_RETRY_AFTER_S = 60.0
# The HTTP pool scans all its connections for every request, so a pool is given about
# this many concurrent requests and more pools share the load (measured: 512 fan-out
# requests cost ~0.9 s of client CPU with one pool of 64, ~0.5 s with four of 16).
_SLOTS_PER_POOL = 16


def split_base_urls(base_url: str) -> list[str]:
    """Replica URLs from ``llm.base_url`` (comma-separated); each must be http(s)."""
    urls = split_urls(base_url)
    if not urls:
        raise ValueError("llm.base_url is empty; give one URL or several separated by commas")
    for url in urls:
        if not is_http_url(url):
            raise ValueError(
                f"llm.base_url: {url!r} is not an http(s) URL (e.g. http://localhost:8000/v1)"
            )
    return urls


def is_local_url(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host in _LOCAL_HOSTS or host.startswith("127.")


def resolve_api_key(env_name: str, urls: list[str]) -> str:
    """The key from the environment; a stand-in for servers on this machine, which
    usually need none. A remote URL without a key is an error before any work starts."""
    key = os.environ.get(env_name, "").strip()
    if key:
        return key
    if all(is_local_url(u) for u in urls):
        return _DUMMY_KEY
    remote = next(u for u in urls if not is_local_url(u))
    raise ValueError(
        f"llm.api_key_env: the environment variable {env_name} is not set, and {remote} is "
        f"not on this machine; export {env_name}=... (any value for a server that needs no key)"
    )


@dataclass
class _CallResult:
    """One call (request + retries): the choices, or why there are none."""

    choices: list[dict[str, Any]] = field(default_factory=list)
    usage: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    failure: FailureKind | None = None
    status: int | None = None
    attempts: int = 0
    retries: Counter[str] = field(default_factory=Counter)
    latency_s: float = 0.0
    replica: str = ""


class _AttemptError(Exception):
    def __init__(
        self, kind: FailureKind, message: str, status: int | None = None, wait_s: float | None = None
    ):
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.wait_s = wait_s


_RETRYABLE: set[FailureKind] = {"rate_limit", "server_error", "connection", "timeout", "malformed"}


def _classify(exc: BaseException) -> _AttemptError:
    """Map a client exception to a failure kind (usage.FAILURE_KINDS)."""
    if isinstance(exc, openai.APITimeoutError):
        return _AttemptError("timeout", "the request timed out")
    if isinstance(exc, openai.APIConnectionError):
        return _AttemptError("connection", f"connection error: {exc}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        message = f"HTTP {status}: {_short(str(exc))}"
        if status == 429:
            return _AttemptError("rate_limit", message, status, _retry_after(exc))
        if status in (401, 403):
            return _AttemptError("auth", message, status)
        if status >= 500 or status == 408:
            return _AttemptError("server_error", message, status, _retry_after(exc))
        return _AttemptError("client_error", message, status)
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, IndexError)):
        # The SDK raises a bare JSONDecodeError (a ValueError) for a body that is not JSON.
        return _AttemptError("malformed", f"malformed response: {type(exc).__name__}: {_short(str(exc))}")
    if isinstance(exc, openai.APIError):
        return _AttemptError("malformed", f"API error: {_short(str(exc))}")
    return _AttemptError("connection", f"{type(exc).__name__}: {_short(str(exc))}")


def _retry_after(exc: openai.APIStatusError) -> float | None:
    try:
        value = exc.response.headers.get("retry-after")
        return None if value is None else max(0.0, float(value))
    except (AttributeError, TypeError, ValueError):
        return None


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def choice_text(choice: dict[str, Any]) -> str:
    """The full completion text; reasoning that a server returns in a separate field
    (vLLM's and SGLang's reasoning parsers) is put back in front inside ``<think>`` tags,
    so the store keeps it and ``edit_search_scope`` works the same either way."""
    message = choice.get("message") or {}
    content = message.get("content") or ""
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning and "<think>" not in content:
        return f"<think>\n{reasoning}\n</think>\n{content}"
    return content


def parse_completion(raw: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(choices, usage) from a chat-completion body; raises _AttemptError("malformed").

    Parsed here rather than by the SDK's typed models: for a fan-out of hundreds of
    requests the typed request/response round trip was the largest client-side cost.
    """
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise _AttemptError("malformed", f"malformed response: not JSON ({exc})") from None
    choices = payload.get("choices") if isinstance(payload, dict) else None
    if not isinstance(choices, list) or not choices:
        raise _AttemptError("malformed", "malformed response: no choices")
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("content") or "", str):
            raise _AttemptError("malformed", "malformed response: a choice without a message")
    usage = payload.get("usage")
    return choices, usage if isinstance(usage, dict) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def split_tokens(total: int, weights: list[int]) -> list[int]:
    """Share ``total`` over parts in proportion to ``weights``; the parts sum to ``total``."""
    if not weights:
        return []
    mass = sum(weights)
    if mass <= 0:
        shares = [total // len(weights)] * len(weights)
    else:
        shares = [total * w // mass for w in weights]
    shares[0] += total - sum(shares)
    return shares


class OpenAIProposer:
    """``Proposer`` over one or more OpenAI-compatible endpoints (see the module docstring)."""

    def __init__(self, config: LLMConfig) -> None:
        if not config.base_url or not config.model:
            raise ValueError("the OpenAI proposer needs llm.base_url and llm.model")
        self.config = config
        self.urls = split_base_urls(config.base_url)
        key = resolve_api_key(config.api_key_env, self.urls)
        pools = max(1, math.ceil(config.max_concurrency / (_SLOTS_PER_POOL * len(self.urls))))
        # The SDK's own retries are off: ours share one deadline with the backoff sleeps.
        # Clients interleave replicas, so consecutive requests (and a retry) change replica.
        self._clients = [
            (index, AsyncOpenAI(api_key=key, base_url=url, max_retries=0, timeout=config.timeout_s))
            for _ in range(pools)
            for index, url in enumerate(self.urls)
        ]
        self._replica = itertools.count()
        self._jitter = random.Random()
        self.native_n: bool | None = None  # None: not found out yet
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None

    def __repr__(self) -> str:
        return f"OpenAIProposer(model={self.config.model!r}, urls={self.urls!r})"

    # ---- the Proposer protocol -----------------------------------------------------

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        self._bind_loop()
        groups = await asyncio.gather(
            *(self._group_safely(prompt, n) for prompt in prompts)
        )
        return list(groups)

    async def aclose(self) -> None:
        for _, client in self._clients:
            try:
                await client.close()
            except Exception:  # noqa: BLE001 - closing must not mask the run's outcome
                pass

    # ---- one prompt ----------------------------------------------------------------

    def _bind_loop(self) -> None:
        # asyncio primitives belong to one event loop; a new loop (a second asyncio.run)
        # gets fresh ones.
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._slots = asyncio.Semaphore(self.config.max_concurrency)

    async def _group_safely(self, prompt: Prompt, n: int) -> list[Response]:
        try:
            group = await self._group(prompt, n)
        except Exception as exc:  # noqa: BLE001 - a proposer never raises for a failed call
            failed = _CallResult(error=f"internal error: {type(exc).__name__}: {exc}", failure="internal")
            return self._failed(failed, n)
        if len(group) != n:  # defensive: the gym relies on n responses per prompt
            group = (group + self._failed(_CallResult(error="missing response", failure="internal"), n))[:n]
        return group

    async def _group(self, prompt: Prompt, n: int) -> list[Response]:
        messages = [dict(m) for m in prompt.messages]
        if n == 1 or self.native_n is False:
            return await self._fan_out(messages, n)
        if self.native_n is None:
            # Every prompt of the first batch probes at once: serialising the probe would
            # stack deadlines on a stalled server; a llama.cpp-like server costs one
            # rejected request per prompt, once.
            return await self._probe_native(messages, n)
        result = await self._call(messages, n)
        return await self._native_group(messages, n, result)

    async def _probe_native(self, messages: list[dict[str, str]], n: int) -> list[Response]:
        """The first multi-sample call: find out whether the server honours ``n``."""
        result = await self._call(messages, n)
        if not result.error:
            honoured = len(result.choices) >= n
            if self.native_n is None or not honoured:
                self.native_n = honoured
            return await self._native_group(messages, n, result)
        if result.failure == "client_error":
            # llama.cpp-like rejection. The prompt itself may be what the server refused
            # (too long), so only a single request that then works settles the question.
            group = await self._fan_out(messages, n)
            if any(not r.error for r in group) and not self.native_n:
                self.native_n = False
            # The rejected request is a call too: it is counted on the first response.
            if group:
                calls = group[0].stats.calls + result.attempts
                group[0] = replace(group[0], stats=replace(group[0].stats, calls=calls))
            return group
        return self._failed(result, n)  # transient: the next call probes again

    async def _native_group(
        self, messages: list[dict[str, str]], n: int, result: _CallResult
    ) -> list[Response]:
        if result.error:
            return self._failed(result, n)
        group = self._responses(result, n)
        if len(group) < n:  # Ollama-like: fewer choices than asked for
            group += await self._fan_out(messages, n - len(group))
        return group[:n]

    async def _fan_out(self, messages: list[dict[str, str]], n: int) -> list[Response]:
        results = await asyncio.gather(*(self._call(messages, 1) for _ in range(n)))
        group: list[Response] = []
        for result in results:
            group.extend(self._failed(result, 1) if result.error else self._responses(result, 1))
        return group

    # ---- one call ------------------------------------------------------------------

    async def _call(self, messages: list[dict[str, str]], n: int) -> _CallResult:
        assert self._slots is not None
        async with self._slots:
            result = _CallResult()
            started = time.monotonic()
            try:
                await asyncio.wait_for(
                    self._attempts(messages, n, result, started), timeout=self.config.timeout_s
                )
            except asyncio.TimeoutError:
                detail = f"; last: {result.error}" if result.error else ""
                result.error = (
                    f"no answer within llm.timeout_s={self.config.timeout_s:g} s "
                    f"({result.attempts} attempt(s){detail})"
                )
                result.failure = "deadline"
                result.choices = []
            result.latency_s = time.monotonic() - started
            return result

    async def _attempts(
        self, messages: list[dict[str, str]], n: int, result: _CallResult, started: float
    ) -> None:
        config = self.config
        for attempt in range(config.max_retries + 1):
            replica, client = self._clients[next(self._replica) % len(self._clients)]
            result.replica = self.urls[replica]
            result.attempts += 1
            remaining = config.timeout_s - (time.monotonic() - started)
            try:
                raw = await client.post(
                    "/chat/completions",
                    body=self._request(messages, n),
                    cast_to=_http.Response,
                    options={"timeout": max(remaining, 0.001)},
                )
                result.choices, result.usage = parse_completion(raw.content)
                result.error, result.failure = "", None
                return
            except asyncio.CancelledError:
                raise
            except _AttemptError as exc:
                failure = exc
            except Exception as exc:  # noqa: BLE001 - every client failure is classified
                failure = _classify(exc)
            result.error, result.failure, result.status = str(failure), failure.kind, failure.status
            if failure.kind not in _RETRYABLE or attempt == config.max_retries:
                return
            result.retries[failure.kind] += 1
            await asyncio.sleep(self._backoff(attempt, failure.wait_s))

    def _request(self, messages: list[dict[str, str]], n: int) -> dict[str, Any]:
        config = self.config
        request: dict[str, Any] = {
            "model": config.model,
            "messages": messages,
            "temperature": config.temperature,
            "top_p": config.top_p,
            "max_tokens": config.max_tokens,
        }
        if n > 1:
            request["n"] = n
        request.update(config.extra_body)
        return request

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = self.config.retry_backoff_s * (2**attempt) * (0.5 + self._jitter.random())
        wait = min(base, self.config.retry_backoff_max_s)
        if retry_after is not None:
            wait = max(wait, min(retry_after, _MAX_RETRY_AFTER_S))
        return wait

    # ---- results -------------------------------------------------------------------

    def _responses(self, result: _CallResult, n: int) -> list[Response]:
        choices = result.choices[:n]
        texts = [choice_text(c) for c in choices]
        usage = result.usage
        tokens_in = _count(usage.get("prompt_tokens"))
        tokens_out = _count(usage.get("completion_tokens"))
        # One request's tokens: the prompt counted once, the completion shared by length.
        outs = split_tokens(tokens_out, [len(t) for t in texts])
        ins = [tokens_in] + [0] * (len(texts) - 1)
        responses = []
        for i, (choice, text) in enumerate(zip(choices, texts)):
            finish = choice.get("finish_reason")
            stats = CallStats(
                calls=result.attempts if i == 0 else 0,
                finish_reason=finish,
                replica=result.replica,
                retries=dict(result.retries) if i == 0 else {},
                tokens_out_shared=len(texts) > 1,
                usage_missing=not usage,
                cost_usd=cost_usd(ins[i], outs[i], self.config.price_per_mtok_in,
                                  self.config.price_per_mtok_out),
            )
            responses.append(
                Response(
                    text=text,
                    truncated=finish == "length",
                    tokens_in=ins[i],
                    tokens_out=outs[i],
                    latency_s=result.latency_s,
                    stats=stats,
                )
            )
        return responses

    def _failed(self, result: _CallResult, n: int) -> list[Response]:
        failure: FailureKind = result.failure or "internal"
        # The kind leads the message, so a stored failure detail says what happened.
        error = f"{failure}: {result.error or 'call failed'}"
        return [
            Response(
                text="",
                error=error,
                latency_s=result.latency_s,
                stats=CallStats(
                    calls=result.attempts if i == 0 else 0,
                    failure=failure,
                    call_failed=i == 0,
                    replica=result.replica,
                    status=result.status,
                    retries=dict(result.retries) if i == 0 else {},
                ),
            )
            for i in range(n)
        ]
