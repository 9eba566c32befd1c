"""Transfer: a training checkpoint is a plain Transformers model folder."""

from __future__ import annotations

import json
import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
torch = pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")

from helpers import SyntheticGym  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

from thetaevolve.config import RLConfig  # noqa: E402
from thetaevolve.rl.train import latest_checkpoint, train_on_gym  # noqa: E402

pytestmark = [pytest.mark.rl, pytest.mark.filterwarnings("ignore::FutureWarning")]


def test_a_checkpoint_loads_with_the_auto_classes_and_generates(tmp_path):
    rl = RLConfig(steps=2, batch_size=2, samples_per_prompt=4, micro_batch_size=8,
                  max_new_tokens=8, learning_rate=1e-2, checkpoint_every=1, keep_checkpoints=1)
    out = train_on_gym(SyntheticGym(reward="random"), rl, tmp_path)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.name == "checkpoint-2"
    # Nothing of ours is needed to load it: the Auto classes, as any Transformers user
    # (or `run --llm transformers --model CHECKPOINT`, or a vLLM server) would.
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    trained = out.trainer.model
    assert all(torch.equal(a, b.to(a.dtype))
               for a, b in zip(trained.state_dict().values(), model.state_dict().values()))
    # The chat template travelled with the tokenizer, so prompts render as in training.
    text = tokenizer.apply_chat_template([{"role": "user", "content": "improve"}],
                                         tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|assistant|>\n")
    ids = tokenizer(text, return_tensors="pt")
    generated = model.generate(**ids, max_new_tokens=4, min_new_tokens=4, do_sample=False,
                               pad_token_id=tokenizer.pad_token_id)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 4


def test_run_on_another_task_with_the_checkpoint_as_its_model(tmp_path, capsys):
    # ThetaEvolve's transfer protocol: train on one task, run inference on another.
    from thetaevolve.cli import main

    rl = RLConfig(steps=1, batch_size=2, samples_per_prompt=2, micro_batch_size=4,
                  max_new_tokens=8, checkpoint_every=1, keep_checkpoints=1)
    train_on_gym(SyntheticGym(reward="random"), rl, tmp_path / "ckpt")
    checkpoint = latest_checkpoint(tmp_path / "ckpt")
    run_dir = tmp_path / "transfer"
    assert main(["run", "hadamard_29", "--llm", "transformers", "--model", str(checkpoint),
                 "--budget", "4", "--batch-size", "2", "--samples-per-prompt", "2",
                 "--set", "llm.max_tokens=8", "--run-dir", str(run_dir), "--quiet"]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluations"] == 4 and summary["llm"]["calls"] == 2
