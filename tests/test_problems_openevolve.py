"""OpenEvolve folders run unchanged: the whole evaluator inside our sandbox, scored by
OpenEvolve's rules, the trust said plainly. The folders are tests/fixtures/openevolve/."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import shutil
import sys
from pathlib import Path

import pytest

from thetaevolve.config import SandboxConfig
from thetaevolve.edits import apply_response, format_search_replace
from thetaevolve.errors import UserError
from thetaevolve.evaluation import evaluate_run
from thetaevolve.problems.openevolve import load_openevolve_problem
from thetaevolve.sandbox import make_sandbox
from thetaevolve.sandbox.evaluator_host import COMPAT_DIR
from thetaevolve.tasks.base import Task
from thetaevolve.types import Outcome, Verdict

FIXTURES = Path(__file__).parent / "fixtures" / "openevolve"


def evaluate(task: Task, code: str | None = None, **config):
    with make_sandbox(task, SandboxConfig(workers=1, **config)) as sandbox:
        return evaluate_run(task, sandbox.run(task.initial_program if code is None else code))


@pytest.fixture(scope="module")
def dict_problem():
    task = load_openevolve_problem(FIXTURES / "dict_metrics")
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        yield task, sandbox


@pytest.fixture(scope="module")
def cascade_problem():
    task = load_openevolve_problem(FIXTURES / "cascade")
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        yield task, sandbox


def run(problem, code: str | None = None):
    task, sandbox = problem
    return evaluate_run(task, sandbox.run(task.initial_program if code is None else code))


# ---- same fitness as OpenEvolve's own rules ----------------------------------------------


def _metrics_in_process(folder: Path) -> dict:
    """Our own fixture's evaluator, called directly here (trusted test code, not a candidate),
    with our EvaluationResult shim importable for the moment."""
    saved_path, saved_modules = list(sys.path), dict(sys.modules)
    sys.path[0:0] = [str(folder), str(COMPAT_DIR)]
    try:
        spec = importlib.util.spec_from_file_location("fixture_evaluator", folder / "evaluator.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.evaluate(str(folder / "initial_program.py"))
    finally:
        # Leave the test process as it was (a real openevolve may be imported elsewhere).
        sys.path[:] = saved_path
        for name in [n for n in sys.modules if n not in saved_modules]:
            del sys.modules[name]
        sys.modules.update(saved_modules)


def test_initial_program_gets_the_fitness_openevolves_rule_gives(dict_problem):
    metrics = _metrics_in_process(FIXTURES / "dict_metrics")
    # OpenEvolve's stated rule, applied by hand: no combined_score, so the mean of the numeric
    # metrics, leaving out bools, NaN, text and the default feature dimensions
    # (complexity, diversity).
    kept = [
        v for k, v in metrics.items()
        if k not in ("complexity", "diversity") and isinstance(v, (int, float))
        and not isinstance(v, bool) and not math.isnan(v)
    ]
    expected = sum(kept) / len(kept)
    assert sorted(k for k in metrics if k in ("total", "spread", "count")) == ["count", "spread", "total"]
    assert expected == pytest.approx((7.5 + 3.5 + 3) / 3)  # the fixture's numbers
    evaluation = run(dict_problem)
    assert evaluation.outcome is Outcome.OK
    assert evaluation.score == expected
    assert dict_problem[0].fitness(evaluation.score) == expected  # higher is better


def test_combined_score_is_the_score_when_present():
    folder = FIXTURES / "result_artifacts"
    expected = float(_metrics_in_process(folder).metrics["combined_score"])
    evaluation = evaluate(load_openevolve_problem(folder))
    assert evaluation.score == expected == 0.25  # raw = 2.5 is not averaged in


def test_cascade_initial_program_matches_openevolves_stage_rules(cascade_problem):
    # QUALITY 0.7: stage 1 scores 0.7 >= 0.5, the merge after stage 2 scores 0.8 >= 0.75,
    # so stage 3 runs and its combined_score 0.9 overwrites the earlier ones.
    evaluation = run(cascade_problem)
    assert evaluation.score == pytest.approx(0.9)
    assert {"stage1", "stage2", "stage3"} <= set(evaluation.metrics)


# ---- cascade stages and thresholds ------------------------------------------------------


def test_cascade_stops_after_a_failed_first_gate(cascade_problem):
    evaluation = run(cascade_problem, "QUALITY = 0.3\n")
    assert evaluation.outcome is Outcome.OK
    assert evaluation.score == pytest.approx(0.3)
    assert "stage2" not in evaluation.metrics and "stage1" in evaluation.metrics
    # Stage 1's own result comes back as it was: its "error" and its text are still there.
    assert evaluation.metrics["error"] == 0.0
    assert "label: s1" in evaluation.feedback


def test_cascade_second_gate_and_openevolves_merge(cascade_problem):
    evaluation = run(cascade_problem, "QUALITY = 0.6\n")
    assert evaluation.score == pytest.approx(0.7)  # stage 2's combined_score; 0.7 < 0.75
    assert "stage2" in evaluation.metrics and "stage3" not in evaluation.metrics
    # The merge keeps numbers only (bools as floats), drops "error" and the text label.
    assert "error" not in evaluation.metrics and "label" not in evaluation.feedback
    assert evaluation.metrics["flag"] == 1.0


def test_a_failing_later_stage_keeps_the_earlier_metrics(cascade_problem):
    evaluation = run(cascade_problem, "QUALITY = 0.7\nFAIL_STAGE2 = True\n")
    assert evaluation.outcome is Outcome.OK
    assert evaluation.score == pytest.approx(0.7)
    assert evaluation.metrics["stage2_passed"] == 0.0
    assert "stage 2 exploded" in evaluation.feedback  # its traceback is an artifact


def test_a_later_stage_past_evaluator_timeout_keeps_the_earlier_metrics(tmp_path):
    folder = tmp_path / "cascade"
    shutil.copytree(FIXTURES / "cascade", folder)
    (folder / "config.yaml").write_text("evaluator:\n  timeout: 1\n")
    evaluation = evaluate(load_openevolve_problem(folder), "QUALITY = 0.7\nSLOW_STAGE3 = 30\n")
    assert evaluation.outcome is Outcome.OK
    assert evaluation.score == pytest.approx(0.8)  # stages 1 and 2 merged; stage 3 cut at 1 s
    assert evaluation.metrics["stage3_passed"] == 0.0 and "stage3" not in evaluation.metrics
    assert "stage3_timeout" in evaluation.feedback


def test_openevolve_config_flag_picks_another_file_and_its_thresholds():
    task = load_openevolve_problem(FIXTURES / "cascade", FIXTURES / "cascade" / "config_phase_1.yaml")
    assert task.statement.startswith("Phase 1")
    evaluation = evaluate(task, "QUALITY = 0.15\n")
    # Gates 0.1 then 0.2: 0.15 passes, the merge scores 0.25 and passes, stage 3 gives 0.35.
    assert evaluation.score == pytest.approx(0.35)
    assert "stage3" in evaluation.metrics


def test_cascade_off_calls_evaluate_itself(tmp_path):
    folder = tmp_path / "cascade"
    shutil.copytree(FIXTURES / "cascade", folder)
    (folder / "config.yaml").write_text("evaluator:\n  cascade_evaluation: false\n  timeout: 10\n")
    task = load_openevolve_problem(folder)
    assert task.timeout_s == 10  # one stage
    evaluation = evaluate(task)
    assert evaluation.outcome is Outcome.CRASH
    assert "never calls evaluate()" in evaluation.detail


def test_cascade_timeout_covers_every_stage(cascade_problem):
    assert cascade_problem[0].timeout_s == 30  # evaluator.timeout 10 s per stage, 3 stages


# ---- artifacts, sibling modules, the warm pool -------------------------------------------


def test_artifacts_become_capped_feedback():
    task = load_openevolve_problem(FIXTURES / "result_artifacts")
    evaluation = evaluate(task)
    assert "value() returned 0.25; try something closer to 1" in evaluation.feedback
    assert "binary log line" in evaluation.feedback  # bytes artifacts are decoded
    assert "bytes cut" in evaluation.feedback  # prompt.max_artifact_bytes: 2000
    assert len(evaluation.feedback.encode()) < 2000 + 500
    assert evaluation.feedback.count("x" * 100) < 20


def test_artifacts_switched_off_by_config(tmp_path):
    folder = tmp_path / "artifacts"
    shutil.copytree(FIXTURES / "result_artifacts", folder)
    (folder / "config.yaml").write_text("prompt:\n  include_artifacts: false\n")
    evaluation = evaluate(load_openevolve_problem(folder))
    assert evaluation.outcome is Outcome.OK and "hint" not in evaluation.feedback


def test_sibling_module_imports_and_the_evaluator_is_imported_once_per_worker(dict_problem):
    first, second = run(dict_problem), run(dict_problem)
    assert first.outcome is Outcome.OK and second.outcome is Outcome.OK  # scoring_helpers imported
    imported = [e.solution["metrics"]["imported_in"] for e in (first, second)]
    evaluated = [e.solution["metrics"]["evaluated_in"] for e in (first, second)]
    assert imported[0] == imported[1]  # the worker imported evaluator.py once
    assert evaluated[0] != evaluated[1]  # each candidate ran in a fork of its own
    assert imported[0] not in evaluated


def test_an_evaluator_that_starts_its_own_interpreter_works_inside_the_sandbox():
    evaluation = evaluate(load_openevolve_problem(FIXTURES / "own_subprocess"))
    assert evaluation.outcome is Outcome.OK and evaluation.score == 0.75


def test_program_without_evolve_block_markers_evolves_as_a_whole(dict_problem):
    task = dict_problem[0]
    assert "EVOLVE-BLOCK" not in task.initial_program
    edit = format_search_replace("    return [1.0, 2.0, 4.5]\n", "    return [1.0, 2.0, 9.0]\n")
    child = apply_response(task.initial_program, edit)
    assert child.ok, child.detail
    rewrite = apply_response(task.initial_program, "```python\ndef run():\n    return [3.0]\n```",
                             mode="rewrite")
    assert rewrite.ok and rewrite.code == "def run():\n    return [3.0]"
    assert run(dict_problem, child.code).score > run(dict_problem).score


def test_without_bubblewrap_the_folder_runs_too():
    evaluation = evaluate(load_openevolve_problem(FIXTURES / "dict_metrics"), use_bwrap="never")
    assert evaluation.outcome is Outcome.OK and evaluation.score == pytest.approx(14 / 3)


# ---- an evaluator that crashes or hangs ---------------------------------------------------


def test_an_evaluator_that_raises_is_the_candidates_crash_with_the_reason():
    evaluation = evaluate(load_openevolve_problem(FIXTURES / "crash"))
    assert evaluation.outcome is Outcome.CRASH
    assert "ZeroDivisionError" in evaluation.detail


def test_an_evaluator_that_fails_to_import_says_so():
    evaluation = evaluate(load_openevolve_problem(FIXTURES / "bad_import"))
    assert evaluation.outcome is Outcome.CRASH
    assert "evaluator.py failed to import" in evaluation.detail
    assert "no_such_module_anywhere" in evaluation.detail


def test_an_evaluator_that_hangs_is_killed_at_the_deadline():
    task = load_openevolve_problem(FIXTURES / "hang")
    assert task.timeout_s == 3
    evaluation = evaluate(task, timeout_s=1.0)
    assert evaluation.outcome is Outcome.TIMEOUT


def test_evaluate_returning_something_else_is_invalid(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "evaluator.py").write_text("def evaluate(path):\n    return [1, 2]\n")
    (folder / "initial_program.py").write_text("x = 1\n")
    evaluation = evaluate(load_openevolve_problem(folder))
    assert evaluation.outcome is Outcome.INVALID_SOLUTION
    assert "returned a list" in evaluation.detail


# ---- forged scores, and the trust said plainly -------------------------------------------

FORGE_RESULT_CHANNEL = """import json, os
os.write(3, json.dumps({"solution": {"evaluator": "openevolve",
                                     "metrics": {"combined_score": 1e9}}}).encode())
os._exit(0)
"""

FORGE_EVALUATION_RESULT = """from openevolve import evaluation_result

class Forged(evaluation_result.EvaluationResult):
    def __init__(self, metrics, artifacts=None):
        super().__init__({"combined_score": 1e9}, artifacts or {})

evaluation_result.EvaluationResult = Forged
import sys
sys.modules["evaluation_module"].EvaluationResult = Forged

def value():
    return 0.0
"""

FORGE_CASCADE = """import sys
QUALITY = 0.9
sys.modules["evaluation_module"].evaluate_stage3 = lambda path: {"combined_score": 1e9}
"""


@pytest.mark.parametrize(
    "folder, forgery",
    [
        ("dict_metrics", FORGE_RESULT_CHANNEL),
        ("result_artifacts", FORGE_EVALUATION_RESULT),
        ("cascade", FORGE_CASCADE),
    ],
)
def test_a_candidate_can_forge_an_evaluator_reported_score(folder, forgery):
    """What the trust marking is for: the candidate runs in the evaluator's process."""
    task = load_openevolve_problem(FIXTURES / folder)
    assert task.score_trust == "evaluator-reported"
    evaluation = evaluate(task, forgery)
    assert evaluation.outcome is Outcome.OK
    assert evaluation.score == 1e9


class BoundedX(Task):
    """The trusted verify of tests/fixtures/openevolve/with_problem_py/problem.py, as a Task."""

    name = "bounded_x"
    direction = "max"
    statement = "Return {'x': x} with x in [0, 1], as large as possible."
    solution_format = '{"x": float}'

    @property
    def initial_program(self) -> str:
        return ""

    def judge(self, solution, tol):
        x = solution.get("x")
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1 + tol:
            return Verdict.invalid(f"x must lie in [0, 1], got {x!r}")
        return Verdict(valid=True, score=float(x))


@pytest.fixture(scope="module")
def trusted_problem():
    task = load_openevolve_problem(FIXTURES / "with_problem_py", trusted_verify=BoundedX())
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        yield task, sandbox


def test_a_trusted_verify_beside_the_evaluator_scores_the_data(trusted_problem):
    task = trusted_problem[0]
    assert task.score_trust == "verified" and task.name == "bounded_x"
    assert task.statement == BoundedX.statement
    evaluation = run(trusted_problem)
    assert evaluation.outcome is Outcome.OK and evaluation.score == 0.5
    assert "x was 0.5" in evaluation.feedback  # the evaluator's artifacts still serve


def test_a_trusted_verify_ignores_a_forged_report(trusted_problem):
    forged = FORGE_RESULT_CHANNEL.replace(
        '"metrics": {"combined_score": 1e9}', '"metrics": {"combined_score": 1e9}, "solution": {"x": 0.25}'
    )
    assert run(trusted_problem, forged).score == 0.25  # the data, verified; not 1e9
    bad = forged.replace('{"x": 0.25}', '{"x": 7.0}')
    assert run(trusted_problem, bad).outcome is Outcome.INVALID_SOLUTION
    raises = "def solve():\n    raise RuntimeError('no data')\n"
    assert run(trusted_problem, raises).outcome is Outcome.CRASH


# ---- the folder and its config ------------------------------------------------------------


def test_config_gives_statement_budget_timeout_and_one_warning_for_unused_keys():
    task = load_openevolve_problem(FIXTURES / "dict_metrics")
    assert task.statement == "You improve a list of numbers; larger totals are better."
    assert task.default_budget == 7 and task.timeout_s == 20 and task.direction == "max"
    assert task.name == "dict_metrics"
    warnings = [w for w in task.warnings if "not used" in w]
    assert len(warnings) == 1
    for key in ("llm.models", "llm.temperature", "database.population_size",
                "prompt.num_top_programs", "random_seed"):
        assert key in warnings[0]
    assert "max_iterations" not in warnings[0] and "evaluator.timeout" not in warnings[0]
    assert "random_seed -> seed" in warnings[0]  # a counterpart is named where there is one


def test_no_config_means_openevolves_defaults():
    task = load_openevolve_problem(FIXTURES / "own_subprocess", None)
    assert task.timeout_s == 20
    bare = load_openevolve_problem(FIXTURES / "crash")
    assert bare.default_budget is None


def _folder(tmp_path: Path, evaluator: str, config: str | None = None) -> Path:
    folder = tmp_path / "problem"
    folder.mkdir()
    (folder / "evaluator.py").write_text(evaluator)
    (folder / "initial_program.py").write_text("x = 1\n")
    if config is not None:
        (folder / "config.yaml").write_text(config)
    return folder


@pytest.mark.parametrize(
    "evaluator, config, words",
    [
        ("def evaluate(p:\n", None, ["evaluator.py", "syntax error", "line 1"]),
        ("def score(p):\n    return {}\n", None, ["evaluator.py", "evaluate(program_path)"]),
        ("def evaluate(p):\n    return {}\n", "evaluator:\n  timeout: soon\n",
         ["config.yaml", "evaluator.timeout", "number of seconds"]),
        ("def evaluate(p):\n    return {}\n", "evaluator:\n  cascade_thresholds: [0.5, high]\n",
         ["config.yaml", "cascade_thresholds"]),
        ("def evaluate(p):\n    return {}\n", "max_iterations: [1]\n", ["max_iterations"]),
        ("def evaluate(p):\n    return {}\n", "prompt: [unclosed\n", ["config.yaml", "YAML"]),
        ("def evaluate(p):\n    return {}\n", "file_suffix: py\n", ["file_suffix", ".py"]),
    ],
)
def test_a_broken_folder_is_one_clear_error(tmp_path, evaluator, config, words):
    with pytest.raises(UserError) as caught:
        load_openevolve_problem(_folder(tmp_path, evaluator, config))
    for word in words:
        assert word in str(caught.value)


def test_file_suffix_names_the_candidates_file(tmp_path):
    folder = _folder(tmp_path, "def evaluate(p):\n    return {}\n", "file_suffix: .txt\n")
    assert load_openevolve_problem(folder).evaluator_host.suffix == ".txt"
    (folder / "config.yaml").unlink()
    assert load_openevolve_problem(folder).evaluator_host.suffix == ".py"  # the seed's


def test_missing_pieces_are_named(tmp_path):
    folder = _folder(tmp_path, "def evaluate(p):\n    return {}\n")
    with pytest.raises(UserError, match="no such file"):
        load_openevolve_problem(folder, tmp_path / "config_phase_9.yaml")
    (folder / "initial_program.py").unlink()
    with pytest.raises(UserError, match="initial_program"):
        load_openevolve_problem(folder)
    with pytest.raises(UserError, match="evaluator.py"):
        load_openevolve_problem(tmp_path)


def test_a_template_name_as_system_message_is_not_taken_as_the_statement(tmp_path):
    folder = _folder(tmp_path, "def evaluate(p):\n    return {}\n",
                     "prompt:\n  system_message: system_message\n")
    task = load_openevolve_problem(folder)
    assert "higher scores are better" in task.statement
    assert any("template" in w for w in task.warnings)


def test_the_candidate_cannot_write_into_the_problem_folder(tmp_path):
    folder = tmp_path / "dict_metrics"
    shutil.copytree(FIXTURES / "dict_metrics", folder)
    target = folder / "evaluator.py"
    attack = (
        "def run():\n"
        "    try:\n"
        f"        open({str(target)!r}, 'w').write('def evaluate(p):\\n    return {{}}\\n')\n"
        "        return [1.0]\n"
        "    except OSError:\n"
        "        return [-1.0]\n"
    )
    task = load_openevolve_problem(folder)
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:
        if not (sandbox.use_bwrap or os.geteuid() == 0):
            pytest.skip("without bubblewrap, as an ordinary user, a candidate has the user's "
                        "own file permissions (the sandbox warns about that mode)")
        evaluation = evaluate_run(task, sandbox.run(attack))
    assert evaluation.metrics["total"] == -1.0  # the write failed inside the sandbox
    assert "def evaluate(p):\n    return {}" not in target.read_text()


def test_a_folder_others_cannot_read_is_flagged_when_started_as_root(tmp_path):
    folder = tmp_path / "private"
    shutil.copytree(FIXTURES / "crash", folder)
    folder.chmod(0o700)
    task = load_openevolve_problem(folder)
    flagged = any("not readable by other users" in w for w in task.warnings)
    assert flagged == (os.geteuid() == 0)


def test_bubblewrap_binds_the_problem_folder_read_only_after_the_private_tmp(tmp_path):
    from thetaevolve.sandbox import bwrap
    from thetaevolve.sandbox.runner import WORKER_PATH

    folder = tmp_path / "problem"
    folder.mkdir()
    args = bwrap.mount_args(sys.executable, WORKER_PATH, 1 << 20, extra_ro=[str(folder)])
    real = os.path.realpath(folder)
    binds = [i for i, a in enumerate(args) if a == "--ro-bind" and args[i + 2] == real]
    assert binds, "the folder is not bound read-only"
    assert binds[0] > args.index("--tmpfs")  # a folder under /tmp stays visible
    assert not any(a == "--bind" and args[i + 2] == real for i, a in enumerate(args))


def test_a_numbered_folder_is_named_with_its_parent(tmp_path):
    folder = tmp_path / "hexagon_packing" / "11"
    shutil.copytree(FIXTURES / "crash", folder)
    assert load_openevolve_problem(folder).name == "hexagon_packing_11"


def test_an_evaluator_whose_import_hangs_does_not_stop_the_sandbox_from_starting():
    task = load_openevolve_problem(FIXTURES / "hang_import")
    task.evaluator_host = dataclasses.replace(task.evaluator_host, preload_timeout_s=1.0)
    with make_sandbox(task, SandboxConfig(workers=1)) as sandbox:  # starts within ~1 s
        run = sandbox.run(task.initial_program, timeout_s=1.5)
    assert run.outcome is Outcome.TIMEOUT
    assert "warm worker could not" in run.stderr and "did not finish within 1 s" in run.stderr


def test_async_evaluate_numpy_metrics_and_artifacts_inside_the_dict(tmp_path):
    folder = _folder(tmp_path, (
        "import numpy\n\n\n"
        "async def evaluate(program_path):  # OpenEvolve scores a coroutine {'error': 0.0}\n"
        "    return {'combined_score': numpy.float64(0.5), 'steps': numpy.int64(7),\n"
        "            'curve': numpy.arange(3), 'artifacts': {'note': 'inside the dict'}}\n"
    ))
    evaluation = evaluate(load_openevolve_problem(folder))
    assert evaluation.outcome is Outcome.OK and evaluation.score == 0.5
    assert evaluation.metrics["steps"] == 7.0  # numpy scalars arrive as numbers
    assert evaluation.solution["metrics"]["curve"] == [0, 1, 2]
    assert "inside the dict" in evaluation.feedback and "artifacts" not in evaluation.metrics
