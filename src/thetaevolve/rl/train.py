"""Run GRPO on the gym: the training loop, checkpoints, resume, and the metrics log.

``train_on_gym`` is the engine-facing core (any gym-like object on rank 0, nothing on the
other ranks). ``start_training`` and ``resume_training`` wrap it in a run directory
(opened by ``runs``): the same store, summary, pictures and ``thetaevolve show`` as an
inference run, plus training metrics and checkpoints under ``checkpoints/``.

A checkpoint holds the model and tokenizer, the optimizer, scheduler and RNG states
(TRL/transformers' own checkpoint), and ``thetaevolve_state.json``: the database position
(next batch index, candidates stored) at the moment of saving (see ``checkpoints``). The
store itself is never rolled back: children committed after the last checkpoint stay in
the population (nothing is lost), and the resumed policy continues from the checkpointed
weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import PartialState
from transformers import (
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PrinterCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from thetaevolve.atomic import write_json_atomic
from thetaevolve.config import RLConfig, RunConfig
from thetaevolve.rl.checkpoints import (
    CHECKPOINT_DIR,
    STATE_FILE,
    TRAINING_FILE,
    checkpoint_step,
    latest_checkpoint,
)
from thetaevolve.rl.coordinator import (
    Channel,
    ChildT,
    CommitInfo,
    GymLike,
    RankFailure,
    StepCoordinator,
    StepRecord,
)
from thetaevolve.rl.models import is_random_spec, load_policy, parameter_count
from thetaevolve.rl.runs import AnyTrainingRun, RunSetup, open_new_run, reopen_run
from thetaevolve.rl.trainer import GymGRPOTrainer, build_trainer

__all__ = [
    "CHECKPOINT_DIR", "STATE_FILE", "TRAINING_FILE", "TrainOutcome", "checkpoint_step",
    "join_processes", "latest_checkpoint", "leave_processes", "resume_training",
    "start_training", "train_on_gym",
]

LogFn = Callable[..., None]
Policy = tuple[PreTrainedModel, PreTrainedTokenizerBase]


@dataclass
class TrainOutcome:
    """What a training call did (rank 0 has the audit; every rank has the rest)."""

    steps_done: int
    step_seconds: list[float]
    audit: list[StepRecord]
    last_checkpoint: str | None
    trainer: GymGRPOTrainer | None = field(repr=False, default=None)


class _MetricsCallback(TrainerCallback):
    """Training metrics (loss, reward, entropy, KL, clip ratios, ...) into the run's log."""

    def __init__(self, log: LogFn) -> None:
        self.log = log

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if logs:
            self.log("train", step=state.global_step, **{k: v for k, v in logs.items()
                                                          if not isinstance(v, (dict, list))})


class _StepTimer(TrainerCallback):
    """Wall time of each optimizer step: generation, scoring, commit and update together."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._since = time.perf_counter()

    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs: Any) -> None:
        self._since = time.perf_counter()

    def on_step_end(self, args: TrainingArguments, state: TrainerState,
                    control: TrainerControl, **kwargs: Any) -> None:
        now = time.perf_counter()
        self.seconds.append(now - self._since)
        self._since = now


class _DatabasePosition(TrainerCallback):
    """Writes the database position into every checkpoint folder (rank 0)."""

    def __init__(self, gym: GymLike[Any]) -> None:
        self.gym = gym

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        folder = Path(args.output_dir or ".") / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            write_json_atomic(folder / STATE_FILE, {
                "step": state.global_step,
                "next_batch_index": self.gym.next_batch_index,
                "evaluations": self.gym.evaluations,
                "saved": time.time(),
            })


REFERENCE_DIR = "reference-policy"


def reference_policy(
    rl: RLConfig, output_dir: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
    channel: Channel,
) -> str | None:
    """Where the KL reference model (the initial policy) loads from; None without KL."""
    if rl.kl_coef == 0.0:
        return None
    if not is_random_spec(rl.model):
        from thetaevolve.models.bundled import resolve_model

        return resolve_model(rl.model)
    # A random policy exists only in memory: keep a copy of the initial one. A resumed run
    # finds the copy its first session wrote.
    folder = output_dir / REFERENCE_DIR
    if not (folder / "config.json").exists():
        if channel.is_root:
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
        channel.barrier()
    return str(folder)


def join_processes() -> PartialState:
    """Join the process group that torchrun / accelerate launch set up (a no-op alone).

    On a machine without CUDA, accelerate only sees the other processes when asked for
    the CPU explicitly; the trainer's own state is then this same shared state.
    """
    return PartialState(cpu=not torch.cuda.is_available())


def leave_processes() -> None:
    """Wait for every rank, then close the process groups (a no-op alone).

    A rank that exits while another one still works (rank 0 writing the summary) would
    otherwise abort in the collective library's teardown.
    """
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()
        dist.destroy_process_group()


def train_on_gym(
    gym: GymLike[ChildT] | None,
    rl: RLConfig,
    output_dir: Path,
    seed: int = 0,
    *,
    log: LogFn | None = None,
    on_commit: Callable[[CommitInfo[ChildT]], None] | None = None,
    resume_from: Path | None = None,
    policy: Policy | None = None,
) -> TrainOutcome:
    """GRPO for ``rl.steps`` steps in total. Rank 0 passes the gym; other ranks pass None.

    ``resume_from`` is a checkpoint folder: the model, optimizer and step counter continue
    from it. ``policy`` (model, tokenizer) overrides loading ``rl.model``.
    """
    join_processes()
    channel = Channel()
    output_dir = Path(output_dir)
    if resume_from is not None and checkpoint_step(resume_from) >= rl.steps:
        # transformers would still take one more step; a finished run stays finished.
        return TrainOutcome(steps_done=checkpoint_step(resume_from), step_seconds=[], audit=[],
                            last_checkpoint=str(resume_from))
    model, tokenizer = policy if policy is not None else _load_policy(rl, seed, resume_from)
    reference = reference_policy(rl, output_dir, model, tokenizer, channel)
    if reference is not None:
        # TRL builds the KL reference model from this path: the initial policy, also after
        # a resume (when the policy itself was loaded from a checkpoint).
        model.config._name_or_path = reference
    coordinator = StepCoordinator(
        channel, rl.samples_per_prompt, gym=gym if channel.is_root else None,
        count_tokens=_token_counter(tokenizer), on_commit=on_commit,
        advantage=rl.advantage, entropic_beta=rl.entropic_beta,
    )
    timer = _StepTimer()
    callbacks: list[TrainerCallback] = [timer]
    if channel.is_root and gym is not None:
        callbacks.append(_DatabasePosition(gym))
        if log is not None:
            callbacks.append(_MetricsCallback(log))
            log("train_start", model=rl.model, parameters=parameter_count(model),
                world_size=channel.world_size, steps=rl.steps,
                batch_size=rl.batch_size, samples_per_prompt=rl.samples_per_prompt,
                resume_from=str(resume_from) if resume_from else None)
    trainer = build_trainer(model, tokenizer, rl, coordinator, output_dir, seed, callbacks)
    # The run's own log and progress lines replace transformers' printing of every log dict.
    trainer.remove_callback(PrinterCallback)
    _train(trainer, coordinator, channel, output_dir, resume_from)
    last = latest_checkpoint(output_dir) if channel.is_root else None
    return TrainOutcome(
        steps_done=trainer.state.global_step, step_seconds=timer.seconds,
        audit=list(coordinator.audit), last_checkpoint=str(last) if last else None,
        trainer=trainer,
    )


def _load_policy(rl: RLConfig, seed: int, resume_from: Path | None) -> Policy:
    spec = str(resume_from) if resume_from is not None else rl.model
    # fp32 master weights: an lr of 1e-6 is below bf16's resolution, so bf16 weights
    # would not move. Compute runs in bf16 autocast where rl.precision asks for it.
    return load_policy(spec, seed=seed, dtype=torch.float32)


def _token_counter(tokenizer: PreTrainedTokenizerBase) -> Callable[[list[dict[str, str]]], int]:
    """Prompt tokens of a chat, as the trainer will render it (for the metrics)."""

    def count_tokens(messages: list[dict[str, str]]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count_tokens


def _train(trainer: GymGRPOTrainer, coordinator: StepCoordinator[Any], channel: Channel,
           output_dir: Path, resume_from: Path | None) -> None:
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except KeyboardInterrupt as stop:
        # Ctrl-C or SIGTERM: keep the last finished step, so that `resume` continues from
        # it instead of from the previous periodic checkpoint (or the initial model). The
        # CLI's interrupt report reads these two attributes.
        stop.checkpoint = _checkpoint_on_interrupt(trainer, channel, output_dir)  # type: ignore[attr-defined]
        stop.step = trainer.state.global_step  # type: ignore[attr-defined]
        raise
    finally:
        coordinator.close()


def _checkpoint_on_interrupt(trainer: GymGRPOTrainer, channel: Channel,
                             output_dir: Path) -> str | None:
    """Save a checkpoint of the last finished optimizer step, unless one exists already.

    An interrupt lands between steps or inside one; either way the weights and optimizer
    are those of ``state.global_step`` (a step in progress has not changed them), so the
    trainer's own checkpoint of that step is exact. One process only: with several ranks
    a save is a collective that the other ranks, interrupted too, would not join.
    """
    step = trainer.state.global_step
    if step <= 0 or channel.world_size > 1:
        latest = latest_checkpoint(output_dir)
        return str(latest) if latest else None
    folder = output_dir / f"checkpoint-{step}"
    if not (folder / STATE_FILE).exists():
        trainer._save_checkpoint(trainer.model, trial=None)
        trainer.callback_handler.on_save(trainer.args, trainer.state, trainer.control)
    return str(folder)


# ---- a training run in a run directory --------------------------------------------------


def start_training(
    config: RunConfig, run_dir: Path | None = None, quiet: bool = False
) -> dict[str, Any] | None:
    """Start a training run in ``run_dir`` (a new default one if None); rank 0 returns the
    summary, the other ranks None.

    Every rank calls this with the same arguments. Only rank 0 opens the run directory and
    the store; the others receive the resolved configuration from it.
    """
    return _run_in_directory(lambda: open_new_run(config, run_dir, quiet))


def resume_training(
    run_dir: Path, steps: int | None = None, quiet: bool = False,
    allow_problem_change: bool = False,
) -> dict[str, Any] | None:
    """Continue a training run from its newest checkpoint, up to ``steps`` in total (the
    run's own ``rl.steps`` if None); otherwise as ``start_training``."""
    return _run_in_directory(
        lambda: reopen_run(Path(run_dir), steps, quiet, allow_problem_change))


def _run_in_directory(open_run: Callable[[], AnyTrainingRun]) -> dict[str, Any] | None:
    _quiet_libraries()
    join_processes()
    channel = Channel()
    run, setup = _open_on_root(channel, open_run)
    resolved = RunConfig.model_validate(setup.config)
    try:
        outcome = train_on_gym(
            run.gym if run else None, resolved.rl, Path(setup.run_dir) / CHECKPOINT_DIR,
            resolved.seed, log=run.session.log if run else None,
            on_commit=run.recorder if run else None,
            resume_from=Path(setup.checkpoint) if setup.checkpoint else None,
        )
    except BaseException as stop:
        if run is not None:
            if isinstance(stop, KeyboardInterrupt):
                stop.run_dir = str(run.session.run_dir)  # type: ignore[attr-defined]
            run.session.finalize()
            run.session.close()
        raise
    if run is None:
        leave_processes()  # waits for rank 0 to write the summary
        return None
    try:
        return _finish(run, resolved, outcome, channel.world_size)
    finally:
        run.session.close()
        leave_processes()


def _open_on_root(
    channel: Channel, open_run: Callable[[], AnyTrainingRun]
) -> tuple[AnyTrainingRun | None, RunSetup]:
    """Rank 0 opens the run; every rank gets its setup, or raises if rank 0 could not."""
    run = None
    payload: RunSetup | RankFailure | None = None
    if channel.is_root:
        try:
            run = open_run()
            payload = run.setup()
        except Exception as exc:
            channel.broadcast(RankFailure(f"{type(exc).__name__}: {exc}"))
            raise
    payload = channel.broadcast(payload)
    if isinstance(payload, RankFailure):
        raise RuntimeError(f"rank 0 could not open the run: {payload.message}")
    assert payload is not None  # rank 0 always sends the setup or a failure
    return run, payload


def _finish(run: AnyTrainingRun, resolved: RunConfig, outcome: TrainOutcome,
            world_size: int) -> dict[str, Any]:
    """Rank 0 after the last step: summary.json, training.json, the summary line."""
    summary = run.session.finalize()
    training = {
        "model": resolved.rl.model,
        "steps_done": outcome.steps_done,
        "steps_total": resolved.rl.steps,
        "last_checkpoint": outcome.last_checkpoint,
        "step_seconds": [round(s, 4) for s in outcome.step_seconds],
        "world_size": world_size,
        **_device_facts(),
    }
    write_json_atomic(run.session.run_dir / TRAINING_FILE, training)
    run.recorder.on_summary(summary)
    return {**summary, "training": training}


def _device_facts() -> dict[str, Any]:
    if not torch.cuda.is_available():
        return {"device": "cpu"}
    return {
        "device": torch.cuda.get_device_name(0),
        "cuda_peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3),
    }


def _quiet_libraries() -> None:
    """Keep the console for the run's own lines: no per-save progress bars, no warnings
    about deprecated names used inside TRL itself."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning,
                            message=r".*deprecated and will be removed in v6.*")
