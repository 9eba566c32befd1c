"""Kissing configurations in dimension d (d = 11 by default): maximise the number of points.

AlphaEvolve's lemma (arXiv 2506.13131, B.11): if C is a finite set of non-zero points of
R^d with min_{x != y} |x - y| >= max_x |x|, then the points 2x/|x| are centres of |C|
non-overlapping unit spheres that all touch the unit sphere at the origin. A solution is C
as an integer matrix, and the check is
    min over pairs |x - y|^2  >=  max over points |x|^2,   no |x|^2 = 0,   no repeated row,
decided in arbitrary-precision integers. AlphaEvolve's 593 points have coordinates near
8.7e12, squared norms near 1e26: numpy's int64 overflows silently there (2^63 ~ 9.2e18), and
float64 cannot tell 1e26 from 1e26 + 1e9.

Speed: 593 points are 175,528 pairs. A float64 pass screens them first, with a rigorous
error bound; only pairs the bound cannot clear are recomputed in Python integers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks import register
from thetaevolve.tasks._numbers import DataError, require_mapping
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

MAX_POINTS = 5000
_FLOAT_SAFE = 1 << 52  # below this, coordinates and their differences are exact in float64

_INITIAL_PROGRAM = """'''Kissing configuration in DIMENSION dimensions: as many non-zero integer points as possible
with every pairwise distance at least the largest norm.'''

import numpy as np

DIMENSION = __D__


# EVOLVE-BLOCK-START
def candidates(dim, seed):
    '''Vectors with two entries +-1 (the D_n root system), in a shuffled order.'''
    found = []
    for i in range(dim):
        for j in range(i + 1, dim):
            for si in (1, -1):
                for sj in (1, -1):
                    v = [0] * dim
                    v[i], v[j] = si, sj
                    found.append(v)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(found))
    return [found[k] for k in order]


def compatible(v, chosen, max_norm2):
    for w in chosen:
        if sum((a - b) ** 2 for a, b in zip(v, w)) < max_norm2:
            return False
    return True


def construct_points():
    pool = candidates(DIMENSION, seed=1)
    candidate_fraction = 0.3  # how much of the pool the greedy pass looks at
    keep = int(min(max(candidate_fraction, 0.0), 1.0) * len(pool))
    chosen = []
    for v in pool[:keep]:
        if compatible(v, chosen, 2):
            chosen.append(v)
    scale = 1  # any positive integer scale keeps the configuration valid
    return [[scale * x for x in v] for v in chosen]
# EVOLVE-BLOCK-END


def solve():
    return {"points": [[int(x) for x in row] for row in construct_points()]}
"""

_KNOWN_BOUNDS = {
    11: (
        KnownBound(592, "Ganzhinov 2022, arXiv 2207.08266"),
        KnownBound(593, "AlphaEvolve, arXiv 2506.13131 (593 integer points)", "recomputed"),
        KnownBound(604, "EinsteinArena agents, arXiv 2606.10402 (June 2026)", "reported, not independently verified"),
    ),
}
_UPPER_BOUNDS = {
    11: KnownBound(868, "upper bound in H. Cohn's kissing-number table", "quoted second-hand, not re-checked against the table"),
}


def _coordinate(value: Any, i: int, j: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise DataError(f"points[{i}][{j}] must be an integer, got {value!r} ({type(value).__name__})")
    return int(value)


def parse_integer_points(solution: Any, dim: int) -> list[tuple[int, ...]]:
    data = require_mapping(solution)
    if "points" not in data:
        raise DataError(f"missing key 'points' (a list of integer points with {dim} coordinates)")
    raw = data["points"]
    if isinstance(raw, np.ndarray):
        if raw.dtype.kind not in "iuO":
            raise DataError(f"points must hold integers, got an array of dtype {raw.dtype}")
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        raise DataError(f"points must be a list of rows, got {type(raw).__name__}")
    if len(raw) < 1:
        raise DataError("points is empty")
    if len(raw) > MAX_POINTS:
        raise DataError(f"too many points ({len(raw)} > {MAX_POINTS})")
    rows = []
    for i, row in enumerate(raw):
        if isinstance(row, np.ndarray):
            row = row.tolist()
        if not isinstance(row, (list, tuple)) or len(row) != dim:
            got = f"{len(row)} entries" if isinstance(row, (list, tuple)) else type(row).__name__
            raise DataError(f"points[{i}] must have exactly {dim} integer coordinates, got {got}")
        rows.append(tuple(_coordinate(v, i, j) for j, v in enumerate(row)))
    return rows


def _norm2(p: tuple[int, ...]) -> int:
    return sum(x * x for x in p)


def _dist2(p: tuple[int, ...], q: tuple[int, ...]) -> int:
    return sum((a - b) * (a - b) for a, b in zip(p, q))


def closest_pair(rows: list[tuple[int, ...]], threshold: int) -> tuple[int, int, int] | None:
    """A pair (i, j, |x_i - x_j|^2) with squared distance < ``threshold``, or None; exact.

    Float screen: with |coordinates| < 2^52 every difference is exact in float64, each square
    and the d-term sum carry a relative error below (d + 1) * 2^-53, so a float value above
    threshold * (1 + 4 (d + 1) 2^-53) certifies the exact one is >= threshold. Pairs the
    screen cannot certify are recomputed in Python integers.
    """
    n, dim = len(rows), len(rows[0])
    if max(abs(x) for row in rows for x in row) >= _FLOAT_SAFE:
        candidates = [(i, j) for i in range(n) for j in range(i + 1, n)]
    else:
        coords = np.array(rows, dtype=np.float64)
        margin = float(threshold) * (1.0 + 4.0 * (dim + 1) * 2.0**-53) * (1.0 + 2.0**-50)
        candidates = []
        for i in range(n - 1):
            diff = coords[i + 1 :] - coords[i]
            d2 = np.einsum("ij,ij->i", diff, diff)
            for k in np.flatnonzero(d2 <= margin).tolist():
                candidates.append((i, i + 1 + k))
    for i, j in candidates:
        d2 = _dist2(rows[i], rows[j])
        if d2 < threshold:
            return i, j, d2
    return None


class KissingNumber(Task):
    """Integer points whose pairwise distances all reach the largest norm; maximise their number."""

    direction = "max"
    timeout_s = 600.0
    score_meaning = "number of kissing spheres"

    def __init__(self, dim: int = 11) -> None:
        if dim < 1:
            raise ValueError("kissing_number needs a dimension d >= 1")
        self.dim = dim
        self.name = f"kissing_number_{dim}"
        self.known_bounds = _KNOWN_BOUNDS.get(dim, ())
        self.proven_bound = _UPPER_BOUNDS.get(dim)
        best = self.best_known
        self.reward_shaping = RewardShaping(
            range_min=0.0, range_max=float(best.value) if best else float(2 * dim * dim), alpha=2.0, multiplier=3.0
        )
        self.statement = (
            f"Kissing configuration in dimension {dim}. Give a set C of distinct non-zero points with "
            f"integer coordinates in R^{dim} such that the smallest distance between two points of C is "
            "at least the largest distance of a point of C from the origin. Then the points 2x/|x| are "
            f"the centres of |C| unit spheres touching a central unit sphere without overlapping (a "
            f"kissing configuration). Maximise |C|. The condition is checked exactly on the integers "
            "(use Python integers: squared norms of large coordinates overflow 64-bit integers)."
        )
        self.solution_format = (
            f'{{"points": [[c_1, ..., c_{dim}], ...]}}: up to {MAX_POINTS} rows of {dim} integers each '
            "(JSON integers, any size; floats are refused). Other keys are ignored."
        )

    def template_variables(self) -> dict[str, object]:
        return {"dimension": self.dim}

    @property
    def initial_program(self) -> str:
        return _INITIAL_PROGRAM.replace("__D__", str(self.dim))

    def judge(self, solution: Solution, tol: float) -> Verdict:
        """Exact; ``tol`` has nothing to relax here and is only recorded."""
        rows = parse_integer_points(solution, self.dim)
        norms = [_norm2(p) for p in rows]
        if min(norms) == 0:
            return Verdict.invalid(f"point {norms.index(0)} is the origin; every point must be non-zero", tolerance=tol)
        seen: dict[tuple[int, ...], int] = {}
        for i, p in enumerate(rows):
            if p in seen:
                return Verdict.invalid(f"points {seen[p]} and {i} are equal; points must be distinct", tolerance=tol)
            seen[p] = i
        largest = max(norms)
        clash = closest_pair(rows, largest) if len(rows) > 1 else None
        if clash is not None:
            i, j, d2 = clash
            return Verdict.invalid(
                f"points {i} and {j} are too close: |x_{i} - x_{j}|^2 = {d2} < max |x|^2 = {largest} "
                "(exact integers)",
                tolerance=tol,
            )
        score = float(len(rows))
        if self.beats_proven_bound(score):
            assert self.proven_bound is not None
            return Verdict.invalid(
                f"{len(rows)} points exceed the upper bound {self.proven_bound.value} ({self.proven_bound.source}): "
                "verifier or data error",
                tolerance=tol,
            )
        return Verdict(valid=True, score=score, tolerance=tol, error_bound=0.0, metrics={"max_norm2_bits": float(largest.bit_length())})

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            rows = parse_integer_points(solution, self.dim)
        except DataError:
            return False
        plt = pyplot()

        # The inner products of the unit vectors x/|x|: a kissing configuration keeps them <= 1/2.
        units = np.array([[float(x) for x in p] for p in rows])
        norms = np.linalg.norm(units, axis=1, keepdims=True)
        units = units / np.where(norms == 0, 1.0, norms)
        gram = units @ units.T
        cosines = gram[np.triu_indices(len(rows), 1)]
        fig, ax = plt.subplots(figsize=(7, 4))
        try:
            ax.hist(cosines, bins=80, color="tab:blue")
            ax.axvline(0.5, color="tab:red", lw=1)
            ax.set_title(f"{self.name}: {len(rows)} points; cosines between directions (limit 1/2)")
            fig.savefig(path, dpi=110, bbox_inches="tight")
        finally:
            plt.close(fig)
        return True


register(lambda: KissingNumber(11))
