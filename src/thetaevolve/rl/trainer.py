"""TRL's GRPOTrainer, fed by the evolving gym.

The dataset is a stream of empty tickets: it fixes how many rows each rank generates,
nothing more. The prompts are drawn from the live database only when a generation batch
starts (``_generate_and_score_completions``), after the previous step's children were
committed, so no prompt is ever stale and read-ahead of the data loader costs nothing.
Rows are grouped exactly as TRL groups them for advantages (n consecutive rows of the
global batch, ranks concatenated in order), and each group gets one prompt, i.e. one
parent. The reward function sends completions to the coordinator and returns the rewards
the gym stored for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, TypedDict

import torch
from datasets import IterableDataset
from transformers import PreTrainedModel, PreTrainedTokenizerBase, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

from thetaevolve.rl.advantages import group_advantages
from thetaevolve.rl.coordinator import Completion, StepCoordinator
from thetaevolve.config import RLConfig

REWARD_NAME = "gym"
_GROUP, _SAMPLE = "te_group", "te_sample"


def _tickets() -> Iterator[dict[str, Any]]:
    # An endless stream of placeholder rows; the real prompt replaces each one.
    while True:
        yield {"prompt": [{"role": "user", "content": ""}]}


def ticket_dataset() -> IterableDataset:
    return IterableDataset.from_generator(_tickets)


class Precision(TypedDict):
    """GRPOConfig's two mixed-precision switches (both False: fp32)."""

    bf16: bool
    fp16: bool


def resolve_precision(rl: RLConfig, use_cpu: bool) -> Precision:
    if rl.precision == "fp32" or (rl.precision == "auto" and use_cpu):
        return {"bf16": False, "fp16": False}
    if rl.precision == "fp16":
        return {"bf16": False, "fp16": True}
    if rl.precision == "auto" and not torch.cuda.is_bf16_supported():
        return {"bf16": False, "fp16": False}
    return {"bf16": True, "fp16": False}


def accumulation_steps(rl: RLConfig, world_size: int) -> tuple[int, int]:
    """(per-device micro batch, micro steps per optimizer step) for one step = one batch."""
    total = rl.samples_per_step
    if total % world_size:
        raise ValueError(
            f"rl.batch_size x rl.samples_per_prompt = {total} rows cannot be split evenly "
            f"over {world_size} processes"
        )
    per_rank = total // world_size
    micro = min(rl.micro_batch_size, per_rank)
    if per_rank % micro:
        raise ValueError(
            f"each process trains on {per_rank} rows per step, not a multiple of "
            f"rl.micro_batch_size={micro}; choose a micro batch that divides it"
        )
    return micro, per_rank // micro


def grpo_config(
    rl: RLConfig, output_dir: Path, world_size: int, seed: int, use_cpu: bool | None = None
) -> GRPOConfig:
    """ThetaEvolve's GRPO settings (docs/references.md#thetaevolve-grpo) expressed as TRL's GRPOConfig."""
    if use_cpu is None:
        use_cpu = not torch.cuda.is_available()
    micro, accumulation = accumulation_steps(rl, world_size)
    vllm: dict[str, Any] = {"use_vllm": rl.generation != "transformers"}
    if rl.generation == "vllm_colocate":
        vllm.update(vllm_mode="colocate",
                    vllm_gpu_memory_utilization=rl.vllm_gpu_memory_utilization)
    elif rl.generation == "vllm_server":
        vllm.update(vllm_mode="server", vllm_server_base_url=rl.vllm_server_url)
    if vllm["use_vllm"]:
        vllm.update(
            vllm_importance_sampling_correction=rl.importance_sampling,
            vllm_importance_sampling_mode=rl.importance_sampling_mode,
            vllm_importance_sampling_clip_max=rl.importance_sampling_clip,
        )
    save_every = rl.checkpoint_every or rl.steps
    return GRPOConfig(
        output_dir=str(output_dir),
        max_steps=rl.steps,
        # One generation batch (B x n rows over all ranks) per optimizer step: on-policy,
        # as ThetaEvolve runs (num_steps_per_rollout = 1).
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulation,
        steps_per_generation=accumulation,
        num_iterations=1,
        num_generations=rl.samples_per_prompt,
        max_completion_length=rl.max_new_tokens,
        temperature=rl.temperature,
        top_p=rl.top_p,
        beta=rl.kl_coef,
        epsilon=rl.epsilon_low,
        epsilon_high=rl.epsilon_high,
        entropy_coef=rl.entropy_coef,
        loss_type=rl.loss_type,
        scale_rewards=rl.scale_rewards,
        learning_rate=rl.learning_rate,
        lr_scheduler_type=rl.lr_schedule,
        warmup_steps=0,
        optim="adamw_torch",
        weight_decay=rl.weight_decay,
        adam_beta1=rl.adam_beta1,
        adam_beta2=rl.adam_beta2,
        adam_epsilon=rl.adam_epsilon,
        max_grad_norm=rl.max_grad_norm,
        # The stream must not be shuffled (a shuffle buffer would pre-draw rows) and must be
        # read in the main process (the gym is not shared with loader workers).
        shuffle_dataset=False,
        dataloader_num_workers=0,
        ignore_data_skip=True,  # tickets carry nothing, so a resume need not replay them
        save_strategy="steps",
        save_steps=save_every,
        save_total_limit=rl.keep_checkpoints,
        logging_steps=rl.log_every,
        report_to="none",
        log_completions=False,
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        use_cpu=use_cpu,
        **resolve_precision(rl, use_cpu),
        **_checkpointing(rl),
        **vllm,
    )


def _checkpointing(rl: RLConfig) -> dict[str, Any]:
    # transformers 5 renamed gradient_checkpointing to activation_checkpointing: the key
    # depends on the installed version, so the type checker cannot know it (hence Any).
    if not rl.gradient_checkpointing:
        return {}
    import dataclasses

    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    key = "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"
    return {key: True}


class GymGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose prompts and rewards come from the gym, through the coordinator.

    Two additions to TRL's trainer: the advantage estimator (``rl.advantage``) replaces
    TRL's group-normalised advantages when it is not ``grpo``, and ``rl.update=False``
    generates and scores every step but never computes a gradient (the inference-only
    baseline through the same pipeline).
    """

    def __init__(self, *args: Any, coordinator: StepCoordinator[Any], prompt_limit: int | None = None,
                 rl: RLConfig | None = None, **kwargs: Any) -> None:
        self.coordinator = coordinator
        self.prompt_limit = prompt_limit  # prompt tokens that fit the context (None: no cut)
        self.rl = rl or RLConfig()
        super().__init__(*args, **kwargs)

    @property
    def _training(self) -> bool:
        """True while generating for a training step (not for an evaluation pass)."""
        # Trainer.__init__ always sets the model; its type admits None only before that.
        return self.model is not None and self.model.training

    def _tokenize_prompts(self, prompts: list[Any]) -> tuple[list[list[int]], Any, Any]:
        # TRL 1.x no longer truncates prompts: a prompt longer than the context leaves
        # the completion no room. Cut each one to fit, keeping both ends (models.chat).
        prompt_ids, images, fields = super()._tokenize_prompts(prompts)
        if self.prompt_limit is not None:
            from thetaevolve.models.chat import fit_prompt

            prompt_ids = [fit_prompt(list(ids), self.prompt_limit)[0] for ids in prompt_ids]
        return prompt_ids, images, fields

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        training = self._training
        if training:
            self.coordinator.step = self.state.global_step
            rows = self.coordinator.assign_prompts(len(inputs))
            inputs = [
                {**row, "prompt": a.messages, _GROUP: a.group, _SAMPLE: a.sample}
                for row, a in zip(inputs, rows, strict=True)
            ]
        output = super()._generate_and_score_completions(inputs)
        if training and self.rl.advantage != "grpo":
            output["advantages"] = self._objective_advantages(inputs, output["advantages"])
        return output

    def _objective_advantages(self, inputs: list[dict[str, Any]], trl: torch.Tensor) -> torch.Tensor:
        """This rank's rows' advantages under rl.advantage, from the whole groups' rewards."""
        table = self.coordinator.last_rewards
        per_group = [group_advantages(row, self.rl.advantage, self.rl.entropic_beta)
                     for row in table]
        betas = [beta for _, beta in per_group if beta is not None]
        if betas:
            self._metrics["train"]["entropic_beta"].append(sum(betas) / len(betas))
        values = [per_group[row[_GROUP]][0][row[_SAMPLE]] for row in inputs]
        return torch.tensor(values, dtype=trl.dtype, device=trl.device)

    def training_step(self, model: Any, inputs: Any, num_items_in_batch: Any = None) -> torch.Tensor:
        if self.rl.update:
            return super().training_step(model, inputs, num_items_in_batch)
        # Frozen: generate, score and commit exactly as a training step would, but no
        # backward pass: every gradient stays None, so the optimizer (weight decay
        # included) leaves every weight as it is.
        self._prepare_inputs(inputs)
        self._step += 1
        return torch.zeros((), device=self.accelerator.device)

    def _calculate_rewards(self, inputs: list[dict[str, Any]], prompts: list[Any],
                           completions: list[Any],
                           completion_ids_list: list[list[int]]) -> torch.Tensor:
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self._training:
            # rewards is gathered over ranks, in global row order: the rank-0 audit compares
            # it with what the store holds.
            self.coordinator.record_used_rewards(rewards[:, 0].detach().cpu().tolist())
        return rewards


RewardFunction = Callable[..., list[float]]  # TRL passes the dataset's columns as keywords


def make_reward_function(coordinator: StepCoordinator[Any], eos_ids: set[int],
                         max_new_tokens: int) -> RewardFunction:
    """TRL reward function: this rank's completions in, the gym's stored rewards out."""

    def gym(prompts: list[Any], completions: list[Any], completion_ids: list[list[int]],
            **columns: Any) -> list[float]:
        if _GROUP not in columns:
            raise RuntimeError("reward called on rows that did not come from the gym")
        local = []
        for completion, ids, group, sample in zip(
            completions, completion_ids, columns[_GROUP], columns[_SAMPLE], strict=True
        ):
            text = completion[-1]["content"] if isinstance(completion, list) else str(completion)
            finished = bool(ids) and ids[-1] in eos_ids
            local.append(Completion(
                group=int(group), sample=int(sample), text=text, tokens_out=len(ids),
                truncated=not finished and len(ids) >= max_new_tokens,
            ))
        return coordinator.score(local)

    gym.__name__ = REWARD_NAME
    return gym


def eos_token_ids(tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel) -> set[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, (list, tuple)):
        ids.update(configured)
    return {i for i in ids if i is not None}


def build_trainer(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    rl: RLConfig,
    coordinator: StepCoordinator[Any],
    output_dir: Path,
    seed: int,
    callbacks: list[TrainerCallback] | None = None,
) -> GymGRPOTrainer:
    from thetaevolve.models.chat import context_length, prompt_budget

    args = grpo_config(rl, output_dir, coordinator.channel.world_size, seed)
    reward = make_reward_function(coordinator, eos_token_ids(tokenizer, model), rl.max_new_tokens)
    return GymGRPOTrainer(
        prompt_limit=prompt_budget(context_length(model, tokenizer), rl.max_new_tokens),
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=ticket_dataset(),
        processing_class=tokenizer,
        callbacks=callbacks,
        coordinator=coordinator,
        rl=rl,
    )
