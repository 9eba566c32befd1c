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
import operator
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

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

# ``programs.batch`` and ``evictions.batch`` hold the commit index (``Row.commit_index``: the
# initial program's commit is 1), not the gym's batch index (``iteration``). The columns keep
# the name they were created with, so that existing run directories still open.
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


class StoreError(UserError, RuntimeError):
    """The store file cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class Row:
    """One row of ``programs`` plus, for a proposal, its texts (what ``write`` inserts)."""

    id: int
    parent_id: int | None
    origin_id: int
    kind: str
    island: int
    generation: int
    iteration: int  # the gym's batch index (0: the initial program)
    commit_index: int  # the commit that wrote it, counted from 1 (the initial program's)
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


# Column lists are derived from names, so that a reordered column cannot shift a value into
# the wrong field. ``programs`` columns by the ``Row`` attribute they come from; the one
# column whose stored name differs from its attribute is mapped (see the note at _SCHEMA).
_PROGRAM_ATTRIBUTES = (
    "id", "parent_id", "origin_id", "kind", "island", "generation", "iteration",
    "commit_index", "outcome", "score", "fitness", "reward", "cell", "hash_key", "code_hash",
    "created_at",
)
_TEXT_ATTRIBUTES = ("id", "code", "metrics", "prompt", "response", "detail")
_TEXT_COLUMNS = frozenset(_TEXT_ATTRIBUTES) - {"id"}  # read from program_texts in a join
_STORED_NAME = {"commit_index": "batch"}


def _insert(table: str, attributes: tuple[str, ...]) -> str:
    columns = ", ".join(_STORED_NAME.get(name, name) for name in attributes)
    return f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * len(attributes))})"


_INSERT_PROGRAM = _insert("programs", _PROGRAM_ATTRIBUTES)
_INSERT_TEXTS = _insert("program_texts", _TEXT_ATTRIBUTES)
_program_values = operator.attrgetter(*_PROGRAM_ATTRIBUTES)
_text_values = operator.attrgetter(*_TEXT_ATTRIBUTES)


class IndexColumns(NamedTuple):
    """One chunk of ``index_columns``, column by column: what the index is rebuilt from.

    The field names are the SELECT list (with ``_DERIVED_COLUMNS`` for the derived ones),
    so a field and its column cannot drift apart.
    """

    id: tuple[int, ...]
    island: tuple[int, ...]
    ok_fitness: tuple[float | None, ...]  # None for a failure
    cell: tuple[int, ...]
    generation: tuple[int, ...]
    hash_key: tuple[int, ...]
    is_proposal: tuple[int, ...]  # SQLite booleans are 0 or 1
    origin_id: tuple[int, ...]
    outcome: tuple[str, ...]
    iteration: tuple[int, ...]
    is_root: tuple[int, ...]


# Values computed in the SELECT, by the field name they are read under.
_DERIVED_COLUMNS = {
    "ok_fitness": "CASE WHEN outcome = 'ok' THEN fitness END",
    "is_proposal": "kind = 'proposal'",
    "is_root": "parent_id IS NULL",
}
_INDEX_SELECT = ", ".join(_DERIVED_COLUMNS.get(name, name) for name in IndexColumns._fields)


class LineageRow(NamedTuple):
    """One row of ``lineage_rows``: what the PUCT sampler is rebuilt from."""

    id: int
    parent_id: int | None
    ok_fitness: float | None  # None for a failure
    is_proposal: int


_LINEAGE_SELECT = ", ".join(_DERIVED_COLUMNS.get(name, name) for name in LineageRow._fields)


class _RecordColumns(NamedTuple):
    """One row of ``_RECORD_SELECT``, by name (texts come from the origin's row)."""

    id: int
    parent_id: int | None
    island: int
    generation: int
    iteration: int
    code: str | None  # NULL only if the origin's texts are missing
    code_hash: str
    outcome: str
    score: float | None
    fitness: float | None
    reward: float
    metrics: str | None
    prompt: str | None
    response: str | None
    detail: str | None
    created_at: float
    kind: str
    origin_id: int


_RECORD_SELECT = "SELECT " + ", ".join(
    ("t." if name in _TEXT_COLUMNS else "p.") + name for name in _RecordColumns._fields
) + " FROM programs p LEFT JOIN program_texts t ON t.id = p.origin_id"

_OUTCOMES = {o.value: o for o in Outcome}


def _record(values: Sequence[Any]) -> ProgramRecord:
    row = _RecordColumns._make(values)
    return ProgramRecord(
        id=row.id,
        parent_id=row.parent_id,
        island=row.island,
        generation=row.generation,
        iteration=row.iteration,
        code=row.code or "",
        code_hash=row.code_hash,
        outcome=_OUTCOMES[row.outcome],
        score=row.score,
        fitness=row.fitness,
        reward=row.reward,
        metrics=json.loads(row.metrics) if row.metrics and row.metrics != "{}" else {},
        prompt=row.prompt or "",
        response=row.response or "",
        detail=row.detail or "",
        created_at=row.created_at,
        kind=row.kind,
        origin_id=None if row.kind == "proposal" else row.origin_id,
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

    def index_columns(self, chunk_size: int = 1 << 16) -> Iterator[IndexColumns]:
        """The small columns of every program in id order, in chunks of ``chunk_size`` rows
        (one ``IndexColumns`` per chunk): what the in-memory index is rebuilt from."""
        cursor = self._db.execute(f"SELECT {_INDEX_SELECT} FROM programs ORDER BY id")
        while True:
            chunk = cursor.fetchmany(chunk_size)
            if not chunk:
                return
            yield IndexColumns._make(zip(*chunk))

    def lineage_rows(self) -> Iterator[LineageRow]:
        """Every program's parent link and fitness, in id order, for the PUCT sampler."""
        cursor = self._db.execute(f"SELECT {_LINEAGE_SELECT} FROM programs ORDER BY id")
        return map(LineageRow._make, cursor)

    def max_id(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(id), 0) FROM programs").fetchone()[0])

    def evicted_ids(self) -> list[int]:
        return [r[0] for r in self._db.execute("SELECT id FROM evictions ORDER BY id")]

    def records(self, ids: Sequence[int]) -> dict[int, ProgramRecord]:
        out: dict[int, ProgramRecord] = {}
        unique = list(dict.fromkeys(ids))
        if len(unique) == 1:
            row = self._db.execute(
                f"{_RECORD_SELECT} WHERE p.id = ?", unique
            ).fetchone()
            if row is None:
                return {}
            record = _record(row)
            return {record.id: record}
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"{_RECORD_SELECT} WHERE p.id IN ({marks})", chunk
            ):
                record = _record(row)
                out[record.id] = record
        return out

    def iter_records(self, batch: int = 256) -> Iterator[ProgramRecord]:
        last = 0
        while True:
            rows = self._db.execute(
                f"{_RECORD_SELECT} WHERE p.id > ? ORDER BY p.id LIMIT ?",
                (last, batch),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                record = _record(row)
                yield record
            last = record.id

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
            ids, scores = zip(*rows)
            yield from scores
            last = ids[-1]

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
        """Everything of one commit in one transaction: all of it lands, or none of it.

        ``evictions`` are (program id, commit index of the commit that evicted it).
        """
        if self.read_only:
            raise StoreError(f"{self.path} was opened read-only; nothing can be written")
        db = self._db
        rows = list(rows)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(_INSERT_PROGRAM, [_program_values(r) for r in rows])
            db.executemany(_INSERT_TEXTS, [_text_values(r) for r in rows if r.code is not None])
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
