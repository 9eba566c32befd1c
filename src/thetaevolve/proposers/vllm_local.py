"""An in-process vLLM proposer (the ``vllm`` extra), for users with GPUs.

One ``vllm.LLM`` engine; a batch of B prompts x n samples is one ``LLM.chat`` call with
``SamplingParams(n=n)``, so vLLM schedules everything together and shares each prompt's
prefix. Generation runs on a worker thread so the event loop (and the evaluations it
drives) keeps going.

Deadline: ``llm.timeout_s`` bounds how long ``propose`` waits. In-process generation
cannot be interrupted safely, so on a deadline the batch's responses fail with
``failure = "deadline"`` and the engine finishes its work in the background; the next
batch waits for it (one generation at a time).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from thetaevolve.config import LLMConfig
from thetaevolve.proposers.base import Prompt, Response
from thetaevolve.proposers.calls import CallStats, FailureKind
from thetaevolve.proposers.usage import cost_usd

INSTALL_HINT = "llm.kind=vllm needs the vllm extra: pip install 'thetaevolve[vllm]' (and a GPU)"


def _import_vllm() -> Any:
    try:
        import vllm  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return vllm


class VLLMProposer:
    """``Proposer`` backed by ``vllm.LLM`` in this process."""

    def __init__(self, config: LLMConfig, seed: int = 0, engine: Any = None) -> None:
        if not config.model and engine is None:
            raise ValueError("llm.kind=vllm needs llm.model (a local path or a Hugging Face id)")
        self.config = config
        self.seed = seed
        self._vllm = _import_vllm()
        options = {"seed": seed, **config.vllm_options}
        if engine is None:
            from thetaevolve.models.bundled import resolve_model

            assert config.model is not None  # refused above without an engine
            engine = self._vllm.LLM(model=resolve_model(config.model), **options)
        self.engine = engine
        self._lock = threading.Lock()  # one generation at a time, even after a deadline
        self._batches = 0

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if not prompts:
            return []
        self._batches += 1
        params = self._vllm.SamplingParams(
            n=n,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            max_tokens=self.config.max_tokens,
            seed=self.seed * 1_000_003 + self._batches,
            **self.config.extra_body,
        )
        conversations = [[dict(m) for m in prompt.messages] for prompt in prompts]
        started = time.monotonic()
        try:
            outputs = await asyncio.wait_for(
                asyncio.to_thread(self._generate, conversations, params),
                timeout=self.config.timeout_s,
            )
        except asyncio.TimeoutError:
            error = f"no answer within llm.timeout_s={self.config.timeout_s:g} s"
            return self._failed(len(prompts), n, error, "deadline", time.monotonic() - started)
        except Exception as exc:  # noqa: BLE001 - a proposer never raises for a failed call
            error = f"vLLM engine error: {type(exc).__name__}: {exc}"
            return self._failed(len(prompts), n, error, "engine", time.monotonic() - started)
        latency = time.monotonic() - started
        groups = [self._group(output, n, latency) for output in outputs]
        if len(groups) != len(prompts):
            missing = self._failed(len(prompts) - len(groups), n, "missing output", "engine", latency)
            groups = groups[: len(prompts)] + missing
        return groups

    async def aclose(self) -> None:
        self.engine = None

    def _generate(self, conversations: list[list[dict[str, str]]], params: Any) -> list[Any]:
        with self._lock:
            return list(self.engine.chat(conversations, params, use_tqdm=False))

    def _group(self, output: Any, n: int, latency: float) -> list[Response]:
        prompt_tokens = len(getattr(output, "prompt_token_ids", None) or [])
        group: list[Response] = []
        for i, completion in enumerate(list(output.outputs)[:n]):
            tokens_in = prompt_tokens if i == 0 else 0
            tokens_out = len(getattr(completion, "token_ids", None) or [])
            stats = CallStats(
                calls=1 if i == 0 else 0,
                finish_reason=completion.finish_reason,
                cost_usd=cost_usd(tokens_in, tokens_out, self.config.price_per_mtok_in,
                                  self.config.price_per_mtok_out),
            )
            group.append(
                Response(
                    text=completion.text,
                    truncated=completion.finish_reason == "length",
                    tokens_in=tokens_in,
                    tokens_out=tokens_out,
                    latency_s=latency,
                    stats=stats,
                )
            )
        if len(group) < n:
            group += self._failed(1, n - len(group), "the engine returned fewer samples", "engine", latency)[0]
        return group

    @staticmethod
    def _failed(count: int, n: int, error: str, kind: FailureKind, latency: float) -> list[list[Response]]:
        return [
            [
                Response(
                    text="",
                    error=error,
                    latency_s=latency,
                    stats=CallStats(calls=1 if (p == 0 and i == 0) else 0, failure=kind,
                                    call_failed=p == 0 and i == 0),
                )
                for i in range(n)
            ]
            for p in range(count)
        ]
