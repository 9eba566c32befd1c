"""The program database seam.

``ProgramDatabase`` (``store.py``, where the rules are written down) is the one
implementation: islands, MAP-Elites cells, an elite archive and parent sampling over an
append-only SQLite store. ``ProgramStore`` (``protocol.py``) is the part of it that the gym,
the session and the drivers call. Its API:

- ``ProgramDatabase.open(path, config, *, read_only=False)`` creates or reopens a store;
  a corrupt or foreign file raises ``StoreError`` with a clear message. ``read_only`` opens
  a snapshot for looking (``show`` on a live run): commit and set_meta raise StoreError.
- ``sample_batch(count, rng, num_inspirations=0, num_top=0) -> list[ParentSample]`` draws
  ``count`` parents from the *current* state (batch sampling); failures are never parents,
  and ``EmptyDatabaseError`` means no successful program exists yet.
  ``ParentSample.island`` is the island a draw was made for (draw i of a call:
  ``(commits so far + i) % num_islands``).
- ``commit(children, meta=None) -> list[ProgramRecord]``: one transaction for the whole
  batch and ``meta``; children go on their parent's island. Every call is one commit: the
  store's ``commit_index`` (the initial program's commit is 1), which is what
  ``database.reinit_every`` counts, unlike ``ProgramRecord.iteration`` (the gym's batch
  index, 0 for the initial program) and ``generation`` (lineage depth).
- ``contains_hash(code_hash) -> bool`` (O(1), lazy level 2).
- ``get(id)``, ``best()`` (best fitness among OK programs ever stored), ``initial()``,
  ``lineage(id)`` (from the root down to the program), ``iter_programs(include_copies=True)``
  and ``proposal_scores()`` read records.
- ``count()`` and ``outcome_counts()`` count committed ChildDrafts only, never the copies
  the database makes (island seeds, migrants, re-initialisation copies: records whose
  ``kind`` is not "proposal"); ``max_iteration()`` is the largest ``iteration`` committed.
- ``set_meta(key, value)``, ``get_meta(key, default=None)``, ``close()``.
- ``debug_snapshot() -> DatabaseSnapshot``: the invariants tests compare (a live index
  against one rebuilt from the store).
"""

from thetaevolve.database.persistence import StoreError
from thetaevolve.database.protocol import ProgramStore
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
    "ProgramStore",
    "StoreError",
]
