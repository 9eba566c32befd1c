"""``ProgramStore``: what the gym, the session and the drivers need from a program database.

``ProgramDatabase`` is the one implementation; the Protocol is the seam, so that a caller's
type says which part of the database it relies on and a test can hand in a double. It holds
the calls made outside the database package (the gym, session, evolve, rl/train,
rl/multitask, compare, plots and the CLI); what only tests and benchmarks use (``get``,
``iter_programs``, ``set_meta``, ``debug_snapshot``, ...) stays on ``ProgramDatabase``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from thetaevolve.database.records import ChildDraft, ParentSample, ProgramRecord


@runtime_checkable
class ProgramStore(Protocol):
    """A program database seen from its callers; ``thetaevolve.database`` documents each call."""

    # ---- the loop: sample, commit, deduplicate --------------------------------------------

    def sample_batch(
        self, count: int, rng: random.Random, num_inspirations: int = 0, num_top: int = 0
    ) -> list[ParentSample]: ...

    def commit(
        self, children: Sequence[ChildDraft], meta: dict[str, Any] | None = None
    ) -> list[ProgramRecord]: ...

    def contains_hash(self, code_hash: str) -> bool: ...

    # ---- lookups ---------------------------------------------------------------------------

    def best(self) -> ProgramRecord | None: ...

    def initial(self) -> ProgramRecord | None: ...

    def lineage(self, program_id: int) -> list[ProgramRecord]: ...

    def proposal_scores(self) -> list[float | None]: ...

    # ---- counts ----------------------------------------------------------------------------

    def count(self) -> int: ...

    def outcome_counts(self) -> dict[str, int]: ...

    def max_iteration(self) -> int: ...

    # ---- run metadata and lifetime ---------------------------------------------------------

    def get_meta(self, key: str, default: Any = None) -> Any: ...

    def close(self) -> None: ...
