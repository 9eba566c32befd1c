"""SEARCH/REPLACE and full-rewrite edits: formats, failure kinds, EVOLVE-BLOCK guard."""

from __future__ import annotations

import pytest

from thetaevolve.edits import (
    apply_response,
    edit_scope_text,
    format_search_replace,
    last_fenced_program,
    parse_blocks,
)
from thetaevolve.types import Outcome

PARENT = """import numpy as np

# EVOLVE-BLOCK-START
def solve():
    x = 1
    for i in range(3):
        x += i
    return {"x": x}
# EVOLVE-BLOCK-END

if __name__ == "__main__":
    print(solve())
"""

PLAIN = "a = 1\nb = 2\nc = 3\n"


def block(search: str, replace: str) -> str:
    return format_search_replace(search, replace)


def test_single_block_outside_fence() -> None:
    result = apply_response(PARENT, "idea\n" + block("    x = 1", "    x = 2"))
    assert result.outcome is None
    assert result.code == PARENT.replace("    x = 1", "    x = 2")
    assert result.blocks == 1


def test_block_inside_code_fence_and_several_blocks() -> None:
    response = (
        "Two changes.\n```python\n"
        + block("    x = 1", "    x = 5")
        + "```\nand\n```\n"
        + block("        x += i", "        x *= i + 1")
        + "```\n"
    )
    result = apply_response(PARENT, response)
    assert result.outcome is None, result.detail
    assert "x = 5" in result.code and "x *= i + 1" in result.code
    assert result.blocks == 2


def test_later_block_sees_earlier_block_result() -> None:
    response = block("a = 1", "a = 10") + block("a = 10\nb = 2", "a = 11\nb = 2")
    assert apply_response(PLAIN, response).code == "a = 11\nb = 2\nc = 3\n"


def test_no_block_is_no_diff() -> None:
    result = apply_response(PARENT, "I would change the loop, but here is no edit.")
    assert result.outcome is Outcome.NO_DIFF and result.code is None and result.blocks == 0


def test_unterminated_block_is_no_diff_and_says_so() -> None:
    result = apply_response(PARENT, "<<<<<<< SEARCH\n    x = 1\n=======\n    x = 2\n")
    assert result.outcome is Outcome.NO_DIFF
    assert "unterminated" in result.detail


def test_no_match() -> None:
    result = apply_response(PARENT, block("    y = 7", "    y = 8"))
    assert result.outcome is Outcome.EDIT_NO_MATCH and result.code is None
    assert "y = 7" in result.detail


def test_ambiguous() -> None:
    code = "x = 1\ny = 2\nx = 1\n"
    result = apply_response(code, block("x = 1", "x = 3"))
    assert result.outcome is Outcome.EDIT_AMBIGUOUS and result.code is None


def test_one_failing_block_fails_all_and_changes_nothing() -> None:
    response = block("    x = 1", "    x = 2") + block("    nope()", "    yes()")
    result = apply_response(PARENT, response)
    assert result.outcome is Outcome.EDIT_NO_MATCH
    assert result.code is None
    assert "block 2" in result.detail


def test_whitespace_tolerant_trailing_spaces_and_blank_lines() -> None:
    response = block("\n    x = 1   \n    for i in range(3):\n", "    x = 4\n    for i in range(3):")
    result = apply_response(PARENT, response)
    assert result.outcome is None, result.detail
    assert "    x = 4\n    for i in range(3):\n        x += i" in result.code
    assert "whitespace-tolerant" in result.detail


def test_whitespace_tolerant_reindents_replacement() -> None:
    # The model dropped the function's indentation in both parts.
    response = block("x = 1\nfor i in range(3):\n    x += i", "x = 0\nfor i in range(4):\n    x -= i")
    result = apply_response(PARENT, response)
    assert result.outcome is None, result.detail
    assert "    x = 0\n    for i in range(4):\n        x -= i\n" in result.code


def test_inconsistent_indentation_does_not_match() -> None:
    response = block("x = 1\n        for i in range(3):", "x = 2")
    assert apply_response(PARENT, response).outcome is Outcome.EDIT_NO_MATCH


def test_edit_outside_evolve_block() -> None:
    result = apply_response(PARENT, block("import numpy as np", "import numpy as np\nimport os"))
    assert result.outcome is Outcome.EDIT_OUTSIDE_BLOCK and result.code is None
    result = apply_response(PARENT, block("    print(solve())", "    print(solve(), 1)"))
    assert result.outcome is Outcome.EDIT_OUTSIDE_BLOCK


def test_edit_removing_marker_is_outside() -> None:
    result = apply_response(PARENT, block("# EVOLVE-BLOCK-END\n", ""))
    assert result.outcome is Outcome.EDIT_OUTSIDE_BLOCK


def test_edit_adding_marker_is_outside() -> None:
    result = apply_response(PARENT, block("    x = 1", "    x = 1\n# EVOLVE-BLOCK-END"))
    assert result.outcome is Outcome.EDIT_OUTSIDE_BLOCK


def test_search_may_include_unchanged_marker_lines() -> None:
    response = block("# EVOLVE-BLOCK-START\ndef solve():", "# EVOLVE-BLOCK-START\nimport math\ndef solve():")
    result = apply_response(PARENT, response)
    assert result.outcome is None, result.detail
    assert "# EVOLVE-BLOCK-START\nimport math\ndef solve():" in result.code


def test_insertion_right_before_end_marker_is_inside() -> None:
    response = block('    return {"x": x}\n# EVOLVE-BLOCK-END', '    return {"x": x}\nY = 1\n# EVOLVE-BLOCK-END')
    assert apply_response(PARENT, response).outcome is None


def test_program_without_markers_is_all_editable() -> None:
    assert apply_response(PLAIN, block("a = 1", "a = 9")).code == "a = 9\nb = 2\nc = 3\n"


def test_empty_search_is_no_match() -> None:
    result = apply_response(PLAIN, "<<<<<<< SEARCH\n=======\nz = 1\n>>>>>>> REPLACE\n")
    assert result.outcome is Outcome.EDIT_NO_MATCH


def test_deletion_with_empty_replace() -> None:
    assert apply_response(PLAIN, block("b = 2\n", "")).code == "a = 1\nc = 3\n"


def test_marker_length_variants_and_crlf() -> None:
    response = "<<<<<<<< SEARCH\r\na = 1\r\n========\r\na = 2\r\n>>>>>>>> REPLACE\r\n"
    assert apply_response(PLAIN, response).code == "a = 2\nb = 2\nc = 3\n"


def test_format_round_trip() -> None:
    text = format_search_replace("a\nb\n", "c\n")
    assert text == "<<<<<<< SEARCH\na\nb\n=======\nc\n>>>>>>> REPLACE\n"
    blocks, unterminated = parse_blocks(text)
    assert unterminated == 0 and blocks[0].search == ("a", "b") and blocks[0].replace == ("c",)


def test_think_scope() -> None:
    inside = block("a = 1", "a = 2")
    after = block("b = 2", "b = 3")
    response = f"<think>maybe\n{inside}</think>\nfinal:\n{after}"
    whole = apply_response(PLAIN, response, scope="whole")
    assert whole.code == "a = 2\nb = 3\nc = 3\n"
    late = apply_response(PLAIN, response, scope="after_think")
    assert late.code == "a = 1\nb = 3\nc = 3\n"
    cut = apply_response(PLAIN, f"<think>never closes {inside}", scope="after_think")
    assert cut.outcome is Outcome.NO_DIFF
    assert edit_scope_text("no tags", "after_think") == "no tags"
    with pytest.raises(ValueError, match="edit scope"):
        edit_scope_text("x", "middle")  # type: ignore[arg-type]


def test_bad_mode_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="edit mode"):
        apply_response(PLAIN, "x", mode="patch")  # type: ignore[arg-type]


# --- full rewrite -----------------------------------------------------------------


def test_rewrite_keeps_code_outside_blocks() -> None:
    response = (
        "first try\n```python\nprint('draft')\n```\nfinal:\n```python\n"
        "import os\n# EVOLVE-BLOCK-START\ndef solve():\n    return {'x': 42}\n"
        "# EVOLVE-BLOCK-END\nprint('harness changed')\n```\n"
    )
    result = apply_response(PARENT, response, mode="rewrite")
    assert result.outcome is None, result.detail
    assert result.code.startswith("import numpy as np\n\n# EVOLVE-BLOCK-START\ndef solve():\n")
    assert "return {'x': 42}" in result.code
    assert "harness changed" not in result.code and "import os" not in result.code
    assert result.code.endswith('if __name__ == "__main__":\n    print(solve())\n')


def test_rewrite_without_markers_replaces_single_region_body() -> None:
    response = "```python\ndef solve():\n    return {'x': 3}\n```"
    result = apply_response(PARENT, response, mode="rewrite")
    assert result.code == (
        "import numpy as np\n\n# EVOLVE-BLOCK-START\ndef solve():\n    return {'x': 3}\n"
        '# EVOLVE-BLOCK-END\n\nif __name__ == "__main__":\n    print(solve())\n'
    )


def test_rewrite_region_count_mismatch_fails() -> None:
    response = (
        "```python\n# EVOLVE-BLOCK-START\na\n# EVOLVE-BLOCK-END\n"
        "# EVOLVE-BLOCK-START\nb\n# EVOLVE-BLOCK-END\n```"
    )
    result = apply_response(PARENT, response, mode="rewrite")
    assert result.outcome is Outcome.EDIT_OUTSIDE_BLOCK and result.code is None


def test_rewrite_without_fence_is_no_diff_and_unclosed_fence_ignored() -> None:
    assert apply_response(PARENT, "def solve(): pass", mode="rewrite").outcome is Outcome.NO_DIFF
    assert last_fenced_program("```python\nx = 1\n") is None


def test_rewrite_of_unmarked_parent_takes_whole_program() -> None:
    result = apply_response(PLAIN, "```python\nz = 0\n```", mode="rewrite")
    assert result.code == "z = 0"


def test_rewrite_prefers_python_fence_over_other_languages() -> None:
    text = "```python\nx = 1\n```\n```text\nlog\n```"
    assert last_fenced_program(text) == "x = 1"


def test_block_drafted_in_reasoning_and_repeated_is_applied_once() -> None:
    edit = block("a = 1", "a = 2")
    response = f"<think>I will write\n{edit}</think>\nFinal answer:\n```\n{edit}```"
    result = apply_response(PLAIN, response)
    assert result.code == "a = 2\nb = 2\nc = 3\n"
    assert "repeated" in result.detail


def test_repeat_with_other_whitespace_is_recognised_as_applied() -> None:
    response = block("    x = 1", "    x = 7") + block("x = 1", "x = 7")
    result = apply_response(PARENT, response)
    assert result.outcome is None, result.detail
    assert result.code == PARENT.replace("    x = 1", "    x = 7")


def test_unrelated_failing_block_after_a_good_one_still_fails() -> None:
    response = block("a = 1", "a = 2") + block("zzz = 0", "zzz = 1")
    assert apply_response(PLAIN, response).outcome is Outcome.EDIT_NO_MATCH
