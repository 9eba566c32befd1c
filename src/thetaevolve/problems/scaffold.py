'''The native problem that ``thetaevolve init DIR`` writes: commented, and runnable as it is.

The problem (spread 8 points in the unit square, maximising the smallest distance between
two of them) is small enough that a check takes a fraction of a second, and real enough
that its verify shows the two things every verify must do: refuse malformed data with a
``ValueError`` that says why, and compute the score from the data alone, in exact
arithmetic where that is cheap.
'''

from __future__ import annotations

from pathlib import Path

from thetaevolve.errors import UserError
from thetaevolve.problems.native import INITIAL_PROGRAM_FILE, PROBLEM_FILE

PROBLEM_TEMPLATE = '''"""A native ThetaEvolve problem. Check it with `thetaevolve check {folder}`,
evolve it with `thetaevolve run {folder}` (see docs/problems.md for every name).

This file is your trusted code: ThetaEvolve imports it in a separate verifier process,
never in the process that holds the run. Candidate programs run in the sandbox and only
hand their solution back as data; `verify` below turns that data into the score.
"""

from fractions import Fraction
import math

# Required -------------------------------------------------------------------------------

NAME = "{name}"  # names the problem and its run directories
DIRECTION = "max"  # "max" or "min": which way the score improves

# What the model reads in every prompt. Say what solve() must return.
STATEMENT = """Place N = 8 points in the closed unit square [0, 1] x [0, 1] so that the smallest
distance between two of them is as large as possible.

The program's solve() returns {{"points": [[x, y], ...]}}: exactly 8 pairs of floats inside
the square. The score is the smallest pairwise distance (larger is better)."""

# Optional: delete any of these to get its default (given in its comment) -----------------

SOLUTION_FORMAT = '{{"points": [[x, y], ...]}} with 8 points in [0, 1]^2'  # (a generic line)
SCORE_MEANING = "smallest pairwise distance"  # for `thetaevolve tasks` (default none)
TIMEOUT_S = 20  # wall-clock seconds one candidate program may run (default 60)
VERIFY_TIMEOUT_S = 30  # seconds one verify call may take before it is killed (30)
VERIFY_MEMORY_MB = 4096  # memory verify may take beyond what importing this took (4096)
HEAVY_MODULES = []  # modules preloaded in the sandbox (default numpy, scipy); none needed here
# Published values for `thetaevolve tasks` and the summary: numbers or (value, source) (none).
KNOWN_BOUNDS = [
    ((6 ** 0.5 - 2 ** 0.5) / 2,
     "J. Schaer and A. Meir, On a geometric extremum problem, Canad. Math. Bull. 8 (1965)"),
]
REWARD_RANGE = (0.3, 0.52)  # scores mapped to reward 0 and full reward ((0, 1))

N = 8


def verify(solution, tol=0.0):
    """The score of a solution, computed from the data alone.

    Raise ValueError with a reason for invalid data: the candidate is then recorded as
    invalid_solution, stored with the reason. Any other exception, a hang past
    VERIFY_TIMEOUT_S, or a return value that is not a finite number is a bug in this file:
    the candidate is recorded as verifier_error, and after 20 in a row the run stops.
    `tol` is 0 unless the user opts in (`thetaevolve verify ... --tol 1e-9`).
    Return the score, or (score, "feedback text") to tell the model something.
    """
    points = solution.get("points")
    if not isinstance(points, list) or len(points) != N:
        raise ValueError(f"points must be a list of {{N}} [x, y] pairs")
    exact = []
    for index, point in enumerate(points):
        if not (isinstance(point, list) and len(point) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) for v in point)):
            raise ValueError(f"points[{{index}}] must be a pair of finite numbers")
        x, y = (Fraction(v) for v in point)  # exact: every float is a rational number
        if not all(-tol <= v <= 1 + tol for v in (x, y)):
            raise ValueError(f"points[{{index}}] = {{point}} lies outside the unit square")
        exact.append((x, y))
    closest = min(
        (ax - bx) ** 2 + (ay - by) ** 2
        for i, (ax, ay) in enumerate(exact) for (bx, by) in exact[i + 1:]
    )
    score = math.sqrt(closest)  # the only rounding: one square root of an exact rational
    return score, f"the closest pair is at distance {{score:.6f}}"


def plot(solution, path):
    """Optional: draw a solution; ThetaEvolve saves the best one as solution.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = zip(*solution["points"])
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot([0, 1, 1, 0, 0], [0, 0, 1, 1, 0], color="gray")
    ax.scatter(xs, ys)
    ax.set_aspect("equal")
    fig.savefig(path, dpi=100)
    plt.close(fig)
'''

INITIAL_TEMPLATE = '''"""The initial program: weak but valid. Evolution edits what lies between the markers."""


# EVOLVE-BLOCK-START
def place_points():
    """Seven points of a 3 x 3 grid and one placed badly: closest distance about 0.36."""
    return [
        [0.0, 0.0], [0.5, 0.0], [1.0, 0.0],
        [0.0, 0.5], [1.0, 0.5],
        [0.0, 1.0], [0.5, 1.0], [0.7, 0.7],
    ]
# EVOLVE-BLOCK-END


def solve():
    return {"points": place_points()}
'''


def write_scaffold(folder: Path) -> list[Path]:
    """Write problem.py and initial_program.py into ``folder`` (new or empty)."""
    targets = [folder / PROBLEM_FILE, folder / INITIAL_PROGRAM_FILE]
    existing = [p for p in targets if p.exists()]
    if existing:
        raise UserError(f"{existing[0]} already exists; choose a new folder for "
                        "`thetaevolve init` (nothing was written)")
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{folder} exists and is not a folder; choose a new one")
    name = "".join(c if c.isalnum() or c in "_-." else "_" for c in folder.resolve().name)
    name = name.strip("._-") or "my_problem"
    folder.mkdir(parents=True, exist_ok=True)
    targets[0].write_text(PROBLEM_TEMPLATE.format(name=name, folder=folder))
    targets[1].write_text(INITIAL_TEMPLATE)
    return targets
