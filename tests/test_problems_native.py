"""Native problems: loading, every kind of broken problem file, and a verify that misbehaves
(raises, hangs, eats memory, returns NaN or no number) without stopping anything."""

from __future__ import annotations

import time

import pytest

from helpers import HEAD, INITIAL, VERIFY, write_problem
from thetaevolve.evaluation import VerifierError, evaluate_run
from thetaevolve.problems.native import (
    DEFAULT_VERIFY_TIMEOUT_S,
    ProblemFileError,
    load_native_problem,
)
from thetaevolve.types import Outcome, RunResult


@pytest.fixture
def load(tmp_path):
    opened = []

    def _load(path):
        task = load_native_problem(path)
        opened.append(task)
        return task

    yield _load
    for task in opened:
        task.close()


def test_a_valid_folder_becomes_a_task_with_defaults(tmp_path, load):
    task = load(write_problem(tmp_path / "p"))
    assert (task.name, task.direction, task.score_trust) == ("half", "max", "verified")
    assert task.initial_program == INITIAL
    assert task.timeout_s == 10.0 and task.heavy_modules == ()
    assert task.spec.verify_timeout_s == DEFAULT_VERIFY_TIMEOUT_S
    assert task.known_bounds == () and task.best_known is None
    verdict = task.verify({"x": 0.75})
    assert verdict.valid and verdict.score == 0.75 and verdict.tolerance == 0.0


def test_optional_names_are_read(tmp_path, load):
    extra = '''SOLUTION_FORMAT = '{"x": float}'
SCORE_MEANING = "x itself"
VERIFY_TIMEOUT_S = 5
KNOWN_BOUNDS = [0.9, (1.0, "the unit interval", "trivially optimal"), {"value": 0.95, "source": "s"}]
REWARD_RANGE = (0.2, 1.0)
HEAVY_MODULES = ["math"]
'''
    task = load(write_problem(tmp_path / "p", extra=extra))
    assert task.solution_format == '{"x": float}' and task.spec.verify_timeout_s == 5.0
    assert task.score_meaning == "x itself"
    assert [b.value for b in task.known_bounds] == [0.9, 1.0, 0.95]
    assert task.best_known.source == "the unit interval"
    assert (task.reward_shaping.range_min, task.reward_shaping.range_max) == (0.2, 1.0)
    assert task.heavy_modules == ("math",)


def test_a_single_file_with_an_initial_program_string(tmp_path, load):
    file = tmp_path / "my_problem.py"
    file.write_text(HEAD + f"INITIAL_PROGRAM = {INITIAL!r}\n" + VERIFY)
    task = load(file)
    assert task.initial_program == INITIAL and task.verify({"x": 1}).score == 1.0


def test_a_sibling_module_imports_and_the_worker_runs_in_the_folder(tmp_path, load):
    folder = write_problem(tmp_path / "p", extra="import helper\n", verify='''
def verify(solution, tol=0.0):
    return helper.scale(solution["x"]) + len(open("data.txt").read())
''')
    (folder / "helper.py").write_text("def scale(x):\n    return 10 * x\n")
    (folder / "data.txt").write_text("abc")
    assert load(folder).verify({"x": 0.5}).score == 8.0


def test_invalid_data_is_an_invalid_verdict_with_the_reason(tmp_path, load):
    task = load(write_problem(tmp_path / "p"))
    verdict = task.verify({"x": 2})
    assert not verdict.valid and "x must be a number in [0, 1], got 2" in verdict.reason
    assert not task.verify({"x": 0.5}, tol=-1).valid  # a bad tol never reaches the problem


def test_feedback_returned_beside_the_score(tmp_path, load):
    task = load(write_problem(tmp_path / "p", verify='''
def verify(solution, tol=0.0):
    return solution["x"], f"x was {solution['x']}; try more"
'''))
    verdict = task.verify({"x": 0.5})
    assert verdict.score == 0.5 and verdict.feedback == "x was 0.5; try more"


BROKEN = [
    # (what is wrong, problem.py text or None for "as HEAD + VERIFY", initial program, words)
    ("syntax error", HEAD + "def verify(solution, tol=0.0)\n    return 1\n", INITIAL,
     ["problem.py, line 6", "SyntaxError", "fix the file"]),
    ("missing NAME", HEAD.replace('NAME = "half"\n', "") + VERIFY, INITIAL,
     ["NAME is missing", 'NAME = "my_problem"']),
    ("NAME not a string", HEAD.replace('"half"', "42") + VERIFY, INITIAL,
     ["NAME must be a non-empty string", "int 42"]),
    ("NAME unusable in a path", HEAD.replace('"half"', '"a/b"') + VERIFY, INITIAL,
     ["NAME is 'a/b'", "letters, digits"]),
    ("bad DIRECTION", HEAD.replace('"max"', '"maximise"') + VERIFY, INITIAL,
     ["DIRECTION is 'maximise'", '"max" or "min"']),
    ("STATEMENT not text", HEAD.replace('"Return x in [0, 1], as large as possible."', "None")
     + VERIFY, INITIAL, ["STATEMENT must be a non-empty string"]),
    ("no verify", HEAD, INITIAL, ["verify is missing", "def"]),
    ("verify not a function", HEAD + "verify = 3\n", INITIAL, ["verify is a int, not a function"]),
    ("verify without tol", HEAD + "def verify(solution):\n    return 1.0\n", INITIAL,
     ["verify has the signature verify(solution)", "verify(solution, tol=0.0)"]),
    ("missing package", HEAD + "import surely_not_installed_pkg\n" + VERIFY, INITIAL,
     ["importing it failed", "surely_not_installed_pkg", "install the missing package"]),
    ("raises at import", HEAD + "raise RuntimeError('boom')\n" + VERIFY, INITIAL,
     ["importing it raised RuntimeError: boom", "imports cleanly"]),
    ("negative TIMEOUT_S", HEAD.replace("TIMEOUT_S = 10", "TIMEOUT_S = -1") + VERIFY, INITIAL,
     ["TIMEOUT_S must be a positive number", "int -1"]),
    ("unreadable KNOWN_BOUNDS", HEAD + "KNOWN_BOUNDS = [object()]\n" + VERIFY, INITIAL,
     ["KNOWN_BOUNDS is a list", "write a list of numbers"]),
    ("bad KNOWN_BOUNDS entry", HEAD + "KNOWN_BOUNDS = [0.5, 'high']\n" + VERIFY, INITIAL,
     ["KNOWN_BOUNDS[1] is str 'high'"]),
    ("empty REWARD_RANGE", HEAD + "REWARD_RANGE = (1, 0)\n" + VERIFY, INITIAL,
     ["REWARD_RANGE is list [1, 0]", "(low, high)"]),
    ("no initial program", HEAD + VERIFY, None,
     ["INITIAL_PROGRAM is missing", "initial_program.py", "solve()"]),
    ("two initial programs", HEAD + "INITIAL_PROGRAM = 'def solve(): return {}'\n" + VERIFY,
     INITIAL, ["INITIAL_PROGRAM is defined and", "keep one"]),
    ("initial program without solve", HEAD + VERIFY, "def other():\n    return {}\n",
     ["initial_program.py", "defines no solve()"]),
    ("initial program syntax error", HEAD + VERIFY, "def solve(:\n", ["initial_program.py, line 1",
                                                                      "SyntaxError"]),
]


@pytest.mark.parametrize("what,text,initial,words", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_problem_file_is_one_clear_error(tmp_path, what, text, initial, words):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "problem.py").write_text(text)
    if initial is not None:
        (folder / "initial_program.py").write_text(initial)
    with pytest.raises(ProblemFileError) as caught:
        load_native_problem(folder)
    message = str(caught.value)
    assert "\n" not in message.strip()
    assert str(folder) in message
    for word in words:
        assert word in message, message


def test_paths_that_are_no_problem(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProblemFileError, match="holds no problem.py.*thetaevolve init"):
        load_native_problem(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ProblemFileError, match="not a problem"):
        load_native_problem(tmp_path / "notes.txt")


# ---- a verify that misbehaves ---------------------------------------------------------------

MISBEHAVING = '''
import math, os, sys, time

def verify(solution, tol=0.0):
    kind = solution["kind"]
    if kind == "ok":
        return 0.5
    if kind == "raise":
        raise KeyError("points")
    if kind == "nan":
        return math.nan
    if kind == "inf":
        return -math.inf
    if kind == "text":
        return "0.5"
    if kind == "bool":
        return True
    if kind == "none":
        return None
    if kind == "hang":
        time.sleep(600)
    if kind == "memory":
        hog = bytearray(4 << 30)
        return float(len(hog))
    if kind == "exit":
        sys.exit(3)
    if kind == "die":
        os._exit(9)
    if kind == "print":
        print("chatty verify")
        return 0.25
    raise ValueError("unknown kind")
'''


@pytest.fixture
def misbehaving(tmp_path, load):
    head = HEAD + "VERIFY_TIMEOUT_S = 2\nVERIFY_MEMORY_MB = 512\n"
    return load(write_problem(tmp_path / "p", head=head, verify=MISBEHAVING))


@pytest.mark.parametrize("kind,words", [
    ("raise", ["verify raised KeyError", "points"]),
    ("nan", ["returned nan", "finite"]),
    ("inf", ["returned -inf", "finite"]),
    ("text", ["returned str '0.5'", "must return a finite number"]),
    ("bool", ["returned bool True"]),
    ("none", ["returned NoneType None"]),
    ("exit", ["verify raised SystemExit: 3"]),
    ("die", ["verify crashed", "exited with code 9"]),
])
def test_a_verify_that_fails_is_a_verifier_error_and_the_next_call_works(misbehaving, kind, words):
    with pytest.raises(VerifierError) as caught:
        misbehaving.verify({"kind": kind})
    assert str(misbehaving.spec.where) in str(caught.value)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert misbehaving.verify({"kind": "ok"}).score == 0.5


def test_a_hanging_verify_is_killed_at_its_deadline(misbehaving):
    started = time.monotonic()
    with pytest.raises(VerifierError, match=r"did not answer within 2 s \(VERIFY_TIMEOUT_S\)"):
        misbehaving.verify({"kind": "hang"})
    assert time.monotonic() - started < 30  # killed, not waited out (the sleep is 600 s)
    assert misbehaving.verifier_workers == 0  # the hung worker is gone, not left running
    assert misbehaving.verify({"kind": "ok"}).score == 0.5


def test_a_verify_that_eats_memory_hits_its_cap(misbehaving):
    with pytest.raises(VerifierError, match=r"out of memory \(VERIFY_MEMORY_MB = 512\)"):
        misbehaving.verify({"kind": "memory"})
    assert misbehaving.verify({"kind": "ok"}).score == 0.5


def test_prints_in_verify_do_not_break_the_protocol(misbehaving):
    assert misbehaving.verify({"kind": "print"}).score == 0.25


def test_evaluate_run_records_a_broken_verify_as_verifier_error(misbehaving):
    run = RunResult(solution={"kind": "nan"}, outcome=Outcome.OK, runtime_s=0.1)
    evaluation = evaluate_run(misbehaving, run)
    assert evaluation.outcome is Outcome.VERIFIER_ERROR and evaluation.score is None
    assert "returned nan" in evaluation.detail
    assert Outcome.VERIFIER_ERROR.was_evaluated and Outcome.VERIFIER_ERROR.is_failure
    invalid = evaluate_run(misbehaving, RunResult(solution={"kind": "?"}, outcome=Outcome.OK))
    assert invalid.outcome is Outcome.INVALID_SOLUTION and invalid.detail == "unknown kind"


def test_concurrent_verifies_get_their_own_workers(misbehaving):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        scores = list(pool.map(lambda _: misbehaving.verify({"kind": "ok"}).score, range(12)))
    assert scores == [0.5] * 12
    assert 1 <= misbehaving.verifier_workers <= 3


def _gone(pid, within_s=10.0):
    import os

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie of ours counts as gone once reaped
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_a_hung_verify_is_killed_with_the_processes_it_started(tmp_path, load):
    verify = '''
import subprocess, time

def verify(solution, tol=0.0):
    child = subprocess.Popen(["sleep", "600"])
    with open("child.pid", "w") as f:
        f.write(str(child.pid))
    time.sleep(600)
'''
    folder = write_problem(tmp_path / "p", head=HEAD + "VERIFY_TIMEOUT_S = 1\n", verify=verify)
    task = load(folder)
    with pytest.raises(VerifierError, match="did not answer"):
        task.verify({"x": 0.5})
    assert _gone(int((folder / "child.pid").read_text()))


def test_verifier_workers_do_not_outlive_the_run(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    verify = "import time\n\ndef verify(solution, tol=0.0):\n    time.sleep(600)\n"
    folder = write_problem(tmp_path / "p", verify=verify)
    script = f'''
import os, sys, threading, time
from pathlib import Path
from thetaevolve.problems.native import load_native_problem
task = load_native_problem(Path({str(folder)!r}))
print(task.verifier_pids[0], flush=True)
threading.Thread(target=task.verify, args=({{"x": 0.5}},), daemon=True).start()
time.sleep(0.5)  # the worker is now stuck in verify, not waiting on its pipe
os._exit(0)  # no close, no atexit: as if the run was killed
'''
    out = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, timeout=120, check=True).stdout
    pid = int(out.strip())
    try:
        assert _gone(pid)
    finally:  # never leave a stray process behind, whatever the outcome
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_callers_beyond_the_cores_wait_for_a_worker_instead_of_starting_one(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from thetaevolve.problems.verifier_process import ProblemTarget, VerifierPool

    folder = write_problem(tmp_path / "p", verify="import time\n\n"
                           "def verify(solution, tol=0.0):\n    time.sleep(0.05)\n    return 1.0\n")
    pool = VerifierPool(ProblemTarget(file=(folder / "problem.py").resolve()), max_workers=2)
    try:
        assert pool.start()["ready"]
        request = {"op": "verify", "solution": {}, "tol": 0.0}
        with ThreadPoolExecutor(6) as threads:
            replies = list(threads.map(lambda _: pool.call(request, 5.0), range(12)))
        assert [r["score"] for r in replies] == [1.0] * 12
        assert pool.worker_count <= 2
    finally:
        pool.close()
