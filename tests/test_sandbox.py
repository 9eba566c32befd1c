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
