"""Property tests: a block built from a slice of the program does exactly that change;
blocks that cannot apply never change the program."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from thetaevolve.edits import apply_response, format_search_replace
from thetaevolve.types import Outcome

# Small alphabets make repeated lines (ambiguity) likely, which the properties must handle.
_line = st.text(alphabet="ab =1()", min_size=0, max_size=6).map(lambda s: s.strip())
_lines = st.lists(_line, min_size=1, max_size=12)


def _text(lines: list[str]) -> str:
    """Lines in format_search_replace's convention: each one ends with a newline."""
    return "".join(line + "\n" for line in lines)


def _occurrences(code: list[str], part: list[str]) -> int:
    return sum(code[i : i + len(part)] == part for i in range(len(code) - len(part) + 1))


@settings(max_examples=300, deadline=None)
@given(_lines, st.data())
def test_slice_block_reproduces_the_intended_change(lines: list[str], data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(lines) - 1))
    end = data.draw(st.integers(start + 1, len(lines)))
    search = lines[start:end]
    replace = data.draw(st.lists(_line, max_size=4))
    code = "\n".join(lines)
    result = apply_response(code, format_search_replace(_text(search), _text(replace)))
    if not any(line.strip() for line in search):
        assert result.outcome is Outcome.EDIT_NO_MATCH
    elif _occurrences(lines, search) == 1:
        assert result.outcome is None, result.detail
        assert result.code == "\n".join(lines[:start] + replace + lines[end:])
    else:
        assert result.outcome is Outcome.EDIT_AMBIGUOUS
    if result.outcome is not None:
        assert result.code is None


@settings(max_examples=200, deadline=None)
@given(_lines, st.lists(_line, min_size=1, max_size=3), st.lists(_line, max_size=3))
def test_foreign_search_never_changes_the_program(
    lines: list[str], search: list[str], replace: list[str]
) -> None:
    marker = "zz_not_in_program"
    search = search + [marker]
    code = "\n".join(lines)
    result = apply_response(code, format_search_replace(_text(search), _text(replace)))
    assert result.outcome is Outcome.EDIT_NO_MATCH
    assert result.code is None


@settings(max_examples=200, deadline=None)
@given(_lines, _lines, _lines, st.data())
def test_only_block_edits_succeed_and_the_harness_survives(
    before: list[str], body: list[str], after: list[str], data: st.DataObject
) -> None:
    lines = ["H0 head"] + before + ["# EVOLVE-BLOCK-START"] + body + ["# EVOLVE-BLOCK-END"] + after
    lines += ["H1 tail"]
    start = data.draw(st.integers(0, len(lines) - 1))
    end = data.draw(st.integers(start + 1, len(lines)))
    replace = data.draw(st.lists(st.sampled_from(["q = 1", "", "r()"]), max_size=3))
    code = "\n".join(lines)
    result = apply_response(
        code, format_search_replace(_text(lines[start:end]), _text(replace))
    )
    head = lines.index("# EVOLVE-BLOCK-START")
    end_marker = lines.index("# EVOLVE-BLOCK-END")
    search = lines[start:end]
    inside = head < start and end <= end_marker
    if inside and any(x.strip() for x in search) and _occurrences(lines, search) == 1:
        assert result.outcome is None, result.detail
    if result.outcome is None:
        child = result.code.split("\n")
        tail = len(lines) - end_marker
        assert child[: head + 1] == lines[: head + 1]
        assert child[-tail:] == lines[-tail:]
    else:
        assert result.code is None


_indented = st.lists(
    st.tuples(st.sampled_from(["", "    ", "        "]), _line).map(lambda t: t[0] + t[1] if t[1] else ""),
    min_size=1,
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(_indented, st.data())
def test_dedented_slice_applies_with_the_program_indentation(
    lines: list[str], data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, len(lines) - 1))
    end = data.draw(st.integers(start + 1, len(lines)))
    window = lines[start:end]
    nonblank = [line for line in window if line.strip()]
    if not nonblank:
        return
    indent = min(len(line) - len(line.lstrip()) for line in nonblank)
    if indent == 0:
        return
    search = [line[indent:] if line.strip() else line for line in window]
    if _occurrences(lines, search):
        return  # an exact match elsewhere wins, as it should
    replace = data.draw(st.lists(_line.filter(bool), min_size=1, max_size=3))
    result = apply_response("\n".join(lines), format_search_replace(_text(search), _text(replace)))
    if result.outcome is None:
        # Blank lines around the SEARCH text are trimmed in the tolerant pass.
        first = start + next(i for i, line in enumerate(window) if line.strip())
        last = start + max(i for i, line in enumerate(window) if line.strip()) + 1
        expected = lines[:first] + [" " * indent + r for r in replace] + lines[last:]
        assert result.code == "\n".join(expected)
    else:
        assert result.outcome is Outcome.EDIT_AMBIGUOUS and result.code is None
