"""Uncertainty inequality: exact algebra, root isolation, the published 12-root construction."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thetaevolve.tasks import get_task
from thetaevolve.tasks.hadamard import bareiss_determinant
from thetaevolve.tasks._exact_poly import (
    laguerre,
    largest_sign_change,
    primitive_integer,
    solve_integer_system,
)
from thetaevolve.tasks.uncertainty import (
    ALPHA,
    certified_score,
    double_root_multiplier,
    monomial_in_laguerre,
    quotient_polynomial,
)

DATA = Path(__file__).parent / "fixtures" / "constructions"
ROOTS_12 = json.loads((DATA / "alphaevolve_uncertainty_laguerre_12.json").read_text())["roots"]


@pytest.fixture(scope="module")
def task():
    return get_task("uncertainty_inequality")


def _from_roots(roots, lead=1):
    """Integer coefficients of lead * prod (x - r) for integer roots r."""
    p = [lead]
    for r in roots:
        p = [(p[i - 1] if i else 0) - r * (p[i] if i < len(p) else 0) for i in range(len(p) + 1)]
    return p


# --- the algebra ----------------------------------------------------------------------


def test_laguerre_matches_known_low_degree_polynomials():
    # L_1^a = 1 + a - x ;  L_2^a = x^2/2 - (a + 2) x + (a + 1)(a + 2)/2
    a = ALPHA
    assert laguerre(1, a) == [1 + a, -1]
    assert laguerre(2, a) == [(a + 1) * (a + 2) / 2, -(a + 2), Fraction(1, 2)]


def test_monomial_expansion_inverts_the_laguerre_basis():
    degree = 14
    basis = [laguerre(j, ALPHA) for j in range(degree + 1)]
    for i in range(degree + 1):
        rebuilt = [Fraction(0)] * (degree + 1)
        for j in range(i + 1):
            for k, c in enumerate(basis[j]):
                rebuilt[k] += monomial_in_laguerre(i, j) * c
        assert rebuilt == [Fraction(int(k == i)) for k in range(degree + 1)]


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(-50, 50), min_size=n, max_size=n), min_size=n, max_size=n),
    st.lists(st.integers(-50, 50), min_size=n, max_size=n),
)))
def test_integer_solve_matches_fraction_elimination(system):
    rows, rhs = system
    if bareiss_determinant(rows) == 0:
        with pytest.raises(ZeroDivisionError):
            solve_integer_system(rows, rhs)
        return
    y, det = solve_integer_system(rows, rhs)
    assert abs(det) == abs(bareiss_determinant(rows))
    x = [Fraction(v, det) for v in y]
    for row, b in zip(rows, rhs):
        assert sum(Fraction(c) * xi for c, xi in zip(row, x)) == b


def test_largest_sign_change_of_simple_roots():
    p = _from_roots([1, 2, 7])
    low, high, certain = largest_sign_change(p, Fraction(0), Fraction(1, 2**60))
    assert certain and low <= 7 <= high and high - low <= Fraction(1, 2**60)


def test_a_double_root_on_top_is_not_a_sign_change():
    # (x - 1)(x - 3)^2 changes sign only at 1; the double root at 3 cannot be isolated as a
    # simple root, so the answer is a safe upper end near 3, flagged as not certain.
    p = _from_roots([1, 3, 3])
    low, high, certain = largest_sign_change(p, Fraction(0), Fraction(1, 2**40))
    assert not certain and low <= 3 <= high
    # Without the double root, the sign change at 1 is isolated and certain.
    low, high, certain = largest_sign_change(_from_roots([1]), Fraction(0), Fraction(1, 2**40))
    assert certain and low <= 1 <= high


def test_no_positive_roots_means_no_sign_change():
    assert largest_sign_change([1, 0, 1], Fraction(0), Fraction(1, 2**40)) is None  # x^2 + 1
    assert largest_sign_change(_from_roots([-2, -5]), Fraction(0), Fraction(1, 2**40)) is None


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 200), min_size=1, max_size=6, unique=True), st.sampled_from([1, -1]))
def test_largest_sign_change_of_random_integer_roots(roots, sign):
    p = [sign * c for c in _from_roots(roots)]
    low, high, certain = largest_sign_change(p, Fraction(0), Fraction(1, 2**50))
    assert certain and low <= max(roots) <= high


def test_quotient_polynomial_gives_g_in_the_even_laguerre_span():
    roots = [Fraction(3), Fraction(11, 2), Fraction(30)]
    m = len(roots)
    q = quotient_polynomial(roots)
    w = double_root_multiplier(roots)
    g = [sum(w[i] * q[k - i] for i in range(len(w)) if 0 <= k - i < len(q)) for k in range(len(w) + len(q) - 1)]
    assert len(g) - 1 == 4 * m + 2
    # Coefficients on L_1, L_3, ..., L_{4m+1} vanish: g is a combination of the L_{2k}.
    for j in range(1, 4 * m + 2, 2):
        assert sum(monomial_in_laguerre(i, j) * c for i, c in enumerate(g)) == 0
    assert g[0] == 0 and g[1] != 0  # g(0) = 0, g'(0) != 0 (it is normalised to 1)
    assert primitive_integer([Fraction(c) for c in q]) == q


# --- the task -------------------------------------------------------------------------


def test_alphaevolve_twelve_roots_reproduced(task):
    verdict = task.verify({"roots": ROOTS_12})
    assert verdict.valid, verdict.reason
    assert verdict.score == pytest.approx(0.3215872334, abs=5e-11)
    assert verdict.metrics["isolated_as_simple_root"] == 1.0
    assert verdict.metrics["last_sign_change"] == pytest.approx(2.0205922, abs=1e-7)
    assert verdict.error_bound < 1e-15


def test_score_is_an_upper_end(task):
    roots = ROOTS_12[:6]
    low, high, certain = certified_score([Fraction(z) for z in sorted(roots)])
    assert certain and low < high and float(high - low) < 1e-20
    assert task.verify({"roots": roots}).score >= float(low)


def test_root_order_does_not_matter(task):
    roots = ROOTS_12[:6]
    assert task.verify({"roots": roots[::-1]}).score == task.verify({"roots": roots}).score


@pytest.mark.parametrize(
    "roots, needle",
    [
        ([], "between 1 and"),
        ([1.0] * 17, "between 1 and"),
        ([3.0, -1.0], "positive"),
        ([3.0, 0.0], "positive"),
        ([3.0, 3.0], "distinct"),
        ([3.0, float("nan")], "not finite"),
        ([3.0, float("inf")], "not finite"),
        ([[3.0]], "real numbers"),
        (["3.0"], "real numbers"),
    ],
)
def test_bad_roots_are_rejected(task, roots, needle):
    verdict = task.verify({"roots": roots})
    assert not verdict.valid and needle in verdict.reason, verdict.reason


def test_a_claimed_score_is_ignored_and_an_impossible_one_rejected(task, monkeypatch):
    verdict = task.verify({"roots": [4.0, 10.0], "score": 1e-13})
    assert verdict.valid and verdict.score > 0.2025
    import thetaevolve.tasks.uncertainty as module

    # A float evaluator was once driven to 1e-13; a verifier that produced such a number
    # must report an error instead of a record.
    monkeypatch.setattr(module, "certified_score", lambda roots: (Fraction(1, 10**13), Fraction(1, 10**13), True))
    verdict = task.verify({"roots": [4.0, 10.0]})
    assert not verdict.valid and "0.2025" in verdict.reason
