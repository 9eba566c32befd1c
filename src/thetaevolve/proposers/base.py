"""The proposer seam: prompts in, n responses per prompt out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from thetaevolve.database.records import ParentSample
from thetaevolve.proposers.calls import CallStats


@dataclass(frozen=True)
class Prompt:
    """One prompt: chat messages plus the structured context they were built from.

    Model-backed proposers read ``messages``; the offline mutator reads ``sample`` (the
    parent's code and the inspirations) since it edits code directly.
    """

    messages: tuple[dict[str, str], ...]
    sample: ParentSample
    key: str = ""  # unique within a run ("batch:index"); seeds the offline mutator

    @property
    def text(self) -> str:
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages)


@dataclass(frozen=True)
class Response:
    """One completion. ``error`` is set (and ``text`` empty) when the call failed for good."""

    text: str
    error: str = ""
    truncated: bool = False  # cut at the token limit
    tokens_in: int = 0
    tokens_out: int = 0
    latency_s: float = 0.0
    stats: CallStats = field(default_factory=CallStats)


class Proposer(Protocol):
    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        """For each prompt, ``n`` responses, in order. Never raises for a failed call:
        a failed call becomes Responses with ``error`` set."""
        ...

    async def aclose(self) -> None: ...
