"""MAP-Elites coordinates: which cell of an island's grid a program falls in.

Each feature is min-max scaled over the values seen so far (OpenEvolve's rule, as
ThetaEvolve's ``database.py`` inserts a program; arXiv 2511.23473, docs/references.md,
"Program database") and cut into ``bins`` equal bins; the cell is the mixed-radix number
of the bins. The running ranges are part of the store's state, and each program's cell is
stored with it, so a reopened store puts every program back in the cell it had.
"""

from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger(__name__)

BUILTIN_FEATURES = ("score", "code_length")


class FeatureGrid:
    """Bins programs by ``dimensions``: "score" (the fitness), "code_length", or a metric name."""

    def __init__(self, dimensions: list[str], bins: int, ranges: dict[str, list[float]]) -> None:
        self.dimensions = list(dimensions)
        self.bins = bins
        self.ranges = {d: list(ranges[d]) for d in self.dimensions if d in ranges}
        self._warned: set[str] = set()

    def _value(self, dim: str, fitness: float, code: str, metrics: dict[str, Any]) -> float:
        if dim == "score":
            return fitness
        if dim == "code_length":
            return float(len(code))
        value = metrics.get(dim)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        if dim not in self._warned:
            # A feature every program lacks puts them all in bin 0; say so once, loudly.
            log.warning("feature dimension %r is not a numeric metric of this program; "
                        "using 0 (check database.feature_dimensions)", dim)
            self._warned.add(dim)
        return 0.0

    def cell(self, fitness: float, code: str, metrics: dict[str, Any]) -> int:
        """The program's cell; widens the running ranges first (so it may change them)."""
        cell = 0
        for dim in self.dimensions:
            value = self._value(dim, fitness, code, metrics)
            low, high = self.ranges.setdefault(dim, [value, value])
            low, high = min(low, value), max(high, value)
            self.ranges[dim] = [low, high]
            if high > low:
                index = min(self.bins - 1, int((value - low) / (high - low) * self.bins))
            else:
                index = 0
            cell = cell * self.bins + index
        return cell

    def state(self) -> dict[str, list[float]]:
        return {d: list(r) for d, r in self.ranges.items()}
