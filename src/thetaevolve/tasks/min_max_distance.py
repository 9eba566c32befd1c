"""Max/min distance ratio: n distinct points in R^d, minimise (d_max / d_min)^2.

Scored squared, as Friedman's tables and AlphaEvolve report it, so that no square root is
ever taken: the squared distances are exact integers after one common power-of-two scale
(``_points``), and the ratio is that exact fraction, correctly rounded. The score is
invariant under translation, rotation and scaling. Coincident points are invalid.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks import register
from thetaevolve.tasks._numbers import DataError
from thetaevolve.tasks._points import integer_points, parse_points, squared_distances
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

_INITIAL_PROGRAM = """'''Max/min distance ratio: N_POINTS distinct points in DIMENSION dimensions, minimise (max distance / min distance)^2.'''

import numpy as np

N_POINTS = __N__
DIMENSION = __D__


# EVOLVE-BLOCK-START
def ratio_squared(points):
    '''(largest pairwise distance / smallest pairwise distance)^2.'''
    diff = points[:, None, :] - points[None, :, :]
    d2 = (diff ** 2).sum(axis=-1)
    upper = d2[np.triu_indices(len(points), 1)]
    return upper.max() / upper.min()


def initial_points(n, dim, seed):
    '''Random points in a ball: far from optimal, but distinct.'''
    rng = np.random.default_rng(seed)
    radius_power = 1.0
    points = rng.standard_normal((n, dim))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points * rng.uniform(0.0, 1.0, (n, 1)) ** (radius_power / dim)


def hill_climb(points, iterations, step, seed):
    '''Move one point at a time; keep moves that lower the ratio.'''
    rng = np.random.default_rng(seed)
    best = ratio_squared(points)
    for _ in range(iterations):
        i = rng.integers(len(points))
        trial = points.copy()
        trial[i] += step * rng.standard_normal(points.shape[1])
        value = ratio_squared(trial)
        if value < best:
            points, best = trial, value
    return points


def construct_points():
    points = initial_points(N_POINTS, DIMENSION, seed=3)
    return hill_climb(points, iterations=40, step=0.05, seed=4)
# EVOLVE-BLOCK-END


def solve():
    return {"points": np.asarray(construct_points(), dtype=float).tolist()}
"""

_KNOWN_BOUNDS: dict[tuple[int, int], tuple[KnownBound, ...]] = {
    (16, 2): (
        KnownBound(12.890, "E. Friedman, Max/Min Distance Ratio tables", "best before AlphaEvolve"),
        KnownBound(
            12.889266112,
            "AlphaEvolve, arXiv 2506.13131 (results notebook cell 93)",
            "recomputed; EinsteinArena threads (Mar 2026) report it as a rigid local optimum, no improvement",
        ),
    ),
    (14, 3): (
        KnownBound(4.168, "E. Friedman, Max/Min Distance Ratio tables", "best before AlphaEvolve"),
        KnownBound(4.165849767, "AlphaEvolve, arXiv 2506.13131 (results notebook cell 96)", "recomputed"),
    ),
}
_SHAPING = {(16, 2): (12.8, 16.0), (14, 3): (4.1, 6.0)}


def exact_ratio(points: np.ndarray) -> tuple[Fraction, int, int]:
    """(d_max / d_min)^2 exactly, with the two squared distances' indices in pair order."""
    rows, _ = integer_points(points)
    d2 = squared_distances(rows)
    low, high = min(d2), max(d2)
    if low == 0:  # parse_points already refuses duplicates; this guards the arithmetic
        raise DataError("two points coincide")
    return Fraction(high, low), d2.index(low), d2.index(high)


class MinMaxDistanceRatio(Task):
    """n distinct points in R^dim; minimise the squared ratio of the extreme distances."""

    direction = "min"
    timeout_s = 120.0
    score_meaning = "(max distance / min distance)^2"

    def __init__(self, n: int, dim: int) -> None:
        if n < 3 or dim < 1:
            raise ValueError("min_max_distance needs n >= 3 points in dimension d >= 1")
        self.n, self.dim = n, dim
        self.name = f"min_max_distance_{n}_{dim}d"
        self.known_bounds = _KNOWN_BOUNDS.get((n, dim), ())
        low, high = _SHAPING.get((n, dim), (1.0, 4.0 * n ** (2 / dim)))
        self.reward_shaping = RewardShaping(range_min=low, range_max=high, alpha=1.0, multiplier=3.0)
        best = self.best_known
        target = f" The best known value is {best.value}." if best else ""
        self.statement = (
            f"Place {n} distinct points in {dim}-dimensional space so that the ratio between the largest "
            "and the smallest distance between two of the points is as small as possible. The score is "
            "that ratio squared, (d_max / d_min)^2, computed exactly from the coordinates (no square "
            "roots); it does not change when the points are moved, rotated or scaled together. "
            f"Coincident points are invalid.{target}"
        )
        self.solution_format = (
            f'{{"points": [[x_1, ..., x_{dim}], ...]}} with exactly {n} rows of {dim} finite numbers, '
            "no two rows equal. Other keys are ignored."
        )

    def template_variables(self) -> dict[str, object]:
        return {"n_points": self.n, "dimension": self.dim}

    @property
    def initial_program(self) -> str:
        return _INITIAL_PROGRAM.replace("__N__", str(self.n)).replace("__D__", str(self.dim))

    def judge(self, solution: Solution, tol: float) -> Verdict:
        """Exact; ``tol`` has nothing to relax here and is only recorded."""
        points = parse_points(solution, self.n, self.dim)
        ratio, _, _ = exact_ratio(points)
        score = float(ratio)  # correctly rounded
        metrics = {"ratio": math.sqrt(score)}
        return Verdict(valid=True, score=score, tolerance=tol, error_bound=math.ulp(score) / 2, metrics=metrics)

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            points = parse_points(solution, self.n, self.dim)
            ratio, low_pair, high_pair = exact_ratio(points)
        except DataError:
            return False
        if self.dim not in (2, 3):
            return False
        plt = pyplot()
        from itertools import combinations

        pairs = list(combinations(range(self.n), 2))
        fig = plt.figure(figsize=(6, 6))
        try:
            ax = fig.add_subplot(projection="3d" if self.dim == 3 else None)
            ax.scatter(*points.T, s=30)
            for pair, colour in ((pairs[low_pair], "tab:red"), (pairs[high_pair], "tab:green")):
                ax.plot(*points[list(pair)].T, color=colour, lw=1.5)
            if self.dim == 2:
                ax.set_aspect("equal")
            ax.set_title(f"{self.name}: ratio^2 = {float(ratio):.10f} (red: min, green: max)")
            fig.savefig(path, dpi=110, bbox_inches="tight")
        finally:
            plt.close(fig)
        return True


register(lambda: MinMaxDistanceRatio(16, 2))
register(lambda: MinMaxDistanceRatio(14, 3))
