"""Sums and differences of finite sets (C6 of AlphaEvolve, problem 44 of Georgiev et al.).

Gyarmati, Hennecart and Ruzsa (2007) showed that any finite set U of non-negative
integers containing 0 proves the lower bound
    theta >= 1 + log(|U - U| / |U + U|) / log(2 max(U) + 1)
on the sums-differences exponent (their side condition |U - U| <= 2 max(U) + 1 always
holds). The two set sizes are counted exactly (``_sumsets``: blocked counting, a few MB
of memory even for max(U) ~ 10^9); only the final formula is in floating point.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks import register
from thetaevolve.tasks._numbers import DataError, require_mapping
from thetaevolve.tasks._sumsets import difference_set_size, sumset_size
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

MAX_ELEMENTS = 60_000  # AlphaEvolve's largest set has 54,265; the work grows as |U|^2
MAX_VALUE = (1 << 30) - 1  # bounds the number of blocks (and the work for very sparse sets)

_INITIAL_PROGRAM = """'''Sums and differences: a set U of distinct integers >= 0 containing 0, maximise
1 + log(|U - U| / |U + U|) / log(2 max(U) + 1).'''

import numpy as np


# EVOLVE-BLOCK-START
def digit_set():
    '''A small base set of digits; more differences than sums is what pays.'''
    return [0, 1, 3]


def expand(digits, base, levels):
    '''All numbers sum_i d_i * base**i with digits d_i from the base set.'''
    numbers = [0]
    for level in range(levels):
        numbers = [x + d * base ** level for x in numbers for d in digits]
    return sorted(set(numbers))


def construct_set():
    digits = digit_set()
    base = 10  # base >= 2 * max digit + 1 keeps digit sums from carrying
    base = max(base, max(digits) + 1)
    levels = 3
    levels = min(max(levels, 1), 9)  # keep the set below ~20,000 elements
    return expand(digits, base, levels)
# EVOLVE-BLOCK-END


def solve():
    values = sorted(set(int(v) for v in construct_set()) | {0})
    return {"set": values}
"""


def parse_set(solution: Any) -> np.ndarray:
    """Sorted int64 array of the set; integers only, distinct, min 0, within the limits."""
    data = require_mapping(solution)
    if "set" not in data:
        raise DataError("missing key 'set' (a list of distinct non-negative integers containing 0)")
    raw = data["set"]
    if isinstance(raw, np.ndarray):
        if raw.ndim != 1 or raw.dtype.kind not in "iu":
            raise DataError(f"set must be a flat list of integers, got an array of dtype {raw.dtype}")
        raw = raw.tolist()
    if not isinstance(raw, (list, tuple)):
        raise DataError(f"set must be a list of integers, got {type(raw).__name__}")
    if len(raw) < 2:
        raise DataError(f"set needs at least 2 elements (0 and a positive one), got {len(raw)}")
    if len(raw) > MAX_ELEMENTS:
        raise DataError(f"set has {len(raw)} elements; at most {MAX_ELEMENTS} are accepted")
    for kind in set(map(type, raw)):
        if issubclass(kind, (bool, np.bool_)) or not issubclass(kind, (int, np.integer)):
            bad = next(i for i, v in enumerate(raw) if type(v) is kind)
            raise DataError(f"set must hold integers only: set[{bad}] = {raw[bad]!r} is a {kind.__name__}")
    low, high = min(raw), max(raw)
    if low < 0:
        raise DataError(f"set elements must be >= 0: found {low}")
    if low != 0:
        raise DataError(f"set must contain 0 (its smallest element is {low})")
    if high > MAX_VALUE:
        raise DataError(f"set elements must be <= {MAX_VALUE}: found {high}")
    values = np.sort(np.asarray(raw, dtype=np.int64))
    repeats = np.flatnonzero(np.diff(values) == 0)
    if len(repeats):
        raise DataError(f"set elements must be distinct: {int(values[repeats[0]])} appears more than once")
    return values


def theta_bound(sums: int, differences: int, top: int) -> float:
    return 1.0 + math.log(differences / sums) / math.log(2 * top + 1)


class SumsDifferences(Task):
    name = "sums_differences"
    direction = "max"
    timeout_s = 300.0
    score_meaning = "lower bound on the sums-differences exponent"
    statement = (
        "Sums and differences of finite sets. Choose a finite set U of distinct non-negative "
        "integers that contains 0 (at most 60,000 elements, each below 2^30). Maximise "
        "1 + log(|U - U| / |U + U|) / log(2 max(U) + 1), where U + U = {a + b} and U - U = {a - b} "
        "over all a, b in U. By a lemma of Gyarmati, Hennecart and Ruzsa (2007) every such U proves "
        "this value as a lower bound on the exponent theta for which |A - B| >> |A + B|^theta is "
        "possible with |A + B| << |A|; theta <= 4/3 is proven, so no set scores above 4/3. Both set "
        "sizes are counted exactly."
    )
    solution_format = (
        '{"set": [0, u_1, u_2, ...]}: 2 to 60000 distinct integers, all >= 0 and < 2^30, including 0 '
        "(JSON integers; floats such as 3.0 are refused). Other keys are ignored."
    )
    known_bounds = (
        KnownBound(1.14465, "Gyarmati, Hennecart, Ruzsa 2007, Functiones et Approximatio 37"),
        KnownBound(1.1479888965, "AlphaEvolve, arXiv 2506.13131 (2,003 integers)", "recomputed"),
        KnownBound(1.1584172816, "AlphaEvolve, arXiv 2506.13131 (54,265 integers, max 814,210,134)", "recomputed"),
        KnownBound(
            1.173050,
            "Gerbicz, arXiv 2505.16105",
            "an explicit set with more than 10^43546 elements: checkable by formula, not by enumeration here",
        ),
        KnownBound(1.173077, "Fan Zheng, arXiv 2506.01896", "a limit of constructions, not one finite set"),
    )
    proven_bound = KnownBound(4 / 3, "Gyarmati, Hennecart, Ruzsa 2007: theta <= 4/3")
    reward_shaping = RewardShaping(range_min=1.0, range_max=1.16, alpha=1.0, multiplier=3.0)

    @property
    def initial_program(self) -> str:
        return _INITIAL_PROGRAM

    def judge(self, solution: Solution, tol: float) -> Verdict:
        """Exact counts; ``tol`` has nothing to relax here and is only recorded."""
        values = parse_set(solution)
        sums, differences = sumset_size(values), difference_set_size(values)
        top = int(values[-1])
        score = theta_bound(sums, differences, top)
        if self.beats_proven_bound(score):
            return Verdict.invalid(f"score {score!r} exceeds the proven 4/3: verifier or data error", tolerance=tol)
        metrics = {
            "n_elements": float(len(values)),
            "max_element": float(top),
            "sumset_size": float(sums),
            "difference_set_size": float(differences),
        }
        # Two logs (libm: within 1 ulp each), a division, a quotient and one addition.
        return Verdict(valid=True, score=score, tolerance=tol, error_bound=8 * math.ulp(score), metrics=metrics)

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            values = parse_set(solution)
        except DataError:
            return False
        plt = pyplot()

        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5))
        try:
            top.hist(values, bins=min(200, max(10, len(values) // 20)), color="tab:blue")
            top.set_title(f"{self.name}: |U| = {len(values)}, max U = {int(values[-1])}")
            top.set_xlabel("element value")
            gaps = np.diff(values)
            bottom.semilogy(np.arange(1, len(values)), gaps, ".", ms=2)
            bottom.set_title("gaps between consecutive elements")
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
        return True


register(SumsDifferences)
