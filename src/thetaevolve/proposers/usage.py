"""What the LLM side of a run cost: calls, tokens, failures by kind, dollars.

Proposers describe each response's call in ``Response.stats`` (``calls.CallStats``), which
``UsageTotals.add`` reads. A response whose proposer keeps no books has the defaults and
counts as one call. The totals are stored as a run's ``usage`` meta (``to_dict``); the
keys of that dict are read back from old run directories, so they do not change.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, get_args

from thetaevolve.proposers.base import Response
from thetaevolve.proposers.calls import FailureKind

# Every kind a failed call can end with, in the order ``calls.FailureKind`` explains them.
FAILURE_KINDS: tuple[FailureKind, ...] = get_args(FailureKind)


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
        stats = response.stats
        self.calls += stats.calls if stats.calls >= 0 else 1  # a negative count is a bug: one call
        self.responses += 1
        self.tokens_in += response.tokens_in
        self.tokens_out += response.tokens_out
        self.truncated += int(response.truncated)
        if response.error:
            self.failed_responses += 1
            self.failed_calls += 1 if stats.call_failed else 0
            self.failures[stats.failure or "unknown"] += 1
        self.retries.update(stats.retries)
        if stats.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + stats.cost_usd

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
