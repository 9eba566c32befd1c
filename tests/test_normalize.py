"""Code identity for lazy penalties ignores comments and trailing whitespace only."""

from thetaevolve.normalize import code_hash, normalize_code

BASE = 'x = 1\ns = "a # not a comment"\ndef f():\n    return x  # tail\n'


def test_comments_and_trailing_spaces_do_not_change_identity():
    other = '# header\nx = 1   \ns = "a # not a comment"\ndef f():\n    return x\n'
    assert code_hash(BASE) == code_hash(other)


def test_hash_inside_string_is_kept():
    assert "# not a comment" in normalize_code(BASE)
    assert code_hash(BASE) != code_hash(BASE.replace("# not a comment", "different"))


def test_code_change_changes_identity():
    assert code_hash(BASE) != code_hash(BASE.replace("x = 1", "x = 2"))


def test_triple_quoted_string_keeps_hash_lines():
    code = 'doc = """\n# inside\n"""\ny = 2\n'
    assert "# inside" in normalize_code(code)


def test_shebang_is_kept():
    assert normalize_code("#!/usr/bin/env python\nx = 1").startswith("#!")
