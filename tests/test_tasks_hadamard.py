"""hadamard_29: exact integer determinant, fixed denominator, strict +1/-1 entries."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thetaevolve.tasks import get_task
from thetaevolve.tasks.hadamard import BEST_KNOWN_DET, DENOMINATOR, bareiss_determinant


def _fraction_det(rows: list[list[int]]) -> Fraction:
    """Gaussian elimination on Fractions: a slow, obviously-correct oracle."""
    m = [[Fraction(v) for v in row] for row in rows]
    n, det = len(m), Fraction(1)
    for k in range(n):
        pivot = next((r for r in range(k, n) if m[r][k] != 0), None)
        if pivot is None:
            return Fraction(0)
        if pivot != k:
            m[k], m[pivot] = m[pivot], m[k]
            det = -det
        det *= m[k][k]
        for i in range(k + 1, n):
            f = m[i][k] / m[k][k]
            m[i] = [a - f * b for a, b in zip(m[i], m[k])]
    return det


def _sylvester(order: int) -> np.ndarray:
    h = np.array([[1]])
    while len(h) < order:
        h = np.block([[h, h], [h, -h]])
    return h


@pytest.fixture(scope="module")
def task():
    return get_task("hadamard_29")


def test_constants_match_thetaevolve():
    assert DENOMINATOR == 1270698346568170340352  # ThetaEvolve's theoretical_max
    assert BEST_KNOWN_DET == 1188957517256767569920
    assert BEST_KNOWN_DET / DENOMINATOR == pytest.approx(0.935673, abs=5e-7)


@pytest.mark.parametrize("order", [1, 2, 4, 8, 16])
def test_bareiss_on_sylvester_hadamard_matrices(order):
    h = _sylvester(order)
    assert abs(bareiss_determinant(h.tolist())) == round(order ** (order / 2))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.lists(st.lists(st.sampled_from([-1, 1]), min_size=n, max_size=n), min_size=n, max_size=n)))
def test_property_bareiss_matches_rational_elimination(rows):
    assert bareiss_determinant(rows) == _fraction_det(rows)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_property_29x29_determinants_are_multiples_of_2_to_the_28(seed):
    rows = np.random.default_rng(seed).choice([-1, 1], size=(29, 29)).tolist()
    det = bareiss_determinant(rows)
    assert det % 2**28 == 0
    assert det == _fraction_det(rows)


def test_score_is_exact_ratio(task):
    rows = np.random.default_rng(5).choice([-1, 1], size=(29, 29)).tolist()
    verdict = task.verify({"matrix": rows})
    assert verdict.valid
    det = abs(bareiss_determinant(rows))
    assert verdict.score == float(Fraction(det, DENOMINATOR))
    assert verdict.metrics["abs_det_over_2^(n-1)"] == det // 2**28
    assert abs(Fraction(verdict.score) - Fraction(det, DENOMINATOR)) <= Fraction(verdict.error_bound)


def test_text_rows_and_float_entries_are_accepted(task):
    rows = np.random.default_rng(6).choice([-1, 1], size=(29, 29))
    as_text = ["".join("+" if v > 0 else "-" for v in row) for row in rows]
    base = task.verify({"matrix": rows.tolist()})
    assert task.verify({"matrix": as_text}) == base
    assert task.verify({"matrix": rows.astype(float).tolist()}) == base
    assert task.verify({"matrix": rows}) == base
    assert task.verify({"matrix": rows.tolist(), "score": 1.0, "source": "x"}) == base


def test_singular_matrix_scores_zero(task):
    verdict = task.verify({"matrix": [[1] * 29] * 29})
    assert verdict.valid and verdict.score == 0.0


def _with(rows, i, j, value):
    rows = [list(r) for r in rows]
    rows[i][j] = value
    return rows


_ONES = [[1] * 29 for _ in range(29)]


@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        ({"matrix": _with(_ONES, 3, 4, 0)}, "matrix[3][4] must be +1 or -1"),
        ({"matrix": _with(_ONES, 3, 4, 2)}, "matrix[3][4] must be +1 or -1"),
        ({"matrix": _with(_ONES, 3, 4, 1.5)}, "matrix[3][4] must be +1 or -1"),
        ({"matrix": _with(_ONES, 3, 4, True)}, "matrix[3][4] must be +1 or -1"),
        ({"matrix": _with(_ONES, 3, 4, "1")}, "matrix[3][4] must be +1 or -1"),
        ({"matrix": _with(_ONES, 3, 4, float("nan"))}, "matrix[3][4] must be +1 or -1"),
        ({"matrix": _ONES[:28]}, "exactly 29 rows"),
        ({"matrix": _ONES + [[1] * 29]}, "exactly 29 rows"),
        ({"matrix": [[1] * 28] + _ONES[1:]}, "matrix[0] must hold exactly 29 entries"),
        ({"matrix": ["+" * 28 + "x"] + _ONES[1:]}, "'+' or '-'"),
        ({"matrix": "+-"}, "exactly 29 rows"),
        ({"rows": _ONES}, "missing key 'matrix'"),
        ([_ONES], "JSON object"),
    ],
)
def test_bad_data_is_rejected_with_a_reason(task, solution, expected):
    verdict = task.verify(solution)
    assert not verdict.valid and verdict.score is None
    assert expected in verdict.reason


def test_plot(task, tmp_path):
    assert task.plot_solution({"matrix": _sylvester(32)[:29, :29].tolist()}, tmp_path / "h.png")
    assert not task.plot_solution({"matrix": []}, tmp_path / "bad.png")
