"""UsageTotals over typed CallStats: what a response's call record adds to a run's totals,
and the stored form of those totals, which old run directories are read back from."""

from __future__ import annotations

import dataclasses

import pytest

from thetaevolve.proposers.base import Response
from thetaevolve.proposers.calls import CallStats
from thetaevolve.proposers.usage import FAILURE_KINDS, UsageTotals


def _failed_call(n: int) -> list[Response]:
    """The n responses of one failed request, as the proposers build them."""
    return [
        Response(text="", error="server_error: boom",
                 stats=CallStats(calls=2 if i == 0 else 0, failure="server_error",
                                 call_failed=i == 0, retries={"rate_limit": 1} if i == 0 else {}))
        for i in range(n)
    ]


def test_a_response_without_books_counts_as_one_call() -> None:
    totals = UsageTotals()
    totals.add(Response(text="x", tokens_in=3, tokens_out=4))
    assert (totals.calls, totals.responses, totals.tokens_in, totals.tokens_out) == (1, 1, 3, 4)
    assert totals.cost_usd is None and not totals.failures


def test_one_failed_request_counts_once_and_each_response_by_kind() -> None:
    totals = UsageTotals()
    totals.add_all([_failed_call(3)])
    assert totals.calls == 2 and totals.failed_calls == 1 and totals.failed_responses == 3
    assert totals.failures == {"server_error": 3} and totals.retries == {"rate_limit": 1}


def test_costs_add_up_only_where_a_price_was_set() -> None:
    totals = UsageTotals()
    totals.add(Response(text="a"))
    assert totals.cost_usd is None
    totals.add(Response(text="b", stats=CallStats(cost_usd=0.25)))
    totals.add(Response(text="c", stats=CallStats(cost_usd=0.5)))
    assert totals.cost_usd == pytest.approx(0.75)


def test_the_stored_totals_keep_their_keys_and_read_back() -> None:
    totals = UsageTotals()
    totals.add_all([_failed_call(2), [Response(text="ok", truncated=True, tokens_in=5)]])
    stored = totals.to_dict()
    assert sorted(stored) == sorted([
        "calls", "responses", "failed_calls", "failed_responses", "truncated", "tokens_in",
        "tokens_out", "cost_usd", "failures", "retries",
    ])
    assert UsageTotals.from_dict(stored) == totals


def test_call_stats_are_frozen_and_failure_kinds_are_the_typed_ones() -> None:
    stats = CallStats()
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.calls = 2  # type: ignore[misc]  # writing a frozen field is what is tested
    assert "deadline" in FAILURE_KINDS and "internal" in FAILURE_KINDS and len(FAILURE_KINDS) == 10
