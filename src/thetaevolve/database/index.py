"""The in-memory index: only what sampling and lazy penalties need, in compact arrays.

Per program (dense arrays indexed by id): fitness (float64, NaN for a failure), island
(int16), MAP-Elites cell (int32), generation (int32), a "sampleable" flag, and a 60-bit
key of its code hash in a set. Per island: the sampleable ids in id order
(``array('q')``), its top programs, and its MAP-Elites cell elites. Globally: the elite
archive. Code, prompts and responses stay on disk.

Every derived structure is a pure function of the set of sampleable programs, ordered by
(fitness desc, id asc) where a ranking is needed: the archive is the top ``archive_size``,
a cell's elite is its best member, an island's tops are its best ``TOP_TRACKED``. Updating
them incrementally gives exactly what a rebuild from the store gives, so sampling with a
seeded rng is the same before and after a reopen.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import sys
import random
from array import array

import numpy as np

TOP_TRACKED = 32  # per-island top list kept incrementally; larger requests use numpy
_HASH_BITS = 60  # keys below 2^60 are 32-byte Python ints (one size class smaller)


def hash_key(code_hash: str) -> int:
    """A stable 60-bit key of a code hash (exactness is checked against the store on a hit)."""
    digest = hashlib.blake2b(code_hash.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - _HASH_BITS)


Key = tuple[float, int]  # (-fitness, id): sorting ascending puts the best first


class PopulationIndex:
    def __init__(self, num_islands: int, archive_size: int) -> None:
        self.num_islands = num_islands
        self.archive_size = archive_size
        self.end = 1  # one past the largest id (ids start at 1)
        capacity = 1024
        self.fitness = np.full(capacity, np.nan)
        self.island = np.full(capacity, -1, dtype=np.int16)
        self.cell = np.full(capacity, -1, dtype=np.int32)
        self.generation = np.zeros(capacity, dtype=np.int32)
        self.live = np.zeros(capacity, dtype=np.bool_)
        self.hashes: set[int] = set()
        self.members: list[array] = [array("q") for _ in range(num_islands)]
        self.population = 0  # sum of the members' lengths, kept to avoid summing per draw
        self.archive: list[Key] = []
        self.archive_by_island: list[list[int]] = [[] for _ in range(num_islands)]
        self.tops: list[list[Key]] = [[] for _ in range(num_islands)]
        self.cells: list[dict[int, int]] = [{} for _ in range(num_islands)]
        self.cell_keys: list[list[int]] = [[] for _ in range(num_islands)]

    # ---- sizes ------------------------------------------------------------------------------

    def ensure(self, end: int) -> None:
        capacity = len(self.fitness)
        if end <= capacity:
            return
        while capacity < end:
            capacity *= 2
        for name, fill in (("fitness", np.nan), ("island", -1), ("cell", -1),
                           ("generation", 0), ("live", False)):
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def sampleable_count(self) -> int:
        return self.population

    def nbytes(self) -> int:
        """Bytes held by the index structures (the benchmark also measures with tracemalloc)."""
        total = sum(a.nbytes for a in (self.fitness, self.island, self.cell, self.generation,
                                       self.live))
        total += sys.getsizeof(self.hashes) + 32 * len(self.hashes)
        total += sum(m.buffer_info()[1] * m.itemsize + 64 for m in self.members)
        return total

    # ---- adding -----------------------------------------------------------------------------

    def add(self, pid: int, island: int, fitness: float | None, cell: int, generation: int,
            key: int, sampleable: bool) -> None:
        """Record a stored program; ``sampleable`` ones join their island's population."""
        if pid < self.end:
            raise ValueError(f"program ids must increase: {pid} after {self.end - 1}")
        self.ensure(pid + 1)
        self.end = pid + 1
        self.island[pid] = island
        self.cell[pid] = cell
        self.generation[pid] = generation
        if fitness is not None:
            self.fitness[pid] = fitness
        self.hashes.add(key)
        if sampleable:
            self.join(pid)

    def join(self, pid: int) -> None:
        island = int(self.island[pid])
        fit = float(self.fitness[pid])
        if math.isnan(fit):
            raise ValueError(f"program {pid} has no fitness and cannot be sampled")
        self.live[pid] = True
        self.population += 1
        self.members[island].append(pid)  # ids arrive in increasing order: stays sorted
        key = (-fit, pid)
        # Archive: the global top archive_size.
        if len(self.archive) < self.archive_size or key < self.archive[-1]:
            bisect.insort(self.archive, key)
            bisect.insort(self.archive_by_island[island], pid)
            if len(self.archive) > self.archive_size:
                _, dropped = self.archive.pop()
                self.archive_by_island[int(self.island[dropped])].remove(dropped)
        # The island's tops.
        tops = self.tops[island]
        if len(tops) < TOP_TRACKED or key < tops[-1]:
            bisect.insort(tops, key)
            del tops[TOP_TRACKED:]
        # MAP-Elites: the cell's elite is its best program.
        cell = int(self.cell[pid])
        cells = self.cells[island]
        occupant = cells.get(cell)
        if occupant is None:
            cells[cell] = pid
            bisect.insort(self.cell_keys[island], cell)
        elif key < (-float(self.fitness[occupant]), occupant):
            cells[cell] = pid

    # ---- removing ---------------------------------------------------------------------------

    def leave(self, ids: list[int]) -> None:
        """Take programs out of the sampleable population (eviction)."""
        if not ids:
            return
        gone = np.asarray(ids, dtype=np.int64)
        self.live[gone] = False
        gone_set = set(ids)
        for island in sorted({int(self.island[i]) for i in ids}):
            current = np.frombuffer(self.members[island], dtype=np.int64)
            kept = current[self.live[current]]
            self.population -= len(current) - len(kept)
            self.members[island] = array("q", kept.tobytes())
            if any(pid in gone_set for _, pid in self.tops[island]):
                self.tops[island] = self.ranked(kept, TOP_TRACKED)
            cells = self.cells[island]
            for cell, occupant in list(cells.items()):
                if occupant in gone_set:
                    self._recompute_cell(island, cell, kept)
        if any(pid in gone_set for _, pid in self.archive):
            self.rebuild_archive()

    def clear_population(self) -> None:
        """Nobody is sampleable any more (re-initialisation); stored programs stay stored."""
        self.live[:] = False
        self.population = 0
        self.members = [array("q") for _ in range(self.num_islands)]
        self.archive = []
        self.archive_by_island = [[] for _ in range(self.num_islands)]
        self.tops = [[] for _ in range(self.num_islands)]
        self.cells = [{} for _ in range(self.num_islands)]
        self.cell_keys = [[] for _ in range(self.num_islands)]

    # ---- rebuilding -------------------------------------------------------------------------

    def ranked(self, ids: np.ndarray, k: int) -> list[Key]:
        """The best k of ``ids`` by (fitness desc, id asc)."""
        if len(ids) == 0:
            return []
        fit = self.fitness[ids]
        if len(ids) > 4 * k:
            part = np.argpartition(-fit, k - 1)[:k]
            # Ties at the boundary: take every id whose fitness equals the k-th best.
            cutoff = fit[part].min()
            candidates = ids[fit >= cutoff]
        else:
            candidates = ids
        cfit = self.fitness[candidates]
        order = np.lexsort((candidates, -cfit))[:k]
        return [(-float(cfit[i]), int(candidates[i])) for i in order]

    def _recompute_cell(self, island: int, cell: int, members: np.ndarray) -> None:
        in_cell = members[self.cell[members] == cell]
        ranked = self.ranked(in_cell, 1)
        if ranked:
            self.cells[island][cell] = ranked[0][1]
        else:
            del self.cells[island][cell]
            self.cell_keys[island].remove(cell)

    def rebuild_archive(self) -> None:
        live_ids = np.flatnonzero(self.live[: self.end])
        self.archive = self.ranked(live_ids, self.archive_size)
        self.archive_by_island = [[] for _ in range(self.num_islands)]
        for _, pid in self.archive:
            self.archive_by_island[int(self.island[pid])].append(pid)
        for ids in self.archive_by_island:
            ids.sort()

    def rebuild(self) -> None:
        """Recompute members, archive, tops and cells from the arrays (store reopen, reinit)."""
        end = self.end
        live_ids = np.flatnonzero(self.live[:end])
        islands = self.island[live_ids]
        for island in range(self.num_islands):
            ids = live_ids[islands == island]
            self.members[island] = array("q", ids.astype(np.int64).tobytes())
            self.tops[island] = self.ranked(ids, TOP_TRACKED)
            cells: dict[int, int] = {}
            if len(ids):
                cell = self.cell[ids]
                order = np.lexsort((ids, -self.fitness[ids], cell))
                sorted_cells = cell[order]
                _, first = np.unique(sorted_cells, return_index=True)
                for position in first:
                    cells[int(sorted_cells[position])] = int(ids[order[position]])
            self.cells[island] = cells
            self.cell_keys[island] = sorted(cells)
        self.population = len(live_ids)
        self.rebuild_archive()

    # ---- sampling helpers -------------------------------------------------------------------

    def uniform_island(self, island: int, rng: random.Random) -> int:
        members = self.members[island]
        return members[rng.randrange(len(members))]

    def uniform_all(self, rng: random.Random) -> int:
        position = rng.randrange(self.sampleable_count())
        for members in self.members:
            if position < len(members):
                return members[position]
            position -= len(members)
        raise AssertionError("unreachable: position beyond the population")

    def top(self, island: int, k: int) -> list[int]:
        if k <= TOP_TRACKED:
            return [pid for _, pid in self.tops[island][:k]]
        ids = np.frombuffer(self.members[island], dtype=np.int64)
        return [pid for _, pid in self.ranked(ids, k)]

    def top_fraction(self, island: int, fraction: float) -> list[int]:
        size = len(self.members[island])
        if size == 0:
            return []
        return self.top(island, max(1, int(fraction * size)))

    def worst(self, island: int, count: int, protect: int) -> list[int]:
        """The ``count`` lowest-ranked members of an island (never ``protect``)."""
        ids = np.frombuffer(self.members[island], dtype=np.int64)
        ids = ids[ids != protect]
        if count <= 0 or len(ids) == 0:
            return []
        order = np.lexsort((ids, self.fitness[ids]))[:count]
        return sorted(int(i) for i in ids[order])
