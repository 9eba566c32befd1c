"""Where a training run keeps its checkpoints, and what a checkpoint says about the store.

A checkpoint folder ``checkpoints/checkpoint-<step>`` is TRL/transformers' own (model,
tokenizer, optimizer, scheduler and RNG states) plus ``thetaevolve_state.json``, the
database position at the moment of saving; a folder without both is incomplete and never
resumed from. This module imports no torch, so a run can be opened before it loads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "thetaevolve_state.json"
TRAINING_FILE = "training.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (one that has its database position written)."""
    if not output_dir.is_dir():
        return None
    found = []
    for child in output_dir.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and (child / STATE_FILE).exists() and (child / "trainer_state.json").exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def checkpoint_step(checkpoint: Path) -> int:
    """The optimizer steps a checkpoint had taken (from the trainer's own state file)."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return int(state["global_step"])


def read_position(checkpoint: Path) -> dict[str, Any]:
    """The database position written into ``checkpoint`` (step, next batch, candidates)."""
    position: dict[str, Any] = json.loads((checkpoint / STATE_FILE).read_text())
    return position
