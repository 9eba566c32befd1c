"""Program rows as compact columns for the browser.

A page with 10^5 programs must load in well under two seconds, so rows travel as columns of
small numbers that compress well: ids as differences (almost all 1), parents as the distance
back to the parent, kinds and outcomes as small codes, scores to 12 significant digits (the
exact value is one click away, on the program's page), times relative to the run's start.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from thetaevolve.dashboard.runstore import ProgramRow
from thetaevolve.types import Outcome

KINDS = ("proposal", "seed", "migrant", "reinit")
OUTCOMES = tuple(o.value for o in Outcome)
_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
_OUTCOME_CODE = {o: i for i, o in enumerate(OUTCOMES)}
UNKNOWN = -1  # a kind or outcome this version does not know (a newer writer)


def encode_rows(rows: Iterable[ProgramRow], after: int, t0: float) -> dict[str, Any]:
    """Columns for rows whose ids all exceed ``after`` (the id before the first row)."""
    did: list[int] = []
    par: list[int] = []
    kind: list[int] = []
    isl: list[int] = []
    gen: list[int] = []
    it: list[int] = []
    out: list[int] = []
    sc: list[float | None] = []
    rw: list[float | None] = []
    t: list[float] = []
    previous = after
    for row in rows:
        did.append(row.id - previous)
        previous = row.id
        par.append(0 if row.parent_id is None else row.id - row.parent_id)
        kind.append(_KIND_CODE.get(row.kind, UNKNOWN))
        isl.append(row.island)
        gen.append(row.generation)
        it.append(row.iteration)
        out.append(_OUTCOME_CODE.get(row.outcome, UNKNOWN))
        sc.append(_digits(row.score, 12))
        rw.append(_digits(row.reward, 6))
        t.append(round(row.created_at - t0, 1))
    return {"after": after, "did": did, "par": par, "kind": kind, "isl": isl, "gen": gen,
            "it": it, "out": out, "sc": sc, "rw": rw, "t": t}


def _digits(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{digits}g}")
