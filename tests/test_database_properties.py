"""Property test: any mix of settings and batches keeps the database's invariants."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import draft
from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ProgramDatabase
from thetaevolve.types import Outcome


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    num_islands=st.integers(1, 4),
    archive_size=st.integers(1, 6),
    population_size=st.integers(10, 14),
    migration_interval=st.integers(0, 3),
    migration_fraction=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    reinit_every=st.integers(0, 6),
    reinit_keep_best=st.integers(0, 3),
    batches=st.integers(1, 10),
    batch_size=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_invariants_hold_for_any_settings(
    num_islands: int, archive_size: int, population_size: int, migration_interval: int,
    migration_fraction: float, reinit_every: int, reinit_keep_best: int, batches: int,
    batch_size: int, seed: int,
) -> None:
    config = DatabaseConfig(
        num_islands=num_islands, archive_size=archive_size, population_size=population_size,
        migration_interval=migration_interval, migration_fraction=migration_fraction,
        reinit_every=reinit_every, reinit_keep_best=reinit_keep_best, feature_bins=3,
    )
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p.sqlite"
        db = ProgramDatabase.open(path, config)
        db.commit([draft(None, 0.0, 0, "root")])
        committed = 1
        for it in range(1, batches + 1):
            samples = db.sample_batch(batch_size, rng, num_inspirations=2, num_top=2)
            kids = []
            for k, sample in enumerate(samples):
                if rng.random() < 0.25:
                    kids.append(draft(sample.parent.id, None, it, str(k), Outcome.CRASH))
                else:
                    fit = round(sample.parent.fitness + rng.gauss(0, 1), 1)  # ties happen
                    kids.append(draft(sample.parent.id, fit, it, str(k)))
            for record, kid, sample in zip(db.commit(kids), kids, samples):
                assert record.island == sample.parent.island
                assert record.parent_id == kid.parent_id
            committed += len(kids)

        index = db.debug_snapshot().index
        stored = {r.id: r for r in db.iter_programs()}
        live = [pid for members in index.members for pid in members]
        assert len(live) == len(set(live)) == db.population_count()
        for island, members in enumerate(index.members):
            assert list(members) == sorted(members)
            assert len(members) <= population_size
            for pid in members:
                assert stored[pid].outcome is Outcome.OK and stored[pid].island == island
        ranked = sorted(live, key=lambda p: (-stored[p].fitness, p))
        assert db.archive_ids() == ranked[:archive_size]
        assert db.count() == committed
        assert sum(db.outcome_counts().values()) == committed
        best = max((r for r in stored.values() if r.outcome is Outcome.OK),
                   key=lambda r: (r.fitness, -r.id))
        assert db.best().id == best.id
        state = db.debug_snapshot()
        db.close()
        db = ProgramDatabase.open(path, config)
        assert db.debug_snapshot() == state
        db.close()
