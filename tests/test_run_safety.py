"""Results are never lost: refused resumes change nothing, best files are never replaced by
worse ones, every user error is one line (exit 2) that leaves nothing behind, and runs
started together never share or rewrite a run directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from thetaevolve.cli import main
from thetaevolve.database.store import ProgramDatabase
from thetaevolve.run_safety import claim_default_run_dir

TASK = "circle_packing_26"


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run(run_dir: Path, budget: int, *extra: str) -> int:
    return main(["run", TASK, "--budget", str(budget), "--batch-size", "4",
                 "--samples-per-prompt", "2", "--seed", "1", "--run-dir", str(run_dir), "--quiet",
                 *extra])


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("safety") / "run"
    assert _run(run_dir, 48) == 0
    return run_dir


@pytest.fixture
def copy(finished, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(finished, target)
    return target


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.startswith("thetaevolve: error:")]
    assert len(lines) == 1, err
    return lines[0]


# ---- item 2: resume never destroys a result ----------------------------------------------


@pytest.mark.parametrize("damage", ["empty", "missing"])
def test_resume_refuses_a_lost_store_and_changes_nothing(copy, capsys, damage):
    store = copy / "programs.sqlite"
    if damage == "empty":
        store.write_bytes(b"")
    else:
        store.unlink()
    before = snapshot(copy)
    assert main(["resume", str(copy), "--budget", "96", "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"is {damage}" in line and "summary.json" in line and "nothing was changed" in line
    assert snapshot(copy) == before
    assert main(["show", str(copy)]) == 1  # falls back to summary.json, and says why
    captured = capsys.readouterr()
    assert "store is damaged or missing" in captured.err and "Traceback" not in captured.err
    assert "48: " in captured.out
    assert snapshot(copy) == before


def test_best_files_and_summary_are_never_replaced_by_a_worse_result(finished, tmp_path, capsys):
    # A run whose store holds only its initial program, given the finished run's better
    # best files: neither resuming it nor saving its best may replace them.
    from thetaevolve.session import Session

    weak = tmp_path / "weak"
    assert _run(weak, 0) == 0
    names = ("best_program.py", "best_solution.json", "summary.json")
    for name in names:
        shutil.copy(finished / name, weak / name)
    kept = {name: (weak / name).read_bytes() for name in names}
    assert json.loads(kept["summary.json"])["best_score"] > 0.98  # better than the initial
    assert main(["resume", str(weak), "--budget", "0", "--quiet"]) == 0
    with Session.resume(weak) as session:
        session.save_best(None)
        session.finalize()
    for name, data in kept.items():
        assert (weak / name).read_bytes() == data, name
    warnings = [json.loads(l) for l in (weak / "metrics.jsonl").read_text().splitlines()]
    assert any(w["event"] == "warning" and "kept" in w["message"] for w in warnings)


def test_resume_below_what_is_done_says_so_and_changes_nothing(copy, capsys):
    before = snapshot(copy)
    assert main(["resume", str(copy), "--budget", "10", "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "already has 48 candidates" in line and "--budget 10" in line
    assert snapshot(copy) == before


# ---- item 3: one error boundary ------------------------------------------------------------


def test_damaged_store_resume_is_one_line_and_show_falls_back_to_summary(copy, capsys):
    store = copy / "programs.sqlite"
    size = store.stat().st_size
    with open(store, "r+b") as handle:  # random bytes over the middle of the file
        handle.seek(size // 3)
        handle.write(os.urandom(size // 3))
    before = snapshot(copy)
    assert main(["resume", str(copy), "--budget", "96", "--quiet"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "programs.sqlite" in line and "Nothing was overwritten" in line
    assert main(["show", str(copy)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert "store is damaged or missing" in captured.err and "README 'Damaged store'" in captured.err
    assert "best score" in captured.out and "48:" in captured.out
    assert snapshot(copy) == before


def test_locked_store_is_one_line_pointing_at_show(copy, capsys):
    holder = ProgramDatabase.open(copy / "programs.sqlite")  # another "process" writing
    try:
        before = snapshot(copy)
        assert main(["resume", str(copy), "--budget", "96", "--quiet"]) == 2
        line = _one_error_line(capsys.readouterr().err)
        assert "open for writing by another process" in line and f"thetaevolve show {copy}" in line
        assert snapshot(copy) == before
        assert main(["show", str(copy)]) == 0
        assert "running: 48 candidates so far" in capsys.readouterr().out
    finally:
        holder.close()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--set", "prompt.template_dir=/nonexistent/templates"], "prompt.template_dir"),
        (["--set", "sandbox.use_bwrap=sometimes"], "sandbox.use_bwrap"),
        (["--set", "task=hadamard_29"], "--set task and the TASK argument"),
        (["--set", "budget=abc", "--budget", "8"], "--set budget and --budget"),
    ],
)
def test_bad_settings_leave_no_run_directory(tmp_path, capsys, extra, expected):
    run_dir = tmp_path / "run"
    assert _run(run_dir, 8, *extra) == 2
    assert expected in _one_error_line(capsys.readouterr().err)
    assert not run_dir.exists()


def test_missing_vllm_extra_leaves_no_run_directory(tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    run_dir = tmp_path / "run"
    assert _run(run_dir, 8, "--llm", "vllm", "--model", "foo") == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "pip install 'thetaevolve[vllm]'" in line
    assert not run_dir.exists()


def test_run_dir_that_is_a_file_or_cannot_be_made_is_one_line(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert _run(afile, 8) == 2
    assert "is a file" in _one_error_line(capsys.readouterr().err)
    assert afile.read_text() == "keep me"
    assert _run(Path("/proc/nope/run"), 8) == 2
    assert "cannot create the run directory /proc/nope/run" in _one_error_line(capsys.readouterr().err)


def test_closed_stdout_is_one_line_not_a_traceback():
    command = [sys.executable, "-m", "thetaevolve.cli", "tasks", "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is written (`| head -0`)
    _, err = process.communicate(timeout=60)
    text = err.decode()
    assert process.returncode == 2, text
    assert "Traceback" not in text and "Exception ignored" not in text
    assert "thetaevolve: error: output closed before everything was written" in text


# ---- item 4: runs started together ----------------------------------------------------------


def test_default_run_dirs_are_unique_within_one_second(tmp_path):
    names = {claim_default_run_dir(TASK, tmp_path) for _ in range(5)}
    assert len(names) == 5 and all(p.is_dir() for p in names)


def test_two_runs_started_together_get_their_own_directories(tmp_path):
    command = [sys.executable, "-m", "thetaevolve.cli", "run", TASK, "--budget", "0", "--quiet",
               "--set", "sandbox.workers=1", "--seed"]
    processes = [subprocess.Popen(command + [str(seed)], cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for seed in (1, 2)]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2
    seeds = sorted(int(line.split(":")[1]) for run in runs
                   for line in (run / "config.yaml").read_text().splitlines()
                   if line.startswith("seed:"))
    assert seeds == [1, 2]


def test_a_second_writer_is_refused_before_it_writes_anything(tmp_path, capsys, monkeypatch):
    # Process A has claimed the folder and holds the store lock, but wrote nothing else
    # yet; process B checked the folder was empty just before. B must not touch it.
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = ProgramDatabase.open(run_dir / "programs.sqlite")
    (run_dir / "config.yaml").write_text("seed: 1\n")
    import thetaevolve.session as session_module

    monkeypatch.setattr(session_module, "_refuse_used_dir", lambda path: None)
    try:
        assert _run(run_dir, 8, "--seed", "2") == 2
        assert "open for writing by another process" in _one_error_line(capsys.readouterr().err)
        assert (run_dir / "config.yaml").read_text() == "seed: 1\n"
        assert not (run_dir / "run.json").exists()
    finally:
        holder.close()


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed")
def test_readme_recovery_recipe_saves_a_damaged_store(copy, capsys):
    store = copy / "programs.sqlite"
    size = store.stat().st_size
    with open(store, "r+b") as handle:  # a fifth of the file, 70% in: texts of later batches
        handle.seek(int(size * 0.7) // 4096 * 4096)
        handle.write(os.urandom(size // 5))
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    recipe = readme.split("**Damaged store.**")[1].split("```bash\n")[1].split("```")[0]
    commands = [line.split("#")[0] for line in recipe.splitlines()
                if not line.startswith(("cd ", "thetaevolve "))]
    subprocess.run(["bash", "-e", "-c", "\n".join(commands)], cwd=copy, check=True,
                   capture_output=True, timeout=60)
    assert main(["show", str(copy), "--json"]) == 0
    saved = json.loads(capsys.readouterr().out)
    assert 0 < saved["evaluations"] < 48
    assert main(["resume", str(copy), "--budget", str(saved["evaluations"] + 4), "--quiet"]) == 0
