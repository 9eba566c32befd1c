"""The records the program database stores and hands out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thetaevolve.types import Outcome


@dataclass(frozen=True)
class ChildDraft:
    """A child produced by the gym, before the database gives it an id and an island.

    The database puts a child on its parent's island, with generation = parent's + 1.
    ``code`` is "" when no child program could be built (no diff, edit failure).
    """

    parent_id: int | None
    code: str
    code_hash: str
    outcome: Outcome
    score: float | None  # raw objective; only for Outcome.OK
    fitness: float | None  # larger is better (task.fitness(score)); ranks programs
    reward: float
    iteration: int  # the batch index that produced it (0: the initial program)
    metrics: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    response: str = ""
    detail: str = ""  # failure reason, stderr excerpt, ...


@dataclass(frozen=True)
class ProgramRecord:
    """One stored program (a committed ChildDraft plus what the database assigned)."""

    id: int
    parent_id: int | None
    island: int
    generation: int
    iteration: int
    code: str
    code_hash: str
    outcome: Outcome
    score: float | None
    fitness: float | None
    reward: float
    metrics: dict[str, Any]
    prompt: str
    response: str
    detail: str
    created_at: float
    # "proposal" for a committed ChildDraft; "seed", "migrant" or "reinit" for a copy the
    # database made of ``origin_id`` (copies share their origin's code, hash and texts).
    kind: str = "proposal"
    origin_id: int | None = None


@dataclass(frozen=True)
class ParentSample:
    """What one prompt is built from: a parent and optional inspirations."""

    parent: ProgramRecord
    inspirations: tuple[ProgramRecord, ...] = ()
    top_programs: tuple[ProgramRecord, ...] = ()
    island: int = 0  # the island this draw was made for (see ProgramDatabase.sample_batch)
