"""Invariants of the program database (islands, archive, cells, migration, eviction, reinit)."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from helpers import db_config, draft, evolve, fresh, reopen
from thetaevolve.database import EmptyDatabaseError, ProgramDatabase, ProgramStore
from thetaevolve.database.persistence import SQLiteStore
from thetaevolve.types import Outcome


# ---- placement ----------------------------------------------------------------------------


def test_initial_program_seeds_every_island(tmp_path: Path) -> None:
    db = fresh(tmp_path)
    assert db.island_sizes() == [1, 1, 1]
    assert db.count() == 1  # seeds are copies, not proposals
    seeds = [r for r in db.iter_programs() if r.kind == "seed"]
    assert sorted(r.island for r in seeds) == [1, 2]
    assert all(r.origin_id == 1 and r.parent_id == 1 and r.code == db.get(1).code for r in seeds)
    # Drawing for island 2 with only its seed gives that seed, whose children land there.
    (sample,) = [s for s in db.sample_batch(3, random.Random(0)) if s.island == 2]
    assert sample.parent.island == 2


def test_children_land_on_their_parents_island(tmp_path: Path) -> None:
    db = fresh(tmp_path, migration_interval=2, population_size=15)
    records = evolve(db, 30)
    assert records
    for record in records:
        parent = db.get(record.parent_id)
        assert record.island == parent.island
        assert record.generation == parent.generation + 1
    ids = [r.id for r in db.iter_programs()]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_bad_drafts_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    db = fresh(tmp_path)
    before = db.debug_snapshot()
    with pytest.raises(ValueError, match="parent_id 999"):
        db.commit([draft(1, 2.0), draft(999, 1.0)])
    with pytest.raises(ValueError, match="finite fitness"):
        db.commit([draft(1, float("nan"))])
    with pytest.raises(ValueError, match="JSON"):
        db.commit([draft(1, 2.0)], meta={"x": object()})
    assert db.debug_snapshot() == before
    assert reopen(db).debug_snapshot() == before


def test_failed_write_leaves_store_and_index_consistent(tmp_path: Path, monkeypatch) -> None:
    db = fresh(tmp_path)
    evolve(db, 3)
    before = db.debug_snapshot()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    with monkeypatch.context() as patch:
        patch.setattr(SQLiteStore, "write", broken)
        with pytest.raises(OSError):
            db.commit([draft(1, 5.0, 9)])
    assert db.debug_snapshot() == before


# ---- failures -----------------------------------------------------------------------------


def test_failures_are_stored_but_never_sampled_or_ranked(tmp_path: Path) -> None:
    db = fresh(tmp_path)
    failed = db.commit([draft(1, None, 1, f"f{k}", Outcome.TIMEOUT) for k in range(20)])
    assert db.count() == 21
    assert db.outcome_counts() == {"ok": 1, "timeout": 20}
    assert all(db.get(r.id).outcome is Outcome.TIMEOUT for r in failed)
    failed_ids = {r.id for r in failed}
    for sample in db.sample_batch(200, random.Random(1), num_inspirations=3, num_top=3):
        chosen = {sample.parent.id} | {r.id for r in sample.inspirations + sample.top_programs}
        assert not chosen & failed_ids
    ix = db.debug_snapshot().index
    assert not failed_ids & set(db.archive_ids())
    assert not failed_ids & {p for cells in ix.cells for p in cells.values()}
    assert db.best().id == 1
    assert db.contains_hash(failed[0].code_hash)  # failures still count as stored code


def test_only_failures_means_nothing_to_sample(tmp_path: Path) -> None:
    db = ProgramDatabase.open(tmp_path / "p.sqlite", db_config())
    db.commit([draft(None, None, 0, "x", Outcome.CRASH)])
    with pytest.raises(EmptyDatabaseError, match="no program"):
        db.sample_batch(1, random.Random(0))
    assert db.best() is None


# ---- sampling -----------------------------------------------------------------------------


def test_sampling_is_reproducible_and_survives_reopen(tmp_path: Path) -> None:
    db = fresh(tmp_path, migration_interval=3, population_size=12, reinit_every=0)
    evolve(db, 25)

    def draws(d: ProgramDatabase) -> list:
        return [
            (s.island, s.parent.id, [r.id for r in s.inspirations], [r.id for r in s.top_programs])
            for s in d.sample_batch(40, random.Random(7), num_inspirations=3, num_top=4)
        ]

    first = draws(db)
    assert first == draws(db)
    assert draws(db) != [
        (s.island, s.parent.id, [r.id for r in s.inspirations], [r.id for r in s.top_programs])
        for s in db.sample_batch(40, random.Random(8), num_inspirations=3, num_top=4)
    ]
    db = reopen(db)
    assert draws(db) == first


def test_rebuilt_index_equals_live_index(tmp_path: Path) -> None:
    """Incremental updates (join, evict, migrate, reinit) match a rebuild from the store."""
    db = fresh(tmp_path, migration_interval=2, population_size=10, archive_size=5,
               reinit_every=17, reinit_keep_best=2, feature_dimensions=["score", "code_length"])
    for round_ in range(4):
        evolve(db, 9, seed=round_)
        live = db.debug_snapshot()
        db = reopen(db)
        assert db.debug_snapshot() == live


def test_sampling_ratios_hold(tmp_path: Path) -> None:
    # Island 0 and island 1 hold 50 programs each; the archive holds only the global best
    # (on island 0). For a draw on island 0, the best comes back with probability
    # 0.2/50 (exploration) + 0.6 (exploitation) + 0.2/100 (everything) = 0.606, and the
    # parent lies on island 1 with probability 0.2 * 50/100 = 0.1. Island 1 has no archive
    # member, so its exploitation falls back to its own best: the same numbers.
    db = ProgramDatabase.open(tmp_path / "p.sqlite", db_config(num_islands=2, archive_size=1))
    (root,) = db.commit([draft(None, 1.0, 0)])
    seed_id = next(r.id for r in db.iter_programs() if r.kind == "seed")
    kids = [draft(root.id, 2.0 + k, 1, f"a{k}") for k in range(49)]
    kids += [draft(seed_id, 1.5 + k / 100, 1, f"b{k}") for k in range(49)]
    db.commit(kids)
    assert db.island_sizes() == [50, 50]
    best = [db.debug_snapshot().index.tops[i][0][1] for i in range(2)]
    assert db.archive_ids() == [best[0]]
    n = 4000
    rng = random.Random(3)
    got = {0: Counter(), 1: Counter()}
    for sample in db.sample_batch(2 * n, rng):
        parent = sample.parent
        got[sample.island]["best"] += parent.id == best[sample.island]
        got[sample.island]["other island"] += parent.island != sample.island
    for island in (0, 1):
        assert abs(got[island]["best"] / n - 0.606) < 0.04
        assert abs(got[island]["other island"] / n - 0.1) < 0.03


def test_draws_rotate_over_islands(tmp_path: Path) -> None:
    db = fresh(tmp_path, num_islands=4)
    islands = [s.island for s in db.sample_batch(8, random.Random(0))]
    assert islands == [1, 2, 3, 0, 1, 2, 3, 0]  # one commit so far: the rotation moved by one
    db.commit([draft(1, 2.0)])
    assert [s.island for s in db.sample_batch(4, random.Random(0))] == [2, 3, 0, 1]


def test_inspirations_and_tops_come_from_the_parents_island(tmp_path: Path) -> None:
    db = fresh(tmp_path, migration_interval=0)
    evolve(db, 20, fail_rate=0.0)
    for sample in db.sample_batch(60, random.Random(5), num_inspirations=3, num_top=3):
        island = sample.parent.island
        others = sample.inspirations + sample.top_programs
        assert all(r.island == island and r.id != sample.parent.id for r in others)
        assert len({r.id for r in sample.inspirations}) == len(sample.inspirations)
        tops = [r.fitness for r in sample.top_programs]
        assert tops == sorted(tops, reverse=True)


# ---- archive, cells, eviction, migration, reinit ---------------------------------------------


def test_archive_is_the_global_top(tmp_path: Path) -> None:
    db = fresh(tmp_path, archive_size=8, population_size=10**6)
    evolve(db, 15, fail_rate=0.3)
    ok = [r for r in db.iter_programs() if r.outcome is Outcome.OK]
    expected = sorted(ok, key=lambda r: (-r.fitness, r.id))[:8]
    assert db.archive_ids() == [r.id for r in expected]


def test_cells_hold_their_best_member(tmp_path: Path) -> None:
    db = fresh(tmp_path, feature_dimensions=["score", "depth"], feature_bins=3)
    rng = random.Random(0)
    for it in range(1, 8):
        samples = db.sample_batch(6, rng)
        db.commit([draft(s.parent.id, rng.uniform(0, 10), it, str(k),
                         metrics={"depth": rng.randint(0, 5)}) for k, s in enumerate(samples)])
    ix = db.debug_snapshot().index
    stored = {r.id: r for r in db.iter_programs()}
    for island in range(3):
        members = list(ix.members[island])
        for cell, elite in ix.cells[island].items():
            in_cell = [p for p in members if ix.cell[p] == cell]
            best = min(in_cell, key=lambda p: (-stored[p].fitness, p))
            assert elite == best
    assert len({int(ix.cell[p]) for m in ix.members for p in m}) > 1


def test_population_cap_never_evicts_an_islands_best(tmp_path: Path) -> None:
    db = fresh(tmp_path, population_size=10, num_islands=2)
    best_seen = [None, None]
    rng = random.Random(4)
    for it in range(1, 40):
        samples = db.sample_batch(5, rng)
        # A few very bad children and, now and then, a very good one.
        db.commit([draft(s.parent.id, rng.choice([-100.0, rng.gauss(0, 1), 50.0 + it]), it, str(k))
                   for k, s in enumerate(samples)])
        index = db.debug_snapshot().index
        for island in range(2):
            top = index.tops[island][0]
            if best_seen[island] is None or top < best_seen[island]:
                best_seen[island] = top
            assert index.tops[island][0] == best_seen[island]  # the best is still there
            assert len(index.members[island]) <= 10
    evicted = len(db.debug_snapshot().evicted)
    assert evicted > 0
    assert db.count() == 1 + 39 * 5  # evicted programs stay stored
    assert db.best().fitness == max(-best_seen[0][0], -best_seen[1][0])


def test_eviction_among_ties_keeps_the_islands_best(tmp_path: Path) -> None:
    # All equal: the best is the oldest (fitness, then age), which is also the first
    # candidate for eviction (lowest fitness, then oldest), so only the guard saves it.
    db = fresh(tmp_path, population_size=10, num_islands=1)
    db.commit([draft(1, 1.0, 1, str(k)) for k in range(15)])
    index = db.debug_snapshot().index
    assert list(index.members[0])[0] == 1
    assert len(index.members[0]) == 10
    assert index.tops[0][0] == (-1.0, 1)


def test_migration_copies_elites_to_ring_neighbours(tmp_path: Path) -> None:
    db = fresh(tmp_path, num_islands=4, migration_interval=3, migration_fraction=0.25)
    evolve(db, 12, fail_rate=0.0)
    migrants = [r for r in db.iter_programs() if r.kind == "migrant"]
    assert migrants
    for m in migrants:
        origin = db.get(m.origin_id)
        assert origin.kind == "proposal" and m.parent_id == m.origin_id
        assert m.code == origin.code and m.fitness == origin.fitness
        # A neighbour of the island the emigrant was on (the origin or one of its copies).
        homes = {origin.island} | {r.island for r in db.iter_programs()
                                   if r.origin_id == origin.id and r.id < m.id}
        assert any((h - m.island) % 4 in (1, 3) for h in homes)
    # Each island held at most one copy of one origin (no repeated migrants).
    seen = Counter((m.island, m.origin_id) for m in migrants)
    assert max(seen.values()) == 1


def test_migration_happens_at_the_interval(tmp_path: Path) -> None:
    db = fresh(tmp_path, num_islands=2, migration_interval=2, migration_fraction=0.5)
    (a,) = db.commit([draft(1, 3.0, 1, "a")])  # generation 1: no migration yet
    assert not [r for r in db.iter_programs() if r.kind == "migrant"]
    (b,) = db.commit([draft(a.id, 4.0, 2, "b")])  # generation 2: migrate
    migrants = [r for r in db.iter_programs() if r.kind == "migrant"]
    assert {(m.origin_id, m.island) for m in migrants} == {(b.id, 1)}
    assert db.debug_snapshot().state["migrated_at"] == 2


def test_reinit_restarts_from_initial_and_best(tmp_path: Path) -> None:
    db = fresh(tmp_path, reinit_every=6, reinit_keep_best=2)
    evolve(db, 4, fail_rate=0.0)  # commits 2..5
    assert not [r for r in db.iter_programs() if r.kind == "reinit"]
    evolve(db, 1, seed=9, fail_rate=0.0)  # commit 6: reinit after it
    ok = sorted((r for r in db.iter_programs() if r.kind == "proposal"
                 and r.outcome is Outcome.OK and r.id != 1), key=lambda r: (-r.fitness, r.id))
    population = [db.get(p) for m in db.debug_snapshot().index.members for p in m]
    assert all(r.kind == "reinit" for r in population)
    assert sorted(r.origin_id for r in population) == sorted([1, 1, 1, ok[0].id, ok[1].id])
    assert all(r.generation == 0 for r in population)
    assert db.count() == 1 + 5 * 6
    assert db.best().id == ok[0].id


def test_stagnation_rule_reinitialises_a_converged_population(tmp_path: Path) -> None:
    # ThetaEvolve's rule: reinit once best and second-lowest fitness are within the ratio.
    db = fresh(tmp_path, num_islands=1, reinit_ratio=0.05, reinit_keep_best=1)
    (a,) = db.commit([draft(1, 1.5, 1, "spread")])  # 1.0 vs 1.5: not converged
    assert not [r for r in db.iter_programs() if r.kind == "reinit"]
    # Fill the population with near-equal programs: now second-lowest / best > 0.95.
    db.commit([draft(a.id, 1.5 + i * 1e-3, 2, f"same{i}") for i in range(5)])
    db.commit([draft(a.id, 1.49, 3, "x")])
    reinit = [r for r in db.iter_programs() if r.kind == "reinit"]
    assert reinit, "a converged population must be re-initialised"
    population = [db.get(p) for m in db.debug_snapshot().index.members for p in m]
    assert {r.origin_id for r in population} == {1, db.best().id}


def test_stagnation_rule_waits_for_min_batches_and_forces_at_max(tmp_path: Path) -> None:
    db = fresh(tmp_path, num_islands=1, reinit_ratio=0.5, reinit_min_batches=3,
               reinit_max_batches=0)
    db.commit([draft(1, 1.0, 1, "a")])  # converged at once, but too early (batch 2 < 3)
    assert not [r for r in db.iter_programs() if r.kind == "reinit"]
    db.commit([draft(1, 1.0, 2, "b")])  # batch 3: due
    assert [r for r in db.iter_programs() if r.kind == "reinit"]

    forced = fresh(tmp_path / "forced", num_islands=1, reinit_ratio=1e-12, reinit_max_batches=2)
    forced.commit([draft(1, 5.0, 1, "far")])  # not converged; batch 2 >= max: forced
    assert [r for r in forced.iter_programs() if r.kind == "reinit"]


# ---- lookups and meta ---------------------------------------------------------------------


def test_lookups_lineage_and_meta(tmp_path: Path) -> None:
    db = fresh(tmp_path)
    (a,) = db.commit([draft(1, 2.0, 1, "a")], meta={"usage": {"tokens": 5}})
    (b,) = db.commit([draft(a.id, 3.0, 2, "b")])
    assert [r.id for r in db.lineage(b.id)] == [1, a.id, b.id]
    assert db.get(b.id).prompt == "prompt b" and db.get(b.id).response == "response b"
    assert db.contains_hash(b.code_hash) and not db.contains_hash("0" * 64)
    assert db.max_iteration() == 2 and db.best().id == b.id
    assert db.get_meta("usage") == {"tokens": 5} and db.get_meta("missing") is None
    db.set_meta("wall_seconds", 1.5)
    with pytest.raises(KeyError, match="12345"):
        db.get(12345)
    db = reopen(db)
    assert db.get_meta("usage") == {"tokens": 5} and db.get_meta("wall_seconds") == 1.5
    assert db.max_iteration() == 2 and db.count() == 3 and db.best().id == b.id
    assert [r.id for r in db.iter_programs(include_copies=False)] == [1, a.id, b.id]


def test_program_database_is_a_program_store(tmp_path: Path) -> None:
    # The gym and the session are typed with the Protocol; mypy checks the signatures,
    # this checks that no method of the Protocol is missing.
    assert isinstance(fresh(tmp_path), ProgramStore)


def test_empty_store(tmp_path: Path) -> None:
    db = ProgramDatabase.open(tmp_path / "new" / "p.sqlite", db_config())
    assert db.count() == 0 and db.max_iteration() == -1 and db.best() is None
    assert db.outcome_counts() == {} and list(db.iter_programs()) == []
    assert not db.contains_hash("abc")
    db = reopen(db)
    assert db.count() == 0


def test_hash_key_collision_is_settled_by_the_store(tmp_path: Path, monkeypatch) -> None:
    db = fresh(tmp_path)
    import thetaevolve.database.store as store_module

    monkeypatch.setattr(store_module, "hash_key", lambda code_hash: 42)
    (stored,) = db.commit([draft(1, 2.0, 1, "x")])
    assert db.contains_hash(stored.code_hash)
    assert not db.contains_hash("another hash with the same key")


def test_record_cache_does_not_change_what_is_sampled(tmp_path: Path) -> None:
    db = fresh(tmp_path, record_cache_size=3)
    evolve(db, 10)
    path = db.path
    db.close()
    results = []
    for size in (0, 3, 4096):
        other = ProgramDatabase.open(path, db_config(record_cache_size=size))
        rng = random.Random(11)
        results.append([
            (s.parent, s.inspirations, s.top_programs)
            for _ in range(3)
            for s in other.sample_batch(20, rng, num_inspirations=2, num_top=2)
        ])
        assert other.debug_snapshot().cached_records <= size
        other.close()
    assert results[0] == results[1] == results[2]


def test_proposal_scores_and_initial_match_the_records(tmp_path: Path) -> None:
    db = fresh(tmp_path, num_islands=3)
    evolve(db, 4)
    records = list(db.iter_programs(include_copies=False))
    assert db.proposal_scores() == [r.score for r in records]
    assert None in db.proposal_scores()  # failures are kept, as None
    assert db.initial().id == records[0].id and db.initial().parent_id is None
