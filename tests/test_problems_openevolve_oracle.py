"""Differential test: the same fitness and metrics as OpenEvolve's own evaluator gives.

OpenEvolve itself (the ``openevolve`` package, installed with the dev extra as a test oracle
only) evaluates each fixture program in this process with its own ``Evaluator`` (cascade and
all) and ``get_fitness_score``; ThetaEvolve evaluates the same program inside its sandbox with
its own shims. The fixtures are deterministic, so the numbers must agree exactly.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import shutil
import sys
from pathlib import Path

import pytest

from thetaevolve.config import SandboxConfig
from thetaevolve.evaluation import evaluate_run
from thetaevolve.problems.openevolve import load_openevolve_problem
from thetaevolve.sandbox import make_sandbox
from thetaevolve.sandbox.evaluator_host import COMPAT_DIR
from thetaevolve.types import Outcome

openevolve = pytest.importorskip("openevolve", reason="the dev extra installs the oracle")
from openevolve.config import DatabaseConfig, EvaluatorConfig  # noqa: E402
from openevolve.evaluator import Evaluator  # noqa: E402
from openevolve.utils.metrics_utils import get_fitness_score  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "openevolve"
CASES = [
    ("dict_metrics", None),
    ("result_artifacts", None),
    ("cascade", None),
    ("cascade", "QUALITY = 0.3\n"),
    ("cascade", "QUALITY = 0.6\n"),
    ("cascade", "QUALITY = 0.7\nFAIL_STAGE2 = True\n"),
    ("own_subprocess", None),
]
# Stage 3 sleeps past a 1 s evaluator.timeout: both cut it and keep stages 1 and 2.
SLOW = ("cascade", "QUALITY = 0.7\nSLOW_STAGE3 = 2\n")


def openevolves_metrics(folder: Path, code: str, timeout: int = 20) -> dict:
    """OpenEvolve's own evaluation of ``code`` with the folder's evaluator (our fixture)."""
    saved_path = list(sys.path)
    logging.getLogger("openevolve").setLevel(logging.CRITICAL)
    try:
        evaluator = Evaluator(EvaluatorConfig(timeout=timeout), str(folder / "evaluator.py"))
        result = evaluator.evaluate_program(code, "oracle")
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return dict(result)
    finally:
        sys.path[:] = saved_path


@pytest.fixture(scope="module")
def sandboxes():
    opened = {}
    try:
        for name in {name for name, _ in CASES}:
            task = load_openevolve_problem(FIXTURES / name)
            opened[name] = (task, make_sandbox(task, SandboxConfig(workers=1)))
        yield opened
    finally:
        for _, sandbox in opened.values():
            sandbox.close()


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _compare(theirs: dict, ours) -> None:
    expected = get_fitness_score(theirs, DatabaseConfig().feature_dimensions)
    assert ours.outcome is Outcome.OK, ours.detail
    assert ours.score == expected
    reported = ours.solution["metrics"]
    numeric = {k for k, v in theirs.items() if isinstance(v, (int, float))}
    assert numeric == {k for k, v in reported.items() if isinstance(v, (int, float))}
    for key in numeric - {"imported_in", "evaluated_in"}:
        assert _same(float(reported[key]), float(theirs[key])), key


@pytest.mark.parametrize("name, code", CASES)
def test_same_fitness_and_metrics_as_openevolves_own_evaluator(sandboxes, name, code):
    folder = FIXTURES / name
    code = code if code is not None else (folder / "initial_program.py").read_text()
    task, sandbox = sandboxes[name]
    _compare(openevolves_metrics(folder, code), evaluate_run(task, sandbox.run(code)))


def test_same_result_when_a_later_stage_times_out(tmp_path):
    name, code = SLOW
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    (folder / "config.yaml").write_text("evaluator:\n  timeout: 1\n")
    theirs = openevolves_metrics(folder, code, timeout=1)
    assert theirs["stage3_passed"] == 0.0 and theirs["timeout"] is True
    task = load_openevolve_problem(folder)
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        _compare(theirs, evaluate_run(task, sandbox.run(code)))


def test_inside_the_sandbox_our_shim_answers_even_with_openevolve_installed(sandboxes):
    task, sandbox = sandboxes["result_artifacts"]
    probe = (
        "import openevolve.evaluation_result as shim\n"
        "print(shim.__file__)\n\n"
        "def value():\n"
        "    return 0.5\n"
    )
    run = sandbox.run(probe)
    assert run.stdout.strip().startswith(str(COMPAT_DIR))
