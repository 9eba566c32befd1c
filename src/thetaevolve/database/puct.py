"""PUCT parent selection (TTT-Discover's reuse rule, arXiv 2601.16175, ``PUCTSampler``).

``database.sampler=puct`` replaces the island/archive rule for choosing parents. Each state
s (a stored program) is scored

    score(s) = Q(s) + c * scale * P(s) * sqrt(1 + T) / (1 + n(s))

* ``Q(s)``: the best fitness among s's successful children (s's own fitness while it has
  none). A state whose children all came out worse is worth less than its own score.
* ``P(s)``: a rank prior over the candidate states, linear in rank: the best of K states
  gets K / (K (K + 1) / 2), the worst 1 / (K (K + 1) / 2).
* ``n(s)``: how many children s has had (its visits); ``T``: the total over all states.
* ``scale``: the range of fitness among the candidates (1 when they are all equal), so the
  bonus is in the same units as Q; ``c`` is ``database.puct_c``.

Fitness is the task's score oriented so that larger is better, the number the database
ranks by; it is the same under every ``gym.reward``, so the reuse rule does not change
when the RL reward shaping does.

**Candidates** are the elite archive (the live top ``database.archive_size`` programs, kept
incrementally by the index), as TTT-Discover keeps a buffer of its best 1000 states. One
batch scores them with one vectorised pass, then walks parent links for the lineage rule:
O(K + B D) per batch for K archive states, B parents and lineages D generations deep.
Nothing scans the stored programs, so the cost does not grow with the store (the rule
for all of the database: no pass over all N programs per proposal); it grows with D.
``benchmarks/puct.py`` measures it: 0.2 ms per batch of 32 at 10^3 programs, 1.7 ms at
10^5 (D = 391), on the 2-core build machine.

**Lineages.** Within one batch no state is picked that is an ancestor or a descendant of
a state already picked (siblings and cousins may both be picked: otherwise the shared
root would block everything). When every candidate left is blocked, a new round starts
and states may repeat, in score order, so a batch always gets its B parents.

Copies (island seeds, migrants, re-initialisation copies) stand for their origin: their
visits, children and ancestry are the origin's.

Everything here is a pure function of the store's rows, rebuilt on reopen, so sampling
after a resume is what it would have been without the stop.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from thetaevolve.database.persistence import LineageRow


class PUCTState:
    """Per-program parent links, visit counts and best child fitness, in dense arrays."""

    def __init__(self) -> None:
        capacity = 1024
        self.parent = np.full(capacity, -1, dtype=np.int64)  # canonical parent, -1: a root
        self.visits = np.zeros(capacity, dtype=np.int64)
        self.child_best = np.full(capacity, np.nan)
        self.total_visits = 0
        self.origin: dict[int, int] = {}  # copy id -> origin id

    def _ensure(self, end: int) -> None:
        capacity = len(self.parent)
        if end <= capacity:
            return
        while capacity < end:
            capacity *= 2
        for name, fill in (("parent", -1), ("visits", 0), ("child_best", np.nan)):
            old = getattr(self, name)
            new = np.full(capacity, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    def canonical(self, pid: int) -> int:
        return self.origin.get(pid, pid)

    # ---- building -----------------------------------------------------------------------

    def add_proposal(self, pid: int, parent_id: int | None, fitness: float | None) -> None:
        """A committed child: one visit to its parent, and maybe a better best child."""
        self._ensure(pid + 1)
        if parent_id is None:
            return
        parent = self.canonical(parent_id)
        self.parent[pid] = parent
        self.visits[parent] += 1
        self.total_visits += 1
        if fitness is not None and not fitness <= self.child_best[parent]:  # NaN: first
            self.child_best[parent] = fitness

    def add_copy(self, pid: int, origin_id: int) -> None:
        self._ensure(pid + 1)
        origin = self.canonical(origin_id)
        self.origin[pid] = origin
        self.parent[pid] = self.parent[origin]

    @classmethod
    def from_rows(cls, rows: Iterable[LineageRow]) -> "PUCTState":
        """From the store's lineage rows, in id order."""
        state = cls()
        for row in rows:
            if row.is_proposal:
                state.add_proposal(row.id, row.parent_id, row.ok_fitness)
            else:
                state.add_copy(row.id, row.parent_id if row.parent_id is not None else row.id)
        return state

    # ---- selecting ----------------------------------------------------------------------

    def scores(self, candidates: np.ndarray, fitness: np.ndarray, c: float) -> np.ndarray:
        """PUCT scores of ``candidates`` (canonical ids, best fitness first)."""
        k = len(candidates)
        own = fitness[candidates]
        best_child = self.child_best[candidates]
        q = np.where(np.isnan(best_child), own, best_child)
        prior = (k - np.arange(k, dtype=np.float64)) / (k * (k + 1) / 2.0)
        spread = float(own.max() - own.min()) if k else 0.0
        scale = spread if spread > 0 else 1.0
        bonus = c * scale * prior * math.sqrt(1.0 + self.total_visits)
        return q + bonus / (1.0 + self.visits[candidates])

    def ancestors(self, pid: int) -> list[int]:
        """pid's canonical ancestors, nearest first (pid excluded)."""
        out = []
        current = int(self.parent[pid])
        while current >= 0:
            out.append(current)
            current = int(self.parent[current])
        return out

    def select(self, members: list[int], fitness: np.ndarray, count: int, c: float) -> list[int]:
        """``count`` parents from ``members`` (archive ids, best first) by PUCT score.

        Returns archive member ids (a copy stays a copy: its child goes on its island).
        """
        seen: set[int] = set()
        chosen_members: list[int] = []
        canon: list[int] = []
        for pid in members:  # copies of one origin: keep the best-ranked one
            origin = self.canonical(pid)
            if origin not in seen:
                seen.add(origin)
                chosen_members.append(pid)
                canon.append(origin)
        if not canon:
            return []
        candidates = np.asarray(canon, dtype=np.int64)
        score = self.scores(candidates, fitness, c)
        # Highest score first; ties go to the better rank (the stable sort keeps it).
        order = np.argsort(-score, kind="stable").tolist()
        picks: list[int] = []
        while len(picks) < count:
            picked: set[int] = set()
            blocked: set[int] = set()  # ancestors of the states picked this round
            for position in order:
                if len(picks) == count:
                    break
                state = canon[position]
                if state in blocked or state in picked:
                    continue
                lineage = self.ancestors(state)
                if any(a in picked for a in lineage):
                    continue  # a descendant of a state already picked
                picked.add(state)
                blocked.update(lineage)
                picks.append(chosen_members[position])
        return picks
