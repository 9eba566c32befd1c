"""Test-time RL settings (``RunConfig.rl``), with ThetaEvolve's published preset as defaults.

The defaults follow ThetaEvolve's ``scripts_evolve/*/general.sh`` (docs/references.md#thetaevolve-grpo):
32 prompts x 16 samples per step, temperature 1.0, up to 16384 new tokens, PPO clipping
0.2 / 0.28, no KL term, Adam at a constant lr of 1e-6 with weight decay 0.1 and betas
(0.9, 0.98), entropy coefficient 0, one optimizer step per rollout (fully on-policy), and
truncated importance sampling (clip 2.0) when a separate engine (vLLM) generates.

It lives in the core configuration tree, so loading a config never imports ``thetaevolve.rl``
(the driver, which needs torch); ``rl/`` reads its settings from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from thetaevolve.config.sections import Section

# Built-in model specs: a randomly initialised model plus an in-memory tokenizer, no download.
RANDOM_MODEL_SIZES = ("tiny", "small", "0.5b", "1.5b")
RANDOM_PREFIX = "random:"


class RLConfig(Section):
    """GRPO on the evolving gym (``thetaevolve train``).

    ``batch_size``, ``samples_per_prompt``, ``temperature`` and ``max_new_tokens`` are the
    home of those settings in ``train``: the gym and the proposer take them from here
    (``RunConfig.for_training``), and refuse a different value set on their side.
    """

    # What to train: a local path, a Hugging Face id, or ``random:tiny`` / ``random:small`` /
    # ``random:0.5b`` (randomly initialised, built from a config with no download).
    model: str = "random:tiny"
    steps: int = Field(100, ge=1)  # optimizer steps (= gym batches) to run in total
    batch_size: int = Field(32, ge=1)  # prompts per step, one parent each
    samples_per_prompt: int = Field(16, ge=2)  # GRPO group size (n)
    micro_batch_size: int = Field(8, ge=1)  # sequences per forward/backward on one device

    # Generation.
    temperature: float = Field(1.0, gt=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(16384, ge=1)
    generation: Literal["transformers", "vllm_colocate", "vllm_server"] = "transformers"
    vllm_server_url: str | None = None  # for generation=vllm_server (`trl vllm-serve`)
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0.0, le=1.0)  # colocate mode
    importance_sampling: bool = True  # ThetaEvolve's --use-tis; only acts when vLLM generates
    importance_sampling_mode: Literal[
        "token_truncate", "token_mask", "sequence_truncate", "sequence_mask"
    ] = "token_truncate"
    importance_sampling_clip: float = Field(2.0, gt=0.0)  # slime's tis_clip

    # The GRPO objective.
    epsilon_low: float = Field(0.2, ge=0.0, lt=1.0)
    epsilon_high: float = Field(0.28, ge=0.0)
    kl_coef: float = Field(0.0, ge=0.0)  # beta; 0 means no reference model at all
    entropy_coef: float = Field(0.0, ge=0.0)  # entropy bonus (a control; 0 in the paper)
    # The advantage estimator (thetaevolve.rl.advantages): "grpo" is ThetaEvolve's
    # group-normalised expected reward; "entropic" is TTT-Discover's log E[exp(beta R)] with
    # leave-one-out weights at a fixed beta (entropic_beta, in 1 / reward units);
    # "entropic_adaptive" picks beta per group so that KL(softmax(beta r) || uniform) = ln 2.
    advantage: Literal["grpo", "entropic", "entropic_adaptive"] = "grpo"
    entropic_beta: float = Field(1.0, gt=0.0)
    # False: generate and score through the very same pipeline but never change the
    # weights (the inference-only baseline at an equal budget, `train --baseline inference`).
    update: bool = True
    # Multi-task training (`train --tasks A,B`): one policy, one store per task. Empty: the
    # run's single `task`. Weights set each task's share of the prompts (default equal);
    # "zscore" normalises each task's rewards by its own running mean and std, so that
    # tasks whose rewards live on different scales weigh alike in the update.
    tasks: list[str] = Field(default_factory=list)
    task_weights: list[float] = Field(default_factory=list)
    task_reward_normalization: Literal["zscore", "none"] = "zscore"
    # "grpo": token mean per sequence, then mean over sequences (slime's aggregation).
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "grpo"
    scale_rewards: Literal["group", "batch", "none"] = "group"

    # The optimizer (Adam with decoupled weight decay, constant learning rate).
    learning_rate: float = Field(1e-6, gt=0.0)
    lr_schedule: Literal["constant", "cosine", "linear"] = "constant"
    weight_decay: float = Field(0.1, ge=0.0)
    adam_beta1: float = Field(0.9, ge=0.0, lt=1.0)
    adam_beta2: float = Field(0.98, ge=0.0, lt=1.0)
    adam_epsilon: float = Field(1e-8, gt=0.0)
    max_grad_norm: float = Field(1.0, gt=0.0)

    # Runtime.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 where supported
    gradient_checkpointing: bool = False
    checkpoint_every: int = Field(10, ge=0)  # steps between checkpoints; 0: only at the end
    keep_checkpoints: int | None = Field(2, ge=1)  # None keeps all
    log_every: int = Field(1, ge=1)  # steps between training-metric lines

    @field_validator("model")
    @classmethod
    def _model_spec(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("rl.model is empty; give a local path, a Hugging Face id or random:tiny")
        if value.startswith(RANDOM_PREFIX):
            size = value[len(RANDOM_PREFIX):]
            if size not in RANDOM_MODEL_SIZES:
                known = ", ".join(RANDOM_PREFIX + s for s in RANDOM_MODEL_SIZES)
                raise ValueError(f"unknown random model {value!r}; known: {known}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "RLConfig":
        if self.epsilon_high < self.epsilon_low:
            raise ValueError(
                f"rl.epsilon_high ({self.epsilon_high}) must be at least rl.epsilon_low "
                f"({self.epsilon_low})"
            )
        if self.task_weights and len(self.task_weights) != len(self.tasks):
            raise ValueError(
                f"rl.task_weights has {len(self.task_weights)} entries for "
                f"{len(self.tasks)} tasks in rl.tasks; give one weight per task"
            )
        if any(not w > 0 for w in self.task_weights):
            raise ValueError(f"rl.task_weights must all be positive, got {self.task_weights}")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"rl.tasks names a task twice: {self.tasks}")
        if self.generation == "vllm_server" and not self.vllm_server_url:
            raise ValueError(
                "rl.generation=vllm_server needs rl.vllm_server_url "
                "(the address of `trl vllm-serve`, e.g. http://10.0.0.2:8000)"
            )
        return self

    @property
    def samples_per_step(self) -> int:
        """Sequences generated per optimizer step (prompts x samples)."""
        return self.batch_size * self.samples_per_prompt
