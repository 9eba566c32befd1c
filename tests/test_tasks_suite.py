"""The task suite as a whole: registry, metadata, reward shaping, and the initial programs."""

from __future__ import annotations

import ast
import concurrent.futures
import io
import math
import tokenize

import pytest

from helpers import SUITE
from thetaevolve.config import SandboxConfig
from thetaevolve.tasks import ENTRY_POINT, get_task, task_names
from thetaevolve.types import Outcome


# ThetaEvolve's it_XL configs (docs/references.md#thetaevolve-shaping-ranges): (A, B, alpha, multiplier).
THETA_SHAPING = {
    "circle_packing_26": (0.0, 2.635, 3.0, 5.0),
    "first_autocorrelation": (1.5, 1.53, 1.0, 3.0),
    "second_autocorrelation": (0.91, 0.96, 1.0, 3.0),
    "third_autocorrelation": (1.4557, 3.2, 3.0, 3.0),
    "hadamard_29": (0.0, 1.0, 1.0, 5.0),
}


def test_every_task_is_registered():
    assert set(SUITE) <= set(task_names())


@pytest.mark.parametrize("name", SUITE)
def test_metadata(name):
    task = get_task(name)
    assert task.name == name
    assert task.direction in ("max", "min")
    assert len(task.statement) > 100 and task.solution_format
    assert task.timeout_s > 0
    assert task.known_bounds and all(b.source for b in task.known_bounds)
    best = task.best_known
    values = [b.value for b in task.known_bounds]
    assert best.value == (max(values) if task.direction == "max" else min(values))
    shaping = task.reward_shaping
    assert shaping.range_min < shaping.range_max and shaping.alpha > 0 and shaping.multiplier > 0


@pytest.mark.parametrize("name", sorted(THETA_SHAPING))
def test_reward_shaping_defaults_follow_thetaevolve(name):
    s = get_task(name).reward_shaping
    assert (s.range_min, s.range_max, s.alpha, s.multiplier) == THETA_SHAPING[name]


def _evolve_block(code: str) -> tuple[int, int]:
    lines = code.split("\n")
    assert lines.count("# EVOLVE-BLOCK-START") == 1 and lines.count("# EVOLVE-BLOCK-END") == 1
    start, end = lines.index("# EVOLVE-BLOCK-START"), lines.index("# EVOLVE-BLOCK-END")
    assert start < end
    return start, end


@pytest.mark.parametrize("name", SUITE)
def test_initial_program_shape(name):
    code = get_task(name).initial_program
    start, end = _evolve_block(code)
    tree = ast.parse(code)
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"numpy", "scipy"}
    # The harness (outside the block) defines the entry point.
    solve = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == ENTRY_POINT]
    assert solve and solve[0].lineno - 1 > end
    # Plenty of numeric knobs inside the block for a numeric-perturbation mutator.
    numbers = [
        t for t in tokenize.generate_tokens(io.StringIO(code).readline)
        if t.type == tokenize.NUMBER and start < t.start[0] - 1 < end
    ]
    assert len(numbers) >= 8


@pytest.mark.parametrize("name", SUITE)
def test_initial_program_is_valid_and_weak(name):
    task = get_task(name)
    namespace: dict = {}
    exec(compile(task.initial_program, f"<{name}>", "exec"), namespace)  # trusted: our own code
    solution = namespace[ENTRY_POINT]()
    verdict = task.verify(solution)
    assert verdict.valid, verdict.reason
    assert math.isfinite(verdict.score)
    assert task.is_better(task.best_known.value, verdict.score)  # deliberately weak


def test_circle_packing_initial_score_is_thetaevolve_like():
    task = get_task("circle_packing_26")
    namespace: dict = {}
    exec(task.initial_program, namespace)
    score = task.verify(namespace[ENTRY_POINT]()).score
    assert 0.9 < score < 1.1  # ThetaEvolve's initial program scored 0.9598


def test_circle_packing_initial_program_improves_when_its_knobs_are_tweaked():
    task = get_task("circle_packing_26")
    code = task.initial_program
    tweaked = code.replace("outer_ring_radius = 0.7", "outer_ring_radius = 0.5").replace("margin = 0.01", "margin = 0.1")
    assert tweaked != code
    scores = []
    for program in (code, tweaked):
        namespace: dict = {}
        exec(program, namespace)
        verdict = task.verify(namespace[ENTRY_POINT]())
        assert verdict.valid, verdict.reason
        scores.append(verdict.score)
    assert scores[1] > scores[0] + 0.3


def _sandbox_factory():
    try:
        import thetaevolve.sandbox as sandbox
    except ImportError:
        return None
    return getattr(sandbox, "make_sandbox", None)


@pytest.mark.skipif(_sandbox_factory() is None, reason="sandbox/runner.py has no make_sandbox yet (issue 4)")
def test_initial_programs_run_in_the_sandbox_within_their_limits():
    make_sandbox = _sandbox_factory()

    def run(name: str):
        task = get_task(name)
        with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
            return task, sandbox.run(task.initial_program, timeout_s=task.timeout_s)

    # One sandbox per task, side by side: the sandbox's own start-up dominates the wall time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(SUITE)) as pool:
        results = list(pool.map(run, SUITE))
    for task, result in results:
        assert result.outcome is Outcome.OK, (task.name, result.outcome, result.detail)
        assert result.runtime_s < task.timeout_s
        verdict = task.verify(result.solution)
        assert verdict.valid, (task.name, verdict.reason)


@pytest.mark.parametrize("name", SUITE)
def test_verify_never_raises_on_garbage(name):
    task = get_task(name)
    for garbage in (None, 3, "x", [], {}, {"circles": None, "heights": None, "matrix": None, "set": None, "points": None, "roots": None}, {"heights": {"a": 1}}):
        verdict = task.verify(garbage)  # type: ignore[arg-type]
        assert not verdict.valid and verdict.reason


@pytest.mark.parametrize("name", SUITE)
def test_plot_of_initial_solution(name, tmp_path):
    task = get_task(name)
    namespace: dict = {}
    exec(task.initial_program, namespace)
    path = tmp_path / f"{name}.png"
    assert task.plot_solution(namespace[ENTRY_POINT](), path)
    assert path.stat().st_size > 1000
