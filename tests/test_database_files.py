"""The store refuses foreign, damaged and mismatched files with a clear message."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from helpers import draft, evolve
from thetaevolve.config import DatabaseConfig
from thetaevolve.database import ProgramDatabase, StoreError
from thetaevolve.database.persistence import APPLICATION_ID


def make_store(path: Path, **overrides: object) -> None:
    db = ProgramDatabase.open(path, DatabaseConfig(num_islands=2, **overrides))
    db.commit([draft(None, 1.0, 0)])
    evolve(db, 5)
    db.close()


def test_random_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "programs.sqlite"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreError, match="not an SQLite database") as err:
        ProgramDatabase.open(path, DatabaseConfig())
    assert str(path) in str(err.value)
    assert path.stat().st_size == 8192  # nothing was overwritten


def test_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "programs.sqlite"
    path.write_text("task: circle_packing_26\n")
    with pytest.raises(StoreError, match="another run directory"):
        ProgramDatabase.open(path, DatabaseConfig())


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE programs (id INTEGER PRIMARY KEY, code TEXT)")
    con.execute("INSERT INTO programs (code) VALUES ('x = 1')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not a ThetaEvolve program store") as err:
        ProgramDatabase.open(path, DatabaseConfig())
    assert str(path) in str(err.value)
    con = sqlite3.connect(path)
    assert con.execute("SELECT code FROM programs").fetchall() == [("x = 1",)]


def test_other_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    make_store(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StoreError, match="schema version 99"):
        ProgramDatabase.open(path, DatabaseConfig(num_islands=2))


def test_missing_table_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    make_store(path)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE evictions")
    con.close()
    with pytest.raises(StoreError, match="missing tables: evictions"):
        ProgramDatabase.open(path, DatabaseConfig(num_islands=2))


def test_damaged_pages_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    make_store(path)
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = bytearray(path.read_bytes())
    assert len(data) > 4 * 4096
    # Keep the header page (so it still looks like our store) and scribble over the rest.
    data[4096:] = os.urandom(len(data) - 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as err:
        ProgramDatabase.open(path, DatabaseConfig(num_islands=2))
    assert str(path) in str(err.value)


def test_changed_layout_config_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    make_store(path)
    with pytest.raises(StoreError, match="num_islands=2"):
        ProgramDatabase.open(path, DatabaseConfig(num_islands=5))
    # Ratios and sizes may change between runs.
    db = ProgramDatabase.open(path, DatabaseConfig(num_islands=2, exploitation_ratio=0.3))
    assert db.count() > 1


def test_store_carries_application_id_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    make_store(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reader_sees_committed_rows_while_store_is_open(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    db = ProgramDatabase.open(path, DatabaseConfig(num_islands=2))
    db.commit([draft(None, 1.0, 0)])
    reader = sqlite3.connect(path)
    assert reader.execute("SELECT count(*) FROM programs WHERE kind='proposal'").fetchone() == (1,)
    db.commit([draft(1, 2.0, 1)])
    assert reader.execute("SELECT count(*) FROM programs WHERE kind='proposal'").fetchone() == (2,)


def test_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    first = ProgramDatabase.open(path, DatabaseConfig(num_islands=2))
    with pytest.raises(StoreError, match="open for writing by another process"):
        ProgramDatabase.open(path, DatabaseConfig(num_islands=2))
    first.close()
    ProgramDatabase.open(path, DatabaseConfig(num_islands=2)).close()


def test_refused_open_keeps_no_lock(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    for _ in range(2):  # the same message twice: the first refusal did not hold the lock
        with pytest.raises(StoreError, match="not a ThetaEvolve program store"):
            ProgramDatabase.open(path, DatabaseConfig())


def test_read_only_open_looks_at_a_live_store(tmp_path: Path) -> None:
    path = tmp_path / "p.sqlite"
    with pytest.raises(StoreError, match="no program store yet"):
        ProgramDatabase.open(path, DatabaseConfig(), read_only=True)
    assert not path.exists()
    writer = ProgramDatabase.open(path, DatabaseConfig(num_islands=2))
    writer.commit([draft(None, 1.0, 0)], meta={"k": 1})
    reader = ProgramDatabase.open(path, DatabaseConfig(num_islands=2), read_only=True)
    assert reader.count() == 1 and reader.get_meta("k") == 1 and reader.best().id == 1
    with pytest.raises(StoreError, match="read-only"):
        reader.commit([draft(1, 2.0, 1)])
    with pytest.raises(StoreError, match="read-only"):
        reader.set_meta("k", 2)
    assert reader.count() == 1 and reader.get_meta("k") == 1
    writer.commit([draft(1, 2.0, 1)])
    assert writer.count() == 2
    reader.close()
    writer.close()
