"""Native problem folders written for the tests: a fast valid one, and ways to break it."""

from __future__ import annotations

from pathlib import Path

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
