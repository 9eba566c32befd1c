"""The program database seam.

``ProgramDatabase`` (in ``thetaevolve.database.store``) is the one implementation:
islands, MAP-Elites cells, an elite archive, parent sampling, and an append-only SQLite
store underneath. Its public surface, which the gym and the CLI rely on:

- ``ProgramDatabase.open(path, config: DatabaseConfig) -> ProgramDatabase`` creates or
  reopens a store (a corrupt or foreign file raises ``StoreError`` with a clear message).
- ``sample_batch(count, rng, num_inspirations=0, num_top=0) -> list[ParentSample]``: draws
  ``count`` parents from the *current* state (batch sampling); failures are never parents.
- ``commit(children: list[ChildDraft]) -> list[ProgramRecord]``: one transaction for the
  whole batch; children go on their parent's island.
- ``contains_hash(code_hash) -> bool`` (O(1), lazy level 2), ``get(id) -> ProgramRecord``,
  ``best() -> ProgramRecord | None`` (best fitness among OK programs), ``count() -> int``,
  ``outcome_counts() -> dict[str, int]``, ``max_iteration() -> int``,
  ``lineage(id) -> list[ProgramRecord]``, ``iter_programs()``, ``set_meta(key, value)``,
  ``get_meta(key)``, ``close()``.

Additions (see ``store.py`` for the rules): ``commit(children, meta={...})`` writes meta in
the batch's transaction; ``lineage`` runs from the root down to the program;
``iter_programs(include_copies=True)``; ``count()`` and ``outcome_counts()`` count committed
ChildDrafts only, never the copies the database makes (island seeds, migrants,
re-initialisation copies: records with ``kind`` != "proposal"); ``sample_batch`` raises
``EmptyDatabaseError`` when no successful program exists; ``ParentSample.island`` is the
island a draw was made for (draw i of a call: ``(commits + i) % num_islands``).
"""

from thetaevolve.database.persistence import StoreError
from thetaevolve.database.records import ChildDraft, ParentSample, ProgramRecord
from thetaevolve.database.snapshot import DatabaseSnapshot, PUCTSnapshot
from thetaevolve.database.store import EmptyDatabaseError, ProgramDatabase

__all__ = [
    "ChildDraft",
    "DatabaseSnapshot",
    "EmptyDatabaseError",
    "PUCTSnapshot",
    "ParentSample",
    "ProgramDatabase",
    "ProgramRecord",
    "StoreError",
]
