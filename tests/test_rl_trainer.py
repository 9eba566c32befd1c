"""GRPO on a gym with the tiny random model, on the CPU (no download, no network)."""

from __future__ import annotations

import json
import os
import statistics

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
torch = pytest.importorskip("torch", reason="the rl extra (torch) is not installed")
pytest.importorskip("trl", reason="the rl extra (trl) is not installed")
np = pytest.importorskip("numpy")

from helpers import SyntheticGym, small_rl_config, weights  # noqa: E402

from thetaevolve.rl.models import build_random, load_policy, parameter_count  # noqa: E402
from thetaevolve.config import RLConfig  # noqa: E402
from thetaevolve.rl.train import STATE_FILE, latest_checkpoint, train_on_gym  # noqa: E402
from thetaevolve.rl.trainer import accumulation_steps, grpo_config  # noqa: E402

# transformers 5 warns about names that TRL itself still uses.
pytestmark = [pytest.mark.rl, pytest.mark.filterwarnings("ignore::FutureWarning")]




# ---- the model -------------------------------------------------------------------------


def test_tiny_model_is_built_offline_and_deterministically(tmp_path):
    model, tokenizer = build_random("tiny", seed=3)
    again, _ = build_random("tiny", seed=3)
    other, _ = build_random("tiny", seed=4)
    assert 50_000 < parameter_count(model) < 200_000
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(model.parameters(), other.parameters()))
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                         add_generation_prompt=True)
    assert text.endswith("<|assistant|>\n")
    code = "def solve():\n    return {'x': [1, 2]}\n"
    assert tokenizer.decode(tokenizer(code)["input_ids"]) == code
    # The real loading code reads it back from a folder.
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tok = load_policy(str(tmp_path))
    assert loaded_tok.pad_token == tokenizer.pad_token
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), loaded.parameters()))


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_policy(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cannot load model"):
        load_policy("no-such-org/no-such-model-xyz")


# ---- settings mapping --------------------------------------------------------------------


def test_grpo_config_carries_thetaevolves_preset(tmp_path):
    args = grpo_config(RLConfig(), tmp_path, world_size=1, seed=7, use_cpu=True)
    assert args.num_generations == 16 and args.max_completion_length == 16384
    # One optimizer step per batch of 32 x 16 = 512 completions (on-policy).
    assert args.per_device_train_batch_size * args.gradient_accumulation_steps == 512
    assert args.steps_per_generation == args.gradient_accumulation_steps
    assert args.generation_batch_size == 512 and args.num_iterations == 1
    assert (args.epsilon, args.epsilon_high, args.beta) == (0.2, 0.28, 0.0)
    assert args.learning_rate == 1e-6 and args.weight_decay == 0.1
    assert (args.adam_beta1, args.adam_beta2) == (0.9, 0.98)
    assert getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type) == "constant"
    assert args.temperature == 1.0
    assert args.shuffle_dataset is False and args.loss_type == "grpo"
    assert args.use_vllm is False


def test_grpo_config_with_a_vllm_server_corrects_by_importance_sampling(tmp_path):
    rl = RLConfig(generation="vllm_server", vllm_server_url="http://10.0.0.2:8000")
    args = grpo_config(rl, tmp_path, world_size=1, seed=0, use_cpu=True)
    assert args.use_vllm and args.vllm_mode == "server"
    assert args.vllm_importance_sampling_correction
    assert args.vllm_importance_sampling_mode == "token_truncate"
    assert args.vllm_importance_sampling_clip_max == 2.0


def test_batch_split_errors_name_the_setting():
    assert accumulation_steps(RLConfig(), 4) == (8, 16)
    with pytest.raises(ValueError, match="micro_batch_size"):
        accumulation_steps(RLConfig(micro_batch_size=5), 1)
    with pytest.raises(ValueError, match="processes"):
        accumulation_steps(RLConfig(batch_size=3, samples_per_prompt=3), 2)


# ---- two real GRPO steps -----------------------------------------------------------------


def test_two_steps_store_every_child_with_its_parent_and_the_reward_used(tmp_path):
    gym = SyntheticGym(reward="random")  # noisy rewards: every group has a spread
    model, tokenizer = build_random("tiny")
    before = weights(model)
    logs: list[tuple[str, dict]] = []
    out = train_on_gym(gym, small_rl_config(micro_batch_size=2), tmp_path, policy=(model, tokenizer),
                       log=lambda event, **f: logs.append((event, f)))
    assert out.steps_done == 2
    children = gym.records[1:]
    assert len(children) == 2 * 2 * 4  # B x n per step
    # Prompts were drawn after the previous step's commit: never stale.
    assert gym.draws == [1, 9]
    for step, entry in enumerate(out.audit, start=1):
        assert entry.batch_index == step
        by_id = {r.id: r for r in children}
        for row, program_id in enumerate(entry.program_ids):
            record = by_id[program_id]
            assert record.iteration == step
            assert record.parent_id == entry.parent_ids[row // 4]
            assert f"(parent {record.parent_id})" in record.prompt
            # The trainer received the stored reward (as float32, TRL's reward dtype).
            assert entry.rewards_used[row] == float(np.float32(record.reward))
        assert len(set(entry.program_ids)) == 8
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    events = [e for e, _ in logs]
    assert events.count("train") >= 2
    train = [f for e, f in logs if e == "train" and "loss" in f]
    assert {"loss", "entropy", "reward", "reward_std"} <= set(train[0])


def test_a_step_with_equal_rewards_changes_nothing(tmp_path):
    gym = SyntheticGym(fixed_reward=0.5)
    model, tokenizer = build_random("tiny")
    before = weights(model)
    train_on_gym(gym, small_rl_config(weight_decay=0.0), tmp_path, policy=(model, tokenizer))
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert len(gym.records) == 1 + 16


def test_with_weight_decay_equal_rewards_only_shrink_the_weights(tmp_path):
    # Decoupled weight decay acts without any reward signal: p <- p (1 - lr wd) per step.
    gym = SyntheticGym(fixed_reward=-0.4)
    model, tokenizer = build_random("tiny")
    before = weights(model)
    rl = small_rl_config(weight_decay=0.1, learning_rate=1e-2)
    train_on_gym(gym, rl, tmp_path, policy=(model, tokenizer))
    factor = (1 - 1e-2 * 0.1) ** 2
    shrunk = 0
    for key, value in model.state_dict().items():
        if torch.equal(value, before[key]):
            continue  # biases and norms are excluded from decay
        assert torch.allclose(value, before[key] * factor, rtol=1e-6, atol=0), key
        shrunk += 1
    assert shrunk > 0


def test_a_kl_term_uses_the_initial_policy_as_reference_and_logs_kl(tmp_path):
    gym = SyntheticGym(reward="random")
    logs: list[tuple[str, dict]] = []
    rl = small_rl_config(kl_coef=0.05, checkpoint_every=1, keep_checkpoints=1)
    initial, _ = build_random("tiny")
    out = train_on_gym(gym, rl, tmp_path, log=lambda event, **f: logs.append((event, f)))
    train = [f for e, f in logs if e == "train" and "loss" in f]
    assert all("kl" in f for f in train)
    reference = out.trainer.ref_model
    assert all(torch.equal(a, b) for a, b in zip(initial.parameters(), reference.parameters()))
    # After a resume the reference is still the initial policy, not the checkpoint.
    resumed = train_on_gym(gym, small_rl_config(kl_coef=0.05, steps=3), tmp_path,
                           resume_from=latest_checkpoint(tmp_path))
    assert all(torch.equal(a, b) for a, b in
               zip(initial.parameters(), resumed.trainer.ref_model.parameters()))


def test_a_checkpoint_resumes_model_optimizer_and_position(tmp_path):
    gym = SyntheticGym(reward="random")
    first = train_on_gym(gym, small_rl_config(checkpoint_every=1, keep_checkpoints=2), tmp_path)
    checkpoint = latest_checkpoint(tmp_path)
    assert checkpoint is not None and checkpoint.name == "checkpoint-2"
    assert first.last_checkpoint == str(checkpoint)
    position = json.loads((checkpoint / STATE_FILE).read_text())
    assert position == {**position, "step": 2, "next_batch_index": 3, "evaluations": 16}
    saved, _ = load_policy(str(checkpoint))
    trained = first.trainer.model
    assert all(torch.equal(a, b) for a, b in zip(saved.parameters(), trained.parameters()))

    second = train_on_gym(gym, small_rl_config(steps=3, checkpoint_every=1, keep_checkpoints=2), tmp_path,
                          resume_from=checkpoint)
    assert second.steps_done == 3
    assert [e.step for e in second.audit] == [3]
    assert [e.batch_index for e in second.audit] == [3]
    assert len(gym.records) == 1 + 3 * 8
    # Adam's step counter continued from the checkpoint instead of starting over.
    steps = {int(s["step"]) for s in second.trainer.optimizer.state_dict()["state"].values()}
    assert steps == {3}
    assert latest_checkpoint(tmp_path).name == "checkpoint-3"


# ---- learning ------------------------------------------------------------------------------


def mean_scores(gym: SyntheticGym, steps: int, per_step: int) -> list[float]:
    children = gym.records[1:]
    return [statistics.fmean(r.score for r in children[k * per_step:(k + 1) * per_step])
            for k in range(steps)]


@pytest.mark.slow
def test_the_policy_learns_the_verifiers_signal_and_not_noise(tmp_path):
    rl = small_rl_config(steps=24, batch_size=4, samples_per_prompt=8, micro_batch_size=32,
               learning_rate=1e-2)
    learned = SyntheticGym(reward="original")
    train_on_gym(learned, rl, tmp_path / "signal")
    control = SyntheticGym(reward="random")
    train_on_gym(control, rl, tmp_path / "noise")
    signal = mean_scores(learned, 24, 32)
    noise = mean_scores(control, 24, 32)
    start, end = statistics.fmean(signal[:4]), statistics.fmean(signal[-4:])
    assert start < 0.1
    assert end > 0.4 and end > start + 0.3, signal
    # The control got rewards with no relation to the score: the score stays where it was.
    assert statistics.fmean(noise[-4:]) < statistics.fmean(noise[:4]) + 0.1, noise
    assert statistics.fmean(noise[-4:]) < 0.15, noise
