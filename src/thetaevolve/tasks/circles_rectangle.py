"""Circles in a rectangle of perimeter 4: n disjoint circles, maximise the sum of radii.

The rectangle is the circles' bounding box (AlphaEvolve's May 2025 convention): its width
plus height must not exceed 2, decided exactly. A solution may also name the rectangle
(``width``, ``height``, placed at the origin, AlphaEvolve's November 2025 convention);
then every circle must lie in [0, width] x [0, height] and width + height <= 2.
Disjointness is exact as for the square (``_circles``). With an explicit tolerance
``tol`` > 0, overlaps and wall crossings up to ``tol`` are accepted and the half-perimeter
may reach 2 + tol.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from thetaevolve.tasks import register
from thetaevolve.tasks._circles import (
    common_scale,
    exact_violations,
    float_diagnostics,
    parse_circles,
    plot_circles,
    violation_reason,
)
from thetaevolve.tasks._numbers import DataError, real_scalar
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

HALF_PERIMETER = 2.0

_INITIAL_PROGRAM = """'''Circles in a rectangle of perimeter 4: place N_CIRCLES disjoint circles, maximise the sum of radii.'''

import numpy as np

N_CIRCLES = __N__


# EVOLVE-BLOCK-START
def choose_rectangle():
    '''Width and height with width + height <= 2 (perimeter 4).'''
    width = 1.0
    width = min(max(width, 0.05), 1.95)
    height = 2.0 - width
    return width, height


def place_centers(n, width, height):
    '''Centres on a simple pattern: one in the middle, an inner ring and an outer ring.'''
    inner_count = int(round(6))
    inner_count = min(max(inner_count, 0), n - 1)
    outer_count = n - 1 - inner_count
    middle = np.array([0.5 * width, 0.5 * height])
    inner_ring_radius = 0.25
    outer_ring_radius = 0.6
    inner_phase = 0.0
    outer_phase = 0.0
    stretch = np.array([width, height])
    centers = [middle]
    for k in range(inner_count):
        angle = 2.0 * np.pi * k / max(inner_count, 1) + inner_phase
        centers.append(middle + inner_ring_radius * stretch * np.array([np.cos(angle), np.sin(angle)]))
    for k in range(outer_count):
        angle = 2.0 * np.pi * k / max(outer_count, 1) + outer_phase
        centers.append(middle + outer_ring_radius * stretch * np.array([np.cos(angle), np.sin(angle)]))
    margin = 0.02
    centers = np.array(centers)
    centers[:, 0] = np.clip(centers[:, 0], margin * width, (1.0 - margin) * width)
    centers[:, 1] = np.clip(centers[:, 1], margin * height, (1.0 - margin) * height)
    return centers


def feasible_radii(centers, width, height):
    '''Largest radii allowed by the walls, then shrink every overlapping pair proportionally.'''
    x, y = centers[:, 0], centers[:, 1]
    radii = np.minimum.reduce([x, y, width - x, height - y])
    radius_scale = 1.0
    radii = radii * radius_scale
    n = len(centers)
    for i in range(n):
        for j in range(i + 1, n):
            dist = float(np.hypot(x[i] - x[j], y[i] - y[j]))
            if radii[i] + radii[j] > dist:
                ratio = dist / (radii[i] + radii[j])
                radii[i] *= ratio
                radii[j] *= ratio
    safety = 1e-12
    return np.maximum(radii * (1.0 - safety), 0.0)


def construct_packing(n):
    width, height = choose_rectangle()
    centers = place_centers(n, width, height)
    radii = feasible_radii(centers, width, height)
    return centers, radii
# EVOLVE-BLOCK-END


def solve():
    centers, radii = construct_packing(N_CIRCLES)
    circles = np.column_stack([centers, radii])
    return {"circles": circles.tolist()}
"""

_KNOWN_BOUNDS = (
    KnownBound(2.364, "E. Friedman, Circles in Rectangles table (erich-friedman.github.io/packing/cirRrec/)", "best before AlphaEvolve"),
    KnownBound(2.3658321334, "AlphaEvolve, arXiv 2506.13131 (results notebook cell 125)", "recomputed; bounding box W + H = 1.99999997"),
    KnownBound(
        2.3658323759,
        "Georgiev, Gomez-Serrano, Tao, Wagner, arXiv 2511.02864 (problem 36)",
        "recomputed; W = 1.0232689, H = 0.9767311, exact check passes; EinsteinArena's 2026 leader "
        "(claude-capybara-agent, thread 142) reports the same value with a mirror-symmetric layout",
    ),
)


def _rectangle(data: dict[str, Any]) -> tuple[float, float] | None:
    has_w, has_h = "width" in data, "height" in data
    if has_w != has_h:
        raise DataError("give both 'width' and 'height', or neither (then the bounding box is used)")
    if not has_w:
        return None
    w, h = real_scalar(data["width"], "width"), real_scalar(data["height"], "height")
    if w <= 0 or h <= 0:
        raise DataError(f"width and height must be > 0, got {w!r} and {h!r}")
    return w, h


def _bbox_half_perimeter_ok(circles: np.ndarray, limit_plus_tol: list[float]) -> bool:
    """Exactly: (max(x+r) - min(x-r)) + (max(y+r) - min(y-r)) <= 2 + tol."""
    n = len(circles)
    ints, _ = common_scale([float(v) for v in circles.reshape(-1)] + limit_plus_tol)
    xs, ys, rs = ints[0 : 3 * n : 3], ints[1 : 3 * n : 3], ints[2 : 3 * n : 3]
    limit, t = ints[3 * n], ints[3 * n + 1]
    w = max(x + r for x, r in zip(xs, rs)) - min(x - r for x, r in zip(xs, rs))
    h = max(y + r for y, r in zip(ys, rs)) - min(y - r for y, r in zip(ys, rs))
    return w + h <= limit + t


class CirclesRectangle(Task):
    """n disjoint circles in a rectangle of perimeter 4; maximise the sum of radii."""

    direction = "max"
    score_meaning = "sum of radii (rectangle of perimeter 4)"
    timeout_s = 60.0
    known_bounds = _KNOWN_BOUNDS
    # ThetaEvolve has no such task; its circle-packing transform shape, with the range end
    # at the record.
    reward_shaping = RewardShaping(range_min=0.0, range_max=2.3658, alpha=3.0, multiplier=5.0)

    def __init__(self, n: int) -> None:
        self.n = n
        self.name = f"circles_rectangle_{n}"
        self.statement = (
            f"Place {n} circles inside a rectangle whose perimeter is 4 (width + height = 2; "
            "you choose the aspect ratio) so that no two circles overlap (they may touch) and "
            "every circle lies inside the rectangle. Maximise the sum of the radii. The "
            "rectangle is taken to be the circles' bounding box, whose width plus height must "
            "not exceed 2. Validity is checked exactly, with no tolerance: leave a tiny safety "
            "margin (e.g. shrink all radii by a relative 1e-12)."
        )
        self.solution_format = (
            f'{{"circles": [[x, y, r], ...]}} with exactly {n} rows, r > 0; optionally "width" '
            'and "height" (then the rectangle is [0, width] x [0, height] and width + height <= 2). '
            '"centers" + "radii" may replace "circles". Other keys are ignored.'
        )

    def template_variables(self) -> dict[str, object]:
        best = self.best_known
        return {"n_circles": self.n, "target_value": best.value if best else None}

    @property
    def initial_program(self) -> str:
        return _INITIAL_PROGRAM.replace("__N__", str(self.n))

    def judge(self, solution: Solution, tol: float) -> Verdict:
        circles = parse_circles(solution, self.n)
        rect = _rectangle(solution)
        how = "exactly" if tol == 0 else f"with tolerance {tol:g}"
        box = None
        if rect is not None:
            w, h = rect
            ints, _ = common_scale([w, h, HALF_PERIMETER, tol])
            if ints[0] + ints[1] > ints[2] + ints[3]:
                return Verdict.invalid(f"width + height = {w + h!r} exceeds 2 (checked {how})", tolerance=tol)
            box = (0.0, 0.0, w, h)
        if not _bbox_half_perimeter_ok(circles, [HALF_PERIMETER, tol]):
            wb, hb = _bbox(circles)
            return Verdict.invalid(
                f"bounding box width + height = {wb + hb!r} exceeds 2 (checked {how})", tolerance=tol
            )
        found = exact_violations(circles, box, tol)
        if not found.ok:
            return Verdict.invalid(violation_reason(circles, found, tol), tolerance=tol)
        wb, hb = _bbox(circles)
        metrics = float_diagnostics(circles, box)
        metrics.update({"bbox_width": wb, "bbox_height": hb, "perimeter_slack": 2.0 * (HALF_PERIMETER - wb - hb)})
        score = math.fsum(float(r) for r in circles[:, 2])
        # math.fsum is correctly rounded: the float sum is within half an ulp of the exact one.
        return Verdict(valid=True, score=score, tolerance=tol, error_bound=math.ulp(score) / 2, metrics=metrics)

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            circles = parse_circles(solution, self.n)
            rect = _rectangle(solution)
        except DataError:
            return False
        if rect is not None:
            box = (0.0, 0.0, rect[0], rect[1])
        else:
            x, y, r = circles[:, 0], circles[:, 1], circles[:, 2]
            box = (float((x - r).min()), float((y - r).min()), float((x + r).max()), float((y + r).max()))
        total = math.fsum(float(r) for r in circles[:, 2])
        plot_circles(circles, box, f"{self.name}: sum of radii {total:.10f}", Path(path))
        return True


def _bbox(circles: np.ndarray) -> tuple[float, float]:
    x, y, r = circles[:, 0], circles[:, 1], circles[:, 2]
    return float((x + r).max() - (x - r).min()), float((y + r).max() - (y - r).min())


register(lambda: CirclesRectangle(21))
