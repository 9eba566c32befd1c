"""A whole run (CLI, gym, sandbox, store) against the fake OpenAI server with faults:
it finishes its budget, records every failure by kind, and keeps the key out of the run
directory."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from thetaevolve.cli import main
from thetaevolve.database.store import ProgramDatabase
from thetaevolve.edits import format_search_replace
from thetaevolve.proposers.usage import FAILURE_KINDS
from thetaevolve.types import Outcome

sys.path.insert(0, str(Path(__file__).parent))
from fake_llm_server import FakeLLMServer  # noqa: E402

SECRET = "sk-run-secret-0123456789abcdefghij"
_PROGRAM = re.compile(r"-+ Current Program -+\n[^\n]*\n```python\n(.*?)\n```", re.S)


def _current_program(body: dict[str, Any]) -> str:
    match = _PROGRAM.search(body["messages"][-1]["content"])
    return match.group(1) if match else ""


def _reply(request: int, choice: int, body: dict[str, Any]) -> str:
    """A tiny "model": mostly sensible edits, sometimes the mistakes real models make."""
    rng = random.Random(f"{request}:{choice}")
    code = _current_program(body)
    line = next((l for l in code.split("\n") if "inner_ring_radius =" in l), None)
    roll = rng.random()
    if line is None or roll < 0.15:
        return "I think the rings should be tighter, but I will not write an edit."
    if roll < 0.25:
        return format_search_replace("N_CIRCLES = 26", "N_CIRCLES = 27")  # outside the block
    if roll < 0.35:
        return format_search_replace("    no_such_line = 1", "    no_such_line = 2")
    new = f"    inner_ring_radius = {rng.uniform(0.2, 0.35):.4f}"
    return f"<think>try another radius</think>\n```python\n{format_search_replace(line, new)}```"


@pytest.mark.slow
def test_run_against_a_faulty_server_finishes_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    faults = random.Random(3)
    kinds = ["ok"] * 6 + ["429", "500", "malformed", "cut", "length", "hang", "400"]

    def script(index: int, body: dict[str, Any]) -> str:
        return faults.choice(kinds)

    run_dir = tmp_path / "run"
    with FakeLLMServer(script=script, reply=_reply, max_hang_s=30) as server:
        code = main([
            "run", "circle_packing_26", "--budget", "12", "--batch-size", "4",
            "--samples-per-prompt", "3", "--seed", "1", "--run-dir", str(run_dir), "--quiet",
            "--llm", "openai", "--base-url", server.base_url, "--model", "fake",
            "--set", "llm.timeout_s=1", "--set", "llm.max_retries=1",
            "--set", "llm.retry_backoff_s=0.01", "--set", "llm.price_per_mtok_in=1",
            "--set", "llm.price_per_mtok_out=2",
        ])
        requests = server.requests
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 12
    failures = summary["failures"]
    # Failures of both sides are recorded by kind: the LLM call and the edit.
    assert failures.get("llm_error", 0) > 0
    assert set(failures) & {"no_diff", "edit_outside_block", "edit_no_match"}
    assert requests > 0
    database = ProgramDatabase.open(run_dir / "programs.sqlite")
    try:
        details = [r.detail for r in database.iter_programs() if r.outcome is Outcome.LLM_ERROR]
    finally:
        database.close()
    assert details and all(d.split(":")[0] in FAILURE_KINDS for d in details), details
    for path in run_dir.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
