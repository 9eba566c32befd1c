"""Distance ratio, Heilbronn and kissing verifiers: published values, exactness, bad data, invariances."""

from __future__ import annotations

import json
import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thetaevolve.tasks import get_task

DATA = Path(__file__).parent / "fixtures" / "constructions"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _rotation(dim: int, angles: list[float]) -> np.ndarray:
    out = np.eye(dim)
    for (i, j), angle in zip(combinations(range(dim), 2), angles):
        g = np.eye(dim)
        c, s = math.cos(angle), math.sin(angle)
        g[i, i], g[i, j], g[j, i], g[j, j] = c, -s, s, c
        out = out @ g
    return out


# --- published constructions ------------------------------------------------------------


@pytest.mark.parametrize(
    "task, fixture, value",
    [
        ("min_max_distance_16_2d", "alphaevolve_min_max_distance_16_2d.json", 12.889266112035),
        ("min_max_distance_14_3d", "alphaevolve_min_max_distance_14_3d.json", 4.165849767226),
        ("heilbronn_convex_13", "alphaevolve_heilbronn_convex_13.json", 0.030936889035),
        ("heilbronn_convex_14", "alphaevolve_heilbronn_convex_14.json", 0.027835571458),
        ("kissing_number_11", "alphaevolve_kissing_number_11.json", 593),
    ],
)
def test_published_construction_reproduced_strictly(task, fixture, value):
    verdict = get_task(task).verify(_load(fixture))
    assert verdict.valid, verdict.reason
    assert verdict.tolerance == 0.0
    assert verdict.score == pytest.approx(value, abs=5e-12)


def test_heilbronn_triangle_construction_needs_a_stated_tolerance():
    task = get_task("heilbronn_triangle_11")
    data = _load("alphaevolve_heilbronn_triangle_11.json")
    # Point 8 is on the left side in floats but outside it by 9.2e-18 in exact arithmetic.
    strict = task.verify(data)
    assert not strict.valid and "point 8" in strict.reason
    relaxed = task.verify(data, tol=1e-15)
    assert relaxed.valid, relaxed.reason
    assert relaxed.tolerance == 1e-15
    assert relaxed.score == pytest.approx(0.036529889880, abs=5e-12)


def test_heilbronn_triangle_rejects_a_point_outside_by_1e_12():
    task = get_task("heilbronn_triangle_11")
    points = np.array(_load("alphaevolve_heilbronn_triangle_11.json")["points"])
    sqrt3 = math.sqrt(3.0)
    for side_point, outward in (
        ((0.5, -1e-12), None),  # below the base
        ((0.25, 0.25 * sqrt3), (-sqrt3 / 2, 0.5)),  # left side, pushed out along its normal
        ((0.75, 0.25 * sqrt3), (sqrt3 / 2, 0.5)),  # right side
    ):
        moved = points.copy()
        x, y = side_point
        if outward is not None:
            x, y = x + 1e-12 * outward[0], y + 1e-12 * outward[1]
        moved[3] = (x, y)
        for tol in (0.0, 1e-13):
            verdict = task.verify({"points": moved.tolist()}, tol=tol)
            assert not verdict.valid and "point 3" in verdict.reason, (side_point, tol)
        assert task.verify({"points": moved.tolist()}, tol=1e-11).valid


def test_heilbronn_triangle_corners_are_inside_exactly():
    from thetaevolve.tasks.heilbronn import outside_triangle

    # (1/2, fl(sqrt 3)/2): fl(sqrt 3) < sqrt 3, so the float apex is inside, just barely.
    apex = (0.5, math.sqrt(3.0) / 2)
    assert outside_triangle(np.array([[0.0, 0.0], [1.0, 0.0], apex]), 0.0) == []
    above = (0.5, math.nextafter(apex[1], 1.0))
    assert outside_triangle(np.array([above]), 0.0) == [0]


@pytest.mark.parametrize("name", ["min_max_distance_16_2d", "heilbronn_convex_13", "heilbronn_triangle_11"])
def test_duplicate_points_rejected(name):
    task = get_task(name)
    namespace: dict = {}
    exec(task.initial_program, namespace)
    points = namespace["solve"]()["points"]
    points[4] = list(points[1])
    verdict = task.verify({"points": points})
    assert not verdict.valid and "coincide" in verdict.reason


@pytest.mark.parametrize("name, dim, n", [("min_max_distance_16_2d", 2, 16), ("min_max_distance_14_3d", 3, 14),
                                          ("heilbronn_convex_14", 2, 14), ("heilbronn_triangle_11", 2, 11)])
def test_point_tasks_reject_bad_shapes_and_values(name, dim, n):
    task = get_task(name)
    good = np.full((n, dim), 0.1) + np.arange(n)[:, None] * 1e-3
    for bad in (
        {"points": good[:-1].tolist()},  # wrong count
        {"points": np.hstack([good, good[:, :1]]).tolist()},  # wrong width
        {"points": [[float("nan")] * dim] + good[1:].tolist()},
        {"points": [[float("inf")] * dim] + good[1:].tolist()},
        {"points": [["0.1"] * dim] + good[1:].tolist()},
        {"pts": good.tolist()},
        {"points": 3},
    ):
        verdict = task.verify(bad)
        assert not verdict.valid and verdict.reason, bad


def test_collinear_points_score_zero_in_the_convex_task():
    task = get_task("heilbronn_convex_13")
    points = [[float(i), float(i * i % 7)] for i in range(13)]
    points[5], points[6] = [0.5, 0.5], [1.5, 1.5]  # 0, 0.5, 1, 1.5 ... on the line y = x
    points[0] = [0.0, 0.0]
    points[1] = [1.0, 1.0]
    verdict = task.verify({"points": points})
    assert verdict.valid and verdict.score == 0.0


# --- invariances (hypothesis) -----------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.floats(-math.pi, math.pi), min_size=3, max_size=3),
    st.floats(1e-3, 1e3),
    st.lists(st.floats(-10, 10), min_size=3, max_size=3),
)
def test_distance_ratio_is_rotation_scale_and_translation_invariant(angles, scale, shift):
    for name, fixture, dim in (
        ("min_max_distance_16_2d", "alphaevolve_min_max_distance_16_2d.json", 2),
        ("min_max_distance_14_3d", "alphaevolve_min_max_distance_14_3d.json", 3),
    ):
        task = get_task(name)
        points = np.array(_load(fixture)["points"])
        moved = scale * points @ _rotation(dim, angles).T + np.array(shift[:dim])
        before, after = task.verify({"points": points.tolist()}), task.verify({"points": moved.tolist()})
        assert after.valid
        assert after.score == pytest.approx(before.score, rel=1e-11)


@settings(max_examples=25, deadline=None)
@given(st.floats(-math.pi, math.pi), st.floats(1e-3, 1e3), st.floats(-3.0, 3.0), st.floats(-5, 5), st.floats(-5, 5))
def test_convex_heilbronn_is_affine_invariant(angle, scale, shear, dx, dy):
    task = get_task("heilbronn_convex_14")
    points = np.array(_load("alphaevolve_heilbronn_convex_14.json")["points"])
    transform = scale * _rotation(2, [angle]) @ np.array([[1.0, shear], [0.0, 1.0]])
    moved = points @ transform.T + np.array([dx, dy])
    assert task.verify({"points": moved.tolist()}).score == pytest.approx(0.027835571458, rel=1e-9)


def test_triangle_heilbronn_is_mirror_invariant():
    task = get_task("heilbronn_triangle_11")
    points = np.array(_load("alphaevolve_heilbronn_triangle_11.json")["points"])
    mirrored = points.copy()
    mirrored[:, 0] = 1.0 - mirrored[:, 0]
    a, b = task.verify({"points": points.tolist()}, tol=1e-15), task.verify({"points": mirrored.tolist()}, tol=1e-15)
    assert a.valid and b.valid and b.score == pytest.approx(a.score, rel=1e-13)


# --- kissing: exact integers ------------------------------------------------------------


def _pad(rows):
    return [row + [0] * (11 - len(row)) for row in rows]


def test_kissing_rejects_what_int64_arithmetic_accepts():
    a, c = 2**31 - 1, 2**20
    points = np.array(_pad([[a, a, 0, 0, c], [a, 0, a, 0, c]]), dtype=np.int64)
    with np.errstate(over="ignore"):
        norms = (points * points).sum(axis=1)
        gap = ((points[0] - points[1]) ** 2).sum()
    assert gap >= norms.max()  # int64 wraps the squared norms to negative numbers
    verdict = get_task("kissing_number_11").verify({"points": points.tolist()})
    assert not verdict.valid and "too close" in verdict.reason


def test_kissing_rejects_what_float_arithmetic_accepts():
    a = 2**30
    rows = _pad([[a, a, 0, 0, 1], [a, 0, a, 0, 1]])  # exact: gap 2a^2 < norm 2a^2 + 1
    as_float = np.array(rows, dtype=float)
    assert ((as_float[0] - as_float[1]) ** 2).sum() >= (as_float**2).sum(axis=1).max()
    verdict = get_task("kissing_number_11").verify({"points": rows})
    assert not verdict.valid and "too close" in verdict.reason


def test_kissing_rejects_a_perturbed_published_configuration():
    task = get_task("kissing_number_11")
    points = _load("alphaevolve_kissing_number_11.json")["points"]
    # Put point 1 one unit away from point 0 (coordinates ~1e12): a gross violation.
    moved = [list(p) for p in points]
    moved[1] = [x + (1 if k == 0 else 0) for k, x in enumerate(moved[0])]
    verdict = task.verify({"points": moved})
    assert not verdict.valid and "points 0 and 1" in verdict.reason


@pytest.mark.parametrize(
    "points, needle",
    [
        (_pad([[1, 1], [0, 0]]), "origin"),
        (_pad([[1, 1], [1, 1]]), "equal"),
        (_pad([[1.0, 1]]), "integer"),
        (_pad([[True, 1]]), "integer"),
        ([[1, 1, 0]], "11 integer coordinates"),
        ([], "empty"),
    ],
)
def test_kissing_rejects_bad_points(points, needle):
    verdict = get_task("kissing_number_11").verify({"points": points})
    assert not verdict.valid and needle in verdict.reason, verdict.reason


def test_kissing_counts_points_and_ignores_claims():
    verdict = get_task("kissing_number_11").verify({"points": _pad([[2, 0], [0, 2], [-2, 0]]), "score": 10**6})
    assert verdict.valid and verdict.score == 3.0


def test_kissing_big_coordinates_use_the_exact_path():
    big = 2**60
    rows = _pad([[big, 0], [0, big], [-big, 0], [0, -big]])
    assert get_task("kissing_number_11").verify({"points": rows}).score == 4.0
    rows[1] = _pad([[big - 1, big - 1]])[0]  # distance to (big, 0) shrinks below the norm
    assert not get_task("kissing_number_11").verify({"points": rows}).valid


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 10**6), st.permutations(list(range(11))), st.lists(st.sampled_from([1, -1]), min_size=11, max_size=11))
def test_kissing_is_invariant_under_integer_scaling_and_signed_coordinate_permutations(scale, order, signs):
    # Both maps are exact on integers and preserve the condition min |x - y| >= max |x|.
    points = _load("alphaevolve_kissing_number_11.json")["points"][:120]
    moved = [[scale * signs[k] * p[order[k]] for k in range(11)] for p in points]
    verdict = get_task("kissing_number_11").verify({"points": moved})
    assert verdict.valid and verdict.score == 120.0
