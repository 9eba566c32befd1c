"""Autocorrelation verifiers (C1, C2, C3): published values, certified error bounds, bad data.

The exact oracle below works on the heights read as dyadic rationals: all heights times
one power of two are integers, their convolution is computed on Python integers, and the
score is a Fraction. The verifiers' float score must lie within its certified error bound
of that exact value.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from thetaevolve.tasks import get_task
from thetaevolve.tasks.autocorrelation import MAX_HEIGHTS

DATA = Path(__file__).parent / "fixtures" / "constructions"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _entry(file: str, name: str) -> list[float]:
    return next(e["list"] for e in _load(file)["entries"] if e["name"] == name)


def _exact(kind: str, heights: list[float]) -> Fraction:
    """The exact score of the heights, in rationals (independent of the verifier's code)."""
    ratios = [Fraction(h) for h in heights]
    if kind != "c3":
        ratios = [max(r, Fraction(0)) for r in ratios]
    den = max(r.denominator for r in ratios)
    ints = np.array([int(r * den) for r in ratios], dtype=object)
    b = [int(v) for v in np.convolve(ints, ints)]
    n, total = len(heights), sum(int(v) for v in ints)
    if kind == "c1":
        return Fraction(2 * n * max(b), total * total)
    if kind == "c3":
        return Fraction(2 * n * max(abs(v) for v in b), total * total)
    y = [0] + b + [0]
    q = sum(y[k] * y[k] + y[k] * y[k + 1] + y[k + 1] * y[k + 1] for k in range(len(y) - 1))
    return Fraction(q, 3 * sum(b) * max(b))


TASKS = {"c1": "first_autocorrelation", "c2": "second_autocorrelation", "c3": "third_autocorrelation"}

# (kind, loader, published value): the values of the shared constructions README.
PUBLISHED = [
    ("c1", lambda: _load("alphaevolve_first_autocorrelation_600.json")["heights"], 1.5052939684),
    ("c1", lambda: _entry("thetaevolve_FirstAutoCorrIneq.json", "AlphaEvolve-v1"), 1.5052939684),
    ("c1", lambda: _entry("thetaevolve_FirstAutoCorrIneq.json", "AlphaEvolve-v2"), 1.5031635547),
    ("c1", lambda: _entry("thetaevolve_FirstAutoCorrIneq.json", "8B-wo_RL@46-w_SOTA"), 1.5031324360),
    ("c1", lambda: _entry("thetaevolve_FirstAutoCorrIneq.json", "HumanBest"), 1.5097201507),
    ("c2", lambda: _load("alphaevolve_second_autocorrelation_50.json")["heights"], 0.8962799442),
    ("c2", lambda: _entry("thetaevolve_SecondAutoCorrIneq.json", "8B-w_RL@65"), 0.9468970132),
    ("c3", lambda: _entry("thetaevolve_ThirdAutoCorrIneq.json", "8B-w_RL@65"), 1.4930012022),
    ("c3", lambda: _load("alphaevolve_third_autocorrelation_abs_150.json")["heights"], 1.4687620697),
]


@pytest.mark.parametrize(("kind", "loader", "value"), PUBLISHED, ids=[f"{k}-{v}" for k, _, v in PUBLISHED])
def test_published_values_reproduced_and_certified(kind, loader, value):
    heights = loader()
    verdict = get_task(TASKS[kind]).verify({"heights": heights})
    assert verdict.valid, verdict.reason
    assert verdict.score == pytest.approx(value, abs=5e-11)  # >= 10 significant digits
    # The certified interval holds the exact rational score, and it is tight.
    exact = _exact(kind, heights)
    assert abs(Fraction(verdict.score) - exact) <= Fraction(verdict.error_bound)
    assert 0 < verdict.error_bound < 1e-10
    assert verdict.metrics["score_lower"] <= verdict.score <= verdict.metrics["score_upper"]


def test_alphaevolve_400_step_c3_uses_the_other_reading():
    # Under max |f*f| (our reading) the 1.4557 construction of the |max f*f| reading scores 4.334.
    heights = _load("alphaevolve_third_autocorrelation_400.json")["heights"]
    verdict = get_task("third_autocorrelation").verify({"heights": heights})
    assert verdict.valid
    assert verdict.score == pytest.approx(4.334, abs=5e-4)
    b = np.convolve(heights, heights)
    other_reading = 2 * len(heights) * abs(b.max()) / sum(heights) ** 2
    assert other_reading == pytest.approx(1.4556427954, abs=5e-10)


def test_c3_statement_names_its_reading():
    statement = get_task("third_autocorrelation").statement
    assert "max_t |(f*f)(t)|" in statement and "|max_t (f*f)(t)|" in statement


# --- scale invariance and the underflow trick -------------------------------------------


def test_underflow_scaling_trick_does_not_change_the_score():
    heights = np.array(_load("alphaevolve_first_autocorrelation_600.json")["heights"])
    task = get_task("first_autocorrelation")
    base = task.verify({"heights": heights.tolist()})
    for scale in (1e-161, 1e-300, 1e250):
        scaled = task.verify({"heights": (heights * scale).tolist()})
        assert scaled.valid, scaled.reason
        assert scaled.score == pytest.approx(base.score, rel=1e-13)


_HEIGHTS = st.lists(st.floats(0.0, 10.0), min_size=1, max_size=64).filter(lambda h: max(h) > 0.01)
_SIGNED = st.lists(st.floats(-10.0, 10.0), min_size=1, max_size=64).filter(lambda h: abs(sum(h)) > 0.1)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["c1", "c2", "c3"]), data=st.data(), power=st.integers(-900, 900), scale=st.floats(1e-30, 1e30))
def test_property_scaling_heights_leaves_score_unchanged(kind, data, power, scale):
    heights = data.draw(_SIGNED if kind == "c3" else _HEIGHTS)
    task = get_task(TASKS[kind])
    base = task.verify({"heights": heights})
    assert base.valid, base.reason
    # A power of two scales the data exactly (barring subnormals): the score is bit-for-bit the same.
    shifted = [h * 2.0**power for h in heights]
    assume(all(s * 2.0**-power == h for s, h in zip(shifted, heights)))
    exact_scaled = task.verify({"heights": shifted})
    assert exact_scaled.score == base.score
    # Any other positive factor rounds each height once (relative 1e-16): the score moves by ~ulps.
    scaled = task.verify({"heights": [h * scale for h in heights]})
    assert scaled.valid
    assert scaled.score == pytest.approx(base.score, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["c1", "c2", "c3"]), data=st.data())
def test_property_certified_interval_contains_exact_score(kind, data):
    heights = data.draw(_SIGNED if kind == "c3" else _HEIGHTS)
    verdict = get_task(TASKS[kind]).verify({"heights": heights})
    assert verdict.valid, verdict.reason
    assert abs(Fraction(verdict.score) - _exact(kind, heights)) <= Fraction(verdict.error_bound)


def test_scores_respect_proven_limits_on_simple_functions():
    c1 = get_task("first_autocorrelation").verify({"heights": [1.0] * 100})
    assert c1.score == pytest.approx(2.0)  # a constant f: max f*f = (integral f)^2 / (1/2)
    c2 = get_task("second_autocorrelation").verify({"heights": [1.0] * 100})
    assert c2.score == pytest.approx(2 / 3, abs=1e-4)  # a triangle: ||.||_2^2 / (||.||_1 ||.||_inf) = 2/3


# --- bad data ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["c1", "c2", "c3"])
@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        ({"heights": [1.0, float("nan")]}, "not finite"),
        ({"heights": [1.0, float("inf")]}, "not finite"),
        ({"heights": []}, "empty"),
        ({"heights": [0.0] * 10}, "all heights are zero"),
        ({"heights": [1.0, "2"]}, "real numbers"),
        ({"heights": [1.0, True]}, "real numbers"),
        ({"heights": [[1.0, 2.0]]}, "real numbers"),
        ({"heights": "1,2,3"}, "list of numbers"),
        ({"steps": [1.0, 2.0]}, "missing key 'heights'"),
        ([1.0, 2.0], "JSON object"),
    ],
)
def test_bad_data_is_rejected_with_a_reason(kind, solution, expected):
    verdict = get_task(TASKS[kind]).verify(solution)
    assert not verdict.valid and verdict.score is None
    assert expected in verdict.reason


def test_too_many_heights_rejected():
    verdict = get_task("first_autocorrelation").verify({"heights": np.ones(MAX_HEIGHTS + 1)})
    assert not verdict.valid and "too many heights" in verdict.reason


@pytest.mark.parametrize("kind", ["c1", "c2"])
def test_negative_heights_rejected_strictly_and_clipped_within_tolerance(kind):
    task = get_task(TASKS[kind])
    heights = [1.0, 0.5, -1e-12, 0.7]
    strict = task.verify({"heights": heights})
    assert not strict.valid and "non-negative" in strict.reason and "heights[2]" in strict.reason
    tolerant = task.verify({"heights": heights}, tol=1e-9)
    assert tolerant.valid and tolerant.tolerance == 1e-9
    assert tolerant.score == task.verify({"heights": [1.0, 0.5, 0.0, 0.7]}).score
    # The tolerance is relative to the largest height, so shrinking the data does not help.
    assert not task.verify({"heights": [h * 1e-6 for h in [1.0, 0.5, -1e-3, 0.7]]}, tol=1e-9).valid


def test_c3_accepts_negative_heights_but_not_a_zero_sum():
    task = get_task("third_autocorrelation")
    assert task.verify({"heights": [1.0, -0.5, 0.8]}).valid
    verdict = task.verify({"heights": [1.0, -1.0]})
    assert not verdict.valid and "sum of the heights is zero" in verdict.reason


def test_claimed_score_and_unknown_keys_are_ignored():
    task = get_task("second_autocorrelation")
    heights = _load("alphaevolve_second_autocorrelation_50.json")["heights"]
    assert task.verify({"heights": heights, "score": 1.0, "source": "x"}) == task.verify({"heights": heights})


def test_published_file_verifies_directly_and_plots(tmp_path):
    data = _load("alphaevolve_first_autocorrelation_600.json")  # has task/source/claimed keys
    task = get_task("first_autocorrelation")
    assert task.verify(data).valid
    assert task.plot_solution(data, tmp_path / "c1.png")
    assert (tmp_path / "c1.png").stat().st_size > 1000
    assert not task.plot_solution({"heights": []}, tmp_path / "bad.png")
