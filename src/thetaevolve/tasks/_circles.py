"""Exact geometry for circle packings, shared by the square and the rectangle tasks.

Every float is a dyadic rational m / 2^k, so multiplying all inputs by one common power
of two turns them into Python integers without any rounding. Containment and
disjointness are then decided on integers, with squared distances (no square roots):
the verdict is exact, and a 1e-18 overlap is as invalid as a 0.1 one.

Tolerance (explicit opt-in, ``tol`` > 0): a circle may stick out of the box by at most
``tol`` (x - r >= -tol, x + r <= W + tol), and two circles may overlap by at most ``tol``
(r_i + r_j - dist <= tol). These inequalities are decided exactly too, with ``tol``
read as the dyadic rational it stores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks._numbers import DataError, real_rows, real_vector, require_mapping


def parse_circles(solution: Any, n: int) -> np.ndarray:
    """The (n, 3) array of (x, y, r) from ``{"circles": ...}`` or ``{"centers", "radii"}``.

    Extra keys are ignored (a claimed ``score`` is never read). Radii must be > 0.
    """
    data = require_mapping(solution)
    if "circles" in data:
        if "centers" in data or "radii" in data:
            raise DataError("give either 'circles' or 'centers' + 'radii', not both")
        circles = real_rows(data["circles"], 3, "circles")
    elif "centers" in data and "radii" in data:
        centers = real_rows(data["centers"], 2, "centers")
        radii = real_vector(data["radii"], "radii")
        if len(centers) != len(radii):
            raise DataError(f"{len(centers)} centers but {len(radii)} radii")
        circles = np.column_stack([centers, radii])
    else:
        raise DataError("missing key 'circles' (a list of [x, y, r])")
    if len(circles) != n:
        raise DataError(f"expected exactly {n} circles, got {len(circles)}")
    radii = circles[:, 2]
    if (radii <= 0).any():
        i = int(np.flatnonzero(radii <= 0)[0])
        raise DataError(f"circle {i} has a non-positive radius ({float(radii[i])!r})")
    return circles


def common_scale(values: Sequence[float]) -> tuple[list[int], int]:
    """Integers N_i and a shift K with values[i] == N_i / 2**K exactly."""
    ratios = [v.as_integer_ratio() for v in values]
    shift = max(den.bit_length() - 1 for _, den in ratios)
    return [num << (shift - (den.bit_length() - 1)) for num, den in ratios], shift


@dataclass(frozen=True)
class Violations:
    """What an exact check found; empty lists mean the packing is valid."""

    walls: list[int]  # circles that leave the box
    pairs: list[tuple[int, int]]  # overlapping pairs

    @property
    def ok(self) -> bool:
        return not self.walls and not self.pairs


def exact_violations(
    circles: np.ndarray, box: tuple[float, float, float, float] | None, tol: float
) -> Violations:
    """Exact containment in ``box`` = (x0, y0, x1, y1) (skipped when None) and disjointness."""
    n = len(circles)
    flat = [float(v) for v in circles.reshape(-1)]
    extra = [float(tol)] + (list(box) if box is not None else [])
    ints, _ = common_scale(flat + extra)
    xs, ys, rs = ints[0 : 3 * n : 3], ints[1 : 3 * n : 3], ints[2 : 3 * n : 3]
    t = ints[3 * n]
    walls: list[int] = []
    if box is not None:
        x0, y0, x1, y1 = ints[3 * n + 1 :]
        for i in range(n):
            x, y, r = xs[i], ys[i], rs[i]
            if x - r < x0 - t or x + r > x1 + t or y - r < y0 - t or y + r > y1 + t:
                walls.append(i)
    pairs: list[tuple[int, int]] = []
    for i in range(n):
        xi, yi, ri = xs[i], ys[i], rs[i]
        for j in range(i + 1, n):
            reach = ri + rs[j] - t
            if reach <= 0:
                continue
            dx, dy = xi - xs[j], yi - ys[j]
            if dx * dx + dy * dy < reach * reach:
                pairs.append((i, j))
    return Violations(walls, pairs)


def float_diagnostics(circles: np.ndarray, box: tuple[float, float, float, float] | None) -> dict[str, float]:
    """Largest overlap and wall violation in plain floats (for messages and metrics only)."""
    x, y, r = circles[:, 0], circles[:, 1], circles[:, 2]
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    over = r[:, None] + r[None, :] - d
    np.fill_diagonal(over, -np.inf)
    out = {"max_overlap": float(max(0.0, over.max())) if len(r) > 1 else 0.0}
    if box is not None:
        x0, y0, x1, y1 = box
        wall = np.max(np.stack([x0 - (x - r), (x + r) - x1, y0 - (y - r), (y + r) - y1]))
        out["max_wall_violation"] = float(max(0.0, wall))
    return out


def violation_reason(circles: np.ndarray, found: Violations, tol: float) -> str:
    """One readable sentence naming the worst violation and how many there are."""
    x, y, r = circles[:, 0], circles[:, 1], circles[:, 2]
    how = "exactly" if tol == 0 else f"with tolerance {tol:g}"
    parts = []
    if found.pairs:
        amounts = [r[i] + r[j] - math.hypot(x[i] - x[j], y[i] - y[j]) for i, j in found.pairs]
        k = int(np.argmax(amounts))
        i, j = found.pairs[k]
        parts.append(
            f"{len(found.pairs)} overlapping pair(s) (checked {how}); worst: circles {i} and {j} "
            f"overlap by {max(amounts[k], 0.0):.3g}"
        )
    if found.walls:
        parts.append(f"{len(found.walls)} circle(s) leave the container (checked {how}), first: circle {found.walls[0]}")
    return "; ".join(parts)


def plot_circles(circles: np.ndarray, box: tuple[float, float, float, float], title: str, path: Path) -> None:
    plt = pyplot()
    from matplotlib.patches import Circle, Rectangle

    fig, ax = plt.subplots(figsize=(6, 6))
    try:
        x0, y0, x1, y1 = box
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, lw=1.5, color="black"))
        for i, (cx, cy, cr) in enumerate(circles):
            ax.add_patch(Circle((cx, cy), cr, fill=True, alpha=0.35, ec="tab:blue", lw=1.0))
            ax.text(cx, cy, str(i), ha="center", va="center", fontsize=7)
        pad = 0.02 * max(x1 - x0, y1 - y0)
        ax.set_xlim(x0 - pad, x1 + pad)
        ax.set_ylim(y0 - pad, y1 + pad)
        ax.set_aspect("equal")
        ax.set_title(title)
        fig.savefig(path, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
