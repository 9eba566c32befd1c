"""Program rows as compact columns for the browser.

A page with 10^5 programs must load in well under two seconds, so rows travel as columns of
small numbers that compress well: ids as differences (almost all 1), parents as the distance
back to the parent, kinds and outcomes as small codes, scores to 12 significant digits (the
exact value is one click away, on the program's page), times relative to the run's start.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import isfinite
from typing import Any

from thetaevolve.dashboard.runstore import ProgramRow
from thetaevolve.types import Outcome

KINDS = ("proposal", "seed", "migrant", "reinit")
OUTCOMES = tuple(o.value for o in Outcome)
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
_OUTCOME_CODE = {o: i for i, o in enumerate(OUTCOMES)}
UNKNOWN = -1  # a kind or outcome this version does not know (a newer writer)


def encode_rows(rows: Sequence[ProgramRow], after: int, t0: float,
                rewards: bool = True) -> dict[str, Any]:
    """Columns for rows whose ids all exceed ``after`` (the id before the first row).

    ``rewards`` False leaves the reward column out: only RL runs plot it, and it is the
    second largest column.
    """
    if not rows:
        empty: dict[str, Any] = {k: [] for k in _COLUMNS}
        empty["after"] = after
        return empty
    (ids, parents, _, kinds, islands, generations, iterations, outcomes, scores, reward,
     created, _) = zip(*rows)
    did = [ids[0] - after] + [b - a for a, b in zip(ids, ids[1:])]
    columns: dict[str, Any] = {
        "after": after,
        "did": did,
        "par": [0 if p is None else i - p for i, p in zip(ids, parents)],
        "kind": [_KIND_CODE.get(k, UNKNOWN) for k in kinds],
        "isl": list(islands),
        "gen": list(generations),
        "it": list(iterations),
        "out": [_OUTCOME_CODE.get(o, UNKNOWN) for o in outcomes],
        "sc": [float(f"{v:.12g}") if v is not None and isfinite(v) else None for v in scores],
        "t": [round(c - t0, 1) for c in created],
    }
    if rewards:
        columns["rw"] = [float(f"{v:.6g}") if v is not None and isfinite(v) else None
                         for v in reward]
    return columns


_COLUMNS = ("did", "par", "kind", "isl", "gen", "it", "out", "sc", "t")
