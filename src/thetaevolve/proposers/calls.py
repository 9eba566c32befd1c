"""How the call behind one response went: the typed record that proposers fill in and the
run's usage totals (``usage.UsageTotals``) and the endpoint guard
(``endpoint_check.EndpointGuard``) read, instead of a dict of string keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# Why a call failed for good (``CallStats.failure``); ``usage.FAILURE_KINDS`` lists them.
FailureKind = Literal[
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
]


@dataclass(frozen=True)
class CallStats:
    """How the call behind one response went: what ``usage.UsageTotals`` adds up and what
    the endpoint guard (``endpoint_check.EndpointGuard``) watches.

    The defaults describe a plain response from a proposer that keeps no books: one call,
    nothing failed, no price. A request that produced several responses (native ``n``, a
    batch of samples) counts its calls on the first response and 0 on the others.
    """

    calls: int = 1  # requests attributed to this response, retries included
    failure: FailureKind | None = None  # set when ``Response.error`` is
    # False on the 2nd..nth failed response of one failed request, so that a failed call
    # is counted once (failures by kind count responses).
    call_failed: bool = True
    retries: Mapping[str, int] = field(default_factory=dict)  # {kind: transient failures retried past}
    cost_usd: float | None = None  # this response's tokens at the configured prices
    status: int | None = None  # the HTTP status of a failed call
    replica: str = ""  # the base URL that answered (or failed) last
    finish_reason: str | None = None  # as the engine reports it: "stop", "length", ...
    tokens_out_shared: bool = False  # one request's completion tokens, split by length
    usage_missing: bool = False  # the server reported no token counts
    prompt_truncated: bool = False  # the prompt was cut to fit the model's context
    # Made without any model (the offline mutator): counted as a model-free proposal in
    # the run's summary, never as a call.
    model_free: bool = False
