"""Reading a solution file for ``thetaevolve verify``.

Only the file's readability is judged here; whether the data makes a valid solution
is the task verifier's job (it ignores unknown keys such as ``source``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity by default; a solution file must be plain JSON.
    raise ValueError(f"non-standard JSON constant {name}")


def load_solution_file(path: str | Path) -> dict[str, Any]:
    """The JSON object stored at ``path``; ValueError with a clear message otherwise."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"solution file not found: {p}") from None
    except IsADirectoryError:
        raise ValueError(f"solution path is a directory, not a file: {p}") from None
    except UnicodeDecodeError:
        raise ValueError(f"solution file is not UTF-8 text: {p}") from None
    except OSError as exc:
        raise ValueError(f"cannot read solution file {p}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise ValueError(f"{p} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ValueError(f"{p} is nested too deeply to read") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p} must hold a JSON object (e.g. {{\"circles\": ...}}), found a {type(data).__name__}")
    return data
