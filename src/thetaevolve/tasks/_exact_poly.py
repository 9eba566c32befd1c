"""Exact polynomial algebra over the rationals, for the uncertainty-inequality verifier.

Polynomials are lists of coefficients, lowest degree first (``Fraction`` or ``int``).
Only what that verifier needs: generalised Laguerre polynomials, an exact linear solve
(fraction-free Bareiss elimination; Fraction arithmetic would spend its time on gcds of
numbers with tens of thousands of bits), and real-root isolation by
Descartes' rule of signs with bisection (the Vincent-Collins-Akritas method).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Sequence

Poly = list[Fraction]


def laguerre(n: int, alpha: Fraction) -> Poly:
    """L_n^(alpha)(x) = sum_j (-1)^j binom(n + alpha, n - j) x^j / j!."""
    coeffs = []
    for j in range(n + 1):
        k = n - j
        binom = Fraction(1)
        for i in range(k):  # binom(n + alpha, k) = prod_{i<k} (n + alpha - i) / k!
            binom *= (n + alpha - i)
        binom /= math.factorial(k)
        coeffs.append((-1) ** j * binom / math.factorial(j))
    return coeffs


def solve_integer_system(rows: list[list[int]], rhs: list[int]) -> tuple[list[int], int]:
    """Exact solution of A x = b for a square integer A: (y, d) with x = y / d, d = det(A) != 0.

    Fraction-free Gaussian elimination (Bareiss) keeps every entry an integer minor of A,
    then fraction-free back substitution: d * x_i is an integer by Cramer's rule, so each
    division below is exact. Raises ZeroDivisionError when A is singular.
    """
    n = len(rows)
    m = [list(r) + [b] for r, b in zip(rows, rhs)]
    prev = 1
    for k in range(n):
        pivot_row = next((r for r in range(k, n) if m[r][k] != 0), None)
        if pivot_row is None:
            raise ZeroDivisionError("singular system")
        if pivot_row != k:
            m[k], m[pivot_row] = m[pivot_row], m[k]
        pivot, row_k = m[k][k], m[k]
        for i in range(k + 1, n):
            row_i = m[i]
            factor = row_i[k]
            for j in range(k + 1, n + 1):
                row_i[j] = (row_i[j] * pivot - factor * row_k[j]) // prev
            row_i[k] = 0
        prev = pivot
    det = m[n - 1][n - 1]  # up to the sign of the row swaps, which cancels in y / d
    y = [0] * n
    for i in range(n - 1, -1, -1):
        acc = det * m[i][n] - sum(m[i][j] * y[j] for j in range(i + 1, n))
        q, r = divmod(acc, m[i][i])
        assert r == 0, "Bareiss back substitution left a remainder"
        y[i] = q
    return y, det


def multiply(p: Sequence[Fraction], q: Sequence[Fraction]) -> Poly:
    out = [Fraction(0)] * (len(p) + len(q) - 1)
    for i, a in enumerate(p):
        for j, b in enumerate(q):
            out[i + j] += a * b
    return out


def primitive_integer(p: Sequence[Fraction]) -> list[int]:
    """A positive multiple of p with coprime integer coefficients (same roots, same signs)."""
    common = math.lcm(*(Fraction(c).denominator for c in p))
    ints = [int(Fraction(c) * common) for c in p]
    content = math.gcd(*ints)
    return [c // content for c in ints] if content else ints


def sign_at(p: Sequence[int], num: int, den: int) -> int:
    """Sign of the integer polynomial p at num / den (den > 0), exactly."""
    acc = 0
    power = 1
    for c in reversed(p):
        acc = acc * num + c * power
        power *= den
    return (acc > 0) - (acc < 0)


def _taylor_shift_one(p: list[int]) -> list[int]:
    """Coefficients of p(x + 1) (in place, O(d^2) additions)."""
    n = len(p)
    for i in range(n - 1):
        for j in range(n - 2, i - 1, -1):
            p[j] += p[j + 1]
    return p


def _variations(coeffs: Sequence[int]) -> int:
    signs = [c > 0 for c in coeffs if c != 0]
    return sum(1 for a, b in zip(signs, signs[1:]) if a != b)


def descartes_count(p: Sequence[int], a: Fraction, b: Fraction) -> int:
    """Sign variations of p mapped from (a, b) to (0, inf): an upper bound on the number of
    roots in (a, b) with the same parity; 0 means none and 1 means exactly one (simple)."""
    # q(x) = p(a + (b - a) x) on (0, 1), kept integral by a common scale factor.
    da, db = a.denominator, b.denominator
    den = math.lcm(da, db)
    an, wn = a.numerator * (den // da), b.numerator * (den // db) - a.numerator * (den // da)
    d = len(p) - 1
    # Homogenised: den^d p((an + wn x) / den) = sum_i p_i (an + wn x)^i den^(d - i).
    shifted = [c * den ** (d - i) for i, c in enumerate(p)]
    # substitute x -> an + wn * x: first x -> x + an (scaled Taylor shift), then x -> wn x.
    q = _shift_by(shifted, an)
    q = [c * wn**i for i, c in enumerate(q)]
    # (1 + t)^d q(1 / (1 + t)): reverse, then shift by one.
    return _variations(_taylor_shift_one(q[::-1]))


def _shift_by(p: list[int], s: int) -> list[int]:
    """Coefficients of p(x + s) for an integer s."""
    out = list(p)
    n = len(out)
    for i in range(n - 1):
        for j in range(n - 2, i - 1, -1):
            out[j] += s * out[j + 1]
    return out


def root_bound(p: Sequence[int]) -> Fraction:
    """A power of two above every real root's modulus (Cauchy: 1 + max |p_i / p_d|)."""
    lead = abs(p[-1])
    ratio = max(Fraction(abs(c), lead) for c in p[:-1]) if len(p) > 1 else Fraction(0)
    bound = 1 + ratio
    k = max(0, math.ceil(math.log2(bound.numerator)) - math.floor(math.log2(bound.denominator)) + 1)
    return Fraction(1 << k)


def largest_sign_change(p: Sequence[int], low: Fraction, width: Fraction) -> tuple[Fraction, Fraction, bool] | None:
    """An interval [lo, hi] of width <= ``width`` such that p has no root above hi and p
    changes sign inside it; None when p has no sign change in (low, inf).

    Intervals are searched from the top down with Descartes' rule. If the topmost root
    cannot be separated down to ``width`` (a multiple root or a tight cluster), the interval
    is returned with ``certain`` False: p still has no root above its upper end, so that
    end is a safe (pessimistic) place for the last sign change.
    """
    top = root_bound(p)
    stack = [(low, top)]
    while stack:
        a, b = stack.pop()
        count = descartes_count(p, a, b)
        if count == 0:
            continue
        if count == 1:
            sa, sb = sign_at(p, a.numerator, a.denominator), sign_at(p, b.numerator, b.denominator)
            if sa != sb and sa != 0 and sb != 0:
                return _refine(p, a, b, sa, width) + (True,)
            # (Equal end signs with one variation cannot happen: end points are never
            # roots here, the split rule below steps around them.)
        if b - a <= width:
            return a, b, False
        mid = (a + b) / 2
        while sign_at(p, mid.numerator, mid.denominator) == 0:
            mid = (mid + b) / 2 if (mid + b) / 2 < b else (a + mid) / 2
        stack.append((a, mid))
        stack.append((mid, b))  # popped first: the upper half is searched first
    return None


def _refine(p: Sequence[int], a: Fraction, b: Fraction, sa: int, width: Fraction) -> tuple[Fraction, Fraction]:
    """Bisect on the sign of p until [a, b] is narrower than ``width``."""
    while b - a > width:
        mid = (a + b) / 2
        s = sign_at(p, mid.numerator, mid.denominator)
        if s == 0:
            return mid, mid
        if s == sa:
            a = mid
        else:
            b = mid
    return a, b
