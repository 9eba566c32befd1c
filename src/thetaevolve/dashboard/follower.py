"""Following one run: a cursor over its append-only rows, running totals, recent deltas.

One ``RunFollower`` per run directory, polled by the server's watcher thread. Each poll
reads only what was appended since the cursor (programs, evictions, event-log lines) and,
when anything changed, files a *delta* under the next sequence number. Pages get the whole
run once (``snapshot``, which reads the store up to the cursor it reports) and then the
deltas after it, so a live update costs the rows of one batch, never the database.

The totals shown in the overview follow ``session.summarize`` exactly (candidates exclude
the initial program; copies made by the database never count), so the page and
``thetaevolve show`` agree about a finished run.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from thetaevolve.dashboard.encode import encode_rows
from thetaevolve.dashboard.eventlog import read_events
from thetaevolve.dashboard.liveness import run_state, writer_alive
from thetaevolve.dashboard.run_info import RunInfo, load_run_info
from thetaevolve.dashboard.runstore import ProgramRow, ReadOnlyStore
from thetaevolve.errors import UserError
from thetaevolve.session import RunDirError

KEEP_DELTAS = 4096  # deltas kept for pages that reconnect; older ones get a fresh snapshot
# A prepared snapshot is served until this many deltas came after it (a page applies them
# on arrival), then built anew in the background: a page load never waits for a scan.
REBUILD_AFTER = 64
_PROPOSAL, _OK = "proposal", "ok"


@dataclass(frozen=True)
class Cursor:
    last_id: int = 0  # the largest program id read
    evict_batch: int = 0  # evictions of commits up to this one were read
    log_offset: int = 0  # bytes of metrics.jsonl read (whole lines only)


@dataclass(frozen=True)
class Best:
    id: int
    score: float
    fitness: float


class RunFollower:
    def __init__(self, key: str, run_dir: Path) -> None:
        self.key = key
        self.run_dir = run_dir
        self._lock = threading.Lock()
        self._store: ReadOnlyStore | None = None
        self.info: RunInfo | None = None
        self.error: str | None = None
        self.seq = 0
        self.deltas: deque[tuple[int, dict[str, Any]]] = deque(maxlen=KEEP_DELTAS)
        self._prepared: tuple[int, bytes] | None = None  # (seq, gzip-compressed snapshot)
        self._build_lock = threading.Lock()
        self._rewards = False  # RL runs only: rewards travel with the rows
        self._oldest_usable = 0  # a prepared snapshot older than this seq is never served
        self.snapshot_requested = False  # has any page loaded this run yet?
        self._summary_stamp: int | None = None  # summary.json's mtime when last read
        self._reset_totals()

    def _reset_totals(self) -> None:
        self.cursor = Cursor()
        self._data_version: int | None = None
        self._log_size = -1
        self.t0: float | None = None
        self.rows = 0
        self.proposals = 0
        self.outcomes: Counter[str] = Counter()
        self.best: Best | None = None
        self.initial: tuple[int, float | None] | None = None
        self.max_iteration = -1
        self.evicted = 0
        self.meta: dict[str, Any] = {}
        self.retired_below = 1
        self.finished_cleanly = False
        self.alive: bool | None = None
        self.last_change = time.time()
        self._overview: dict[str, Any] | None = None

    # ---- polling (the watcher thread) -------------------------------------------------------

    def poll(self) -> bool:
        """Read what is new; True when a delta was filed."""
        with self._lock:
            try:
                delta = self._poll()
            except (UserError, RunDirError) as exc:
                delta = self._fail(str(exc))
            except sqlite3.DatabaseError as exc:
                delta = self._fail(
                    f"{self.run_dir / 'programs.sqlite'} could not be read ({exc}); the store "
                    "may be damaged")
            except OSError as exc:
                delta = self._fail(f"{self.run_dir}: {exc}")
            if delta is None:
                return False
            self.seq += 1
            if "reset" in delta or "recovered" in delta or "error" in delta:
                # Pages reload after this delta: they need a snapshot at least this new.
                self._prepared = None
                self._oldest_usable = self.seq
            delta["seq"] = self.seq
            self.deltas.append((self.seq, delta))
            return True

    def _fail(self, message: str) -> dict[str, Any] | None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if message == self.error:
            return None
        self.error = message
        return {"run": self.key, "error": message}

    def _poll(self) -> dict[str, Any] | None:
        recovered = False
        if self.info is None:
            self.info = load_run_info(self.key, self.run_dir)
        if self._store is None:
            self._store = ReadOnlyStore.open(self.info.store_path)
            recovered = self.error is not None
            self.error = None
        delta: dict[str, Any] = {"run": self.key}
        if recovered:
            delta["recovered"] = True
        self._reread_summary(delta)
        store, info = self._store, self.info
        self._rewards = info.kind == "train"

        version = store.data_version()
        if version != self._data_version:
            self._data_version = version
            with store.one_view():
                if store.max_program_id() < self.cursor.last_id:
                    # The store was replaced by a shorter one: start over, never mix runs.
                    self._reset_totals()
                    self._prepared = None
                    self._data_version = version
                    return {"run": self.key, "reset": True}
                self._read_store(store, delta)

        size = _size(info.metrics_path)
        if size != self._log_size:
            self._log_size = size
            tail = read_events(info.metrics_path, self.cursor.log_offset)
            if tail.offset != self.cursor.log_offset:
                self.cursor = replace(self.cursor, log_offset=tail.offset)
                if tail.batches:
                    delta["batches"] = tail.batches
                if tail.last_event is not None:
                    self.finished_cleanly = tail.last_event == "summary"

        if len(delta) > 1:
            self.last_change = time.time()
        self.alive = writer_alive(info.store_path)
        overview = self._make_overview()
        if overview != self._overview:
            self._overview = overview
            delta["overview"] = overview
        return delta if len(delta) > 1 else None

    def _reread_summary(self, delta: dict[str, Any]) -> None:
        """A run writes summary.json at its end (and ``show`` rewrites it); what it states
        (the score's trust level, for one) replaces what was guessed before."""
        assert self.info is not None
        stamp = _mtime(self.info.summary_path)
        if stamp == self._summary_stamp:
            return
        first = self._summary_stamp is None
        self._summary_stamp = stamp
        fresh = load_run_info(self.key, self.run_dir)
        if not fresh.direction_known and self.info.direction_known:
            fresh = replace(fresh, direction=self.info.direction, direction_known=True)
        if fresh != self.info:
            self.info = fresh
            if not first:
                delta["info"] = fresh.describe()

    def _read_store(self, store: ReadOnlyStore, delta: dict[str, Any]) -> None:
        """New programs and evictions since the cursor, and the current totals."""
        after = self.cursor.last_id
        new = list(store.rows_after(after))
        if new:
            self._count(new)
            if self.t0 is None:
                self.t0 = new[0].created_at
            if after == 0:
                # The first read of a run: a page must load its snapshot, so the rows need
                # not ride (and be kept) in a delta.
                delta["reset"] = True
            else:
                delta["programs"] = encode_rows(new, after, self.t0, rewards=self._rewards)
        evictions = store.evictions_after(self.cursor.evict_batch)
        if evictions:
            self.evicted += len(evictions)
            if after != 0:
                delta["evicted"] = [pid for pid, _ in evictions]
        self.cursor = replace(
            self.cursor,
            last_id=new[-1].id if new else self.cursor.last_id,
            evict_batch=max([self.cursor.evict_batch] + [b for _, b in evictions]),
        )
        self.meta = store.meta()
        self.retired_below = store.retired_below()

    def _count(self, rows: list[ProgramRow]) -> None:
        assert self.info is not None
        if not self.info.direction_known:
            self.info = self._infer_direction(self.info, rows)
        self.rows += len(rows)
        for row in rows:
            if row.kind != _PROPOSAL:
                continue
            self.proposals += 1
            self.outcomes[row.outcome] += 1
            self.max_iteration = max(self.max_iteration, row.iteration)
            if row.outcome != _OK or row.score is None:
                continue
            if self.initial is None and row.parent_id is None:
                self.initial = (row.id, row.score)
            # Rank by the stored fitness, as the database does: the earliest best wins ties.
            fit = row.fitness if row.fitness is not None else self.info.fitness(row.score)
            if self.best is None or fit > self.best.fitness:
                self.best = Best(row.id, row.score, fit)

    @staticmethod
    def _infer_direction(info: RunInfo, rows: list[ProgramRow]) -> RunInfo:
        """A task this version does not know: its stored fitness tells the direction
        (fitness is the score for a maximised objective, minus the score otherwise)."""
        for row in rows:
            if row.score and row.fitness is not None:
                direction = "min" if row.fitness == -row.score else "max"
                return replace(info, direction=direction, direction_known=True)
        return info

    # ---- what pages read (request threads) --------------------------------------------------

    def _make_overview(self) -> dict[str, Any]:
        info = self.info
        assert info is not None
        initial_programs = int(self.meta.get("initial_programs") or 0)
        counts = Counter(self.outcomes)
        if self.initial is not None and initial_programs:
            counts[_OK] -= 1
        usage = self.meta.get("usage") or {}
        best = self.best
        return {
            "state": run_state(self.alive, self.finished_cleanly, time.time() - self.last_change),
            "candidates": self.proposals - (initial_programs if self.initial else 0),
            "ok": counts.get(_OK, 0),
            "failures": {k: v for k, v in sorted(counts.items()) if k != _OK and v > 0},
            "best_score": best.score if best else None,
            "best_id": best.id if best else None,
            "gap": info.gap(best.score if best else None),
            "initial_score": self.initial[1] if self.initial else None,
            "batches": max(0, self.max_iteration),
            "programs": self.rows,
            "evicted": self.evicted,
            "retired_below": self.retired_below,
            "wall_seconds": round(float(self.meta.get("wall_seconds") or 0.0), 3),
            "llm": {
                "calls": int(usage.get("calls") or 0),
                "responses": int(usage.get("responses") or 0),
                "failed_calls": int(usage.get("failed_calls") or 0),
                "tokens_in": int(usage.get("tokens_in") or 0),
                "tokens_out": int(usage.get("tokens_out") or 0),
                "cost_usd": usage.get("cost_usd"),
                "failures": usage.get("failures") or {},
                "offline_proposals": int(self.meta.get("offline_proposals") or 0),
            },
        }

    def describe(self) -> dict[str, Any]:
        """The run as a list entry: its facts and overview, or why it cannot be read."""
        with self._lock:
            return self._head()

    def _head(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "path": str(self.run_dir), "seq": self.seq}
        if self.info is not None:
            out.update(self.info.describe())
        if self.error is not None:
            out["error"] = self.error
        elif self._overview is not None:
            out["overview"] = self._overview
        return out

    def snapshot(self) -> dict[str, Any]:
        """The whole run up to the current cursor, and the sequence number it matches."""
        with self._lock:
            head = self._head()
            cursor, t0, info = self.cursor, self.t0, self.info
        if "error" in head or info is None or "overview" not in head:
            return head
        store = ReadOnlyStore.open(info.store_path)
        try:  # bounded by the cursor, so later commits cannot leak in
            evicted = {pid for pid, _ in store.evictions_after(0, up_to=cursor.evict_batch)}
            rows = list(store.rows_after(0, up_to=cursor.last_id))
        finally:
            store.close()
        columns = encode_rows(rows, 0, t0 or 0.0, rewards=info.kind == "train")
        columns["ev"] = [1 if row.id in evicted else 0 for row in rows]
        tail = read_events(info.metrics_path, 0, up_to=cursor.log_offset)
        head.update(t0=t0, programs=columns, batches=tail.batches)
        return head

    def snapshot_gzip(self) -> bytes:
        """The snapshot as gzip-compressed JSON, prepared ahead when it can be."""
        self.snapshot_requested = True
        if not self.snapshot_is_stale():
            assert self._prepared is not None
            return self._prepared[1]
        return self.prepare_snapshot()

    def snapshot_is_stale(self) -> bool:
        prepared = self._prepared
        if prepared is None or self.error is not None or prepared[0] < self._oldest_usable:
            return True
        return self.seq - prepared[0] > REBUILD_AFTER or self.deltas_after(prepared[0]) is None

    def prepare_snapshot(self) -> bytes:
        with self._build_lock:  # one build at a time; a waiting caller reuses its result
            if not self.snapshot_is_stale():
                assert self._prepared is not None
                return self._prepared[1]
            snap = self.snapshot()
            body = gzip.compress(dumps(snap).encode(), compresslevel=5)
            if "error" not in snap:
                self._prepared = (int(snap["seq"]), body)
            return body

    def deltas_after(self, seq: int) -> list[tuple[int, dict[str, Any]]] | None:
        """Deltas after ``seq``; None when they were dropped (the page must reload the run)."""
        with self._lock:
            if seq >= self.seq:
                return []
            if not self.deltas or self.deltas[0][0] > seq + 1:
                return None
            return [(s, d) for s, d in self.deltas if s > seq]

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def dumps(data: Any) -> str:
    """Compact JSON for the wire (the data holds no NaN: scores are cleaned on the way)."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)
