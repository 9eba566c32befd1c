"""Helpers shared by several test modules, one headed section per subject.

Fixtures live in conftest.py; the public test doubles (a tiny task, an in-process runner, a
scripted proposer) in ``thetaevolve.testing``. No test module imports another one.
"""

from __future__ import annotations

from pathlib import Path

from thetaevolve.database import ProgramDatabase
from thetaevolve.database.records import ProgramRecord

# ---------------------------------------------------------------------------------------------
# Built-in tasks
# ---------------------------------------------------------------------------------------------

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

# ---------------------------------------------------------------------------------------------
# Problems from outside: native folders, and runs of them through the command line
# ---------------------------------------------------------------------------------------------

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
