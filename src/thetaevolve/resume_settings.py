"""Which settings ``thetaevolve resume --set`` may change, and which it refuses.

A resumed run must stay the run it was: its task, seed, database shape, reward and
prompts define what the stored programs mean, so changing them mid-run would mix two
experiments in one store. What may change is how far and how it runs: the budget, the
model endpoint (a server that moved, a new key variable, a replica added) and the
deadlines.
"""

from __future__ import annotations

from thetaevolve.config import parse_override
from thetaevolve.errors import UserError

MUTABLE_ON_RESUME = (
    "budget",
    "llm.base_url",
    "llm.model",
    "llm.api_key_env",
    "llm.timeout_s",
    "llm.max_retries",
    "llm.max_concurrency",
    "llm.retry_backoff_s",
    "llm.retry_backoff_max_s",
    "llm.max_consecutive_failures",
    "llm.price_per_mtok_in",
    "llm.price_per_mtok_out",
    "sandbox.timeout_s",
    "sandbox.workers",
)


def check_resume_overrides(overrides: list[str]) -> None:
    """Raise naming the first ``--set`` key that a resume may not change."""
    for text in overrides:
        key = ".".join(parse_override(text)[0])
        if key not in MUTABLE_ON_RESUME:
            raise UserError(
                f"resume --set {key}: this setting cannot change in the middle of a run (it "
                f"changes what the stored programs mean); nothing was changed. Settings a "
                f"resume may change: {', '.join(MUTABLE_ON_RESUME)}. To change {key}, start a "
                "new run."
            )
