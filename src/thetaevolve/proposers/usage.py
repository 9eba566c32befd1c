"""What the LLM side of a run cost: calls, tokens, failures by kind, dollars.

Model-backed proposers fill these ``Response.meta`` keys, which ``UsageTotals.add``
reads (a response without them still counts as one call):

- ``calls``: HTTP requests attributed to this response, retries included. A native-``n``
  request that produced several responses is counted on the first one, 0 on the others.
- ``failure``: the final failure kind when ``error`` is set (one of ``FAILURE_KINDS``).
- ``call_failed``: False on the 2nd..nth failed responses of one failed native-``n``
  request, so that a failed call is counted once (failures by kind count responses).
- ``retries``: ``{kind: count}`` of transient failures that a retry got past.
- ``cost_usd``: the cost of this response's tokens, where prices are configured.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from thetaevolve.proposers.base import Response

FAILURE_KINDS = (
    "deadline",  # the call's hard deadline passed (retries included)
    "timeout",  # one attempt timed out on the client side
    "rate_limit",  # HTTP 429
    "server_error",  # HTTP 5xx
    "connection",  # refused, reset, cut mid-response
    "malformed",  # a response that is not a valid completion
    "client_error",  # HTTP 4xx other than 429: not retried
    "auth",  # HTTP 401/403: not retried
    "engine",  # an in-process engine raised
    "internal",  # a bug on our side, caught so that the run goes on
)


def cost_usd(
    tokens_in: int, tokens_out: int, price_in: float | None, price_out: float | None
) -> float | None:
    """Dollars for a token count at prices per million tokens; None without prices."""
    if price_in is None and price_out is None:
        return None
    return (tokens_in * (price_in or 0.0) + tokens_out * (price_out or 0.0)) / 1e6


@dataclass
class UsageTotals:
    """Running totals over responses; ``add`` one response at a time."""

    calls: int = 0
    responses: int = 0
    failed_calls: int = 0  # calls that failed for good
    failed_responses: int = 0
    truncated: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float | None = None  # None until a response with a price arrives
    failures: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)

    def add(self, response: Response) -> None:
        meta = response.meta
        calls = meta.get("calls", 1)
        self.calls += calls if isinstance(calls, int) and calls >= 0 else 1
        self.responses += 1
        self.tokens_in += response.tokens_in
        self.tokens_out += response.tokens_out
        self.truncated += int(response.truncated)
        if response.error:
            self.failed_responses += 1
            self.failed_calls += 1 if meta.get("call_failed", True) else 0
            self.failures[str(meta.get("failure") or "unknown")] += 1
        retries = meta.get("retries")
        if isinstance(retries, dict):
            for kind, count in retries.items():
                if isinstance(count, int):
                    self.retries[str(kind)] += count
        cost = meta.get("cost_usd")
        if isinstance(cost, (int, float)):
            self.cost_usd = (self.cost_usd or 0.0) + float(cost)

    def add_all(self, responses: list[list[Response]]) -> None:
        for group in responses:
            for response in group:
                self.add(response)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "UsageTotals":
        """Rebuild totals saved with ``to_dict`` (unknown keys are ignored)."""
        data = data or {}
        totals = cls()
        for name in ("calls", "responses", "failed_calls", "failed_responses", "truncated",
                     "tokens_in", "tokens_out"):
            setattr(totals, name, int(data.get(name, 0) or 0))
        cost = data.get("cost_usd")
        totals.cost_usd = float(cost) if isinstance(cost, (int, float)) else None
        totals.failures = Counter({str(k): int(v) for k, v in (data.get("failures") or {}).items()})
        totals.retries = Counter({str(k): int(v) for k, v in (data.get("retries") or {}).items()})
        return totals

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "responses": self.responses,
            "failed_calls": self.failed_calls,
            "failed_responses": self.failed_responses,
            "truncated": self.truncated,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
            "failures": dict(self.failures),
            "retries": dict(self.retries),
        }
