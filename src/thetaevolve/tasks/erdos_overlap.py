"""Erdős' minimum overlap problem: a step function h on [0, 2] with values in [0, 1].

Haugland (2016, arXiv 1609.08000) showed the overlap constant equals the infimum, over
step functions h: [0, 2] -> [0, 1] with integral 1, of max_k of the integral of
h(x) (1 - h(x + k)) dx (both factors zero outside [0, 2]). With n equal steps of width
2/n this is C = (2/n) * max over all shifts of the full cross-correlation of h with 1 - h;
the correlation is piecewise linear in the shift, so its maximum sits at a grid shift and
the formula is exact for the step function itself.

Normalisation rule: the integral must be 1, i.e. sum(h) = n/2. Requiring that in floats
is brittle (AlphaEvolve's check demands ``sum == n / 2`` bit for bit), so the verifier
rescales the heights by (n/2) / sum(h) itself, in exact rational arithmetic, and scores
the rescaled function. Every height must lie in [0, 1] before *and* after that scaling.

Exactness: each float is a dyadic rational, so after one common power-of-two scale the
heights are integers N_i with S = sum N_i; the rescaled heights are N_i n / (2S) and
C = max_k c_k / (2 S^2) with c_k = sum_i N_{i+k} (2S - n N_i), an integer correlation
computed exactly by one big-integer product (Kronecker substitution). The float score is
that fraction correctly rounded.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks import register
from thetaevolve.tasks._circles import common_scale
from thetaevolve.tasks._numbers import DataError, real_vector, require_mapping
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

MAX_STEPS = 10_000  # the exact big-integer correlation stays well under a second here

_INITIAL_PROGRAM = """'''Erdős minimum overlap: step heights in [0, 1] on [0, 2] (sum = n/2), minimise the overlap.'''

import numpy as np


# EVOLVE-BLOCK-START
def overlap_score(heights):
    '''(2/n) * max over shifts of the correlation of h with 1 - h (what the verifier computes).'''
    n = len(heights)
    return 2.0 / n * np.correlate(heights, 1.0 - heights, mode="full").max()


def normalise(heights):
    '''Clip into [0, 1] and rescale towards sum n/2, a few rounds.'''
    n = len(heights)
    for _ in range(20):
        heights = np.clip(heights, 0.0, 1.0)
        heights = heights * (0.5 * n / heights.sum())
    return np.clip(heights, 0.0, 1.0)


def initial_shape(n):
    '''A plateau in the middle with soft shoulders.'''
    x = np.linspace(-1.0, 1.0, n)
    plateau = 0.9
    shoulder_width = 0.35
    shoulder_power = 2.0
    return plateau * np.exp(-np.abs(x / shoulder_width) ** shoulder_power)


def hill_climb(heights, iterations, noise, seed):
    '''Random perturbations, kept when they lower the overlap.'''
    rng = np.random.default_rng(seed)
    best = normalise(heights)
    best_score = overlap_score(best)
    for _ in range(iterations):
        trial = normalise(best + noise * rng.standard_normal(len(best)))
        score = overlap_score(trial)
        if score < best_score:
            best, best_score = trial, score
    return best


def construct_heights():
    n_steps = 40
    return hill_climb(initial_shape(n_steps), iterations=30, noise=0.02, seed=5)
# EVOLVE-BLOCK-END


def solve():
    heights = np.asarray(construct_heights(), dtype=float)
    # The verifier rescales to sum n/2 exactly; keep every height inside [0, 1] after that.
    heights = np.clip(heights, 0.0, 1.0)
    return {"heights": heights.tolist()}
"""


def kronecker_correlation(a: list[int], b: list[int]) -> list[int]:
    """c_k = sum_i a[i + k] b[i] for every shift (length len(a) + len(b) - 1), exactly.

    Non-negative integer inputs only: packing each sequence into one big integer with
    digits wide enough for any coefficient makes one multiplication do the whole
    convolution, far faster than n^2 Python multiplications.
    """
    width = max(a).bit_length() + max(b).bit_length() + max(len(a), len(b)).bit_length() + 1
    width += -width % 4  # whole hex digits, see _pack
    # a read from its last entry first, b in order: the product's digits are correlations.
    packed_a = _pack(a[::-1], width)
    packed_b = _pack(b, width)
    product = packed_a * packed_b
    mask = (1 << width) - 1
    out = []
    for _ in range(len(a) + len(b) - 1):
        out.append(product & mask)
        product >>= width
    return out


def _pack(digits: list[int], width: int) -> int:
    # Hex text joins in linear time, where repeated shifts would be quadratic.
    hex_width = width // 4
    return int("".join(format(d, f"0{hex_width}x") for d in reversed(digits)), 16) if digits else 0


def parse_heights(solution: Any, tol: float) -> np.ndarray:
    """Heights in [0, 1] (with ``tol`` > 0, values within ``tol`` of the range are clipped)."""
    data = require_mapping(solution)
    if "heights" not in data:
        raise DataError("missing key 'heights' (a list of step heights in [0, 1])")
    heights = real_vector(data["heights"], "heights")
    if len(heights) == 0:
        raise DataError("heights is empty")
    if len(heights) > MAX_STEPS:
        raise DataError(f"too many heights ({len(heights)} > {MAX_STEPS})")
    low, high = float(heights.min()), float(heights.max())
    if low < -tol or high > 1.0 + tol:
        i = int(np.argmin(heights)) if low < -tol else int(np.argmax(heights))
        slack = "" if tol == 0 else f" (tolerance {tol:g})"
        raise DataError(f"heights must lie in [0, 1]{slack}: heights[{i}] = {float(heights[i])!r}")
    return np.clip(heights, 0.0, 1.0)


def exact_overlap(heights: np.ndarray) -> Fraction:
    """The overlap of the step function rescaled to sum n/2, as an exact fraction."""
    n = len(heights)
    ints, _ = common_scale([float(h) for h in heights])
    total = sum(ints)
    if total == 0:
        raise DataError("all heights are zero; the heights must sum to n/2 (integral 1)")
    peak = max(ints)
    if n * peak > 2 * total:
        raise DataError(
            f"after rescaling to sum n/2 = {n / 2:g} (the verifier's normalisation) the largest height "
            f"is {n * peak / (2 * total):.12g} > 1: raise the small heights or lower the large ones"
        )
    complement = [2 * total - n * v for v in ints]  # 2S (1 - h'_i), all >= 0 here
    best = max(kronecker_correlation(ints, complement))
    return Fraction(best, 2 * total * total)


class ErdosMinimumOverlap(Task):
    name = "erdos_min_overlap"
    direction = "min"
    timeout_s = 300.0
    score_meaning = "upper bound on the overlap constant"
    statement = (
        "Erdős' minimum overlap problem (step-function form of Haugland 2016). Choose n step "
        "heights h_0..h_{n-1}, each in [0, 1]; they define a step function h on [0, 2] with n equal "
        "steps of width 2/n, and the integral of h must be 1, i.e. the heights sum to n/2. Minimise "
        "C = (2/n) * max_k sum_i h_{i+k} (1 - h_i), the maximum over every shift k (both directions) "
        "of the full cross-correlation of h with 1 - h, both taken as zero outside their n steps. "
        "Normalisation: the verifier itself rescales the heights to sum exactly n/2 before scoring, "
        "so the sum need not be exact in floats, but every height must be in [0, 1] before and after "
        "that rescaling. Every such h gives an upper bound on the constant; smaller is better, and "
        "no h can go below the proven lower bound 0.379005."
    )
    solution_format = (
        '{"heights": [h_0, ..., h_{n-1}]}: 1 <= n <= 10000 finite numbers in [0, 1] whose sum is '
        "(close to) n/2. Other keys are ignored."
    )
    known_bounds = (
        KnownBound(0.380927, "Haugland 2016, arXiv 1609.08000 (51 steps)", "the 51 steps evaluate to 0.3809268534"),
        KnownBound(0.3809230351, "AlphaEvolve, arXiv 2506.13131 (95 steps, a mirrored 48-value half)", "recomputed"),
        KnownBound(0.3808753232, "TTT-Discover, Yuksekgonul et al., arXiv 2601.16175 (600 steps)", "recomputed"),
        KnownBound(
            0.38087131058,
            "EinsteinArena agents (Together AI 2026), as cited by arXiv 2606.31182",
            "reported, not independently verified",
        ),
    )
    proven_bound = KnownBound(
        0.379005,
        "White 2022, Acta Arithmetica (convex programming): the constant is >= 0.379005",
        "arXiv 2606.31182 (2026) reports 0.37912; the older, refereed bound is the one enforced",
    )
    reward_shaping = RewardShaping(range_min=0.38, range_max=0.40, alpha=1.0, multiplier=3.0)

    @property
    def initial_program(self) -> str:
        return _INITIAL_PROGRAM

    def judge(self, solution: Solution, tol: float) -> Verdict:
        heights = parse_heights(solution, tol)
        exact = exact_overlap(heights)
        score = float(exact)  # correctly rounded
        if self.beats_proven_bound(score):
            assert self.proven_bound is not None
            return Verdict.invalid(
                f"score {score!r} is below the proven lower bound {self.proven_bound.value} "
                f"({self.proven_bound.source}): verifier or data error",
                tolerance=tol,
            )
        metrics = {"n_steps": float(len(heights)), "raw_sum_over_half_n": math.fsum(heights.tolist()) / (len(heights) / 2)}
        return Verdict(valid=True, score=score, tolerance=tol, error_bound=math.ulp(score) / 2, metrics=metrics)

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            heights = parse_heights(solution, 1e-9)
            score = float(exact_overlap(heights))
        except DataError:
            return False
        plt = pyplot()

        n = len(heights)
        scaled = heights * (n / 2) / heights.sum()
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6))
        try:
            top.stairs(scaled, np.linspace(0.0, 2.0, n + 1), baseline=None)
            top.set_ylim(-0.05, 1.05)
            top.set_title(f"{self.name}: h on [0, 2] (n = {n}), overlap {score:.10f}")
            corr = np.correlate(scaled, 1.0 - scaled, mode="full") * 2.0 / n
            bottom.plot(np.arange(-(n - 1), n) * 2.0 / n, corr, lw=0.9)
            bottom.set_title("overlap as a function of the shift")
            fig.tight_layout()
            fig.savefig(path, dpi=110)
        finally:
            plt.close(fig)
        return True


register(ErdosMinimumOverlap)
