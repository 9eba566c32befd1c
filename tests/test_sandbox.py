"""The sandbox contract: data back on success, a typed failure otherwise, never a raise."""

from __future__ import annotations

import concurrent.futures
import math
import os

import pytest

from adversarial.helpers import TinyTask, bwrap_modes
from thetaevolve.config import SandboxConfig
from thetaevolve.sandbox import make_sandbox
from thetaevolve.types import Outcome


@pytest.fixture(scope="module", params=[(m, w) for m in bwrap_modes() for w in (True, False)],
                ids=lambda p: f"bwrap={p[0]}-warm={p[1]}")
def sandbox(request):
    mode, warm = request.param
    config = SandboxConfig(workers=2, use_bwrap=mode, warm_pool=warm, memory_mb=2048)
    with make_sandbox(TinyTask(), config) as sb:
        yield sb


def test_returns_solution_with_numpy_converted(sandbox):
    code = (
        "import numpy as np\n"
        "def solve():\n"
        "    return {'a': np.arange(3), 'b': np.float64(2.5), 'c': (1, 2), 'd': 'x'}\n"
    )
    result = sandbox.run(code, timeout_s=10)
    assert result.outcome is Outcome.OK, result
    assert result.solution == {"a": [0, 1, 2], "b": 2.5, "c": [1, 2], "d": "x"}
    assert result.exit_code == 0


def test_nan_and_inf_survive_as_data(sandbox):
    code = "def solve():\n    return {'v': [float('nan'), float('inf'), -float('inf')]}\n"
    result = sandbox.run(code, timeout_s=10)
    assert result.outcome is Outcome.OK
    v = result.solution["v"]
    assert math.isnan(v[0]) and v[1] == math.inf and v[2] == -math.inf


def test_exception_is_a_crash_with_its_text(sandbox):
    result = sandbox.run("def solve():\n    raise ValueError('boom 42')\n", timeout_s=10)
    assert result.outcome is Outcome.CRASH
    assert "ValueError: boom 42" in result.detail
    assert result.exit_code == 1
    assert "boom 42" in result.stderr


def test_syntax_error_and_missing_solve_are_crashes(sandbox):
    assert sandbox.run("def solve(:\n", timeout_s=10).outcome is Outcome.CRASH
    missing = sandbox.run("x = 1\n", timeout_s=10)
    assert missing.outcome is Outcome.CRASH and "solve" in missing.detail


def test_stdout_is_captured(sandbox):
    result = sandbox.run("def solve():\n    print('hello')\n    return {}\n", timeout_s=10)
    assert result.outcome is Outcome.OK and result.stdout == "hello\n"


def test_returning_none_is_no_output(sandbox):
    assert sandbox.run("def solve():\n    pass\n", timeout_s=10).outcome is Outcome.NO_OUTPUT


def test_non_dict_and_unconvertible_values_are_malformed(sandbox):
    for body in ("[1, 2]", "{'s': {1, 2}}", "{1: 2}", "{'o': object()}", "{'c': 1j}"):
        result = sandbox.run(f"def solve():\n    return {body}\n", timeout_s=10)
        assert result.outcome is Outcome.MALFORMED_OUTPUT, (body, result)


def test_timeout_argument_overrides_the_task_default(sandbox):
    result = sandbox.run("def solve():\n    while True:\n        pass\n", timeout_s=0.5)
    assert result.outcome is Outcome.TIMEOUT
    assert sandbox.default_timeout_s == TinyTask.timeout_s


def test_candidate_runs_in_a_private_directory_with_an_empty_environment(sandbox):
    os.environ["THETAEVOLVE_TEST_SECRET"] = "hunter2"
    try:
        code = (
            "import os\n"
            "def solve():\n"
            "    return {'env': dict(os.environ), 'cwd': os.getcwd(), 'files': os.listdir('.')}\n"
        )
        result = sandbox.run(code, timeout_s=10)
    finally:
        del os.environ["THETAEVOLVE_TEST_SECRET"]
    assert result.outcome is Outcome.OK
    assert "THETAEVOLVE_TEST_SECRET" not in result.solution["env"]
    assert result.solution["env"]["OMP_NUM_THREADS"] == "1"
    assert result.solution["files"] == []
    assert result.solution["cwd"] != os.getcwd()


def test_concurrent_runs_from_many_threads(sandbox):
    code = "def solve():\n    return {'pid': __import__('os').getpid()}\n"
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: sandbox.run(code, timeout_s=10), range(12)))
    assert all(r.outcome is Outcome.OK for r in results)


def test_bad_timeout_is_a_clear_error(sandbox):
    with pytest.raises(ValueError, match="timeout_s"):
        sandbox.run("def solve():\n    return {}\n", timeout_s=-1)


def test_killed_worker_is_a_crash_and_is_replaced(sandbox):
    if not sandbox.config.warm_pool:
        pytest.skip("a fresh worker per candidate has nothing to replace")
    import signal
    import threading

    def kill_workers_soon():
        import time

        time.sleep(0.5)
        for w in sandbox.workers():  # the worker itself, inside bwrap where there is one
            target = w.namespace_init or w.pid
            if target is not None:
                os.kill(target, signal.SIGKILL)

    killer = threading.Thread(target=kill_workers_soon)
    killer.start()
    result = sandbox.run("import time\ndef solve():\n    time.sleep(30)\n", timeout_s=10)
    killer.join()
    assert result.outcome is Outcome.CRASH and "worker" in result.detail
    after = sandbox.run("def solve():\n    return {'ok': 1}\n", timeout_s=10)
    assert after.outcome is Outcome.OK


@pytest.mark.parametrize("mode", bwrap_modes())
def test_threads_setting_reaches_the_candidate_and_its_blas(mode):
    config = SandboxConfig(workers=1, use_bwrap=mode, threads=2, memory_mb=2048)
    code = (
        "import os\n"
        "import numpy as np\n"
        "def solve():\n"
        "    a = np.random.rand(300, 300)\n"
        "    (a @ a).sum()\n"
        "    status = open('/proc/self/status').read()\n"
        "    threads = int(status.split('Threads:')[1].split()[0])\n"
        "    return {'omp': os.environ['OMP_NUM_THREADS'], 'threads': threads}\n"
    )
    with make_sandbox(TinyTask(), config) as sb:
        result = sb.run(code, timeout_s=20)
    assert result.solution == {"omp": "2", "threads": 2}, result


@pytest.mark.skipif("always" not in bwrap_modes(), reason="bwrap is not installed")
def test_bwrap_view_is_read_only_and_hides_the_host(tmp_path):
    (tmp_path / "db.sqlite").write_text("private")
    code = f"""import os
def solve():
    seen = {{}}
    for path in ("/tmp/planted", "/usr/planted", "{tmp_path}/planted"):
        try:
            open(path, "w").write("x")
            seen[path] = "written"
        except OSError as exc:
            seen[path] = type(exc).__name__
    seen["run_dir_visible"] = os.path.exists("{tmp_path}")
    seen["root"] = sorted(os.listdir("/root")) if os.path.isdir("/root") else []
    seen["home_visible"] = os.path.exists("/home")
    open("mine.txt", "w").write("ok")
    return seen
"""
    config = SandboxConfig(workers=1, use_bwrap="always", memory_mb=2048)
    with make_sandbox(TinyTask(), config) as sb:
        result = sb.run(code, timeout_s=10)
    assert result.outcome is Outcome.OK, result
    seen = result.solution
    assert seen["/usr/planted"] != "written" and seen[f"{tmp_path}/planted"] != "written"
    if os.geteuid() == 0:  # as an ordinary user the worker's own tmpfs is the candidate's too
        assert seen["/tmp/planted"] != "written"
    assert seen["run_dir_visible"] is False and seen["home_visible"] is False
    assert all(name == ".pyenv" for name in seen["root"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db.sqlite"]


def test_nul_bytes_and_a_closed_result_channel_are_crashes(sandbox):
    nul = sandbox.run("def solve():\n    return {}\n\x00", timeout_s=10)
    assert nul.outcome is Outcome.CRASH and "null bytes" in nul.detail
    code = "import os\nos.close(3)\ndef solve():\n    return {'x': 1}\n"
    closed = sandbox.run(code, timeout_s=10)
    assert closed.outcome is Outcome.CRASH


def test_config_timeout_overrides_the_task_and_huge_timeouts_are_fine():
    config = SandboxConfig(workers=1, timeout_s=0.5, use_bwrap="never", memory_mb=2048)
    with make_sandbox(TinyTask(), config) as sb:
        assert sb.default_timeout_s == 0.5
        slow = sb.run("import time\ndef solve():\n    time.sleep(30)\n")
        assert slow.outcome is Outcome.TIMEOUT
        fast = sb.run("def solve():\n    return {'x': 1}\n", timeout_s=1e9)
        assert fast.outcome is Outcome.OK


def test_candidate_can_import_what_the_worker_did_not(sandbox):
    code = (
        "import csv, xml.dom.minidom, wave, scipy.spatial\n"
        "def solve():\n"
        "    return {'ok': scipy.spatial.distance.euclidean([0, 0], [3, 4])}\n"
    )
    result = sandbox.run(code, timeout_s=30)
    assert result.outcome is Outcome.OK, result
    assert result.solution == {"ok": 5.0}
