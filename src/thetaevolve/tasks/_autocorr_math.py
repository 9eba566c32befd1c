"""Certified scores for the autocorrelation inequalities (C1, C2, C3).

All three scores are exact functionals of the step function with the given heights
(f * f is piecewise linear with knots on the grid), so the only error is floating-point
rounding. Each function returns the float score together with a rigorous bound on
|float score - exact score|, where "exact" is the value for the heights read as the
dyadic rationals they store.

How the bound is obtained:
1. Rescale the heights by an exact power of two so that max|a| lies in [1/2, 1). All
   scores are scale-invariant, and this defeats the underflow trick (heights ~1e-161 whose
   convolution rounds to zero). Entries that underflow while scaling down move by at most
   2^-1075 each; that perturbation is carried in the bound.
2. b = a * a by zero-padded FFT of power-of-two length N = 2^k. The error bound is
   C. Percival's error theorem for floating-point FFT convolution (Math. Comp. 72 (2003),
   387-395): ||b~ - b||_inf <= ||a||_2^2 ((1+e)^{3k} (1+e sqrt5)^{3k+1} (1+B)^{3k} - 1),
   e = 2^-53, B = error of the twiddle factors. Assumption (stated, not proven here):
   numpy's pocketfft on a power-of-two length behaves like the radix-2 model of that
   theorem with twiddles accurate to B. We use B = 2^-48 (16 ulp, pocketfft's are
   accurate to a few ulp), two extra levels, and a further factor 2, as margins.
   A cheap a-posteriori check (sum of b~ against (sum a)^2) guards against a broken FFT.
3. The remaining arithmetic (sums, max, products, one division) is bounded with the
   standard model |fl(x op y) - x op y| <= u |x op y|: sums are taken over chunks of 32
   (any summation order: error <= gamma_31 * sum|terms|) and then with math.fsum
   (correctly rounded). Interval endpoints are evaluated in floats and widened outward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

U = 2.0**-53  # unit roundoff of float64
_TINY = 2.0**-1074
_TWIDDLE_ERR = 2.0**-48
_CHUNK = 32


def _gamma(k: int) -> float:
    return k * U / (1.0 - k * U)


def _up(x: float, rel: float = 16 * U) -> float:
    """Round a non-negative bound outward: covers the rounding of the few float ops that made it."""
    return x * (1.0 + rel) + _TINY


def _chunk_sum(values: np.ndarray) -> tuple[float, float]:
    """sum(values) and a rigorous bound on its rounding error (chunks of 32, then fsum)."""
    pad = (-len(values)) % _CHUNK
    chunks = np.pad(values, (0, pad)).reshape(-1, _CHUNK)
    partial = chunks.sum(axis=1)
    total = math.fsum(partial.tolist())
    abs_total = math.fsum(np.abs(chunks).sum(axis=1).tolist())
    # gamma_31 for the chunk sums (their |.|-sums are themselves computed with relative
    # error <= gamma_31, hence the (1 + gamma) inflation), u for the correctly rounded fsum.
    g = _gamma(_CHUNK - 1)
    err = g * abs_total * (1.0 + 2 * g) + U * abs(total)
    return total, _up(err)


@dataclass(frozen=True)
class Convolution:
    """The rescaled heights, their self-convolution, and certified error bounds."""

    a: np.ndarray  # heights rescaled so that max|a| is in [1/2, 1)
    b: np.ndarray  # computed a * a, length 2n - 1
    err: float  # bound on max_k |b~_k - b_k| (b: exact convolution of the given heights, rescaled)
    total: float  # computed sum(a), correctly rounded
    total_err: float  # bound on |total - exact sum|


def rescale(heights: np.ndarray) -> tuple[np.ndarray, float]:
    """Heights times an exact power of two, max|a| in [1/2, 1); and a per-entry error bound."""
    peak = float(np.max(np.abs(heights)))
    _, exp = math.frexp(peak)
    a = np.ldexp(heights, -exp)
    # Scaling by 2^-exp is exact unless an entry drops into the subnormal range.
    per_entry = 0.0 if exp <= 0 else _TINY
    return a, per_entry


def self_convolution(heights: np.ndarray) -> Convolution:
    """Certified FFT self-convolution of non-zero heights (see the module notes)."""
    a, delta = rescale(heights)
    n = len(a)
    m = 2 * n - 1
    size = 1 << max(0, (m - 1).bit_length())
    levels = size.bit_length() - 1
    spectrum = np.fft.fft(a, size)
    b = np.fft.ifft(spectrum * spectrum).real[:m]

    sq_sum, sq_err = _chunk_sum(a * a)
    norm2 = _up((sq_sum + sq_err) * (1.0 + U))  # upper bound on ||a||_2^2 (products round too)
    k = levels + 2
    log_growth = 3 * k * math.log1p(U) + (3 * k + 1) * math.log1p(U * math.sqrt(5.0)) + 3 * k * math.log1p(_TWIDDLE_ERR)
    fft_err = 2.0 * norm2 * _up(math.expm1(log_growth), 1e-6)
    # Underflowed entries (|a_i - a~_i| <= delta, |a| < 1) move each b_k by <= 2 n delta + n delta^2.
    err = _up(fft_err + 3.0 * n * delta + size * _TINY)

    total = math.fsum(a.tolist())
    total_err = _up(U * abs(total) + n * delta)

    # Sum of the exact b is (sum a)^2; a far-off computed sum means the FFT is not trustworthy.
    b_sum, b_sum_err = _chunk_sum(b)
    slack = m * err + b_sum_err + 2 * abs(total) * total_err + total_err**2 + 4 * U * total * total
    if abs(b_sum - total * total) > _up(slack, 1e-6):
        raise ArithmeticError("FFT convolution failed its checksum; refusing to certify a score")
    return Convolution(a=a, b=b, err=err, total=total, total_err=total_err)


@dataclass(frozen=True)
class Certified:
    """A float score and a rigorous bound on its distance to the exact score."""

    score: float
    error_bound: float

    @property
    def lower(self) -> float:
        return self.score - self.error_bound

    @property
    def upper(self) -> float:
        return self.score + self.error_bound


def _from_interval(score: float, lo: float, hi: float) -> Certified:
    lo = lo * (1.0 - 8 * U) if lo > 0 else lo * (1.0 + 8 * U)
    hi = hi * (1.0 + 8 * U) if hi > 0 else hi * (1.0 - 8 * U)
    bound = max(hi - score, score - lo, 0.0)
    return Certified(score=score, error_bound=_up(bound))


def peak_ratio(conv: Convolution, use_abs: bool) -> Certified:
    """2n * max_k b_k / (sum a)^2 (C1), or with max_k |b_k| (C3, variant max |f*f|)."""
    n = len(conv.a)
    peak = float(np.max(np.abs(conv.b))) if use_abs else float(np.max(conv.b))
    s, es = abs(conv.total), conv.total_err
    if s <= 2 * es:
        raise ZeroDivisionError("the sum of the heights is zero (or within rounding of zero)")
    score = 2.0 * n * peak / (conv.total * conv.total)
    peak_lo, peak_hi = max(peak - conv.err, 0.0), peak + conv.err
    lo = 2.0 * n * peak_lo / ((s + es) * (s + es))
    hi = 2.0 * n * peak_hi / ((s - es) * (s - es))
    return _from_interval(score, lo, hi)


def l2_ratio(conv: Convolution) -> Certified:
    """C2: ||f*f||_2^2 / (||f*f||_1 ||f*f||_inf) by the exact piecewise-linear formula.

    With b = a * a (non-negative) and zero knots at both ends, the grid spacing cancels and
    the score is Q / (3 L M) with Q = 2 sum b_j^2 + sum b_j b_{j+1}, L = sum b_j = (sum a)^2,
    M = max b_j. L uses the exact identity rather than the computed convolution.
    """
    b, e = conv.b, conv.err
    m = len(b)
    sum_sq, err_sq = _chunk_sum(b * b)
    sum_nb, err_nb = _chunk_sum(b[:-1] * b[1:])
    q = 2.0 * sum_sq + sum_nb
    abs_b, abs_b_err = _chunk_sum(np.abs(b))
    abs_b = abs_b + abs_b_err
    # Rounding in evaluating Q from b~: products (u each), the two certified sums, the final add.
    abs_terms = 2.0 * sum_sq + float(np.sum(np.abs(b[:-1] * b[1:]))) * (1.0 + _gamma(m))
    q_eval_err = 2.0 * err_sq + err_nb + U * abs_terms * 2.0 + U * abs(q)
    # Q(b~) - Q(b) <= 6 e sum|b~| + 3 m e^2, from b~_k = b_k + d_k with |d_k| <= e.
    q_err = _up(q_eval_err + 6.0 * e * abs_b + 3.0 * m * e * e)

    s, es = abs(conv.total), conv.total_err
    total_sq = s * s
    total_sq_lo, total_sq_hi = (s - es) ** 2, (s + es) ** 2
    peak = float(np.max(b))
    peak_lo, peak_hi = max(peak - e, 0.0), peak + e
    if peak_lo <= 0.0 or total_sq_lo <= 0.0:
        raise ZeroDivisionError("the convolution is too small to certify a score")
    score = q / (3.0 * total_sq * peak)
    lo = max(q - q_err, 0.0) / (3.0 * total_sq_hi * peak_hi)
    hi = (q + q_err) / (3.0 * total_sq_lo * peak_lo)
    return _from_interval(score, lo, hi)
