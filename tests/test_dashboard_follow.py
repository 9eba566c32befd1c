"""The dashboard's reading side: cursors, totals, run state, read-only access, bad folders."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from dashboard_support import SyntheticRun
from thetaevolve.config import DatabaseConfig
from thetaevolve.dashboard.follower import RunFollower, dumps
from thetaevolve.database import ProgramDatabase


def _follow(run_dir: Path) -> RunFollower:
    follower = RunFollower(run_dir.name, run_dir)
    follower.poll()
    return follower


def _overview(follower: RunFollower) -> dict:
    return follower.describe()["overview"]


def test_overview_matches_the_run_summary(tmp_path):
    run = SyntheticRun(tmp_path / "a", tokens_per_candidate=100, price_per_token=1e-6)
    for _ in range(5):
        run.add_batch(32)
    summary = run.finish()
    o = _overview(_follow(tmp_path / "a"))
    assert o["state"] == "finished"
    assert o["candidates"] == summary["evaluations"] == 160
    assert o["ok"] == summary["ok"]
    assert o["failures"] == summary["failures"]
    assert o["best_score"] == summary["best_score"]
    assert o["best_id"] == summary["best_program_id"]
    assert o["initial_score"] == summary["initial_score"]
    assert o["batches"] == summary["batches"]
    assert o["llm"]["tokens_in"] + o["llm"]["tokens_out"] == 160 * 100
    assert o["llm"]["cost_usd"] == pytest.approx(160 * 100 * 1e-6)
    assert o["gap"] == pytest.approx(summary["best_known"] - summary["best_score"])


def test_deltas_carry_only_new_rows_and_stay_small(tmp_path):
    run = SyntheticRun(tmp_path / "a")
    run.add_batch(32)
    follower = _follow(tmp_path / "a")
    first = follower.snapshot()
    assert len(first["programs"]["did"]) == follower.rows
    seq = follower.seq
    run.add_batch(32)
    assert follower.poll()
    (delta_seq, delta), = follower.deltas_after(seq)
    assert delta_seq == seq + 1
    ids = _ids(delta["programs"])
    assert ids[0] == first["programs"]["after"] + sum(first["programs"]["did"]) + 1
    assert len([k for k in delta["programs"]["kind"] if k == 0]) == 32
    assert len(delta["batches"]) == 1 and delta["overview"]["candidates"] == 64
    assert len(dumps(delta).encode()) < 10_000
    assert not follower.poll()  # nothing new: no delta
    # A fresh snapshot is the old one plus the delta, row for row.
    again = follower.snapshot()
    assert _ids(again["programs"]) == _ids(first["programs"]) + ids
    run.close()


def _ids(columns: dict) -> list[int]:
    out, pid = [], columns["after"]
    for d in columns["did"]:
        pid += d
        out.append(pid)
    return out


def test_evicted_programs_stay_and_are_marked(tmp_path):
    run = SyntheticRun(tmp_path / "a", database=DatabaseConfig(num_islands=1, population_size=10,
                                                               migration_interval=0))
    run.add_batch(16, failure_rate=0.0)
    follower = _follow(tmp_path / "a")
    seq = follower.seq
    run.add_batch(16, failure_rate=0.0)
    follower.poll()
    (_, delta), = follower.deltas_after(seq)
    assert delta["evicted"], "the population cap of 10 must evict some of 33 programs"
    snap = follower.snapshot()
    assert sum(snap["programs"]["ev"]) == follower.evicted == _overview(follower)["evicted"]
    assert len(snap["programs"]["did"]) == follower.rows  # evicted rows are still sent
    run.close()


def test_reading_never_disturbs_the_writer(tmp_path):
    run = SyntheticRun(tmp_path / "a")
    run.add_batch(8)
    store = tmp_path / "a" / "programs.sqlite"
    follower = _follow(tmp_path / "a")
    assert _overview(follower)["state"] == "running"  # the writer's lock is seen, not taken
    follower.snapshot()
    run.add_batch(8)  # the writer commits while the dashboard holds its connection
    follower.poll()
    assert _overview(follower)["candidates"] == 16
    run.close()
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    follower.poll()
    follower.snapshot()
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before
    # A new writer can take the store over while the dashboard still reads it.
    ProgramDatabase.open(store, DatabaseConfig(num_islands=2)).close()
    assert _overview(follower)["state"] == "stopped"  # no summary event: not finished
    follower.close()


def test_a_killed_run_reads_as_stopped_and_a_resumed_one_as_running(tmp_path):
    run = SyntheticRun(tmp_path / "a")
    run.add_batch(8)
    run.close()  # as if killed: no summary event
    follower = _follow(tmp_path / "a")
    assert _overview(follower)["state"] == "stopped"
    writer = ProgramDatabase.open(tmp_path / "a" / "programs.sqlite", DatabaseConfig(num_islands=2))
    follower.poll()
    assert _overview(follower)["state"] == "running"
    writer.close()


@pytest.mark.parametrize("damage, expected", [
    ("no_marker", "not a ThetaEvolve run directory"),
    ("foreign_marker", "foreign directory"),
    ("garbage_store", "not an SQLite database at all"),
    ("foreign_sqlite", "not a ThetaEvolve program store"),
    ("truncated_store", "damaged"),
    ("missing_dir", "does not exist"),
])
def test_unusable_run_directories_get_one_clear_sentence(tmp_path, damage, expected):
    run_dir = tmp_path / "r"
    if damage != "missing_dir":
        run = SyntheticRun(run_dir)
        run.add_batch(8)
        run.finish()
    store = run_dir / "programs.sqlite"
    if damage == "no_marker":
        (run_dir / "run.json").unlink()
    elif damage == "foreign_marker":
        (run_dir / "run.json").write_text(json.dumps({"format": "something-else"}))
    elif damage == "garbage_store":
        store.write_bytes(b"this is not a database" * 100)
    elif damage == "foreign_sqlite":
        store.unlink()
        sqlite3.connect(store).execute("CREATE TABLE t (x)").connection.commit()
    elif damage == "truncated_store":
        data = store.read_bytes()
        store.write_bytes(data[:100] + b"\x00" * (len(data) - 100))
    follower = RunFollower("r", run_dir)
    follower.poll()
    entry = follower.describe()
    assert expected in entry["error"], entry
    assert "Traceback" not in entry["error"]
    assert "overview" not in entry
    assert "error" in follower.snapshot()


def test_a_run_that_becomes_readable_recovers(tmp_path):
    run_dir = tmp_path / "later"
    follower = RunFollower("later", run_dir)
    follower.poll()
    assert "does not exist" in follower.describe()["error"]
    run = SyntheticRun(run_dir)
    run.add_batch(4)
    assert follower.poll()
    entry = follower.describe()
    assert "error" not in entry and entry["overview"]["candidates"] == 4
    (_, delta), = follower.deltas_after(follower.seq - 1)
    assert delta.get("recovered") is True
    run.close()


def test_a_torn_event_line_waits_for_its_end(tmp_path):
    from thetaevolve.dashboard.eventlog import read_events

    log = tmp_path / "metrics.jsonl"
    log.write_text('{"event": "batch", "batch": 1, "evaluations": 4}\n{"event": "bat')
    tail = read_events(log, 0)
    assert len(tail.batches) == 1 and tail.offset == log.read_text().index("{", 5)
    with log.open("a") as handle:
        handle.write('ch", "batch": 2, "evaluations": 8}\nnot json\n')
    more = read_events(log, tail.offset)
    assert [b[0] for b in more.batches] == [2] and more.unreadable_lines == 1


def test_a_prepared_snapshot_is_served_until_the_deltas_after_it_grow_long(tmp_path):
    import gzip

    from thetaevolve.dashboard.follower import REBUILD_AFTER

    run = SyntheticRun(tmp_path / "a")
    run.add_batch(4)
    follower = _follow(tmp_path / "a")
    first = follower.prepare_snapshot()
    seq = json.loads(gzip.decompress(first))["seq"]
    run.add_batch(4)
    follower.poll()
    assert follower.snapshot_gzip() is first  # still valid: the page applies the delta after it
    assert [s for s, _ in follower.deltas_after(seq)] == [seq + 1]
    for _ in range(REBUILD_AFTER):
        run.add_batch(1)
        follower.poll()
    rebuilt = json.loads(gzip.decompress(follower.snapshot_gzip()))
    assert rebuilt["seq"] == follower.seq and rebuilt["overview"]["candidates"] == 8 + REBUILD_AFTER
    run.close()


def test_a_reinitialisation_is_seen_as_a_retirement_boundary(tmp_path):
    run = SyntheticRun(tmp_path / "a", database=DatabaseConfig(num_islands=2, reinit_every=3))
    run.add_batch(8, failure_rate=0.0)
    follower = _follow(tmp_path / "a")
    assert _overview(follower)["retired_below"] == 1
    run.add_batch(8, failure_rate=0.0)  # the third commit (initial included) re-initialises
    follower.poll()
    boundary = _overview(follower)["retired_below"]
    assert boundary > 1 and boundary == run.db.debug_snapshot().state["boundary"]
    run.close()


def test_the_first_read_asks_pages_for_a_snapshot_instead_of_shipping_rows(tmp_path):
    run = SyntheticRun(tmp_path / "a")
    run.add_batch(8)
    follower = _follow(tmp_path / "a")
    (_, first), = follower.deltas_after(0)
    assert first["reset"] is True and "programs" not in first and "overview" in first
    run.close()


def test_a_problem_from_elsewhere_gets_its_direction_from_the_store(tmp_path):
    run = SyntheticRun(tmp_path / "a", task="first_autocorrelation")  # a minimised objective
    run.add_batch(16, failure_rate=0.0)
    summary = run.summary()
    run.close()
    marker = json.loads((tmp_path / "a" / "run.json").read_text())
    (tmp_path / "a" / "run.json").write_text(json.dumps({**marker, "task": "my-own/problem"}))
    entry = _follow(tmp_path / "a").describe()
    assert entry["task"] == "my-own/problem" and entry["direction"] == "min"
    assert entry["trust"] == "unknown" and entry["best_known"] is None
    assert entry["overview"]["best_score"] == summary["best_score"]  # the lowest score
    with ProgramDatabase.open(tmp_path / "a" / "programs.sqlite", DatabaseConfig(num_islands=2),
                              read_only=True) as db:
        lowest = min(r.score for r in db.iter_programs() if r.score is not None)
    assert entry["overview"]["best_score"] == lowest


def test_after_a_reset_no_older_snapshot_is_served(tmp_path):
    """A page reloads a run when told it was reset or came back; the snapshot it then gets
    must be at least that new, or it would reload forever."""
    import gzip

    run = SyntheticRun(tmp_path / "a")
    run.add_batch(4)
    follower = _follow(tmp_path / "a")
    follower.prepare_snapshot()
    run.close()
    store = tmp_path / "a" / "programs.sqlite"
    moved = store.with_name("elsewhere.sqlite")
    store.rename(moved)
    follower.close()  # as after a read error: the next poll opens the store again
    follower.poll()  # the store is gone: an error delta
    assert "does not exist" in follower.describe()["error"]
    moved.rename(store)
    follower.poll()  # back again: a recovered delta
    (_, last), = follower.deltas_after(follower.seq - 1)
    assert last.get("recovered") is True
    snap = json.loads(gzip.decompress(follower.snapshot_gzip()))
    assert snap["seq"] >= follower.seq and "error" not in snap


def test_a_sized_family_member_is_a_built_in_task(tmp_path):
    run = SyntheticRun(tmp_path / "fam", task="circle_packing:n=30")
    run.add_batch(4)
    run.close()
    entry = _follow(tmp_path / "fam").describe()
    assert entry["task"] == "circle_packing:n=30"
    assert entry["trust"] == "verified" and entry["direction"] == "max"
    assert entry["has_picture"] is True


def test_what_the_summary_states_replaces_what_was_guessed(tmp_path):
    run = SyntheticRun(tmp_path / "a")
    run.add_batch(4)
    marker = json.loads((tmp_path / "a" / "run.json").read_text())
    (tmp_path / "a" / "run.json").write_text(json.dumps({**marker, "task": "my-own/problem"}))
    follower = _follow(tmp_path / "a")
    assert follower.describe()["trust"] == "unknown"
    (tmp_path / "a" / "summary.json").write_text(json.dumps({"score_trust": "evaluator-reported"}))
    run.add_batch(4)
    follower.poll()
    (_, delta), = follower.deltas_after(follower.seq - 1)
    assert delta["info"]["trust"] == "evaluator-reported"
    assert follower.describe()["trust"] == "evaluator-reported"
    assert follower.describe()["direction"] == "max"  # still what the store told
    run.close()


def test_a_run_is_finished_when_its_summary_follows_its_last_batch(tmp_path):
    from thetaevolve.dashboard.eventlog import read_events

    log = tmp_path / "metrics.jsonl"
    lines = [{"event": "batch", "batch": 1}, {"event": "summary"},
             {"event": "sandbox_node_lost", "node": "n1"}, {"event": "warning"}]
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_events(log, 0).last_event == "summary"  # later side events change nothing
    with log.open("a") as handle:  # resumed: a new batch after the summary
        handle.write(json.dumps({"event": "resume"}) + "\n")
    assert read_events(log, 0).last_event == "resume"
