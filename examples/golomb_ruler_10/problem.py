"""Golomb ruler with 10 marks: a native problem folder (see docs/problems.md).

A Golomb ruler is a set of integer marks whose pairwise differences are all distinct. With
10 marks the shortest ruler has length 55 (0 1 6 10 23 26 34 41 53 55); its optimality was
settled by exhaustive computer search (the table of optimal Golomb rulers in OEIS A003022).
Everything is an integer, so the verifier is exact.
"""

NAME = "golomb_ruler_10"
DIRECTION = "min"
STATEMENT = """Find a Golomb ruler with 10 marks that is as short as possible.

A Golomb ruler is a set of distinct non-negative integers (the marks) such that every
difference between two marks occurs only once. Its length is the largest mark minus the
smallest one.

solve() returns {"marks": [m1, m2, ..., m10]}: 10 distinct non-negative integers (any
order). The score is the length (lower is better)."""
SOLUTION_FORMAT = '{"marks": [10 distinct non-negative integers]}'
SCORE_MEANING = "ruler length"
TIMEOUT_S = 30
HEAVY_MODULES = []
KNOWN_BOUNDS = [(55, "optimal Golomb rulers, OEIS A003022", "0 1 6 10 23 26 34 41 53 55")]
REWARD_RANGE = (55, 600)

MARKS = 10


def verify(solution, tol=0.0):
    """Exact: integers only, so ``tol`` has nothing to relax."""
    marks = solution.get("marks")
    if not isinstance(marks, list) or len(marks) != MARKS:
        raise ValueError(f"marks must be a list of {MARKS} integers")
    if not all(isinstance(m, int) and not isinstance(m, bool) and m >= 0 for m in marks):
        raise ValueError("every mark must be a non-negative integer")
    if len(set(marks)) != MARKS:
        raise ValueError("the marks must be distinct")
    marks = sorted(marks)
    seen = {}
    for i, low in enumerate(marks):
        for high in marks[i + 1:]:
            difference = high - low
            if difference in seen:
                a, b = seen[difference]
                raise ValueError(
                    f"the difference {difference} occurs twice: {b} - {a} and {high} - {low}"
                )
            seen[difference] = (low, high)
    length = marks[-1] - marks[0]
    missing = [d for d in range(1, length + 1) if d not in seen]
    return length, f"length {length}; {len(missing)} differences up to {length} are unused"
