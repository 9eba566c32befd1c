"""Circle-packing verifiers: published values, exact (zero-tolerance) decisions, bad data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from thetaevolve.tasks import get_task

DATA = Path(__file__).parent / "fixtures" / "constructions"


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


def _theta_entry(name: str) -> list:
    return next(e["list"] for e in _load("thetaevolve_CirclePacking.json")["entries"] if e["name"] == name)


@pytest.fixture(scope="module")
def cp26():
    return get_task("circle_packing_26")


@pytest.fixture(scope="module")
def cp32():
    return get_task("circle_packing_32")


@pytest.fixture(scope="module")
def rect21():
    return get_task("circles_rectangle_21")


# --- published constructions, >= 9 significant digits --------------------------------


def test_alphaevolve_26_reproduced_strictly(cp26):
    verdict = cp26.verify(_load("alphaevolve_circle_packing_26.json"))
    assert verdict.valid, verdict.reason
    assert verdict.tolerance == 0.0
    assert verdict.score == pytest.approx(2.6358627564, abs=5e-11)


def test_alphaevolve_32_reproduced_strictly(cp32):
    verdict = cp32.verify(_load("alphaevolve_circle_packing_32.json"))
    assert verdict.valid, verdict.reason
    assert verdict.score == pytest.approx(2.9379445262, abs=5e-11)


def test_thetaevolve_formal_packing_is_valid_with_zero_tolerance(cp26):
    centers, radii = _theta_entry("8B-w_RL@65-Formal")
    verdict = cp26.verify({"centers": centers, "radii": radii})
    assert verdict.valid, verdict.reason
    assert verdict.score == pytest.approx(2.6359830774, abs=5e-11)
    # The same data as [x, y, r] rows gives the same verdict.
    rows = [[x, y, r] for (x, y), r in zip(centers, radii)]
    assert cp26.verify({"circles": rows}).score == verdict.score


def test_thetaevolve_tolerant_packing_rejected_strictly_accepted_at_1e_6(cp26):
    circles = _theta_entry("8B-w_RL@65")
    strict = cp26.verify({"circles": circles})
    assert not strict.valid
    assert "overlap" in strict.reason and "exactly" in strict.reason
    assert "58 overlapping pair" in strict.reason  # the count measured in the reference notes
    tolerant = cp26.verify({"circles": circles}, tol=1e-6)
    assert tolerant.valid, tolerant.reason
    assert tolerant.tolerance == 1e-6
    assert tolerant.score == pytest.approx(2.635985661, abs=5e-10)
    # Its largest overlap is ~3.1e-7: a tolerance just below that still rejects it.
    assert not cp26.verify({"circles": circles}, tol=1e-7).valid


def test_shinkaevolve_and_alphaevolve_entries(cp26):
    shinka = cp26.verify({"circles": _theta_entry("ShinkaEvolve")})
    assert shinka.valid and shinka.score == pytest.approx(2.6359828266, abs=5e-11)
    alpha = cp26.verify({"circles": _theta_entry("AlphaEvolve")})
    assert alpha.valid and alpha.score == pytest.approx(2.6358627564, abs=5e-11)


def test_thetaevolve_init_entry_has_a_zero_radius(cp26):
    # ThetaEvolve's own initial output contains a circle of radius exactly 0: we require r > 0.
    verdict = cp26.verify({"circles": _theta_entry("Init")})
    assert not verdict.valid and "non-positive radius" in verdict.reason


def test_rectangle_21_reproduced_strictly(rect21):
    data = _load("alphaevolve_circles_rectangle_21.json")
    verdict = rect21.verify(data)
    assert verdict.valid, verdict.reason
    assert verdict.score == pytest.approx(2.3658321334, abs=5e-11)
    assert verdict.metrics["bbox_width"] + verdict.metrics["bbox_height"] <= 2.0
    assert verdict.metrics["perimeter_slack"] == pytest.approx(2 * 3.2e-8, rel=0.1)


def test_rectangle_bounding_box_checked_exactly(rect21):
    circles = [list(c) for c in _load("alphaevolve_circles_rectangle_21.json")["circles"]]
    # Stretch the widest circle just enough to push W + H past 2 by a hair.
    right = max(range(21), key=lambda i: circles[i][0] + circles[i][2])
    slack = 2.0 - _bbox_sum(circles)
    circles[right][2] += slack  # now W + H = 2 + (about) slack/.. > 2 in exact arithmetic
    verdict = rect21.verify({"circles": circles})
    assert not verdict.valid
    assert "exceeds 2" in verdict.reason or "overlap" in verdict.reason


def _bbox_sum(circles):
    xs = [c[0] for c in circles]
    ys = [c[1] for c in circles]
    rs = [c[2] for c in circles]
    w = max(x + r for x, r in zip(xs, rs)) - min(x - r for x, r in zip(xs, rs))
    h = max(y + r for y, r in zip(ys, rs)) - min(y - r for y, r in zip(ys, rs))
    return w + h


def test_rectangle_with_explicit_box(rect21):
    circles = _load("alphaevolve_circles_rectangle_21.json")["circles"]
    x0 = min(c[0] - c[2] for c in circles)
    y0 = min(c[1] - c[2] for c in circles)
    shifted = [[c[0] - x0 + 0.0, c[1] - y0, c[2]] for c in circles]
    ok = rect21.verify({"circles": shifted, "width": 1.0, "height": 1.0})
    assert not ok.valid  # the construction is 0.977 x 1.023: it does not fit a unit square
    too_big = rect21.verify({"circles": shifted, "width": 1.5, "height": 0.75})
    assert not too_big.valid and "width + height" in too_big.reason
    partial = rect21.verify({"circles": shifted, "width": 1.0})
    assert not partial.valid and "both" in partial.reason


# --- exactness ---------------------------------------------------------------------------


def _grid_packing(n: int, radius: float = 1 / 20) -> list[list[float]]:
    """n circles on an 8-column grid of pitch 1/8 (dyadic centres: exact in floats)."""
    return [[(i % 8 + 0.5) / 8, (i // 8 + 0.5) / 8, radius] for i in range(n)]


def test_touching_circles_and_walls_are_valid(cp26):
    circles = _grid_packing(26, radius=1 / 16)  # every neighbour pair and the left/bottom walls touch
    verdict = cp26.verify({"circles": circles})
    assert verdict.valid, verdict.reason
    assert verdict.score == 26 / 16


@pytest.mark.parametrize("overlap", [1e-12, 1e-15, 2**-53])
def test_a_tiny_overlap_is_invalid(cp26, overlap):
    circles = _grid_packing(26)
    circles[10][2] = 1 / 16
    circles[11][2] = 1 / 16 + overlap  # centres 1/8 apart: the pair overlaps by `overlap`
    verdict = cp26.verify({"circles": circles})
    assert not verdict.valid
    assert "circles 10 and 11" in verdict.reason and "1 overlapping pair" in verdict.reason
    assert cp26.verify({"circles": circles}, tol=1e-9).valid


def test_a_tiny_wall_violation_is_invalid(cp26):
    circles = _grid_packing(26)
    circles[0] = [1 / 16, 0.75, 1 / 16 + 1e-15]  # above the grid, touching the left wall
    verdict = cp26.verify({"circles": circles})
    assert not verdict.valid and "leave the container" in verdict.reason
    assert cp26.verify({"circles": circles}, tol=1e-12).valid


@settings(max_examples=60, deadline=None)
@given(
    row=st.integers(0, 2),
    col=st.integers(1, 5),
    overlap=st.floats(1e-12, 1e-9),
)
def test_property_one_pair_overlapping_is_invalid(row, col, overlap):
    task = get_task("circle_packing_26")
    circles = _grid_packing(26)
    i = row * 8 + col
    circles[i][2] = 1 / 16
    circles[i + 1][2] = 1 / 16 + overlap
    verdict = task.verify({"circles": circles})
    assert not verdict.valid
    assert f"circles {i} and {i + 1}" in verdict.reason


_PUBLISHED = {
    "alphaevolve": lambda: _load("alphaevolve_circle_packing_26.json")["circles"],
    "shinka": lambda: _theta_entry("ShinkaEvolve"),
    "formal": lambda: [[x, y, r] for (x, y), r in zip(*_theta_entry("8B-w_RL@65-Formal"))],
}


@settings(max_examples=40, deadline=None)
@given(which=st.sampled_from(sorted(_PUBLISHED)), factors=st.lists(st.floats(1e-3, 1.0), min_size=26, max_size=26))
def test_property_shrinking_radii_keeps_published_packings_valid(which, factors):
    task = get_task("circle_packing_26")
    circles = [[x, y, r * f] for (x, y, r), f in zip(_PUBLISHED[which](), factors)]
    assert task.verify({"circles": circles}).valid


@settings(max_examples=40, deadline=None)
@given(
    jitter=st.lists(st.tuples(st.floats(-0.3, 0.3), st.floats(-0.3, 0.3), st.floats(0.01, 1.0)), min_size=26, max_size=26),
    factor=st.floats(1e-3, 1.0),
)
def test_property_shrinking_radii_keeps_random_packings_valid(jitter, factor):
    """Random packings: one circle per cell of a 6 x 5 grid, jittered, fitting its cell."""
    task = get_task("circle_packing_26")
    circles = []
    for k, (jx, jy, fill) in enumerate(jitter):
        cx, cy = (k % 6 + 0.5 + jx) / 6, (k // 6 + 0.5 + jy) / 5
        room = min(0.5 - abs(jx), 0.5 - abs(jy)) / 6
        circles.append([cx, cy, room * fill * (1 - 1e-9)])
    before = task.verify({"circles": circles})
    assume(before.valid)
    after = task.verify({"circles": [[x, y, r * factor] for x, y, r in circles]})
    assert after.valid, after.reason
    assert after.score <= before.score


# --- bad data ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("solution", "expected"),
    [
        ({"circles": [[0.5, 0.5, float("nan")]] * 26}, "not finite"),
        ({"circles": [[0.5, float("inf"), 0.1]] * 26}, "not finite"),
        ({"circles": [[0.1, 0.1, -0.05]] + _grid_packing(25)}, "non-positive radius"),
        ({"circles": [[0.1, 0.1, 0.0]] + _grid_packing(25)}, "non-positive radius"),
        ({"circles": _grid_packing(25)}, "expected exactly 26 circles, got 25"),
        ({"circles": _grid_packing(27)}, "expected exactly 26 circles, got 27"),
        ({"circles": [[0.5, 0.5]] * 26}, "list of 3 numbers"),
        ({"circles": [[0.5, 0.5, 0.1, 7]] * 26}, "list of 3 numbers"),
        ({"circles": [["0.5", 0.5, 0.1]] * 26}, "real numbers"),
        ({"circles": [[True, 0.5, 0.1]] * 26}, "real numbers"),
        ({"circles": [[None, 0.5, 0.1]] * 26}, "real numbers"),
        ({"circles": "lots"}, "list of rows"),
        ({"circle": _grid_packing(26)}, "missing key 'circles'"),
        ([[0.5, 0.5, 0.1]], "JSON object"),
        ({"circles": _grid_packing(26), "centers": [], "radii": []}, "not both"),
        ({"centers": [[0.5, 0.5]] * 26, "radii": [0.1] * 25}, "26 centers but 25 radii"),
    ],
)
def test_bad_data_is_rejected_with_a_reason(cp26, solution, expected):
    verdict = cp26.verify(solution)
    assert not verdict.valid
    assert verdict.score is None
    assert expected in verdict.reason


def test_claimed_score_and_unknown_keys_are_ignored(cp26):
    circles = _grid_packing(26)
    plain = cp26.verify({"circles": circles})
    decorated = cp26.verify({"circles": circles, "score": 99.0, "source": "somewhere", "sum_radii": 5})
    assert decorated == plain
    assert plain.score == pytest.approx(26 / 20)


def test_bad_tolerance_is_rejected(cp26):
    for tol in (-1e-9, float("nan"), float("inf"), "1e-6"):
        verdict = cp26.verify({"circles": _grid_packing(26)}, tol=tol)  # type: ignore[arg-type]
        assert not verdict.valid and "tolerance" in verdict.reason


def test_numpy_arrays_are_accepted(cp26):
    import numpy as np

    circles = np.array(_grid_packing(26))
    assert cp26.verify({"circles": circles}).score == cp26.verify({"circles": circles.tolist()}).score


def test_plot(cp26, rect21, tmp_path):
    assert cp26.plot_solution(_load("alphaevolve_circle_packing_26.json"), tmp_path / "cp.png")
    assert (tmp_path / "cp.png").stat().st_size > 1000
    assert rect21.plot_solution(_load("alphaevolve_circles_rectangle_21.json"), tmp_path / "r.png")
    assert not cp26.plot_solution({"circles": "x"}, tmp_path / "bad.png")
