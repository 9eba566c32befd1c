"""The HTTP proposer against real OpenAI-compatible servers serving smollm2-135m.

One server per backend for the whole module (started and stopped by the fixture):
``transformers serve`` always (the ``models`` extra brings its FastAPI/Uvicorn needs), and
llama-cpp-python's server only where that package is installed (it compiles llama.cpp
from source, which the test setup does not do).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from thetaevolve.cli import main  # noqa: E402
from thetaevolve.config import LLMConfig  # noqa: E402
from thetaevolve.database.store import ProgramDatabase  # noqa: E402
from thetaevolve.models.chat import encode_chat  # noqa: E402
from thetaevolve.proposers.base import Prompt  # noqa: E402
from thetaevolve.proposers.openai_client import OpenAIProposer  # noqa: E402
from thetaevolve.types import Outcome  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from served_model import ServedModel, llama_cpp_server, transformers_server  # noqa: E402

pytestmark = pytest.mark.slow
BACKENDS = ("transformers", "llama_cpp")


def _llama_cpp_missing() -> str:
    for module in ("llama_cpp", "llama_cpp.server"):
        try:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed"
        except ImportError as exc:
            return f"{module} cannot be imported: {exc}"
    return ""


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, smollm2_folder, tmp_path_factory):
    if request.param == "llama_cpp":
        reason = _llama_cpp_missing()
        if reason:
            pytest.skip(f"llama-cpp-python's server is not available ({reason}; it compiles "
                        "llama.cpp from source, which the test setup does not do)")
        from thetaevolve.models.bundled import BUNDLED, find_gguf

        gguf, _ = find_gguf(BUNDLED["smollm2-135m"])
        served = llama_cpp_server(gguf, tmp_path_factory.mktemp("llama") / "server.log")
    else:
        if importlib.util.find_spec("fastapi") is None or importlib.util.find_spec("uvicorn") is None:
            pytest.fail("transformers serve needs fastapi and uvicorn (the models extra)")
        served = transformers_server(smollm2_folder, tmp_path_factory.mktemp("serve") / "server.log")
    with served:
        yield served


@pytest.fixture(scope="module")
def tokenizer(smollm2_folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(smollm2_folder))


def _config(server: ServedModel, **kwargs) -> LLMConfig:
    base = {"kind": "openai", "base_url": server.base_url, "model": server.model,
            "max_tokens": 6, "timeout_s": 300.0, "max_retries": 0}
    return LLMConfig(**{**base, **kwargs})


def test_n_is_detected_as_unsupported_and_fanned_out(server, tokenizer):
    messages = ({"role": "user", "content": "Name a prime number."},)
    prompt = Prompt(messages=messages, sample=None)  # type: ignore[arg-type]
    proposer = OpenAIProposer(_config(server))

    async def go():
        try:
            return await proposer.propose([prompt], 2)
        finally:
            await proposer.aclose()

    (group,) = asyncio.run(go())
    assert proposer.native_n is False  # one choice came back for n=2 (or n was refused)
    assert len(group) == 2 and all(not r.error for r in group), [r.error for r in group]
    # Tokens come from the server's usage: the prompt as the real chat template renders
    # it (ChatML with SmolLM2's default system turn), the completions within max_tokens.
    rendered = len(encode_chat(tokenizer, list(messages)))
    assert all(abs(r.tokens_in - rendered) <= 1 for r in group)
    assert all(1 <= r.tokens_out <= 6 for r in group)
    assert all(not r.stats.usage_missing for r in group)


def test_a_short_run_completes_its_budget(server, tmp_path):
    run_dir = tmp_path / "run"
    code = main([
        "run", "circle_packing_26", "--llm", "openai", "--base-url", server.base_url,
        "--model", server.model, "--budget", "2", "--batch-size", "1",
        "--samples-per-prompt", "2", "--seed", "5", "--run-dir", str(run_dir), "--quiet",
        "--set", "llm.max_tokens=8", "--set", "llm.timeout_s=300",
    ])
    assert code == 0, server.tail()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 2
    llm = summary["llm"]
    assert llm["responses"] == 2 and llm["failed_calls"] == 0
    assert llm["tokens_in"] > 500 and 2 <= llm["tokens_out"] <= 16
    # An answer of 8 tokens holds no edit: recorded as a failure of its kind, not a crash.
    database = ProgramDatabase.open(run_dir / "programs.sqlite")
    try:
        children = [r for r in database.iter_programs(include_copies=False) if r.parent_id is not None]
    finally:
        database.close()
    assert len(children) == 2
    assert all(r.outcome in (Outcome.NO_DIFF, Outcome.EDIT_NO_MATCH) for r in children)


def test_a_refused_request_is_a_recorded_failure(server, tmp_path):
    run_dir = tmp_path / "run"
    code = main([
        "run", "circle_packing_26", "--llm", "openai", "--base-url", server.base_url,
        "--model", "no-such-model", "--budget", "2", "--batch-size", "1",
        "--samples-per-prompt", "2", "--run-dir", str(run_dir), "--quiet",
        "--set", "llm.max_tokens=4", "--set", "llm.max_retries=0",
    ])
    summary = json.loads((run_dir / "summary.json").read_text())
    if code == 0 and summary["llm"]["failed_calls"] == 0:
        pytest.skip("this server answers for any model name")
    assert code == 0
    assert summary["evaluations"] == 2 and summary["failures"] == {"llm_error": 2}
