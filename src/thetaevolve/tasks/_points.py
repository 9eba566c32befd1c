"""Point sets for the geometry tasks: parsing and exact integer coordinates.

Every float is a dyadic rational, so one common power of two turns all coordinates into
Python integers without rounding (``_circles.common_scale``); squared distances and
doubled triangle areas are then exact integers and every comparison is exact.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, Sequence

import numpy as np

from thetaevolve.tasks._circles import common_scale
from thetaevolve.tasks._numbers import DataError, real_rows, require_mapping


def parse_points(solution: Any, n: int, dim: int) -> np.ndarray:
    """An (n, dim) float array from ``{"points": [[...], ...]}``; distinct points only."""
    data = require_mapping(solution)
    if "points" not in data:
        raise DataError(f"missing key 'points' (a list of {n} points with {dim} coordinates each)")
    points = real_rows(data["points"], dim, "points")
    if len(points) != n:
        raise DataError(f"expected exactly {n} points, got {len(points)}")
    first, second = duplicate_pair(points)
    if first >= 0:
        raise DataError(f"points {first} and {second} coincide ({points[first].tolist()}); all points must be distinct")
    return points


def duplicate_pair(points: np.ndarray) -> tuple[int, int]:
    """Indices of the first two equal rows, or (-1, -1). Float equality is exact equality."""
    seen: dict[tuple[float, ...], int] = {}
    for i, row in enumerate(points.tolist()):
        key = tuple(0.0 if v == 0 else v for v in row)  # -0.0 and 0.0 are the same point
        if key in seen:
            return seen[key], i
        seen[key] = i
    return -1, -1


def integer_points(points: np.ndarray, extra: Sequence[float] = ()) -> tuple[list[tuple[int, ...]], list[int]]:
    """Integer coordinates (all scaled by one power of two) and the scaled ``extra`` values."""
    flat = [float(v) for v in points.reshape(-1)] + [float(v) for v in extra]
    ints, _ = common_scale(flat)
    dim = points.shape[1]
    count = len(points) * dim
    rows = [tuple(ints[i : i + dim]) for i in range(0, count, dim)]
    return rows, ints[count:]


def squared_distances(rows: list[tuple[int, ...]]) -> list[int]:
    return [sum((a - b) * (a - b) for a, b in zip(p, q)) for p, q in combinations(rows, 2)]


def doubled_area(p: tuple[int, ...], q: tuple[int, ...], r: tuple[int, ...]) -> int:
    """|twice the signed area| of triangle pqr, exactly."""
    return abs((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]))


def smallest_triangle(rows: Sequence[tuple[int, ...]]) -> tuple[int, tuple[int, int, int]]:
    """The smallest doubled area over all triples, and the triple that attains it."""
    best, where = None, (0, 1, 2)
    for i, j, k in combinations(range(len(rows)), 3):
        area = doubled_area(rows[i], rows[j], rows[k])
        if best is None or area < best:
            best, where = area, (i, j, k)
    assert best is not None
    return best, where


def convex_hull(rows: list[tuple[int, ...]]) -> list[tuple[int, ...]]:
    """Vertices of the convex hull in counter-clockwise order (Andrew's monotone chain, exact)."""
    pts = sorted(set(rows))
    if len(pts) <= 2:
        return pts

    def turn(o: tuple[int, ...], a: tuple[int, ...], b: tuple[int, ...]) -> int:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[int, ...]] = []
    for p in pts:
        while len(lower) >= 2 and turn(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[int, ...]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and turn(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def doubled_polygon_area(vertices: list[tuple[int, ...]]) -> int:
    """Twice the area of a simple polygon given in order (shoelace formula), exactly."""
    total = 0
    for (x0, y0), (x1, y1) in zip(vertices, vertices[1:] + vertices[:1]):
        total += x0 * y1 - x1 * y0
    return abs(total)

