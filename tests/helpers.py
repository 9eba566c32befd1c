"""Helpers shared by several test modules (test modules never import one another).

Each part of the suite keeps its helpers in its own section below. Fixtures live in
conftest.py; the public test doubles (a tiny task, an in-process runner, a scripted proposer)
in ``thetaevolve.testing``.
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


# =============================================================================================
# Built-in tasks (tests/test_tasks_*.py)
# =============================================================================================

FIRST_TASKS = [
    "circle_packing_26",
    "circle_packing_32",
    "circles_rectangle_21",
    "first_autocorrelation",
    "second_autocorrelation",
    "third_autocorrelation",
    "hadamard_29",
]
"""ThetaEvolve's tasks and AlphaEvolve's circle variants, the first ones built in."""

NEW_TASKS = [
    "erdos_min_overlap",
    "sums_differences",
    "min_max_distance_16_2d",
    "min_max_distance_14_3d",
    "heilbronn_triangle_11",
    "heilbronn_convex_13",
    "heilbronn_convex_14",
    "kissing_number_11",
    "uncertainty_inequality",
]
"""The problems added after those, each also checked end to end by a short offline run."""

SUITE = FIRST_TASKS + NEW_TASKS
"""Every fixed-size built-in task."""

# =============================================================================================
# Problems from outside (tests/test_problems_*.py): native folders, runs through the CLI
# =============================================================================================

INITIAL = '''# EVOLVE-BLOCK-START
def value():
    return 0.25 * 2.0
# EVOLVE-BLOCK-END


def solve():
    return {"x": value()}
'''

# Maximise x in [0, 1]. No heavy modules, so workers start in a blink.
HEAD = '''NAME = "half"
DIRECTION = "max"
STATEMENT = "Return x in [0, 1], as large as possible."
HEAVY_MODULES = []
TIMEOUT_S = 10
'''

VERIFY = '''
def verify(solution, tol=0.0):
    x = solution.get("x")
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1 + tol:
        raise ValueError(f"x must be a number in [0, 1], got {x!r}")
    return x
'''


def write_problem(folder: Path, head: str = HEAD, verify: str = VERIFY,
                  initial: str | None = INITIAL, extra: str = "") -> Path:
    """problem.py (+ initial_program.py unless ``initial`` is None) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "problem.py").write_text(head + extra + verify)
    if initial is not None:
        (folder / "initial_program.py").write_text(initial)
    return folder


def fast_run_flags(*, batch_size: int, seed: int) -> list[str]:
    """``thetaevolve run`` flags for a short, quiet, seeded run on two workers."""
    return ["--batch-size", str(batch_size), "--samples-per-prompt", "2", "--seed", str(seed),
            "--quiet", "--set", "sandbox.workers=2"]


def stored_proposals(run_dir: Path) -> list[ProgramRecord]:
    """Every proposal a finished run stored (copies left out), in id order."""
    database = ProgramDatabase.open(run_dir / "programs.sqlite", read_only=True)
    try:
        return list(database.iter_programs(include_copies=False))
    finally:
        database.close()
