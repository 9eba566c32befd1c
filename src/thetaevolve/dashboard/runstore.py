"""Read-only access to a run's program store, for looking at it while it runs.

The dashboard must never disturb the run it watches, so it opens the SQLite file through a
``mode=ro`` URI: SQLite itself refuses every write on that connection, no writer lock is
taken, and WAL mode lets the run commit while we read. The store is append-only
(``persistence.py``), so following it needs only cursors:

* ``programs.id`` grows with every row, so ``id > cursor`` is exactly what is new;
* an eviction row carries the commit (``batch``) that made it, and a commit's rows land in
  one transaction, so ``batch > cursor`` is exactly the evictions not seen yet;
* ``meta`` (run totals) is small and rewritten, so it is reread whenever the file changed,
  which ``PRAGMA data_version`` tells without reading any page.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from thetaevolve.database.persistence import APPLICATION_ID, SCHEMA_VERSION, is_sqlite_file
from thetaevolve.errors import UserError

_TABLES = ("programs", "program_texts", "evictions", "meta")

# The small columns the dashboard keeps per program, in this order (see ``ProgramRow``).
_ROW_COLUMNS = (
    "id, parent_id, origin_id, kind, island, generation, iteration, outcome, score, reward, "
    "created_at, fitness"
)


class StoreUnreadable(UserError):
    """The run's store cannot be read; the message names the file and what to do."""


class ProgramRow(NamedTuple):
    """What the dashboard knows about every program without reading its texts (a tuple:
    10^5 of them are read for one page load)."""

    id: int
    parent_id: int | None
    origin_id: int
    kind: str
    island: int
    generation: int
    iteration: int
    outcome: str
    score: float | None
    reward: float
    created_at: float
    fitness: float | None  # larger is better: what the database ranks by


@dataclass(frozen=True)
class ProgramTexts:
    """One program's large texts (a copy's are its origin's)."""

    code: str
    metrics: dict[str, Any]
    prompt: str
    response: str
    detail: str


class ReadOnlyStore:
    """One read-only connection to ``programs.sqlite``; use from one thread at a time."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: str | Path) -> "ReadOnlyStore":
        path = Path(path)
        if not path.exists():
            raise StoreUnreadable(f"{path} does not exist yet: the run has no program store")
        _check_header(path)
        try:
            return cls._connect(path, immutable=False)
        except sqlite3.OperationalError:
            if os.access(path.parent, os.W_OK):
                raise StoreUnreadable(f"cannot open the program store {path}") from None
        # A folder we may not write to (a copied or archived run) has no live writer, and
        # WAL's shared-memory file cannot be made there: read it as an immutable file.
        try:
            return cls._connect(path, immutable=True)
        except sqlite3.OperationalError as exc:
            raise StoreUnreadable(f"cannot open the program store {path}: {exc}") from None

    @classmethod
    def _connect(cls, path: Path, immutable: bool) -> "ReadOnlyStore":
        uri = f"file:{quote(str(path.resolve()))}?mode=ro" + ("&immutable=1" if immutable else "")
        db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        store = cls(path, db)
        try:
            store._validate()
        except sqlite3.OperationalError:
            db.close()
            raise
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreUnreadable(
                f"{path} is not a readable ThetaEvolve program store ({exc}); the run "
                "directory looks damaged"
            ) from None
        except BaseException:
            db.close()
            raise
        return store

    def _validate(self) -> None:
        db = self._db
        # A reader waits for a writer's checkpoint instead of failing at once.
        db.execute("PRAGMA busy_timeout = 5000")
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id != APPLICATION_ID:
            raise StoreUnreadable(
                f"{self.path} is an SQLite database but not a ThetaEvolve program store "
                f"(application_id {app_id:#x}); is this the right run directory?"
            )
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA_VERSION:
            raise StoreUnreadable(
                f"{self.path} has store schema version {version}; this dashboard reads version "
                f"{SCHEMA_VERSION}. Use the ThetaEvolve version that wrote it."
            )
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        missing = [t for t in _TABLES if t not in tables]
        if missing:
            raise StoreUnreadable(
                f"{self.path} is a damaged ThetaEvolve program store (missing tables: "
                f"{', '.join(missing)})"
            )

    def close(self) -> None:
        self._db.close()

    # ---- following ------------------------------------------------------------------------

    @contextlib.contextmanager
    def one_view(self) -> Iterator[None]:
        """Reads inside see one commit's state: rows, evictions and totals agree (a commit
        landing between two reads would otherwise evict programs not read yet)."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def data_version(self) -> int:
        """Changes whenever another connection committed; reads no page."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def max_program_id(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(id), 0) FROM programs").fetchone()[0])

    def rows_after(self, last_id: int, up_to: int | None = None,
                   chunk: int = 1 << 15) -> Iterator[ProgramRow]:
        """Programs with ``last_id < id <= up_to`` in id order, read in chunks."""
        bound = up_to if up_to is not None else (1 << 62)
        while True:
            rows = self._db.execute(
                f"SELECT {_ROW_COLUMNS} FROM programs WHERE id > ? AND id <= ? ORDER BY id "
                "LIMIT ?",
                (last_id, bound, chunk),
            ).fetchall()
            yield from map(ProgramRow._make, rows)
            if len(rows) < chunk:
                return
            last_id = rows[-1][0]

    def evictions_after(self, last_batch: int, up_to: int | None = None) -> list[tuple[int, int]]:
        """(program id, commit) of evictions made by commits in ``(last_batch, up_to]``."""
        bound = up_to if up_to is not None else (1 << 62)
        return self._db.execute(
            "SELECT id, batch FROM evictions WHERE batch > ? AND batch <= ? ORDER BY id",
            (last_batch, bound),
        ).fetchall()

    def meta(self) -> dict[str, Any]:
        """The run's totals (usage, wall time, ...), rewritten by every commit."""
        return self._table("meta")

    def retired_below(self) -> int:
        """Ids below this were retired from the population by a re-initialisation."""
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        value = self._table("state").get("boundary") if "state" in tables else None
        return int(value) if isinstance(value, int) else 1

    def _table(self, table: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self._db.execute(f"SELECT key, value FROM {table}"):
            try:
                out[key] = json.loads(value)
            except ValueError:
                out[key] = None  # one unreadable value must not hide the rest
        return out

    # ---- one program ------------------------------------------------------------------------

    def row(self, program_id: int) -> ProgramRow | None:
        found = self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM programs WHERE id = ?", (program_id,)
        ).fetchone()
        return None if found is None else ProgramRow._make(found)

    def texts(self, origin_id: int) -> ProgramTexts | None:
        found = self._db.execute(
            "SELECT code, metrics, prompt, response, detail FROM program_texts WHERE id = ?",
            (origin_id,),
        ).fetchone()
        if found is None:
            return None
        try:
            metrics = json.loads(found[1]) if found[1] else {}
        except ValueError:
            metrics = {"unreadable": found[1][:200]}
        return ProgramTexts(found[0] or "", metrics if isinstance(metrics, dict) else {},
                            found[2] or "", found[3] or "", found[4] or "")

    def was_evicted(self, program_id: int) -> bool:
        return self._db.execute(
            "SELECT 1 FROM evictions WHERE id = ?", (program_id,)
        ).fetchone() is not None

    def latest_failures(self, outcome: str, limit: int) -> list[tuple[int, int, str]]:
        """(id, iteration, detail) of the newest proposals with this outcome."""
        return self._db.execute(
            "SELECT p.id, p.iteration, coalesce(t.detail, '') FROM programs p "
            "LEFT JOIN program_texts t ON t.id = p.origin_id "
            "WHERE p.kind = 'proposal' AND p.outcome = ? ORDER BY p.id DESC LIMIT ?",
            (outcome, limit),
        ).fetchall()


def _check_header(path: Path) -> None:
    try:
        is_sqlite = is_sqlite_file(path)
    except OSError as exc:
        raise StoreUnreadable(f"cannot read the program store {path}: {exc.strerror}") from None
    if not is_sqlite:
        raise StoreUnreadable(
            f"{path} is not a ThetaEvolve program store (not an SQLite database at all); "
            "the run directory is damaged or foreign"
        )
