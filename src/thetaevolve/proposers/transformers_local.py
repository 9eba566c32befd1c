"""An in-process Transformers proposer (``--llm transformers --model PATH_OR_ID``), for a
user who has a model but no server: on the CPU, or on a GPU without vLLM.

Batching. The gym asks for each prompt's n samples in its own ``propose`` call, all of a
batch at once. Calls that arrive together are collected and generated together: B
prompts x n samples become up to ``llm.max_batch_sequences`` rows of one ``generate``
(left-padded, each row sampling on its own). One generation runs at a time.

Deadlines. Every generation stops once ``llm.timeout_s`` has passed since it started: a
stopping criterion checks the clock after every token, so the model is really stopped
(not left running in the background as a timed-out thread would be). Rows that were not
finished by then fail with ``failure = "deadline"``; rows that had already ended keep
their answers. As with the HTTP proposer, the clock starts when the generation starts,
so waiting behind another batch does not use up a request's deadline.

Everything else is what the HTTP proposer does: the model's own chat template, a failed
generation becomes Responses with ``error`` set (never an exception), usage per prompt
(prompt tokens counted once, each sample's completion tokens), ``finish_reason`` and
``truncated``; reasoning in ``<think>`` stays in the text for ``edit_search_scope`` (with
its opening tag put back when the chat template wrote it into the prompt).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

from thetaevolve.config import LLMConfig
from thetaevolve.errors import UserError
from thetaevolve.models.chat import context_length, encode_chat, fit_prompt, opens_reasoning
from thetaevolve.models.chat import prompt_budget, stop_token_ids
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.proposers.calls import CallStats, FailureKind
from thetaevolve.proposers.usage import cost_usd

# Request fields (llm.extra_body) that mean the same here as on a vLLM/SGLang server.
SAMPLING_KEYS = ("top_k", "min_p", "repetition_penalty")
TEMPLATE_KEY = "chat_template_kwargs"  # e.g. {"enable_thinking": true} for Qwen3


@dataclass
class _Request:
    prompt: Prompt
    n: int
    future: asyncio.Future[list[Response]]
    ids: list[int] = field(default_factory=list)
    prompt_truncated: bool = False
    in_reasoning: bool = False  # the template opened <think>: the completion starts inside


@dataclass
class _Row:
    request: _Request
    sample: int


@dataclass
class _RowResult:
    tokens: list[int]
    finish: str  # "stop", "length" or "deadline"
    latency_s: float


class _Deadline:
    """A stopping criterion: True for every row once the clock passes ``deadline`` (or
    when the proposer is closed), so ``generate`` returns after the current token."""

    def __init__(self, deadline: float, cancelled: threading.Event) -> None:
        self.deadline = deadline
        self.cancelled = cancelled
        self.fired = False

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        stop = self.cancelled.is_set() or time.monotonic() >= self.deadline
        self.fired = self.fired or stop
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class TransformersProposer:
    """``Proposer`` backed by a Transformers causal LM in this process."""

    def __init__(
        self, config: LLMConfig, seed: int = 0, model: Any = None, tokenizer: Any = None
    ) -> None:
        if model is None or tokenizer is None:
            if not config.model:
                raise UserError("llm.kind=transformers needs llm.model (a folder, a hub id or smollm2-135m)")
            from thetaevolve.models.loading import load_for_generation

            model, tokenizer, self.device = load_for_generation(config.model, config.device, config.dtype)
        else:
            self.device = str(getattr(model, "device", "cpu"))
        self.config = config
        self.seed = seed
        self.model = model
        self.tokenizer = tokenizer
        self.sampling, self.template_kwargs = _split_extra_body(config.extra_body)
        self.stop_ids = stop_token_ids(tokenizer, model)
        self.context = context_length(model, tokenizer)
        self.prompt_limit = prompt_budget(self.context, config.max_tokens)
        self._pending: list[_Request] = []
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelled = threading.Event()
        self._lock = threading.Lock()  # one generate at a time, across event loops too
        self._batches = 0

    # ---- the Proposer seam --------------------------------------------------------

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if not prompts:
            return []
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new event loop (a second asyncio.run)
            self._loop, self._pending, self._worker = loop, [], None
        requests = [_Request(p, n, loop.create_future()) for p in prompts]
        self._pending.extend(requests)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return list(await asyncio.gather(*(r.future for r in requests)))

    async def aclose(self) -> None:
        self._cancelled.set()  # a generation in flight stops at its next token
        if self._worker is not None and not self._worker.done():
            try:
                await self._worker
            except Exception:  # noqa: BLE001 - closing must not raise for a failed batch
                pass
        self.model = None

    # ---- batching -----------------------------------------------------------------

    async def _drain(self) -> None:
        while self._pending:
            # The gym's calls for one batch are all scheduled together: one turn of the
            # event loop lets every one of them join this generation.
            await asyncio.sleep(0)
            batch = self._take_batch()
            try:
                groups = await asyncio.to_thread(self._generate, batch)
            except Exception as exc:  # noqa: BLE001 - a proposer never raises for a failed call
                error = f"engine: Transformers generate failed: {type(exc).__name__}: {exc}"
                groups = [_failed(r.n, error, "engine", 0.0) for r in batch]
            for request, group in zip(batch, groups):
                if not request.future.done():
                    request.future.set_result(group)

    def _take_batch(self) -> list[_Request]:
        """Whole requests, oldest first, up to max_batch_sequences rows (at least one)."""
        limit = self.config.max_batch_sequences
        batch: list[_Request] = []
        rows = 0
        while self._pending and (not batch or rows + self._pending[0].n <= limit):
            request = self._pending.pop(0)
            batch.append(request)
            rows += request.n
        return batch

    # ---- generation (worker thread) ------------------------------------------------

    def _generate(self, batch: list[_Request]) -> list[list[Response]]:
        with self._lock:
            if self.model is None or self._cancelled.is_set():
                return [_failed(r.n, "engine: the proposer is closed", "engine", 0.0) for r in batch]
            self._batches += 1
            for request in batch:
                ids = encode_chat(self.tokenizer, [dict(m) for m in request.prompt.messages],
                                  self.template_kwargs)
                request.ids, request.prompt_truncated = fit_prompt(ids, self.prompt_limit)
                request.in_reasoning = opens_reasoning(self.tokenizer, request.ids)
            rows = [_Row(r, s) for r in batch for s in range(r.n)]
            results: list[_RowResult] = []
            size = self.config.max_batch_sequences
            for start in range(0, len(rows), size):
                results.extend(self._generate_rows(rows[start:start + size], start))
        return self._responses(batch, rows, results)

    def _generate_rows(self, rows: list[_Row], offset: int) -> list[_RowResult]:
        import torch

        started = time.monotonic()
        longest = max(len(row.request.ids) for row in rows)
        # One limit for the whole call: what the longest prompt leaves of the context.
        max_new = max(1, min(self.config.max_tokens, self.context - longest))
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), longest), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, row in enumerate(rows):
            ids = row.request.ids
            input_ids[i, longest - len(ids):] = torch.tensor(ids, dtype=torch.long)
            attention[i, longest - len(ids):] = 1
        deadline = _Deadline(started + self.config.timeout_s, self._cancelled)
        torch.manual_seed(self.seed * 1_000_003 + self._batches * 1009 + offset)
        sampling = self.config.temperature > 0
        options: dict[str, Any] = {"do_sample": sampling}
        if sampling:
            options.update(temperature=self.config.temperature, top_p=self.config.top_p,
                           top_k=0)  # no top-k cut unless asked for, as ThetaEvolve samples
        options.update(self.sampling)
        from transformers import StoppingCriteriaList

        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device),
                max_new_tokens=max_new, eos_token_id=self.stop_ids, pad_token_id=pad,
                stopping_criteria=StoppingCriteriaList([deadline]), **options,
            )
        latency = time.monotonic() - started
        new = output[:, longest:].tolist()
        results = []
        stops = set(self.stop_ids)
        for tokens in new:
            end = next((k for k, t in enumerate(tokens) if t in stops), None)
            if end is not None:
                results.append(_RowResult(tokens[: end + 1], "stop", latency))
            elif deadline.fired and len(tokens) < max_new:
                results.append(_RowResult(tokens, "deadline", latency))
            else:
                results.append(_RowResult(tokens, "length", latency))
        return results

    def _responses(
        self, batch: list[_Request], rows: list[_Row], results: list[_RowResult]
    ) -> list[list[Response]]:
        by_request: dict[int, list[Response]] = {id(r): [] for r in batch}
        stops = set(self.stop_ids)
        for row, result in zip(rows, results):
            first = row.sample == 0
            tokens_in = len(row.request.ids) if first else 0
            tokens_out = len(result.tokens)
            stats = CallStats(
                calls=1 if first else 0,
                finish_reason=result.finish,
                prompt_truncated=row.request.prompt_truncated,
                cost_usd=cost_usd(tokens_in, tokens_out, self.config.price_per_mtok_in,
                                  self.config.price_per_mtok_out),
            )
            if result.finish == "deadline":
                stats = replace(stats, failure="deadline", call_failed=first)
                error = (f"deadline: no answer within llm.timeout_s={self.config.timeout_s:g} s "
                         f"(generation stopped after {tokens_out} tokens)")
                response = Response(text="", error=error, tokens_in=tokens_in,
                                    tokens_out=tokens_out, latency_s=result.latency_s, stats=stats)
            else:
                text_ids = [t for t in result.tokens if t not in stops]
                text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
                if row.request.in_reasoning and "<think>" not in text:
                    # As the HTTP proposer does with a server's separate reasoning: the
                    # stored text holds the whole <think> block, opening tag included.
                    text = "<think>\n" + text
                response = Response(text=text, truncated=result.finish == "length",
                                    tokens_in=tokens_in, tokens_out=tokens_out,
                                    latency_s=result.latency_s, stats=stats)
            by_request[id(row.request)].append(response)
        return [by_request[id(r)] for r in batch]


def _split_extra_body(extra: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(generate kwargs, chat-template kwargs) from llm.extra_body; an unknown key is an
    error here rather than a setting that silently does nothing."""
    unknown = sorted(set(extra) - set(SAMPLING_KEYS) - {TEMPLATE_KEY})
    if unknown:
        raise UserError(
            f"llm.extra_body: {', '.join(unknown)} is not understood by the in-process "
            f"Transformers proposer (it takes {', '.join(SAMPLING_KEYS)} and {TEMPLATE_KEY})"
        )
    template = extra.get(TEMPLATE_KEY) or {}
    if not isinstance(template, dict):
        raise UserError(f"llm.extra_body.{TEMPLATE_KEY} must be a mapping, got {template!r}")
    return {k: extra[k] for k in SAMPLING_KEYS if k in extra}, dict(template)


def _failed(n: int, error: str, kind: FailureKind, latency: float) -> list[Response]:
    return [
        Response(text="", error=error, latency_s=latency,
                 stats=CallStats(calls=1 if i == 0 else 0, failure=kind, call_failed=i == 0))
        for i in range(n)
    ]
