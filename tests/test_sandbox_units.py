"""Sandbox pieces on their own: defensive parsing, uid leases, the bwrap decision."""

from __future__ import annotations

import logging
import math
import os

import pytest

from thetaevolve.sandbox import bwrap as bwrap_module
from thetaevolve.sandbox import uids
from thetaevolve.sandbox.results import to_run_result
from thetaevolve.sandbox.child import EXIT_SETUP_FAILED
from thetaevolve.types import Outcome

CAP = 1 << 16


def classify(result: bytes, exit_code: int = 0, killed: str = "", stderr: bytes = b""):
    header = {"exit_code": exit_code, "killed": killed, "runtime_s": 0.01}
    return to_run_result(header, b"", stderr, result, timeout_s=2, max_solution_bytes=CAP)


def test_solution_record_parses_with_nan_kept():
    r = classify(b'{"solution": {"x": [NaN, Infinity, 1.5]}}')
    assert r.outcome is Outcome.OK
    assert math.isnan(r.solution["x"][0]) and r.solution["x"][1] == math.inf


@pytest.mark.parametrize(
    "blob",
    [
        b"not json",
        b'{"solution": [1, 2]}',
        b"[1, 2]",
        b'{"solution": {"x": 1}} trailing',
        b"[" * 100_000 + b"]" * 100_000,  # nesting deep enough to blow the parser's stack
        b'{"solution": {"x": ' + b"9" * 50_000 + b"}}",  # an integer too long to convert
        b'{"solution": {"x": "' + b"a" * (CAP + 10_000) + b'"}}',  # over the size cap
        b"\xff\xfe garbage",
    ],
)
def test_bad_records_are_malformed_never_raise(blob):
    assert classify(blob).outcome is Outcome.MALFORMED_OUTPUT


def test_error_records_map_to_their_outcomes():
    assert classify(b'{"error": "memory", "message": "m"}', 1).outcome is Outcome.MEMORY
    assert classify(b'{"error": "exception", "message": "E: x"}', 1).outcome is Outcome.CRASH
    assert classify(b'{"error": "malformed", "message": "m"}').outcome is Outcome.MALFORMED_OUTPUT
    assert classify(b'{"error": "none", "message": "m"}').outcome is Outcome.NO_OUTPUT


def test_kills_and_signals_come_first():
    ok = b'{"solution": {"x": 1}}'
    assert classify(ok, -9, killed="timeout").outcome is Outcome.TIMEOUT
    assert classify(ok, -9, killed="stdout_cap").outcome is Outcome.CRASH
    assert classify(b"", -24).outcome is Outcome.TIMEOUT  # SIGXCPU: the CPU-time limit
    seg = classify(b"", -11)
    assert seg.outcome is Outcome.CRASH and "SIGSEGV" in seg.detail and seg.exit_code == -11
    assert classify(ok, 3).outcome is Outcome.CRASH  # a solution, then a non-zero exit
    assert classify(b"", 0).outcome is Outcome.NO_OUTPUT
    setup = classify(b"", EXIT_SETUP_FAILED, stderr=b"sandbox setup failed: OSError: x\n")
    assert setup.outcome is Outcome.CRASH and "could not start" in setup.detail


def test_a_lying_header_does_not_raise():
    r = to_run_result(
        {"exit_code": "x", "runtime_s": float("nan"), "killed": ["?"]},
        b"",
        b"",
        b"",
        timeout_s=1,
        max_solution_bytes=CAP,
    )
    assert r.outcome is Outcome.CRASH and r.runtime_s == 0.0


def test_uid_leases_are_exclusive_and_run_out_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(uids, "LOCK_DIR", str(tmp_path))
    first = uids.acquire_uid(61000, 2)
    second = uids.acquire_uid(61000, 2)
    assert {first.uid, second.uid} == {61000, 61001}
    with pytest.raises(RuntimeError, match="uid_count"):
        uids.acquire_uid(61000, 2)
    first.release()
    third = uids.acquire_uid(61000, 2)
    assert third.uid == 61000
    second.release()
    third.release()


def test_missing_bwrap_warns_once_and_continues(monkeypatch, caplog):
    monkeypatch.setattr(bwrap_module, "bwrap_problem", lambda *a: "bwrap is not installed")
    monkeypatch.setattr(bwrap_module, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="thetaevolve.sandbox"):
        assert bwrap_module.resolve_use_bwrap("auto", "python", "w.py", True) is False
        assert bwrap_module.resolve_use_bwrap("auto", "python", "w.py", True) is False
    warnings = [r for r in caplog.records if "WITHOUT bubblewrap" in r.getMessage()]
    assert len(warnings) == 1 and "not installed" in warnings[0].getMessage()
    with pytest.raises(RuntimeError, match="use_bwrap=always"):
        bwrap_module.resolve_use_bwrap("always", "python", "w.py", True)
    assert bwrap_module.resolve_use_bwrap("never", "python", "w.py", True) is False


def test_mount_view_rebinds_the_interpreter_and_hides_the_rest(tmp_path):
    import sys

    worker = tmp_path / "worker.py"
    for name in bwrap_module.WORKER_FILES:
        (tmp_path / name).write_text("")
    args = bwrap_module.mount_args(sys.executable, str(worker), 1 << 20)
    binds = [args[i + 2] for i, a in enumerate(args) if a == "--ro-bind"]
    assert os.path.realpath(sys.base_prefix) in binds or any(
        os.path.realpath(sys.base_prefix).startswith(b + "/") for b in binds
    )
    assert "/" not in binds and os.getcwd() not in binds and "/home" not in binds


def test_empty_dir_keeps_the_interpreters_directories(tmp_path):
    from thetaevolve.sandbox import proctree

    keep_dir = tmp_path / "clone" / ".venv" / "site-packages"
    keep_dir.mkdir(parents=True)
    (keep_dir / "numpy.py").write_text("")
    (tmp_path / "clone" / "junk.txt").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "f").write_text("x")
    proctree.empty_dir(str(tmp_path), frozenset({str(keep_dir)}))
    assert (keep_dir / "numpy.py").exists()
    assert not (tmp_path / "clone" / "junk.txt").exists()
    assert not (tmp_path / "other").exists()


def test_only_outermost_python_dirs_are_rebound():
    from thetaevolve.sandbox.child import outermost_paths

    paths = ["/tmp/a/.venv", "/tmp/a/.venv/lib/site-packages", "/tmp/a/src", "/tmp/ab"]
    assert outermost_paths(paths) == ["/tmp/a/.venv", "/tmp/a/src", "/tmp/ab"]


_COLLAPSE_PROBE = """
import ctypes, mmap, sys
from thetaevolve.sandbox import proctree

size = 8 << 20
buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
buf.write(b"x" * size)  # resident, like a heap after the imports
start = ctypes.addressof(ctypes.c_char.from_buffer(buf))
collapsed = proctree.collapse_to_huge_pages()
huge_kb = 0
inside = False
for line in open("/proc/self/smaps"):
    first = line.split()[0]
    if "-" in first and not first.endswith(":"):
        lo, hi = (int(x, 16) for x in first.split("-"))
        inside = lo <= start < hi
    elif inside and first == "AnonHugePages:":
        huge_kb = int(line.split()[1])
print(collapsed, huge_kb)
"""


def test_collapse_to_huge_pages_backs_anonymous_memory_with_huge_pages():
    import subprocess
    import sys

    thp = "/sys/kernel/mm/transparent_hugepage/enabled"
    if not os.path.exists(thp) or "[never]" in open(thp).read():
        pytest.skip("no transparent huge pages here")
    out = subprocess.run(
        [sys.executable, "-c", _COLLAPSE_PROBE], capture_output=True, text=True, check=True
    ).stdout.split()
    collapsed, huge_kb = int(out[0]), int(out[1])
    release = tuple(int(part) for part in os.uname().release.split("-")[0].split(".")[:2])
    if collapsed == 0 and release < (6, 1):
        pytest.skip("MADV_COLLAPSE needs Linux 6.1")
    # 8 MiB at any alignment holds at least three aligned 2 MiB pages.
    assert collapsed >= 6 << 20
    assert huge_kb >= 6 << 10
