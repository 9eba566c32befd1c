"""The in-process Transformers proposer: batching, deadlines, usage, failures (on a tiny
random model, fast) and the real chat template and end-of-turn stop (on smollm2-135m)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

pytest.importorskip("transformers")

from thetaevolve.config import LLMConfig  # noqa: E402
from thetaevolve.errors import UserError  # noqa: E402
from thetaevolve.models.chat import encode_chat, stop_token_ids  # noqa: E402
from thetaevolve.proposers.base import Prompt  # noqa: E402
from thetaevolve.proposers.transformers_local import TransformersProposer  # noqa: E402
from thetaevolve.proposers.usage import UsageTotals  # noqa: E402


def _prompt(text: str, key: str = "") -> Prompt:
    # The proposer reads only the messages; the parent sample is the gym's business.
    return Prompt(messages=({"role": "user", "content": text},), sample=None, key=key)  # type: ignore[arg-type]


def _config(**kwargs) -> LLMConfig:
    base = {"kind": "transformers", "model": "unused", "max_tokens": 8, "timeout_s": 60.0}
    return LLMConfig(**{**base, **kwargs})


@pytest.fixture(scope="module")
def tiny():
    from thetaevolve.rl.models import build_random
    from thetaevolve.models.chat import prepare_for_generation

    model, tokenizer = build_random("tiny", seed=0)
    prepare_for_generation(tokenizer, model)
    model.eval()
    return model, tokenizer


class _Spy:
    """Counts generate calls and the rows each one held."""

    def __init__(self, model) -> None:
        self.model = model
        self.rows: list[int] = []
        self._generate = model.generate

    def __enter__(self):
        def generate(*args, **kwargs):
            self.rows.append(int(kwargs["input_ids"].shape[0]))
            return self._generate(*args, **kwargs)

        self.model.generate = generate
        return self

    def __exit__(self, *exc):
        del self.model.generate  # back to the class's method


def _propose_like_the_gym(proposer, prompts, n):
    async def go():
        # The gym asks for each prompt's samples in a call of its own, all at once.
        groups = await asyncio.gather(*(proposer.propose([p], n) for p in prompts))
        return [g[0] for g in groups]

    return asyncio.run(go())


def test_concurrent_calls_share_one_generate(tiny):
    model, tokenizer = tiny
    proposer = TransformersProposer(_config(), model=model, tokenizer=tokenizer)
    prompts = [_prompt(f"prompt number {i}") for i in range(3)]
    with _Spy(model) as spy:
        groups = _propose_like_the_gym(proposer, prompts, 2)
    assert spy.rows == [6]  # 3 prompts x 2 samples, one generate
    assert [len(g) for g in groups] == [2, 2, 2]
    for prompt, group in zip(prompts, groups):
        expected_in = len(encode_chat(tokenizer, list(prompt.messages)))
        assert [r.tokens_in for r in group] == [expected_in, 0]  # the prompt counted once
        assert [r.stats.calls for r in group] == [1, 0]
        assert all(0 < r.tokens_out <= 8 and not r.error for r in group)
        assert all(r.stats.finish_reason in ("stop", "length") for r in group)
        assert all(r.truncated == (r.stats.finish_reason == "length") for r in group)


def test_rows_beyond_the_batch_limit_go_to_further_generates(tiny):
    model, tokenizer = tiny
    proposer = TransformersProposer(_config(max_batch_sequences=4), model=model, tokenizer=tokenizer)
    with _Spy(model) as spy:
        groups = _propose_like_the_gym(proposer, [_prompt(str(i)) for i in range(3)], 2)
        wide = asyncio.run(proposer.propose([_prompt("many samples")], 6))
    assert spy.rows == [4, 2, 4, 2]  # whole requests per batch; 6 samples split in two calls
    assert [len(g) for g in groups] == [2, 2, 2] and len(wide[0]) == 6


def test_a_generation_past_its_deadline_is_stopped(tiny):
    model, tokenizer = tiny
    # Greedy, no token limit worth the name: only the deadline can end this generation.
    config = _config(timeout_s=0.5, max_tokens=30000, temperature=0.0)
    proposer = TransformersProposer(config, model=model, tokenizer=tokenizer)
    started = time.monotonic()
    (group,) = asyncio.run(proposer.propose([_prompt("go on forever")], 2))
    elapsed = time.monotonic() - started
    assert elapsed < 15  # 30000 tokens would take minutes
    assert all(r.stats.failure == "deadline" and r.error.startswith("deadline:") for r in group)
    assert all(0 < r.tokens_out < 30000 for r in group)  # the work done is still counted
    totals = UsageTotals()
    totals.add_all([group])
    assert totals.failures["deadline"] == 2 and totals.failed_calls == 1


def test_an_engine_failure_is_a_recorded_failure(tiny, monkeypatch):
    model, tokenizer = tiny
    proposer = TransformersProposer(_config(), model=model, tokenizer=tokenizer)

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(model, "generate", broken)
    (group,) = asyncio.run(proposer.propose([_prompt("x")], 3))
    assert [r.stats.failure for r in group] == ["engine"] * 3
    assert "out of memory" in group[0].error and group[0].text == ""
    monkeypatch.undo()
    asyncio.run(proposer.aclose())
    (closed,) = asyncio.run(proposer.propose([_prompt("x")], 1))
    assert closed[0].stats.failure == "engine"


def test_an_unknown_extra_body_key_is_refused(tiny):
    model, tokenizer = tiny
    with pytest.raises(UserError, match="guided_json"):
        TransformersProposer(_config(extra_body={"guided_json": {}}), model=model, tokenizer=tokenizer)


def test_a_long_prompt_is_cut_to_fit_the_context(tiny, monkeypatch):
    model, tokenizer = tiny
    monkeypatch.setattr(model.config, "max_position_embeddings", 64)
    proposer = TransformersProposer(_config(max_tokens=16), model=model, tokenizer=tokenizer)
    assert proposer.prompt_limit == 48
    (group,) = asyncio.run(proposer.propose([_prompt("word " * 200)], 1))
    assert group[0].tokens_in == 48 and group[0].stats.prompt_truncated is True
    assert group[0].tokens_out <= 16


def test_a_think_block_opened_by_the_template_is_kept_whole(tiny, monkeypatch):
    model, tokenizer = tiny
    # DeepSeek-R1-0528's template ends the prompt with "<think>\n": the model's answer
    # starts inside the reasoning, and the stored text must still open the block.
    monkeypatch.setattr(tokenizer, "chat_template", tokenizer.chat_template.replace(
        "<|assistant|>\n{% endif %}", "<|assistant|>\n<think>\n{% endif %}"))
    proposer = TransformersProposer(_config(), model=model, tokenizer=tokenizer)
    (group,) = asyncio.run(proposer.propose([_prompt("think first")], 2))
    assert all(r.text.startswith("<think>\n") for r in group)


@pytest.mark.slow
def test_smollm2_uses_its_chat_template_and_stops_at_end_of_turn(smollm2):
    model, tokenizer = smollm2
    im_start, im_end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    assert im_end in stop_token_ids(tokenizer, model)
    proposer = TransformersProposer(_config(max_tokens=40, temperature=0.0), model=model,
                                    tokenizer=tokenizer)
    prompt = _prompt("What colour is the sky on a clear day? Answer in one short sentence.")
    (group,) = asyncio.run(proposer.propose([prompt], 1))
    response = group[0]
    ids = encode_chat(tokenizer, list(prompt.messages))
    # ChatML as SmolLM2's template writes it: a default system turn, then ours.
    assert ids[0] == im_start and ids.count(im_start) == 3
    assert ids[-4] == im_start and tokenizer.decode(ids[-3:]) == "assistant\n"
    assert response.tokens_in == len(ids)
    assert response.stats.finish_reason == "stop" and not response.truncated
    assert response.text.strip() and "<|im_end|>" not in response.text
    assert "sky" in response.text.lower()  # an answer to the question, not a new turn
    assert response.tokens_out < 40


@pytest.mark.slow
def test_a_run_with_the_in_process_model_completes_its_budget(smollm2_folder, tmp_path):
    from thetaevolve.cli import main

    run_dir = tmp_path / "run"
    code = main([
        "run", "circle_packing_26", "--llm", "transformers", "--model", "smollm2-135m",
        "--budget", "2", "--batch-size", "1", "--samples-per-prompt", "2", "--seed", "3",
        "--run-dir", str(run_dir), "--quiet", "--set", "llm.max_tokens=8",
    ])
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 2
    llm = summary["llm"]
    assert llm["calls"] == 1 and llm["responses"] == 2  # one prompt, two samples, one generate
    assert llm["tokens_in"] > 500 and 2 <= llm["tokens_out"] <= 16


def test_a_run_with_a_random_in_process_model_is_fast_and_complete(tmp_path):
    from thetaevolve.cli import main

    run_dir = tmp_path / "run"
    code = main([
        "run", "circle_packing_26", "--llm", "transformers", "--model", "random:tiny",
        "--budget", "6", "--batch-size", "3", "--samples-per-prompt", "2",
        "--run-dir", str(run_dir), "--quiet", "--set", "llm.max_tokens=16",
    ])
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 6
    assert summary["llm"]["calls"] == 3 and summary["llm"]["responses"] == 6
    assert 6 <= summary["llm"]["tokens_out"] <= 96
