"""The proposer seam: prompts in, n responses per prompt out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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
    """Prompts in, ``n`` responses per prompt out.

    A proposer that reads more of ``Prompt.sample.inspirations`` than a prompt shows (the
    offline mutator's crossover donors) says how many through ``NeedsInspirations``; the
    gym asks ``inspirations_needed(proposer)`` instead of checking which proposer it has.
    """

    async def propose(self, prompts: list[Prompt], n: int) -> list[list[Response]]:
        """For each prompt, ``n`` responses, in order. Never raises for a failed call:
        a failed call becomes Responses with ``error`` set."""
        ...

    async def aclose(self) -> None: ...


@runtime_checkable
class NeedsInspirations(Protocol):
    """A proposer that needs ``inspirations_needed`` other programs per parent drawn into
    ``Prompt.sample.inspirations``, whatever ``prompt.num_inspirations`` shows a model."""

    inspirations_needed: int


def inspirations_needed(proposer: object) -> int:
    """Programs per parent that ``proposer`` reads from the sample; 0 unless it declares
    more (a model-backed proposer reads only the prompt's messages)."""
    return proposer.inspirations_needed if isinstance(proposer, NeedsInspirations) else 0
