"""Heilbronn problems: n points, maximise the smallest triangle they span.

Two variants (AlphaEvolve's B.9 and B.10; problems 48 and 49 of Georgiev et al.):
- in a triangle: the points must lie in the equilateral triangle T with vertices (0, 0),
  (1, 0), (1/2, sqrt(3)/2), and the score is the smallest triangle area divided by the area
  of T (sqrt(3)/4), i.e. the area in units of T. Containment involves sqrt(3), which no
  float holds exactly; it is decided exactly instead: y <= sqrt(3) x is, for dyadic
  rational x and y, a comparison of 3 x^2 with y^2 plus signs.
- convex: the points are anywhere in the plane and the score is the smallest triangle
  area divided by the area of their convex hull (invariant under every affine map).

All areas are exact integers after one power-of-two scale (``_points``). Coincident
points are invalid; three collinear points are valid and score 0. With ``tol`` > 0 (an
explicit opt-in) a point may lie outside T by a distance of at most ``tol``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks import register
from thetaevolve.tasks._circles import common_scale
from thetaevolve.tasks._numbers import DataError
from thetaevolve.tasks._points import (
    convex_hull,
    doubled_polygon_area,
    integer_points,
    parse_points,
    smallest_triangle,
)
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

SQRT3 = math.sqrt(3.0)

_TRIANGLE_PROGRAM = """'''Heilbronn in a triangle: N_POINTS points in the triangle (0,0), (1,0), (1/2, sqrt(3)/2);
maximise the smallest triangle they form (the verifier divides by the container's area).'''

import numpy as np

N_POINTS = __N__
SQRT3 = np.sqrt(3.0)


# EVOLVE-BLOCK-START
def smallest_area(points):
    best = np.inf
    n = len(points)
    for i in range(n):
        for j in range(i + 1, n):
            d1 = points[j] - points[i]
            d2 = points[j + 1:] - points[i]
            if len(d2):
                areas = 0.5 * np.abs(d1[0] * d2[:, 1] - d1[1] * d2[:, 0])
                best = min(best, areas.min())
    return best


def pull_inside(points):
    '''Move points a little towards the centroid so they stay strictly inside.'''
    centroid = np.array([0.5, SQRT3 / 6.0])
    shrink = 0.9
    return centroid + shrink * (points - centroid)


def initial_points(n, seed):
    '''Uniform random points in the triangle (folding the unit square onto it).'''
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0.0, 1.0, (2, n))
    flip = u + v > 1.0
    u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
    a, b, c = np.array([0.0, 0.0]), np.array([1.0, 0.0]), np.array([0.5, SQRT3 / 2.0])
    return a + np.outer(u, b - a) + np.outer(v, c - a)


def hill_climb(points, iterations, step, seed):
    rng = np.random.default_rng(seed)
    best = smallest_area(pull_inside(points))
    for _ in range(iterations):
        trial = points.copy()
        i = rng.integers(len(points))
        trial[i] += step * rng.standard_normal(2)
        trial[i, 1] = min(max(trial[i, 1], 0.0), SQRT3 / 2.0)
        trial[i, 0] = min(max(trial[i, 0], trial[i, 1] / SQRT3), 1.0 - trial[i, 1] / SQRT3)
        value = smallest_area(pull_inside(trial))
        if value > best:
            points, best = trial, value
    return points


def construct_points():
    points = initial_points(N_POINTS, seed=2)
    return pull_inside(hill_climb(points, iterations=30, step=0.05, seed=6))
# EVOLVE-BLOCK-END


def solve():
    return {"points": np.asarray(construct_points(), dtype=float).tolist()}
"""

_CONVEX_PROGRAM = """'''Heilbronn, convex version: N_POINTS points in the plane; maximise
(smallest triangle they form) / (area of their convex hull).'''

import numpy as np

N_POINTS = __N__


# EVOLVE-BLOCK-START
def smallest_area(points):
    best = np.inf
    n = len(points)
    for i in range(n):
        for j in range(i + 1, n):
            d1 = points[j] - points[i]
            d2 = points[j + 1:] - points[i]
            if len(d2):
                areas = 0.5 * np.abs(d1[0] * d2[:, 1] - d1[1] * d2[:, 0])
                best = min(best, areas.min())
    return best


def hull_area(points):
    from scipy.spatial import ConvexHull
    return ConvexHull(points).volume


def score(points):
    return smallest_area(points) / hull_area(points)


def initial_points(n, seed):
    '''Points on a slightly perturbed circle: convex position, but far from the best.'''
    rng = np.random.default_rng(seed)
    angle_jitter = 0.3
    radius_jitter = 0.2
    angles = 2.0 * np.pi * (np.arange(n) + angle_jitter * rng.uniform(-1.0, 1.0, n)) / n
    radii = 1.0 + radius_jitter * rng.uniform(-1.0, 1.0, n)
    return np.column_stack([radii * np.cos(angles), radii * np.sin(angles)])


def hill_climb(points, iterations, step, seed):
    rng = np.random.default_rng(seed)
    best = score(points)
    for _ in range(iterations):
        trial = points.copy()
        trial[rng.integers(len(points))] += step * rng.standard_normal(2)
        value = score(trial)
        if value > best:
            points, best = trial, value
    return points


def construct_points():
    return hill_climb(initial_points(N_POINTS, seed=1), iterations=30, step=0.05, seed=8)
# EVOLVE-BLOCK-END


def solve():
    return {"points": np.asarray(construct_points(), dtype=float).tolist()}
"""


def _sqrt3_times_at_least(x: int, c: int) -> bool:
    """sqrt(3) * x >= c, decided exactly for integers x, c."""
    if x >= 0 and c <= 0:
        return True
    if x < 0 and c > 0:
        return False
    if x >= 0:  # both positive
        return 3 * x * x >= c * c
    return 3 * x * x <= c * c  # both non-positive: |c| >= sqrt(3) |x|


def outside_triangle(points: np.ndarray, tol: float) -> list[int]:
    """Indices of points outside T = (0,0), (1,0), (1/2, sqrt 3 / 2), each side moved out by ``tol``.

    Distance to the base is y; to the left side (sqrt3 x - y) / 2; to the right side
    (sqrt3 (1 - x) - y) / 2. So the point is inside (within tol) when y >= -tol,
    sqrt3 x >= y - 2 tol and sqrt3 (1 - x) >= y - 2 tol.
    """
    rows, (t, one) = integer_points(points, [tol, 1.0])
    bad = []
    for i, (x, y) in enumerate(rows):
        inside = y >= -t and _sqrt3_times_at_least(x, y - 2 * t) and _sqrt3_times_at_least(one - x, y - 2 * t)
        if not inside:
            bad.append(i)
    return bad


def _plot(points: np.ndarray, triple: tuple[int, int, int], outline: np.ndarray, title: str, path: Path) -> None:
    plt = pyplot()
    from matplotlib.patches import Polygon

    fig, ax = plt.subplots(figsize=(6, 6))
    try:
        ax.add_patch(Polygon(outline, closed=True, fill=False, color="black", lw=1.2))
        ax.add_patch(Polygon(points[list(triple)], closed=True, color="tab:red", alpha=0.4))
        ax.scatter(points[:, 0], points[:, 1], s=25, zorder=3)
        ax.set_aspect("equal")
        ax.autoscale_view()
        ax.set_title(title)
        fig.savefig(path, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)


class HeilbronnTriangle(Task):
    """n points in the equilateral triangle; maximise the smallest triangle area / container area."""

    direction = "max"
    timeout_s = 120.0
    score_meaning = "smallest triangle area / container area"

    def __init__(self, n: int) -> None:
        if n < 3:
            raise ValueError("heilbronn_triangle needs n >= 3 points")
        self.n = n
        self.name = f"heilbronn_triangle_{n}"
        self.known_bounds = (
            (
                KnownBound(0.036, "best before AlphaEvolve (as listed in arXiv 2506.13131, B.9)"),
                KnownBound(
                    0.036529889880,
                    "AlphaEvolve, arXiv 2506.13131 (results notebook cell 100)",
                    "recomputed; still the EinsteinArena top in 2026",
                ),
            )
            if n == 11
            else ()
        )
        self.reward_shaping = RewardShaping(range_min=0.0, range_max=0.037 if n == 11 else 0.5 / n**2, alpha=1.0, multiplier=3.0)
        self.statement = (
            f"Place {n} points in the closed equilateral triangle with corners (0, 0), (1, 0) and "
            "(1/2, sqrt(3)/2) (points on the sides are allowed). Maximise the area of the smallest "
            "triangle formed by any three of the points, divided by the area sqrt(3)/4 of the container "
            "(so the score is the smallest area when the container has area 1). Containment is decided "
            "exactly, with sqrt(3) treated as the irrational it is: a point outside by 1e-15 is "
            "invalid, so keep a tiny margin from the slanted sides. Coincident points are invalid; "
            "three collinear points score 0."
        )
        self.solution_format = (
            f'{{"points": [[x, y], ...]}} with exactly {n} distinct points inside that triangle. Other keys are ignored.'
        )

    def template_variables(self) -> dict[str, object]:
        return {"n_points": self.n}

    @property
    def initial_program(self) -> str:
        return _TRIANGLE_PROGRAM.replace("__N__", str(self.n))

    def _score(self, points: np.ndarray) -> tuple[float, tuple[int, int, int]]:
        ints, shift = common_scale([float(v) for v in points.reshape(-1)])
        rows = list(zip(ints[0::2], ints[1::2]))
        doubled, triple = smallest_triangle(rows)
        area = Fraction(doubled, 2 << (2 * shift))  # back to the original units
        # area / (sqrt3 / 4): one correctly rounded fraction, then a division by the
        # correctly rounded sqrt(3): within 2 ulp of the exact value.
        return float(4 * area) / SQRT3, triple

    def judge(self, solution: Solution, tol: float) -> Verdict:
        points = parse_points(solution, self.n, 2)
        bad = outside_triangle(points, tol)
        if bad:
            how = "exactly" if tol == 0 else f"with tolerance {tol:g}"
            x, y = points[bad[0]].tolist()
            return Verdict.invalid(
                f"{len(bad)} point(s) lie outside the triangle (0,0), (1,0), (1/2, sqrt(3)/2) (checked {how}); "
                f"first: point {bad[0]} = ({x!r}, {y!r})",
                tolerance=tol,
            )
        score, _ = self._score(points)
        return Verdict(valid=True, score=score, tolerance=tol, error_bound=2 * math.ulp(score) if score else 0.0)

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            points = parse_points(solution, self.n, 2)
        except DataError:
            return False
        score, triple = self._score(points)
        outline = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, SQRT3 / 2]])
        _plot(points, triple, outline, f"{self.name}: smallest area / container {score:.10f}", Path(path))
        return True


_CONVEX_BOUNDS = {
    13: (
        KnownBound(0.0306, "best before AlphaEvolve (as listed in arXiv 2506.13131, B.10)"),
        KnownBound(0.030936889035, "AlphaEvolve, arXiv 2506.13131 (results notebook cell 106)", "recomputed"),
    ),
    14: (
        KnownBound(0.0277, "best before AlphaEvolve (as listed in arXiv 2506.13131, B.10)"),
        KnownBound(0.027835571458, "AlphaEvolve, arXiv 2506.13131 (results notebook cell 109)", "recomputed"),
    ),
}


class HeilbronnConvex(Task):
    """n points in the plane; maximise the smallest triangle area / convex hull area."""

    direction = "max"
    timeout_s = 120.0
    score_meaning = "smallest triangle area / hull area"

    def __init__(self, n: int) -> None:
        if n < 3:
            raise ValueError("heilbronn_convex needs n >= 3 points")
        self.n = n
        self.name = f"heilbronn_convex_{n}"
        self.known_bounds = _CONVEX_BOUNDS.get(n, ())
        best = self.best_known
        self.reward_shaping = RewardShaping(
            range_min=0.0, range_max=round(best.value * 1.02, 4) if best else 0.5 / n**2, alpha=1.0, multiplier=3.0
        )
        self.statement = (
            f"Place {n} points anywhere in the plane. Maximise the area of the smallest triangle formed "
            "by any three of them divided by the area of their convex hull. The score is computed "
            "exactly and does not change under any affine map (moving, rotating, scaling or shearing "
            "all points together). Coincident points are invalid; three collinear points score 0."
        )
        self.solution_format = f'{{"points": [[x, y], ...]}} with exactly {n} distinct points. Other keys are ignored.'

    def template_variables(self) -> dict[str, object]:
        return {"n_points": self.n}

    @property
    def initial_program(self) -> str:
        return _CONVEX_PROGRAM.replace("__N__", str(self.n))

    def _exact(self, points: np.ndarray) -> tuple[Fraction, tuple[int, int, int], list[tuple[int, ...]]]:
        rows, _ = integer_points(points)
        doubled, triple = smallest_triangle(rows)
        hull = convex_hull(rows)
        hull_doubled = doubled_polygon_area(hull)
        if hull_doubled == 0:
            raise DataError("all points are collinear: the convex hull has zero area")
        return Fraction(doubled, hull_doubled), triple, hull

    def judge(self, solution: Solution, tol: float) -> Verdict:
        """Exact; ``tol`` has nothing to relax here and is only recorded."""
        points = parse_points(solution, self.n, 2)
        ratio, _, hull = self._exact(points)
        score = float(ratio)  # correctly rounded
        return Verdict(
            valid=True, score=score, tolerance=tol, error_bound=math.ulp(score) / 2,
            metrics={"hull_vertices": float(len(hull))},
        )

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            points = parse_points(solution, self.n, 2)
            ratio, triple, hull = self._exact(points)
        except DataError:
            return False
        rows, _ = integer_points(points)
        index = {row: i for i, row in enumerate(rows)}
        outline = points[[index[v] for v in hull]]
        _plot(points, triple, outline, f"{self.name}: smallest area / hull area {float(ratio):.10f}", Path(path))
        return True


register(lambda: HeilbronnTriangle(11))
register(lambda: HeilbronnConvex(13))
register(lambda: HeilbronnConvex(14))
