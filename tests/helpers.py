"""Helpers shared by several test modules (test modules never import one another).

Each part of the suite keeps its helpers in its own section below.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ChildDraft, ProgramDatabase, ProgramRecord
from thetaevolve.types import Outcome

# =============================================================================================
# Program database (tests/test_database*.py)
# =============================================================================================


def draft(
    parent: int | None,
    fitness: float | None,
    iteration: int = 1,
    tag: str = "",
    outcome: Outcome = Outcome.OK,
    metrics: dict | None = None,
) -> ChildDraft:
    """A child whose code is unique per (fitness, parent, iteration, tag)."""
    code = f"def f():\n    return {fitness!r}  # {parent} {iteration} {tag}\n"
    ok = outcome is Outcome.OK
    return ChildDraft(
        parent_id=parent,
        code=code,
        code_hash=hashlib.sha256(code.encode()).hexdigest(),
        outcome=outcome,
        score=fitness if ok else None,
        fitness=fitness if ok else None,
        reward=fitness if ok and fitness is not None else -0.2,
        iteration=iteration,
        metrics=metrics or {},
        prompt=f"prompt {tag}",
        response=f"response {tag}",
        detail="" if ok else "boom",
    )


def db_config(**overrides: object) -> DatabaseConfig:
    """Three islands, a small archive, no population cap in practice, no migration."""
    base: dict[str, object] = dict(num_islands=3, archive_size=8, population_size=1000,
                                   migration_interval=0)
    base.update(overrides)
    return DatabaseConfig(**base)


def fresh(tmp_path: Path, **overrides: object) -> ProgramDatabase:
    """A new store holding only a successful initial program (fitness 1.0, id 1)."""
    db = ProgramDatabase.open(tmp_path / "programs.sqlite", db_config(**overrides))
    db.commit([draft(None, 1.0, 0, "initial")])
    return db


def evolve(db: ProgramDatabase, batches: int, seed: int = 0, size: int = 6,
           fail_rate: float = 0.2) -> list[ProgramRecord]:
    """Run ``batches`` random batches: children of sampled parents, some of them failures."""
    rng = random.Random(seed)
    out: list[ProgramRecord] = []
    start = db.max_iteration() + 1
    for it in range(start, start + batches):
        samples = db.sample_batch(size, rng, num_inspirations=2, num_top=2)
        kids = []
        for k, sample in enumerate(samples):
            if rng.random() < fail_rate:
                kids.append(draft(sample.parent.id, None, it, f"{seed}:{k}", Outcome.CRASH))
            else:
                fit = (sample.parent.fitness or 0.0) + rng.gauss(0.0, 1.0)
                kids.append(draft(sample.parent.id, fit, it, f"{seed}:{k}"))
        out.extend(db.commit(kids))
    return out


def reopen(db: ProgramDatabase) -> ProgramDatabase:
    """Close ``db`` and open its store again (the index is rebuilt from the rows)."""
    path, cfg = db.path, db.config
    db.close()
    return ProgramDatabase.open(path, cfg)
