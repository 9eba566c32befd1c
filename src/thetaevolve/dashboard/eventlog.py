"""Following a run's ``metrics.jsonl`` (one JSON event per line, only ever appended).

The cursor is a byte offset. A line the run is still writing has no newline yet; it is left
for the next read, so an event is never seen half.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Fields of a batch event the dashboard plots; absent ones are sent as null.
BATCH_FIELDS = ("batch", "evaluations", "tokens", "cost_usd", "step", "time")
# Events that say where a run is in its life; others (warnings, the sandbox's node events)
# may come in any order and say nothing about whether the run finished.
LIFE_EVENTS = frozenset({"initial", "resume", "batch", "summary", "train_start"})


@dataclass
class EventLogTail:
    """What was read from one run's event log since the last call."""

    offset: int
    batches: list[list[Any]] = field(default_factory=list)  # rows of BATCH_FIELDS
    last_event: str | None = None  # the latest of LIFE_EVENTS
    unreadable_lines: int = 0


def read_events(path: Path, offset: int, up_to: int | None = None) -> EventLogTail:
    """Complete events in ``[offset, up_to)``; returns the offset to continue from."""
    tail = EventLogTail(offset=offset)
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read() if up_to is None else handle.read(max(0, up_to - offset))
    except FileNotFoundError:
        return tail
    end = data.rfind(b"\n")
    if end < 0:
        return tail
    tail.offset = offset + end + 1
    for raw in data[: end + 1].splitlines():
        if not raw.strip():
            continue
        try:
            event = json.loads(raw)
        except ValueError:
            tail.unreadable_lines += 1  # a torn line from a crash: skip it, keep the rest
            continue
        if not isinstance(event, dict):
            continue
        name = event.get("event")
        if name in LIFE_EVENTS:
            tail.last_event = str(name)
        if name == "batch":
            tail.batches.append([_plain(event.get(k)) for k in BATCH_FIELDS])
    return tail


def _plain(value: Any) -> Any:
    """A JSON-safe number (NaN and infinities become null), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None
