"""Hostile candidate programs (tests/adversarial/*.py): each ends as a typed failure close to
its deadline, the host is unharmed, and the next candidate runs normally.

The elapsed-time checks are bounds with a generous slack (the point is that the kill works:
a runner that waits on inherited pipes takes minutes), not speed measurements.
"""

from __future__ import annotations

import math
import os
import select
import socket
import time
from pathlib import Path

import pytest

from adversarial.helpers import CLONE_NEWNET, CLONE_NEWNS, TinyTask, bwrap_modes, can_unshare
from thetaevolve.config import SandboxConfig
from thetaevolve.sandbox import make_sandbox
from thetaevolve.types import Outcome

PROGRAMS = Path(__file__).parent / "adversarial"
DEADLINE_S = 1.5
SLACK_S = 5.0
SECRET = "THETAEVOLVE_TEST_SECRET"
BENIGN = "def solve():\n    return {'fine': True}\n"
AS_ROOT = os.geteuid() == 0


def program(name: str, **subs: object) -> str:
    text = (PROGRAMS / f"{name}.py").read_text()
    for key, value in subs.items():
        text = text.replace(f"__{key}__", str(value))
    return text


@pytest.fixture(scope="module", params=bwrap_modes(), ids=lambda m: f"bwrap={m}")
def sandbox(request):
    os.environ[SECRET] = "hunter2"  # set before the workers start, as an API key would be
    config = SandboxConfig(
        workers=1,
        use_bwrap=request.param,
        memory_mb=1024,
        max_output_bytes=64 << 10,
        max_solution_bytes=1 << 20,
        max_file_bytes=8 << 20,
        max_processes=32,
    )
    try:
        with make_sandbox(TinyTask(), config) as sb:
            yield sb
    finally:
        os.environ.pop(SECRET, None)


def _uid_processes(uid: int) -> list[int]:
    """Processes whose real uid is ``uid`` (their /proc entry may belong to root)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
            except OSError:
                continue
            uids = status.split("\nUid:", 1)[1].split()
            if int(uids[0]) == uid:
                found.append(int(entry))
    return found


def _candidate_uid(sb) -> int | None:
    return sb.workers()[0].uid


def _survivors(sb, uid: int) -> list[str]:
    """Processes of the candidate uid once the worker's cleanup (which itself runs as that
    uid, briefly, after each reply) is over."""
    sb.wait_idle()
    return [_describe(pid) for pid in _uid_processes(uid)]


def _describe(pid: int) -> str:
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()[:200]
    except OSError:
        return f"{pid} (gone)"
    keep = [line for line in status if line.startswith(("Name", "State", "PPid", "Uid"))]
    try:
        syscall = Path(f"/proc/{pid}/syscall").read_text().split()[:1]
    except OSError:
        syscall = []
    return f"{pid} {keep} {cmdline!r} syscall={syscall}"


def run_hostile(sb, code: str, deadline_s: float = DEADLINE_S):
    """Run ``code``, check the deadline bound, then that the next candidate is fine."""
    start = time.monotonic()
    result = sb.run(code, timeout_s=deadline_s)
    elapsed = time.monotonic() - start
    assert elapsed < deadline_s + SLACK_S, (elapsed, result)
    after = sb.run(BENIGN, timeout_s=10)
    assert after.outcome is Outcome.OK and after.solution == {"fine": True}, after
    uid = _candidate_uid(sb)
    if uid is not None:
        survivors = _survivors(sb, uid)
        assert survivors == [], (sb.workers()[0].pid, survivors)
    return result


def test_infinite_loop_times_out(sandbox):
    result = run_hostile(sandbox, program("infinite_loop"))
    assert result.outcome is Outcome.TIMEOUT


def test_sleeping_forever_times_out(sandbox):
    assert run_hostile(sandbox, program("sleep_forever")).outcome is Outcome.TIMEOUT


def test_fork_bomb_is_capped_and_killed(sandbox):
    result = run_hostile(sandbox, program("fork_bomb"))
    assert result.outcome in (Outcome.TIMEOUT, Outcome.CRASH, Outcome.MEMORY)
    assert os.fork  # the host can still fork (it just ran the next candidate)


def test_process_cap_holds_even_as_root(sandbox):
    result = run_hostile(sandbox, program("count_processes"))
    assert result.outcome is Outcome.OK
    if AS_ROOT:
        assert result.solution["forked"] < sandbox.config.max_processes
    else:  # the cap counts all of the user's threads, whose number moves: only a bound
        assert result.solution["forked"] < 250


@pytest.mark.parametrize("name", ["memory_bomb", "numpy_memory_bomb", "forked_memory_bomb"])
def test_memory_bombs_hit_the_address_space_limit(sandbox, name):
    # Touching a gigabyte of pages takes a while on a busy machine: a longer deadline.
    result = run_hostile(sandbox, program(name), deadline_s=20)
    assert result.outcome is Outcome.MEMORY, result


def test_grandchild_holding_the_pipes_does_not_hang_the_run(sandbox):
    result = run_hostile(sandbox, program("grandchild_holds_pipes"))
    assert result.outcome is Outcome.CRASH and result.exit_code == 3
    assert "started the grandchild" in result.stdout
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            assert b"987654" not in cmdline, "the grandchild survived"


def test_escaped_daemon_is_swept_before_the_next_candidate(sandbox):
    result = sandbox.run(program("escaped_daemon"), timeout_s=DEADLINE_S)
    assert result.outcome is Outcome.OK
    check = sandbox.run(program("check_worker_state"), timeout_s=10)
    assert check.outcome is Outcome.OK and check.solution["files"] == []
    uid = _candidate_uid(sandbox)
    if uid is not None:
        assert _survivors(sandbox, uid) == []


def test_ten_gigabytes_of_stdout_are_cut_at_the_cap(sandbox):
    result = run_hostile(sandbox, program("stdout_flood"))
    assert result.outcome is Outcome.CRASH and "output cap" in result.detail
    assert len(result.stdout) <= (64 << 10) + 100 and "bytes cut by the sandbox" in result.stdout


def test_chatty_output_is_trimmed_not_fatal(sandbox):
    code = (
        "import sys\n"
        "def solve():\n"
        "    for i in range(20000):\n"
        "        print('progress line', i)\n"
        "    print('the last words', file=sys.stderr)\n"
        "    return {'done': True}\n"
    )
    result = run_hostile(sandbox, code)
    assert result.outcome is Outcome.OK and result.solution == {"done": True}
    assert result.stdout.startswith("progress line 0\n")
    assert result.stdout.endswith("progress line 19999\n")
    assert "bytes cut by the sandbox" in result.stdout
    assert result.stderr == "the last words\n"


def test_huge_file_hits_the_file_size_limit(sandbox):
    result = run_hostile(sandbox, program("huge_file"))
    assert result.outcome is Outcome.CRASH and "File too large" in result.detail


def test_network_connection_to_a_local_listener(sandbox):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        result = run_hostile(sandbox, program("network_connect", PORT=port))
        pending, _, _ = select.select([listener], [], [], 0.2)
    # bwrap, or (as root) an empty network namespace per candidate where one may be made
    if sandbox.use_bwrap or (AS_ROOT and can_unshare(CLONE_NEWNET)):
        assert result.outcome is Outcome.CRASH, result
        assert pending == [], "the listening socket saw a connection"
    else:
        assert result.outcome in (Outcome.OK, Outcome.CRASH)


def _skip_if_same_user_without_bwrap(sb) -> None:
    if not sb.use_bwrap and not AS_ROOT:
        pytest.skip("started as an ordinary user without bwrap, candidates share our uid")


def test_parent_environment_secret_is_out_of_reach(sandbox):
    _skip_if_same_user_without_bwrap(sandbox)
    result = run_hostile(sandbox, program("read_secret"))
    assert result.outcome is Outcome.CRASH and "no secret found" in result.detail
    assert "hunter2" not in result.stdout + result.stderr


def test_host_processes_are_invisible(sandbox):
    if not (sandbox.use_bwrap or (AS_ROOT and can_unshare(CLONE_NEWNS))):
        pytest.skip("without bwrap or a private mount namespace, /proc is the host's")
    result = run_hostile(sandbox, program("list_processes"))
    assert result.outcome is Outcome.OK
    assert os.getpid() not in result.solution["pids"]
    assert len(result.solution["pids"]) <= 4  # itself, and in bwrap its init and worker


def test_run_directory_cannot_be_read_or_written(sandbox, tmp_path):
    _skip_if_same_user_without_bwrap(sandbox)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "programs.sqlite").write_text("precious")
    result = run_hostile(sandbox, program("run_directory", RUN_DIR=run_dir))
    assert result.outcome is Outcome.CRASH
    assert "precious" not in result.stdout + result.stderr + result.detail
    assert sorted(p.name for p in run_dir.iterdir()) == ["programs.sqlite"]


@pytest.mark.skipif(not AS_ROOT, reason="as an ordinary user the candidate shares our uid")
def test_killing_the_parent_fails(sandbox):
    result = run_hostile(sandbox, program("kill_parent", HOST_PID=os.getpid()))
    assert result.outcome is Outcome.CRASH
    assert "PermissionError" in result.detail or "ProcessLookupError" in result.detail


def test_segfault_is_a_crash_with_the_signal(sandbox):
    result = run_hostile(sandbox, program("segfault"))
    assert result.outcome is Outcome.CRASH and result.exit_code == -11
    assert "SIGSEGV" in result.detail


def test_exit_without_output(sandbox):
    assert run_hostile(sandbox, program("exit_without_output")).outcome is Outcome.NO_OUTPUT


def test_nan_and_inf_come_back_as_data_for_the_verifier(sandbox):
    result = run_hostile(sandbox, program("returns_nan_inf"))
    assert result.outcome is Outcome.OK
    circles = result.solution["circles"]
    assert math.isnan(circles[0][0]) and circles[1][2] == math.inf
    _assert_verifier_rejects(result.solution)


def test_wrong_shape_comes_back_as_data_for_the_verifier(sandbox):
    result = run_hostile(sandbox, program("returns_wrong_shape"))
    assert result.outcome is Outcome.OK
    _assert_verifier_rejects(result.solution)


@pytest.mark.parametrize(
    "name", ["returns_wrong_type", "returns_huge_array", "returns_huge_list", "fake_result_record"]
)
def test_non_data_and_oversized_solutions_are_malformed(sandbox, name):
    result = run_hostile(sandbox, program(name))
    assert result.outcome is Outcome.MALFORMED_OUTPUT, result


def test_planted_files_reach_neither_the_next_candidate_nor_the_host(sandbox):
    if not (sandbox.use_bwrap or (AS_ROOT and can_unshare(CLONE_NEWNS))):
        pytest.skip("without bwrap or a private mount namespace, /tmp is shared")
    planted = sandbox.run(program("plant_files"), timeout_s=10)
    assert planted.outcome is Outcome.OK
    found = sandbox.run(program("find_planted_files"), timeout_s=10)
    assert found.outcome is Outcome.OK and found.solution["found"] == []
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        assert not os.path.exists(os.path.join(place, "planted-by-candidate"))


def test_sysv_ipc_left_behind_is_gone_for_the_next_candidate(sandbox):
    if not (sandbox.use_bwrap or (AS_ROOT and can_unshare(CLONE_NEWNET))):
        pytest.skip("without bwrap or namespaces, SysV IPC is the host's")
    planted = sandbox.run(program("plant_sysv_shm"), timeout_s=10)
    assert planted.outcome is Outcome.OK and planted.solution["shmid"] >= 0
    found = sandbox.run(program("find_sysv_shm"), timeout_s=10)
    assert found.outcome is Outcome.OK and found.solution["segments"] == 0


def test_a_candidate_cannot_poison_the_warm_worker(sandbox):
    assert sandbox.run(program("poison_worker_state"), timeout_s=10).outcome is Outcome.OK
    check = sandbox.run(program("check_worker_state"), timeout_s=10)
    assert check.outcome is Outcome.OK
    assert check.solution["pi"] == math.pi and check.solution["tau"] == math.tau


def _assert_verifier_rejects(solution):
    """The trusted side's answer to bad numbers: the real circle-packing verifier."""
    from thetaevolve.tasks import get_task

    verdict = get_task("circle_packing_26").verify(solution)
    assert not verdict.valid and verdict.reason
