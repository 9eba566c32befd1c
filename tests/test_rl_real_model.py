"""Test-time RL with a real tokenizer: the bundled smollm2-135m for one GRPO step on the
CPU, and prompts cut to the context (on the tiny random model, fast)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")

sys.path.insert(0, str(Path(__file__).parent))
from helpers import SyntheticGym  # noqa: E402

import thetaevolve.models.chat as chat  # noqa: E402
from thetaevolve.rl.models import build_random, load_policy  # noqa: E402
from thetaevolve.config import RLConfig  # noqa: E402
from thetaevolve.rl.train import train_on_gym  # noqa: E402
from thetaevolve.rl.trainer import eos_token_ids  # noqa: E402


def test_prompts_longer_than_the_context_are_cut_before_generation(tmp_path, monkeypatch):
    model, tokenizer = build_random("tiny")
    model.config.max_position_embeddings = 40  # a context smaller than the gym's prompts
    seen: list[tuple[int, int, int]] = []
    original = chat.fit_prompt

    def spy(ids, limit):
        kept, cut = original(ids, limit)
        seen.append((len(ids), limit, len(kept)))
        return kept, cut

    monkeypatch.setattr(chat, "fit_prompt", spy)
    rl = RLConfig(steps=1, batch_size=2, samples_per_prompt=2, micro_batch_size=4,
                  max_new_tokens=8, checkpoint_every=0, keep_checkpoints=None)
    out = train_on_gym(SyntheticGym(), rl, tmp_path, policy=(model, tokenizer))
    assert out.steps_done == 1
    assert len(seen) == 4 and all(limit == 32 for _, limit, _ in seen)
    assert any(full > 32 for full, _, _ in seen)  # the prompts were too long ...
    assert all(kept == min(full, 32) for full, _, kept in seen)  # ... and were cut to fit


@pytest.mark.slow
@pytest.mark.usefixtures("smollm2_folder")  # the bundled model, converted once
def test_smollm2_stops_at_its_end_of_turn_token():
    model, tokenizer = load_policy("smollm2-135m")
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.pad_token is not None and tokenizer.padding_side == "left"
    assert im_end in eos_token_ids(tokenizer, model)
    assert im_end in model.generation_config.eos_token_id


@pytest.mark.slow
@pytest.mark.usefixtures("smollm2_folder")
def test_one_grpo_step_on_smollm2_from_the_command_line(tmp_path):
    from thetaevolve.cli import main

    run_dir = tmp_path / "train"
    code = main([
        "train", "circle_packing_26", "--model", "smollm2-135m", "--steps", "1",
        "--batch-size", "1", "--samples-per-prompt", "2", "--micro-batch-size", "2",
        "--max-new-tokens", "8", "--run-dir", str(run_dir), "--quiet",
        "--set", "rl.keep_checkpoints=1",
    ])
    assert code == 0
    training = json.loads((run_dir / "training.json").read_text())
    assert training["steps_done"] == 1 and training["model"] == "smollm2-135m"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 2
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    (batch,) = [e for e in events if e["event"] == "batch"]
    assert 2 <= batch["tokens_out"] <= 16  # two completions of at most 8 tokens
    start = next(e for e in events if e["event"] == "train_start")
    assert start["parameters"] > 100_000_000  # the real 135M model, not a stand-in
