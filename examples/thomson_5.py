"""Thomson's problem for 5 points: a native problem in one file (see docs/problems.md).

Place 5 points on the unit sphere so that their Coulomb energy, the sum of 1/distance over
all pairs, is as small as possible. The minimum is the triangular bipyramid, energy
6.474691495 (the table of Thomson-problem minima on Wikipedia, "Thomson problem"; the
bipyramid's optimality for N = 5 was proved by R. E. Schwartz, Experimental Mathematics 22
(2013)).

Run it with `thetaevolve check examples/thomson_5.py`, then `thetaevolve run
examples/thomson_5.py --budget 200`. The initial program is the INITIAL_PROGRAM string below,
so this single file is the whole problem.
"""

import math

NAME = "thomson_5"
DIRECTION = "min"
STATEMENT = """Thomson's problem for N = 5 points: place 5 points on the unit sphere in R^3 so
that the Coulomb energy, the sum over all pairs of 1 / (Euclidean distance), is as small as
possible.

solve() returns {"points": [[x, y, z], ...]} with exactly 5 non-zero vectors. The verifier
scales each vector to unit length before measuring, so only directions matter. Two points
in the same direction are invalid. The score is the energy (lower is better)."""
SOLUTION_FORMAT = '{"points": [[x, y, z], ...]} with 5 non-zero vectors'
SCORE_MEANING = "Coulomb energy"
TIMEOUT_S = 20
HEAVY_MODULES = []
KNOWN_BOUNDS = [(6.474691495, "Thomson problem table (Wikipedia); optimal by R. E. Schwartz, "
                              "Exp. Math. 22 (2013)", "triangular bipyramid")]
REWARD_RANGE = (6.4, 7.2)

INITIAL_PROGRAM = '''"""A square pyramid: apex at the north pole, four points on the equator."""


# EVOLVE-BLOCK-START
def place_points():
    return [
        [0.0, 0.0, 1.0],
        [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0],
    ]
# EVOLVE-BLOCK-END


def solve():
    return {"points": place_points()}
'''

N = 5


def _unit(point, index):
    if not (isinstance(point, list) and len(point) == 3
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    for v in point)):
        raise ValueError(f"points[{index}] must be a list of 3 finite numbers")
    norm = math.sqrt(math.fsum(v * v for v in point))
    if norm == 0:
        raise ValueError(f"points[{index}] is the zero vector; it has no direction")
    return [v / norm for v in point]


def verify(solution, tol=0.0):
    """Coulomb energy of the directions, in double precision (math.fsum keeps the sum's own
    rounding error near one unit in the last place; this example certifies no interval)."""
    points = solution.get("points")
    if not isinstance(points, list) or len(points) != N:
        raise ValueError(f"points must be a list of {N} [x, y, z] vectors")
    unit = [_unit(p, i) for i, p in enumerate(points)]
    terms, closest = [], math.inf
    for i in range(N):
        for j in range(i + 1, N):
            distance = math.dist(unit[i], unit[j])
            if distance <= tol:
                raise ValueError(f"points[{i}] and points[{j}] point the same way")
            closest = min(closest, distance)
            terms.append(1.0 / distance)
    energy = math.fsum(terms)
    return energy, f"energy {energy:.9f}; the closest pair is {closest:.6f} apart"
