"""Whole-file writes: a crash (or a kill) leaves either the old file or the new one, never half.

Every file a run rewrites in place (config.yaml, run.json, the best files, summary.json,
training.json, problem.json, a checkpoint's database position) goes through here: the text
is written to a side file next to the target and renamed over it, which POSIX makes atomic
within one filesystem.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as indented JSON (NaN kept as JSON's ``NaN``)."""
    write_text_atomic(path, json.dumps(data, indent=2, allow_nan=True) + "\n")
