"""``ProgramDatabase.debug_snapshot()``: the database's invariants as one comparable value.

The index is updated incrementally (join, evict, migrate, re-initialise) and rebuilt from the
store on reopen; both must give the same state, or sampling after a resume would differ from
sampling without the stop. A snapshot holds everything sampling depends on, as plain
tuples and dicts (NaN written as None, so that equal states compare equal), so a test
compares a live database with a reopened one without reaching into private attributes.

It copies every per-program array: meant for tests and debugging, not for a 10^6-program run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from thetaevolve.database.index import Key, PopulationIndex
from thetaevolve.database.puct import PUCTState


def _floats(values: np.ndarray) -> tuple[float | None, ...]:
    return tuple(None if np.isnan(v) else float(v) for v in values.tolist())


@dataclass(frozen=True)
class IndexSnapshot:
    """The in-memory index (see index.py): per-island structures, then per-id columns up to
    ``end`` (one past the largest id)."""

    end: int
    members: tuple[tuple[int, ...], ...]  # per island, the sampleable ids in id order
    archive: tuple[Key, ...]  # (-fitness, id), best first
    archive_by_island: tuple[tuple[int, ...], ...]
    tops: tuple[tuple[Key, ...], ...]  # per island, best first
    cells: tuple[dict[int, int], ...]  # per island, MAP-Elites cell -> its elite's id
    cell_keys: tuple[tuple[int, ...], ...]
    hashes: tuple[int, ...]  # the code-hash keys, sorted
    live: tuple[bool, ...]  # sampleable now
    fitness: tuple[float | None, ...]  # None for a failure
    island: tuple[int, ...]
    cell: tuple[int, ...]
    generation: tuple[int, ...]

    @classmethod
    def of(cls, index: PopulationIndex) -> "IndexSnapshot":
        end = index.end
        return cls(
            end=end,
            members=tuple(tuple(m) for m in index.members),
            archive=tuple(index.archive),
            archive_by_island=tuple(tuple(a) for a in index.archive_by_island),
            tops=tuple(tuple(t) for t in index.tops),
            cells=tuple(dict(c) for c in index.cells),
            cell_keys=tuple(tuple(k) for k in index.cell_keys),
            hashes=tuple(sorted(index.hashes)),
            live=tuple(index.live[:end].tolist()),
            fitness=_floats(index.fitness[:end]),
            island=tuple(index.island[:end].tolist()),
            cell=tuple(index.cell[:end].tolist()),
            generation=tuple(index.generation[:end].tolist()),
        )


@dataclass(frozen=True)
class PUCTSnapshot:
    """The PUCT sampler's per-program state (see puct.py), per id up to the index's end."""

    total_visits: int
    visits: tuple[int, ...]
    parent: tuple[int, ...]  # canonical parent, -1 for a root
    child_best: tuple[float | None, ...]  # None: no successful child yet
    origin: dict[int, int]  # copy id -> origin id

    @classmethod
    def of(cls, puct: PUCTState, end: int) -> "PUCTSnapshot":
        return cls(
            total_visits=puct.total_visits,
            visits=tuple(puct.visits[:end].tolist()),
            parent=tuple(puct.parent[:end].tolist()),
            child_best=_floats(puct.child_best[:end]),
            origin=dict(puct.origin),
        )


@dataclass(frozen=True)
class DatabaseSnapshot:
    """What ``ProgramDatabase.debug_snapshot()`` returns; equal snapshots sample alike.

    ``cached_records`` (the size of the record cache) is reported but not compared: a
    reopened database starts with an empty cache and samples the same.
    """

    index: IndexSnapshot
    copied: tuple[tuple[int, ...], ...]  # per island, the origins present through copies
    state: dict[str, Any]  # the store's ``state`` table as the database holds it
    best_id: int | None
    count: int
    outcome_counts: dict[str, int]
    max_iteration: int
    evicted: tuple[int, ...]  # ids in the store's ``evictions`` table
    puct: PUCTSnapshot | None  # None unless database.sampler=puct on a writable store
    cached_records: int = field(compare=False)
