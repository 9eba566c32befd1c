"""load_solution_file: a JSON object back, or a ValueError that says what is wrong."""

from __future__ import annotations

import pytest

from thetaevolve.tasks.io import load_solution_file


def test_reads_a_json_object(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"circles": [[0.5, 0.5, 0.1]], "source": "x"}')
    assert load_solution_file(path) == {"circles": [[0.5, 0.5, 0.1]], "source": "x"}
    assert load_solution_file(str(path))["source"] == "x"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
        ('{"heights": [1.0, NaN]}', "NaN"),
        ('{"heights": [Infinity]}', "Infinity"),
        ("[1, 2, 3]", "must hold a JSON object"),
        ('"text"', "must hold a JSON object"),
    ],
)
def test_bad_content_is_a_value_error(tmp_path, content, expected):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=expected):
        load_solution_file(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_solution_file(tmp_path / "nope.json")
    with pytest.raises(ValueError, match="directory"):
        load_solution_file(tmp_path)


def test_binary_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match="UTF-8"):
        load_solution_file(path)
