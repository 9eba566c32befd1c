"""An uncertainty inequality (C4 of AlphaEvolve, B.4): the Laguerre formulation with m roots.

For even f with f(0) < 0 and f^(0) < 0 let A(f) = inf{r > 0 : f(x) >= 0 for |x| >= r}; C4 is
the largest constant with A(f) A(f^) >= C4 (Bourgain, Clozel, Kahane; Cohn and Gonçalves).
0.2025 <= C4 is proven (Gonçalves, Oliveira e Silva, Steinerberger 2017), so any score
below 0.2025 is a verifier or data error and is rejected as such.

Construction (Cohn and Gonçalves 2019, as used in AlphaEvolve's notebook, 2025-06-17):
f(x) = g(2 pi x^2) e^{-pi x^2} with g = sum_{k=0}^{2m+1} a_k L_{2k}^{(-1/2)}, a combination of
Laguerre polynomials whose f-terms are all eigenfunctions of the Fourier transform with
eigenvalue +1, so f^ = f and A(f) A(f^) = A(f)^2 = r / (2 pi), where r is the last sign
change of g on (0, inf). The 2m + 2 coefficients are fixed by g(0) = 0, g'(0) = 1 and a
double root of g at each given z_1..z_m (the solution's data); the verifier then needs g
to be positive for large x and finds r.

Exactness: the z_i are read as the dyadic rationals their floats store. The system is
written for q = g / (x prod (x - z_i)^2) (see ``quotient_polynomial``) and solved exactly in
integers (Bareiss); r is isolated by Descartes' rule of signs with bisection on the exact
integer polynomial q, then refined to a width of 2^-80. Should the topmost root of q be
a multiple root (no sign change), it cannot be isolated as a simple one: the verifier then
reports the upper end of that tiny interval, a valid but pessimistic r (the metric
``isolated_as_simple_root`` says 0). The score
reported is an upper end of r / (2 pi) (pi taken between two 40-digit rationals), so it is
a valid upper bound on C4; ``error_bound`` covers the whole interval.

Speed (measured, see benchmarks/verifiers.py): the published 12-root construction takes
about 1.5 s on one core (1 s of it in the exact linear solve); the cost grows roughly like
m^4, hence the limit of 16 roots.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from thetaevolve.plots import pyplot
from thetaevolve.tasks import register
from thetaevolve.tasks._exact_poly import largest_sign_change, primitive_integer, solve_integer_system
from thetaevolve.tasks._numbers import DataError, real_vector, require_mapping
from thetaevolve.tasks.base import KnownBound, RewardShaping, Task
from thetaevolve.types import Solution, Verdict

MAX_ROOTS = 16
ALPHA = Fraction(-1, 2)  # Laguerre parameter d/2 - 1 for dimension d = 1
# pi to 40 digits, as an enclosing pair of rationals (the true pi lies strictly between).
_PI_LOW = Fraction("3.141592653589793238462643383279502884197")
_PI_HIGH = Fraction("3.141592653589793238462643383279502884198")
_WIDTH = Fraction(1, 1 << 80)

_INITIAL_PROGRAM = """'''Uncertainty inequality (Laguerre form): choose m positive double roots z_1..z_m; the verifier
builds g = sum_k a_k L_{2k}^(-1/2) with g(0) = 0, g'(0) = 1 and g(z_i) = g'(z_i) = 0, and scores
r / (2 pi) with r the last sign change of g. Minimise.'''

import numpy as np


# EVOLVE-BLOCK-START
def construct_roots():
    '''A few double roots: a geometric spread with a gentle bend (far from the best placement).'''
    m = 3
    first_root = 4.0
    growth = 2.5
    bend = 0.0  # extra growth per step, squared in the step index
    jitter = 0.0
    smallest_gap = 0.5  # keep the roots apart: equal roots make the system singular
    roots = []
    for k in range(m):
        z = first_root * growth ** (k + bend * k * k) + jitter * (k % 2)
        if roots and z < roots[-1] + smallest_gap:
            z = roots[-1] + smallest_gap
        roots.append(max(z, 0.1))
    return roots
# EVOLVE-BLOCK-END


def solve():
    return {"roots": [float(z) for z in construct_roots()]}
"""


def parse_roots(solution: Any) -> list[Fraction]:
    data = require_mapping(solution)
    if "roots" not in data:
        raise DataError("missing key 'roots' (the positive double roots z_1..z_m)")
    roots = real_vector(data["roots"], "roots")
    if not 1 <= len(roots) <= MAX_ROOTS:
        raise DataError(f"give between 1 and {MAX_ROOTS} roots, got {len(roots)}")
    if (roots <= 0).any():
        i = int(np.flatnonzero(roots <= 0)[0])
        raise DataError(f"roots must be positive: roots[{i}] = {float(roots[i])!r}")
    ordered = sorted(float(z) for z in roots)
    for a, b in zip(ordered, ordered[1:]):
        if a == b:
            raise DataError(f"roots must be distinct: {a!r} appears twice")
    return [Fraction(z) for z in ordered]


def monomial_in_laguerre(i: int, j: int) -> Fraction:
    """The coefficient of L_j^(alpha) in x^i (zero for j > i):
    x^i = sum_{j<=i} (-1)^j i! Gamma(i + alpha + 1) / ((i - j)! Gamma(j + alpha + 1)) L_j^(alpha)(x).
    (The tests check this inversion formula against the Laguerre coefficients.)"""
    if j > i:
        return Fraction(0)
    gamma_ratio = Fraction(1)
    for t in range(j + 1, i + 1):
        gamma_ratio *= t + ALPHA
    return (-1) ** j * Fraction(math.factorial(i), math.factorial(i - j)) * gamma_ratio


def double_root_multiplier(roots: list[Fraction]) -> list[int]:
    """A positive integer multiple of W(x) = x prod (x - z_i)^2, lowest degree first."""
    scale = math.lcm(*(z.denominator for z in roots))
    w = [0, 1]
    for z in roots:
        zn = int(z * scale)  # scale * (x - z) = scale x - zn, squared
        factor = [zn * zn, -2 * zn * scale, scale * scale]
        out = [0] * (len(w) + 2)
        for a, wa in enumerate(w):
            for b, fb in enumerate(factor):
                out[a + b] += wa * fb
        w = out
    return w


def quotient_polynomial(roots: list[Fraction]) -> list[int]:
    """Integer coefficients of q = g / W, up to a non-zero factor, lowest degree first.

    g(0) = 0 and a double root at every z_i mean g = W q with deg q = 2m + 1. g must lie in
    the span of the even-index L_{2k}^(-1/2), k <= 2m + 1: its coefficients on L_1, L_3, ...,
    L_{4m+1} vanish, 2m + 1 linear conditions on the 2m + 2 coefficients of q. q(0) != 0
    (g'(0) = W'(0) q(0) must be non-zero to be normalised to 1), so we set q_0 = 1 and solve
    the remaining square system exactly. This is AlphaEvolve's system written for q: its
    entries are ~m * 64 bits instead of the ~m * 4 * 64 bits of Laguerre values at the z_i.
    """
    m = len(roots)
    w = double_root_multiplier(roots)
    size = 2 * m + 2  # unknowns q_0..q_{2m+1}
    degree = len(w) - 1 + size - 1  # 4m + 2
    rows: list[list[int]] = []
    for j in range(1, degree, 2):  # odd Laguerre indices 1, 3, ..., 4m + 1
        lam = [monomial_in_laguerre(i, j) for i in range(degree + 1)]
        common = math.lcm(*(c.denominator for c in lam))
        lam_int = [int(c * common) for c in lam]
        # coefficient of L_j in W x^k = sum_i lam_i W_{i-k}
        rows.append([sum(lam_int[k + t] * wt for t, wt in enumerate(w)) for k in range(size)])
    matrix = [row[1:] for row in rows]
    rhs = [-row[0] for row in rows]  # q_0 = 1 moved to the right-hand side
    try:
        y, det = solve_integer_system(matrix, rhs)
    except ZeroDivisionError:
        raise DataError("these roots make the linear system singular: no such g exists") from None
    return primitive_integer([Fraction(det)] + [Fraction(v) for v in y])  # q = (det, y) / det


def certified_score(roots: list[Fraction]) -> tuple[Fraction, Fraction, bool]:
    """Lower and upper ends of r / (2 pi), and whether r was isolated as a simple root."""
    q = quotient_polynomial(roots)
    if q[-1] < 0:
        # The conditions fix g up to a factor; the sign that makes g positive for large x is
        # the admissible one (as for the Hermite form, where AlphaEvolve flips P so that
        # P -> +inf). Flipping changes neither the roots nor the sign changes.
        q = [-c for c in q]
    found = largest_sign_change(q, Fraction(0), _WIDTH)
    if found is None:
        raise DataError("g never changes sign on (0, inf): impossible for g(0) = 0 with g'(0) = 1; data error")
    low, high, certain = found
    return low / (2 * _PI_HIGH), high / (2 * _PI_LOW), certain


class UncertaintyInequality(Task):
    name = "uncertainty_inequality"
    direction = "min"
    timeout_s = 300.0
    score_meaning = "upper bound on C4, r / (2 pi)"
    statement = (
        "An uncertainty inequality (Laguerre form). Choose m distinct positive numbers z_1..z_m "
        f"(1 <= m <= {MAX_ROOTS}). The verifier builds g(x) = sum_{{k=0}}^{{2m+1}} a_k L_{{2k}}^{{(-1/2)}}(x), a "
        "combination of generalised Laguerre polynomials with parameter -1/2, whose 2m + 2 coefficients "
        "are fixed by g(0) = 0, g'(0) = 1 and a double root at every z_i (g(z_i) = g'(z_i) = 0). Then "
        "f(x) = g(2 pi x^2) exp(-pi x^2) equals its own Fourier transform, and it is non-negative for "
        "|x| >= sqrt(r / (2 pi)) where r is the largest x > 0 at which g changes sign; g must be "
        "positive for large x. Minimise r / (2 pi), an upper bound on the constant C4. Everything is "
        "computed exactly (rational linear algebra, exact real-root isolation); scores below the "
        "proven lower bound 0.2025 are impossible."
    )
    solution_format = (
        f'{{"roots": [z_1, ..., z_m]}}: 1 to {MAX_ROOTS} distinct positive finite numbers (any order). '
        "Other keys are ignored."
    )
    known_bounds = (
        KnownBound(0.3523, "Gonçalves, Oliveira e Silva, Steinerberger 2017 (Hermite form)", "their coefficients give 0.3522955625"),
        KnownBound(0.3284, "Cohn and Gonçalves 2019, Invent. Math. (A+(1) ~ 0.572990)"),
        KnownBound(0.3520991044, "AlphaEvolve, arXiv 2506.13131 (Hermite form)", "recomputed"),
        KnownBound(
            0.3215872334,
            "AlphaEvolve results notebook, 2025-06-17 update (Laguerre form, 12 roots)",
            "recomputed; Georgiev et al. (arXiv 2511.02864) list this problem as below the literature record, "
            "which we could not identify",
        ),
    )
    proven_bound = KnownBound(0.2025, "Gonçalves, Oliveira e Silva, Steinerberger 2017: C4 >= 0.2025")
    reward_shaping = RewardShaping(range_min=0.32, range_max=0.40, alpha=1.0, multiplier=3.0)

    @property
    def initial_program(self) -> str:
        return _INITIAL_PROGRAM

    def judge(self, solution: Solution, tol: float) -> Verdict:
        """Exact; ``tol`` has nothing to relax here and is only recorded."""
        roots = parse_roots(solution)
        low, high, certain = certified_score(roots)
        score = float(high)
        if self.beats_proven_bound(score):
            return Verdict.invalid(
                f"score {score!r} is below the proven lower bound 0.2025 (Gonçalves, Oliveira e Silva, "
                "Steinerberger 2017): verifier or data error",
                tolerance=tol,
            )
        metrics = {
            "m_roots": float(len(roots)),
            "last_sign_change": float(high * 2 * _PI_LOW),
            "isolated_as_simple_root": 1.0 if certain else 0.0,
        }
        return Verdict(
            valid=True, score=score, tolerance=tol, error_bound=float(high - low) + math.ulp(score), metrics=metrics
        )

    def plot_solution(self, solution: Solution, path: Path) -> bool:
        try:
            roots = parse_roots(solution)
            low, high, _ = certified_score(roots)
        except (DataError, ArithmeticError):
            return False
        plt = pyplot()

        r = float(high * 2 * _PI_LOW)
        x = np.linspace(0.0, 1.5 * max(r, float(roots[-1])), 2000)
        # g = W q, evaluated in floats for the picture only (W and q each scaled to max 1).
        q = quotient_polynomial(roots)
        q = [-c for c in q] if q[-1] < 0 else q
        w = double_root_multiplier(roots)
        as_floats = lambda p: [float(Fraction(c, max(abs(v) for v in p))) for c in p]  # noqa: E731
        values = np.polynomial.polynomial.polyval(x, as_floats(w)) * np.polynomial.polynomial.polyval(x, as_floats(q))
        fig, ax = plt.subplots(figsize=(8, 4.5))
        try:
            ax.plot(x, np.sign(values) * np.log1p(np.abs(values) * 1e12), lw=0.9)
            ax.axvline(r, color="tab:red", lw=1, label=f"last sign change r = {r:.6f}")
            for z in roots:
                ax.axvline(float(z), color="tab:gray", lw=0.5, ls=":")
            ax.axhline(0, color="black", lw=0.5)
            ax.set_title(f"{self.name}: g (signed log scale), score r/(2 pi) = {float(high):.10f}")
            ax.legend()
            fig.savefig(path, dpi=110, bbox_inches="tight")
        finally:
            plt.close(fig)
        return True


register(UncertaintyInequality)
