"""``ProgramDatabase``: islands, MAP-Elites cells and an elite archive over an SQLite store.

The rules, in one place:

* **Where a child goes.** On its parent's island, with generation = parent's + 1. A child
  with no parent (the initial program) goes on island 0; if it succeeded, every island that
  has no population yet gets a *seed* copy of it, so that all islands evolve from the start
  (otherwise every child would descend from island 0 and the other islands would stay
  empty, OpenEvolve issue #391's symptom).
* **Copies.** Seeds, migrants and re-initialisation copies are rows of their own (kind
  "seed", "migrant", "reinit") that point at their origin's code and texts. Sampling a copy
  puts the child on the copy's island. ``count()`` and ``outcome_counts()`` count proposals
  only (committed ChildDrafts), so run budgets are not inflated by copies.
* **Which island a draw is for.** Draw ``i`` of a ``sample_batch`` call is for island
  ``(commits + i) % num_islands``, where ``commits`` is the number of commits so far (the
  last ``commit_index``; the initial program's commit is 1): every island gets its share
  and the rotation moves on with every batch. An island with no population falls back to
  the whole population.
* **Parent sampling** (ThetaEvolve's ratios, arXiv 2511.23473, drawn as its OpenEvolve-based
  ``database.py`` ``_sample_parent`` does; docs/references.md, "Program database"): with
  probability ``exploration_ratio`` a uniform member of the island; with
  ``exploitation_ratio`` a uniform archive member on that island (the island's best if it
  has none); otherwise a uniform member of the whole population. Failures are never
  members. ``database.sampler`` swaps this rule: ``puct`` picks the batch's parents among
  the archive by TTT-Discover's PUCT score, no lineage twice (``puct.py``); ``initial``
  gives every draw the initial program and no inspirations or top programs (the best-of-N
  baseline). Either way the child goes on its parent's island.
* **Inspirations** come from the parent's island: elites of other MAP-Elites cells (diverse),
  then uniform members; **top programs** are the island's best, the parent excluded.
* **Migration** (ring): whenever the largest generation reached since the last migration is
  ``migration_interval`` beyond it, each island's top ``migration_fraction`` is copied to its
  ring neighbours, except where the neighbour already holds that program (or a copy).
* **Population cap.** After each commit, an island above ``population_size`` loses its
  lowest-ranked members (fitness, then age) until it fits; its best is never evicted.
  Evicted programs stay stored (and keep counting for ``contains_hash``).
* **Re-initialisation**, every ``reinit_every`` commits, or by ThetaEvolve's stagnation
  rule (``reinit_ratio`` > 0: the live population's best and second-lowest fitness are
  within that ratio of the best; no sooner than ``reinit_min_batches`` commits after the
  last one, and forced after ``reinit_max_batches``): the population is cleared and
  restarts from a copy of the initial program on every island plus the
  ``reinit_keep_best`` best programs ever found, dealt round-robin over the islands. These
  settings count commits (``commit_index``), not gym batches (``ProgramRecord.iteration``):
  with one initial program, commit ``k`` is gym batch ``k - 1``.

Reproducibility: sampling depends only on the rng and the store's contents (see index.py).
Cost: sampling and inserting are O(1) or O(log) in the store's size; eviction, migration and
top-k beyond 32 are vectorised passes over one island, bounded by ``population_size``.
Records handed out may be shared with the record cache: treat them as read-only.
"""

from __future__ import annotations

import copy
import json
import math
import random
import sqlite3
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from thetaevolve.config import DatabaseConfig
from thetaevolve.database.features import FeatureGrid
from thetaevolve.database.index import PopulationIndex, hash_key
from thetaevolve.database.persistence import (
    IndexColumns,
    Row,
    SQLiteStore,
    StoreError,
    damaged,
)
from thetaevolve.database.puct import PUCTState
from thetaevolve.database.records import ChildDraft, ParentSample, ProgramRecord
from thetaevolve.database.snapshot import DatabaseSnapshot, IndexSnapshot, PUCTSnapshot
from thetaevolve.types import Outcome

PROPOSAL, SEED, MIGRANT, REINIT = "proposal", "seed", "migrant", "reinit"

# Config values the store's layout depends on: changing them on resume would misplace
# every stored program, so a mismatch is an error rather than a silent reinterpretation.
_FIXED_FIELDS = ("num_islands", "feature_dimensions", "feature_bins")


class EmptyDatabaseError(LookupError):
    """Nothing can be sampled: no successful program is in the population."""


class ProgramDatabase:
    """See the module docstring for the rules; ``thetaevolve.database`` for the API."""

    def __init__(self, store: SQLiteStore, config: DatabaseConfig) -> None:
        self._store = store
        self.config = config
        self.path = store.path
        self._lock = threading.RLock()
        self._index = PopulationIndex(config.num_islands, config.archive_size)
        self._meta: dict[str, Any] = {}
        self._outcomes: Counter[str] = Counter()
        self._proposals = 0
        self._max_iteration = -1
        self._best_id: int | None = None
        self._initial_id: int | None = None
        # Origins present on each island through copies, so a migrant is not copied twice.
        self._copied: list[set[int]] = [set() for _ in range(config.num_islands)]
        self._origin_of: dict[int, int] = {}  # copy id -> origin id (copies only)
        self._state: dict[str, Any] = {}
        self._pending: dict[int, Row] = {}  # proposals of the commit in progress
        self._cache: OrderedDict[int, ProgramRecord] = OrderedDict()  # LRU of stored records
        self._grid = FeatureGrid(config.feature_dimensions, config.feature_bins, {})
        # Visits and best children per program, kept only when parents are chosen by PUCT.
        self._puct: PUCTState | None = None

    # ---- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls, path: str | Path, config: DatabaseConfig | None = None, *, read_only: bool = False
    ) -> "ProgramDatabase":
        """Create the store at ``path`` or reopen it, rebuilding the index from its rows.

        One writer per store (a second one gets StoreError). ``read_only=True`` opens a
        snapshot of the index for looking (e.g. ``show`` on a live run): no lock is taken
        and commit/set_meta raise StoreError.
        """
        config = config or DatabaseConfig()
        store = SQLiteStore.open(path, read_only=read_only)
        db = cls(store, config)
        try:
            db._load()
        except sqlite3.DatabaseError as exc:
            store.close()
            raise damaged(store.path, exc) from exc
        except BaseException:
            store.close()
            raise
        return db

    def _load(self) -> None:
        store, config, index = self._store, self.config, self._index
        self._meta = store.read_table("meta")
        state = store.read_table("state")
        fixed = {name: getattr(config, name) for name in _FIXED_FIELDS}
        if "config" in state:
            for name, value in fixed.items():
                if state["config"].get(name) != value:
                    raise StoreError(
                        f"{self.path} was created with database.{name}="
                        f"{state['config'].get(name)!r}, the config now says {value!r}. "
                        f"Resume with database.{name}={state['config'].get(name)!r}, or start "
                        "a new run directory."
                    )
        else:
            state["config"] = fixed
        state.setdefault("commits", 0)
        state.setdefault("boundary", 1)  # ids below it were retired by a re-initialisation
        state.setdefault("migrated_at", 0)  # the generation of the last migration
        state.setdefault("max_generation", 0)  # since the last re-initialisation
        state.setdefault("ranges", {})
        self._state = state
        self._grid = FeatureGrid(config.feature_dimensions, config.feature_bins, state["ranges"])

        self._load_rows(state["boundary"])
        index.rebuild()
        if config.sampler == "puct" and not store.read_only:  # readers (show) never sample
            self._puct = PUCTState.from_rows(store.lineage_rows())

    def _load_rows(self, boundary: int) -> None:
        """Fill the index from the store's small columns, in chunks (10^6 rows: seconds)."""
        index, store = self._index, self._store
        end = store.max_id() + 1
        index.ensure(end)
        index.end = max(end, 1)
        best_fit = -math.inf
        for chunk in store.index_columns():
            pid = np.array(chunk.id, dtype=np.int64)
            fit = np.array([np.nan if f is None else f for f in chunk.ok_fitness],
                           dtype=np.float64)
            index.island[pid] = chunk.island
            index.fitness[pid] = fit
            index.cell[pid] = chunk.cell
            index.generation[pid] = chunk.generation
            index.live[pid] = ~np.isnan(fit) & (pid >= boundary)
            index.hashes.update(chunk.hash_key)
            is_proposal = np.array(chunk.is_proposal, dtype=np.bool_)
            self._count_proposals(chunk, is_proposal)
            if self._initial_id is None:
                self._initial_id = _first_initial(chunk)
            for i in np.flatnonzero(~is_proposal).tolist():
                self._origin_of[chunk.id[i]] = chunk.origin_id[i]
            if not np.all(np.isnan(fit)):
                position = int(np.nanargmax(fit))
                if fit[position] > best_fit:  # strictly: the earliest best wins ties
                    best_fit, self._best_id = float(fit[position]), chunk.id[position]
        evicted = store.evicted_ids()
        if evicted:
            index.live[np.asarray(evicted, dtype=np.int64)] = False
        for copy_id, origin in self._origin_of.items():
            if index.live[copy_id]:
                self._copied[int(index.island[copy_id])].add(origin)

    def _count_proposals(self, chunk: IndexColumns, is_proposal: np.ndarray) -> None:
        """The proposal counters (count, outcomes, largest iteration) of one chunk."""
        self._proposals += int(is_proposal.sum())
        self._outcomes.update(o for o, p in zip(chunk.outcome, chunk.is_proposal) if p)
        if is_proposal.any():
            top = int(np.array(chunk.iteration, dtype=np.int64)[is_proposal].max())
            self._max_iteration = max(self._max_iteration, top)

    # ---- reading ----------------------------------------------------------------------------

    def count(self) -> int:
        """Committed proposals (ChildDrafts), failures included; database copies excluded."""
        return self._proposals

    def outcome_counts(self) -> dict[str, int]:
        return dict(self._outcomes)

    def max_iteration(self) -> int:
        return self._max_iteration

    def population_count(self) -> int:
        """Programs that can be sampled as parents now (copies included)."""
        return self._index.sampleable_count()

    def index_nbytes(self) -> int:
        """Bytes the in-memory index holds, by its own count (benchmarks/database.py reports
        it beside a tracemalloc measurement)."""
        return self._index.nbytes()

    def island_sizes(self) -> list[int]:
        return [len(m) for m in self._index.members]

    def archive_ids(self) -> list[int]:
        return [pid for _, pid in self._index.archive]

    def contains_hash(self, code_hash: str) -> bool:
        """O(1): a 60-bit key in memory, confirmed against the store on a hit."""
        key = hash_key(code_hash)
        if key not in self._index.hashes:
            return False
        with self._lock:
            return self._store.has_hash(key, code_hash)

    def get(self, program_id: int) -> ProgramRecord:
        with self._lock:
            found = self._records([program_id])
        if program_id not in found:
            raise KeyError(f"no program with id {program_id} in {self.path}")
        return found[program_id]

    def best(self) -> ProgramRecord | None:
        """The best successful program ever stored (evicted or retired ones included)."""
        return None if self._best_id is None else self.get(self._best_id)

    def lineage(self, program_id: int) -> list[ProgramRecord]:
        """The chain from the root ancestor down to ``program_id`` (copies included)."""
        chain: list[ProgramRecord] = []
        current: int | None = program_id
        while current is not None:
            record = self.get(current)
            chain.append(record)
            current = record.parent_id
        chain.reverse()
        return chain

    def initial(self) -> ProgramRecord | None:
        """The run's initial program (the first successful root proposal)."""
        return None if self._initial_id is None else self.get(self._initial_id)

    def proposal_scores(self) -> list[float | None]:
        """Every proposal's raw score (None for failures) in id order: plots read this
        column alone instead of whole records."""
        with self._lock:
            return list(self._store.proposal_scores())

    def iter_programs(self, include_copies: bool = True) -> Iterator[ProgramRecord]:
        """Every stored program in id order (read in pages, never all at once)."""
        for record in self._store.iter_records():
            if include_copies or record.kind == PROPOSAL:
                yield record

    def get_meta(self, key: str, default: Any = None) -> Any:
        """A value written with set_meta or commit(meta=...); a copy, so edits stay local."""
        return copy.deepcopy(self._meta[key]) if key in self._meta else default

    def set_meta(self, key: str, value: Any) -> None:
        self._check_writable()
        self._check_meta({key: value})
        with self._lock:
            self._store.write((), meta={key: value})
            self._meta[key] = value

    def debug_snapshot(self) -> DatabaseSnapshot:
        """Everything sampling depends on, as one comparable value (see snapshot.py): a
        live database and the same store reopened give equal snapshots."""
        with self._lock:
            index = self._index
            return DatabaseSnapshot(
                index=IndexSnapshot.of(index),
                copied=tuple(tuple(sorted(s)) for s in self._copied),
                state=copy.deepcopy(self._state),
                best_id=self._best_id,
                count=self.count(),
                outcome_counts=self.outcome_counts(),
                max_iteration=self.max_iteration(),
                evicted=tuple(self._store.evicted_ids()),
                puct=None if self._puct is None else PUCTSnapshot.of(self._puct, index.end),
                cached_records=len(self._cache),
            )

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def __enter__(self) -> "ProgramDatabase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sampling ---------------------------------------------------------------------------

    def sample_batch(
        self,
        count: int,
        rng: random.Random,
        num_inspirations: int = 0,
        num_top: int = 0,
    ) -> list[ParentSample]:
        """``count`` parents (plus inspirations and top programs) from the current state."""
        if count < 0 or num_inspirations < 0 or num_top < 0:
            raise ValueError("sample_batch: count, num_inspirations and num_top must be >= 0")
        if count == 0:
            return []
        with self._lock:
            index = self._index
            if index.sampleable_count() == 0:
                raise EmptyDatabaseError(
                    f"no program in {self.path} can be a parent: commit a successful initial "
                    "program first (failed programs are never sampled)"
                )
            plan: list[tuple[int, int, list[int], list[int]]] = []
            chosen = self._chosen_parents(count)
            if chosen is not None and self.config.sampler == "initial":
                # Best-of-N: no other program may reach the prompt (no database feedback).
                num_inspirations = num_top = 0
            for draw in range(count):
                island = (self._state["commits"] + draw) % self.config.num_islands
                parent = chosen[draw] if chosen is not None else self._draw_parent(island, rng)
                home = int(index.island[parent])
                if chosen is not None:
                    island = home  # the island the child goes to
                inspirations = self._inspirations(home, parent, num_inspirations, rng)
                tops = [p for p in index.top(home, num_top + 1) if p != parent][:num_top]
                plan.append((island, parent, inspirations, tops))
            wanted = [p for _, parent, ins, tops in plan for p in (parent, *ins, *tops)]
            records = self._records(wanted)
        return [
            ParentSample(
                parent=records[parent],
                inspirations=tuple(records[p] for p in ins),
                top_programs=tuple(records[p] for p in tops),
                island=island,
            )
            for island, parent, ins, tops in plan
        ]

    def _records(self, ids: Sequence[int]) -> dict[int, ProgramRecord]:
        """Records by id, from the LRU cache where possible (stored records never change)."""
        cache, size = self._cache, self.config.record_cache_size
        out: dict[int, ProgramRecord] = {}
        missing = []
        for pid in ids:
            record = cache.get(pid)
            if record is None:
                missing.append(pid)
            else:
                cache.move_to_end(pid)
                out[pid] = record
        if missing:
            found = self._store.records(missing)
            out.update(found)
            if size:
                for pid, record in found.items():
                    cache[pid] = record
                while len(cache) > size:
                    cache.popitem(last=False)
        return out

    def _chosen_parents(self, count: int) -> list[int] | None:
        """The batch's parents for the samplers that choose them all at once (None: islands)."""
        sampler = self.config.sampler
        if sampler == "islands":
            return None
        if sampler == "initial":
            if self._initial_id is None:
                raise EmptyDatabaseError(
                    f"{self.path} has no successful initial program; database.sampler=initial "
                    "samples only that program"
                )
            return [self._initial_id] * count
        if self._puct is None:  # the sampler was switched on an open database
            self._puct = PUCTState.from_rows(self._store.lineage_rows())
        members = [pid for _, pid in self._index.archive]
        return self._puct.select(members, self._index.fitness, count, self.config.puct_c)

    def _draw_parent(self, island: int, rng: random.Random) -> int:
        index, config = self._index, self.config
        u = rng.random()
        if not index.members[island]:
            return index.uniform_all(rng)
        if u < config.exploration_ratio:
            return index.uniform_island(island, rng)
        if u < config.exploration_ratio + config.exploitation_ratio:
            elites = index.archive_by_island[island]
            if elites:
                return elites[rng.randrange(len(elites))]
            return index.tops[island][0][1]
        return index.uniform_all(rng)

    def _inspirations(self, island: int, parent: int, k: int, rng: random.Random) -> list[int]:
        if k == 0:
            return []
        index = self._index
        cells, keys = index.cells[island], index.cell_keys[island]
        # One cell more than needed, in case one of them is the parent's: O(k), not O(cells).
        picks = rng.sample(keys, min(k + 1, len(keys)))
        chosen = [cells[c] for c in picks if cells[c] != parent][:k]
        members = index.members[island]
        # Few cells occupied: fill up with uniform members (bounded tries, no duplicates).
        tries = 0
        while len(chosen) < k and tries < 4 * k and len(members) > len(chosen) + 1:
            pid = members[rng.randrange(len(members))]
            tries += 1
            if pid != parent and pid not in chosen:
                chosen.append(pid)
        return chosen

    # ---- committing -------------------------------------------------------------------------

    def commit(
        self, children: Sequence[ChildDraft], meta: dict[str, Any] | None = None
    ) -> list[ProgramRecord]:
        """Store a batch in one transaction; returns the stored records in input order.

        The database's own consequences of the batch (island seeds, migration, evictions,
        re-initialisation) and ``meta`` land in the same transaction.
        """
        self._check_writable()
        if meta:
            self._check_meta(meta)
        with self._lock:
            for child in children:
                self._check_child(child)
            try:
                rows, evictions = self._apply(children)
                self._store.write(rows, evictions, state=self._state_snapshot(), meta=meta)
            except BaseException:
                # The index may hold changes the store refused: rebuild it from the store.
                self._reload()
                raise
            if meta:
                self._meta.update(meta)
        return [_record_of(row, child) for row, child in zip(rows, children)]

    def _check_child(self, child: ChildDraft) -> None:
        if not isinstance(child, ChildDraft):
            raise TypeError(f"commit expects ChildDraft objects, got {type(child).__name__}")
        if child.parent_id is not None and not (
            0 < child.parent_id < self._index.end and self._index.island[child.parent_id] >= 0
        ):
            raise ValueError(f"ChildDraft.parent_id {child.parent_id} is not a stored program")
        if child.outcome is Outcome.OK and (
            child.fitness is None or not math.isfinite(child.fitness)
        ):
            raise ValueError(
                f"a ChildDraft with outcome ok needs a finite fitness, got {child.fitness!r}"
            )

    def _check_writable(self) -> None:
        if self._store.read_only:
            raise StoreError(f"{self.path} was opened read-only; nothing can be written")

    @staticmethod
    def _check_meta(meta: dict[str, Any]) -> None:
        try:
            json.dumps(meta)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"meta values must be JSON-serialisable: {exc}") from None

    def _state_snapshot(self) -> dict[str, Any]:
        self._state["ranges"] = self._grid.state()
        return dict(self._state)

    def _reload(self) -> None:
        fresh = ProgramDatabase(self._store, self.config)
        fresh._load()
        self.__dict__.update({k: v for k, v in fresh.__dict__.items() if k != "_lock"})

    def _apply(self, children: Sequence[ChildDraft]) -> tuple[list[Row], list[tuple[int, int]]]:
        """Update the index for the batch and return the rows and evictions to write."""
        index, state = self._index, self._state
        state["commits"] += 1
        commit_index = state["commits"]  # this commit's number: 1 for the initial program
        now = time.time()
        self._pending = {}
        rows = [self._add_proposal(child, commit_index, now) for child in children]
        seeds = [row.id for row, child in zip(rows, children)
                 if child.parent_id is None and child.outcome is Outcome.OK]
        for origin in seeds:
            for island in range(self.config.num_islands):
                if not index.members[island]:
                    rows.append(self._copy(origin, island, SEED, commit_index, now))
        rows.extend(self._migrate(commit_index, now))
        evictions = self._evict(commit_index)
        rows.extend(self._maybe_reinit(commit_index, now))
        return rows, evictions

    def _add_proposal(self, child: ChildDraft, commit_index: int, now: float) -> Row:
        """Place one committed child in the index and the counters; returns its row."""
        index, state = self._index, self._state
        pid = index.end
        if child.parent_id is None:
            island, generation = 0, 0
        else:
            island = int(index.island[child.parent_id])
            generation = int(index.generation[child.parent_id]) + 1
        # _check_child made sure that an ok child has a finite fitness; failures rank nowhere.
        fitness = child.fitness if child.outcome is Outcome.OK else None
        cell = -1 if fitness is None else self._grid.cell(fitness, child.code, child.metrics)
        key = hash_key(child.code_hash)
        row = Row(
            id=pid, parent_id=child.parent_id, origin_id=pid, kind=PROPOSAL, island=island,
            generation=generation, iteration=child.iteration, commit_index=commit_index,
            outcome=child.outcome.value, score=child.score, fitness=child.fitness,
            reward=float(child.reward), cell=cell, hash_key=key, code_hash=child.code_hash,
            created_at=now, code=child.code, metrics=json.dumps(child.metrics),
            prompt=child.prompt, response=child.response, detail=child.detail,
        )
        self._pending[pid] = row
        index.add(pid, island, fitness, cell, generation, key, fitness is not None)
        if self._puct is not None:
            self._puct.add_proposal(pid, child.parent_id, fitness)
        self._proposals += 1
        self._outcomes[child.outcome.value] += 1
        self._max_iteration = max(self._max_iteration, child.iteration)
        if fitness is not None:
            state["max_generation"] = max(state["max_generation"], generation)
            if self._best_id is None or fitness > index.fitness[self._best_id]:
                self._best_id = pid
            if child.parent_id is None and self._initial_id is None:
                self._initial_id = pid
        return row

    def _copy(self, origin: int, island: int, kind: str, commit_index: int, now: float,
              generation: int | None = None) -> Row:
        """A copy of ``origin`` on ``island`` (one more row pointing at the origin's texts)."""
        index = self._index
        origin = self._origin_of.get(origin, origin)
        source: Row | ProgramRecord | None = self._pending.get(origin)
        if source is None:
            source = self._records([origin]).get(origin)
        if source is None:
            raise StoreError(f"{self.path}: program {origin} to copy is missing from the store")
        outcome = source.outcome if isinstance(source, Row) else source.outcome.value
        pid = index.end
        gen = int(index.generation[origin]) if generation is None else generation
        key = hash_key(source.code_hash)
        index.add(pid, island, float(index.fitness[origin]), int(index.cell[origin]), gen, key,
                  True)
        if self._puct is not None:
            self._puct.add_copy(pid, origin)
        self._origin_of[pid] = origin
        self._copied[island].add(origin)
        return Row(
            id=pid, parent_id=origin, origin_id=origin, kind=kind, island=island,
            generation=gen, iteration=source.iteration, commit_index=commit_index,
            outcome=outcome, score=source.score, fitness=source.fitness, reward=source.reward,
            cell=int(index.cell[origin]), hash_key=key, code_hash=source.code_hash,
            created_at=now,
        )

    def _migrate(self, commit_index: int, now: float) -> list[Row]:
        config, state, index = self.config, self._state, self._index
        n = config.num_islands
        if (config.migration_interval == 0 or n < 2
                or state["max_generation"] - state["migrated_at"] < config.migration_interval):
            return []
        state["migrated_at"] = state["max_generation"]
        # Choose every island's emigrants first, so a migrant never travels twice in one round.
        emigrants = [index.top_fraction(i, config.migration_fraction) for i in range(n)]
        rows: list[Row] = []
        for source, chosen in enumerate(emigrants):
            for target in sorted({(source - 1) % n, (source + 1) % n} - {source}):
                for pid in chosen:
                    origin = self._origin_of.get(pid, pid)
                    home = int(index.island[origin])
                    if (home == target and index.live[origin]) or origin in self._copied[target]:
                        continue
                    rows.append(self._copy(pid, target, MIGRANT, commit_index, now))
        return rows

    def _evict(self, commit_index: int) -> list[tuple[int, int]]:
        index, cap = self._index, self.config.population_size
        gone: list[int] = []
        for island in range(self.config.num_islands):
            excess = len(index.members[island]) - cap
            if excess > 0:
                best = index.tops[island][0][1]
                gone.extend(index.worst(island, excess, protect=best))
        if gone:
            index.leave(gone)
            for pid in gone:
                origin = self._origin_of.get(pid)
                if origin is not None:
                    self._copied[int(index.island[pid])].discard(origin)
        return [(pid, commit_index) for pid in sorted(gone)]

    def _reinit_due(self, commit_index: int) -> bool:
        """The periodic rule (``reinit_every``) or ThetaEvolve's stagnation rule.

        Both count commits (``commit_index``: the initial program's commit is 1, and every
        gym batch is one commit), not the gym's batch index ``ProgramRecord.iteration``:
        ``reinit_every=k`` re-initialises in commits k, 2k, ... (the copies land in that
        commit's transaction), which with one initial program are gym batches k - 1,
        2k - 1, ...; ``reinit_min_batches`` and ``reinit_max_batches`` are commits since
        the last re-initialisation.
        """
        config, index = self.config, self._index
        if config.reinit_every and commit_index % config.reinit_every == 0:
            return True
        if config.reinit_ratio <= 0:
            return False
        since = commit_index - int(self._state.get("reinit_batch", 0))
        if since < config.reinit_min_batches:
            return False
        if config.reinit_max_batches and since >= config.reinit_max_batches:
            return True
        live = np.flatnonzero(index.live[: index.end])
        return _stagnated(index.fitness[live], config.reinit_ratio)

    def _maybe_reinit(self, commit_index: int, now: float) -> list[Row]:
        config, index, state = self.config, self._index, self._state
        if self._initial_id is None or not self._reinit_due(commit_index):
            return []
        state["reinit_batch"] = commit_index  # a commit index, under its stored key name
        # The best proposals ever found (copies share their origin's fitness, so they are
        # left out), the initial program excluded: it comes back on every island anyway.
        ok_ids = np.flatnonzero(~np.isnan(index.fitness[: index.end]))
        copies = np.fromiter(self._origin_of, dtype=np.int64, count=len(self._origin_of))
        originals = ok_ids[~np.isin(ok_ids, copies)]
        ranked = index.ranked(originals, config.reinit_keep_best + 1)
        keep = [pid for _, pid in ranked if pid != self._initial_id][: config.reinit_keep_best]
        index.clear_population()
        self._copied = [set() for _ in range(config.num_islands)]
        state["boundary"] = index.end
        state["migrated_at"] = 0
        state["max_generation"] = 0
        rows = [self._copy(self._initial_id, i, REINIT, commit_index, now, generation=0)
                for i in range(config.num_islands)]
        for position, pid in enumerate(keep):
            island = position % config.num_islands
            rows.append(self._copy(pid, island, REINIT, commit_index, now, generation=0))
        return rows


def _first_initial(chunk: IndexColumns) -> int | None:
    """The first successful root proposal of a chunk (the run's initial program), if any."""
    for pid, proposal, root, fitness in zip(chunk.id, chunk.is_proposal, chunk.is_root,
                                            chunk.ok_fitness):
        if proposal and root and fitness is not None:
            return pid
    return None


def _stagnated(fitness: np.ndarray, ratio: float) -> bool:
    """ThetaEvolve's convergence test: the best and the second-lowest fitness of the live
    population (the lowest when there are only two) are within ``ratio`` of the best."""
    ranked = np.sort(fitness[~np.isnan(fitness)])
    if len(ranked) < 2:
        return False
    best = float(ranked[-1])
    compare = float(ranked[1] if len(ranked) > 2 else ranked[0])
    if abs(best) < 1e-9:
        return False
    return abs(best - compare) / abs(best) < ratio


def _record_of(row: Row, child: ChildDraft) -> ProgramRecord:
    """The record a proposal row stores, built without reading it back."""
    return ProgramRecord(
        id=row.id, parent_id=row.parent_id, island=row.island, generation=row.generation,
        iteration=row.iteration, code=child.code, code_hash=child.code_hash,
        outcome=child.outcome, score=child.score, fitness=child.fitness, reward=row.reward,
        metrics=dict(child.metrics), prompt=child.prompt, response=child.response,
        detail=child.detail, created_at=row.created_at,
    )
