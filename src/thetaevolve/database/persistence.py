"""The append-only SQLite file under the program database.

One file per run, in WAL mode, so a dashboard can read while the run writes. Rows are
only ever inserted: a program is never updated or deleted; an eviction is a row in
``evictions`` and a re-initialisation is a boundary in ``state``. The file carries an
application id and a schema version so that a foreign or damaged file is refused with a
clear message instead of being mistaken for an empty run.

Small columns (what the in-memory index is rebuilt from) live in ``programs``; the large
texts live in ``program_texts`` so that rebuilding the index at 10^6 programs reads tens
of megabytes, not gigabytes. Copies made by the database (island seeds, migrants,
re-initialisation) have no texts of their own: they point at their origin's.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thetaevolve.database.records import ProgramRecord
from thetaevolve.errors import UserError
from thetaevolve.types import Outcome

try:
    import fcntl
except ImportError:  # not POSIX: no guard against a second writer
    fcntl = None  # type: ignore[assignment]

APPLICATION_ID = 0x54484556  # "THEV": marks the file as a ThetaEvolve program store
SCHEMA_VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLES = ("programs", "program_texts", "evictions", "meta", "state")

_SCHEMA = """
CREATE TABLE programs (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER,
    origin_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    island INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    iteration INTEGER NOT NULL,
    batch INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    score REAL,
    fitness REAL,
    reward REAL NOT NULL,
    cell INTEGER NOT NULL,
    hash_key INTEGER NOT NULL,
    code_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX programs_hash_key ON programs(hash_key);
CREATE TABLE program_texts (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL,
    metrics TEXT NOT NULL,
    prompt TEXT NOT NULL,
    response TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TABLE evictions (id INTEGER PRIMARY KEY, batch INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_RECORD_COLUMNS = (
    "p.id, p.parent_id, p.island, p.generation, p.iteration, t.code, p.code_hash, p.outcome, "
    "p.score, p.fitness, p.reward, t.metrics, t.prompt, t.response, t.detail, p.created_at, "
    "p.kind, p.origin_id"
)
_RECORD_FROM = "programs p LEFT JOIN program_texts t ON t.id = p.origin_id"


class StoreError(UserError, RuntimeError):
    """The store file cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Row:
    """One row of ``programs`` plus, for a proposal, its texts (what ``insert`` writes)."""

    id: int
    parent_id: int | None
    origin_id: int
    kind: str
    island: int
    generation: int
    iteration: int
    batch: int
    outcome: str
    score: float | None
    fitness: float | None
    reward: float
    cell: int
    hash_key: int
    code_hash: str
    created_at: float
    code: str | None = None  # None for copies: they share their origin's texts
    metrics: str = "{}"
    prompt: str = ""
    response: str = ""
    detail: str = ""


_OUTCOMES = {o.value: o for o in Outcome}


def _record(row: Sequence[Any]) -> ProgramRecord:
    return ProgramRecord(
        id=row[0],
        parent_id=row[1],
        island=row[2],
        generation=row[3],
        iteration=row[4],
        code=row[5] or "",
        code_hash=row[6],
        outcome=_OUTCOMES[row[7]],
        score=row[8],
        fitness=row[9],
        reward=row[10],
        metrics=json.loads(row[11]) if row[11] and row[11] != "{}" else {},
        prompt=row[12] or "",
        response=row[13] or "",
        detail=row[14] or "",
        created_at=row[15],
        kind=row[16],
        origin_id=None if row[16] == "proposal" else row[17],
    )


class SQLiteStore:
    """Opens, validates and writes the store file; knows nothing about islands."""

    def __init__(self, path: Path, connection: sqlite3.Connection, lock: int | None) -> None:
        self.path = path
        self._db = connection
        self._lock_fd = lock
        self.read_only = False

    # ---- opening --------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, read_only: bool = False) -> "SQLiteStore":
        """Create or reopen the store; ``read_only`` looks at it (a live run's included)
        without taking the writer's lock, and refuses every write."""
        path = Path(path)
        fresh = not path.exists() or path.stat().st_size == 0
        if fresh and read_only:
            raise StoreError(f"{path} holds no program store yet (nothing to read)")
        if not fresh:
            _check_header(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = None if read_only else _lock_writer(path)
        try:
            db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            _unlock(lock)
            raise StoreError(f"cannot open the program store {path}: {exc}") from exc
        store = cls(path, db, lock)
        store.read_only = read_only
        try:
            store._prepare(fresh)
        except sqlite3.DatabaseError as exc:
            store.close()
            raise damaged(path, exc) from exc
        except BaseException:
            store.close()
            raise
        return store

    def _prepare(self, fresh: bool) -> None:
        db = self._db
        db.execute("PRAGMA busy_timeout = 60000")
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app_id == 0 and not tables:
            if self.read_only:
                raise StoreError(f"{self.path} holds no program store yet (nothing to read)")
            fresh = True  # an empty SQLite file (e.g. a creation cut short) holds nothing to lose
        elif app_id != APPLICATION_ID:
            raise StoreError(
                f"{self.path} is an SQLite database but not a ThetaEvolve program store "
                f"(application_id {app_id:#x}, expected {APPLICATION_ID:#x}). Choose another "
                "run directory, or move the file away to start a new run."
            )
        if not fresh:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has store schema version {version}, this ThetaEvolve reads "
                    f"version {SCHEMA_VERSION}. Use the ThetaEvolve version that wrote it."
                )
            missing = [t for t in _TABLES if t not in tables]
            if missing:
                raise StoreError(
                    f"{self.path} is a damaged ThetaEvolve program store (missing tables: "
                    f"{', '.join(missing)}). Restore it from a backup or start a new run."
                )
        if self.read_only:
            db.execute("PRAGMA cache_size = -65536")
            return
        # WAL so readers never block the writer; FULL so a returned commit survives power loss.
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: SQLite refused WAL mode (got {mode}); is it on NFS?")
        db.execute("PRAGMA synchronous = FULL")
        # Sampling reads a few random rows per parent: keep the B-tree's inner pages cached
        # and read through a memory map instead of one system call per page.
        db.execute("PRAGMA cache_size = -65536")
        db.execute("PRAGMA mmap_size = 1073741824")
        if fresh:
            db.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")

    # ---- reading --------------------------------------------------------------------------

    def index_rows(self) -> sqlite3.Cursor:
        """(id, island, fitness if ok, cell, generation, hash_key, is_proposal, origin_id,
        outcome, iteration, is_root), in id order: what the in-memory index is built from."""
        return self._db.execute(
            "SELECT id, island, CASE WHEN outcome = 'ok' THEN fitness END, cell, generation, "
            "hash_key, kind = 'proposal', origin_id, outcome, iteration, parent_id IS NULL "
            "FROM programs ORDER BY id"
        )

    def lineage_rows(self) -> sqlite3.Cursor:
        """(id, parent_id, fitness if ok, is_proposal) in id order, for the PUCT sampler."""
        return self._db.execute(
            "SELECT id, parent_id, CASE WHEN outcome = 'ok' THEN fitness END, "
            "kind = 'proposal' FROM programs ORDER BY id"
        )

    def max_id(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(id), 0) FROM programs").fetchone()[0])

    def evicted_ids(self) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT id FROM evictions ORDER BY id")]

    def records(self, ids: Sequence[int]) -> dict[int, ProgramRecord]:
        out: dict[int, ProgramRecord] = {}
        unique = list(dict.fromkeys(ids))
        if len(unique) == 1:
            row = self._db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM {_RECORD_FROM} WHERE p.id = ?", unique
            ).fetchone()
            return {} if row is None else {row[0]: _record(row)}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM {_RECORD_FROM} WHERE p.id IN ({marks})", chunk
            ):
                out[row[0]] = _record(row)
        return out

    def iter_records(self, batch: int = 256) -> Iterator[ProgramRecord]:
        last = 0
        while True:
            rows = self._db.execute(
                f"SELECT {_RECORD_COLUMNS} FROM {_RECORD_FROM} WHERE p.id > ? ORDER BY p.id "
                "LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last = rows[-1][0]

    def proposal_scores(self, batch: int = 4096) -> Iterator[float | None]:
        """The score column of every proposal in id order, without reading code or texts."""
        last = 0
        while True:
            rows = self._db.execute(
                "SELECT id, score FROM programs WHERE kind = 'proposal' AND id > ? "
                "ORDER BY id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield row[1]
            last = rows[-1][0]

    def has_hash(self, hash_key: int, code_hash: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM programs WHERE hash_key = ? AND code_hash = ? LIMIT 1",
            (hash_key, code_hash),
        ).fetchone()
        return row is not None

    def read_table(self, table: str) -> dict[str, Any]:
        assert table in ("meta", "state")
        return {k: json.loads(v) for k, v in self._db.execute(f"SELECT key, value FROM {table}")}

    # ---- writing --------------------------------------------------------------------------

    def write(
        self,
        rows: Iterable[Row],
        evictions: Iterable[tuple[int, int]] = (),
        state: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Everything of one commit in one transaction: all of it lands, or none of it."""
        if self.read_only:
            raise StoreError(f"{self.path} was opened read-only; nothing can be written")
        db = self._db
        rows = list(rows)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO programs (id, parent_id, origin_id, kind, island, generation, "
                "iteration, batch, outcome, score, fitness, reward, cell, hash_key, code_hash, "
                "created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (r.id, r.parent_id, r.origin_id, r.kind, r.island, r.generation, r.iteration,
                     r.batch, r.outcome, r.score, r.fitness, r.reward, r.cell, r.hash_key,
                     r.code_hash, r.created_at)
                    for r in rows
                ],
            )
            db.executemany(
                "INSERT INTO program_texts (id, code, metrics, prompt, response, detail) "
                "VALUES (?,?,?,?,?,?)",
                [
                    (r.id, r.code, r.metrics, r.prompt, r.response, r.detail)
                    for r in rows
                    if r.code is not None
                ],
            )
            db.executemany("INSERT INTO evictions (id, batch) VALUES (?, ?)", list(evictions))
            for table, values in (("state", state), ("meta", meta)):
                if values:
                    db.executemany(
                        f"INSERT OR REPLACE INTO {table} (key, value) VALUES (?, ?)",
                        [(k, json.dumps(v)) for k, v in values.items()],
                    )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
        _unlock(self._lock_fd)
        self._lock_fd = None


def damaged(path: Path, exc: BaseException) -> StoreError:
    return StoreError(
        f"{path} is not a readable ThetaEvolve program store ({exc}). If it is a damaged run, "
        "README 'Damaged store' shows how to save the programs it still holds (sqlite3 .dump "
        "into a new store); otherwise move the file away or choose another run directory. "
        "Nothing was overwritten."
    )


def is_sqlite_file(path: Path) -> bool:
    """Whether ``path`` starts with SQLite's magic header (raises OSError if unreadable).

    Read before SQLite opens the file: SQLite would otherwise treat a foreign file as a
    database and fail later with a less helpful message.
    """
    with path.open("rb") as handle:
        return handle.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _check_header(path: Path) -> None:
    try:
        is_sqlite = is_sqlite_file(path)
    except OSError as exc:
        raise StoreError(f"cannot read the program store {path}: {exc.strerror}") from exc
    if not is_sqlite:
        raise StoreError(
            f"{path} is not a ThetaEvolve program store (not an SQLite database at all). "
            "Move the file away or choose another run directory. Nothing was overwritten."
        )


def _lock_writer(path: Path) -> int | None:
    """One writer per store: a second run on the same file would fight over program ids.

    The lock is an advisory ``flock`` on a side file, so it dies with the process (a killed
    run never leaves a stale lock) and readers such as a dashboard are not affected.
    """
    if fcntl is None:
        return None
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {lock_path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise StoreError(
            f"{path} is open for writing by another process (another run on the same run "
            "directory?). Stop that run, or choose another run directory; to look at a live "
            f"run, use `thetaevolve show {path.parent}`."
        ) from None
    return fd


def _unlock(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock
