"""Run GRPO on the gym: the training loop, checkpoints, resume, and the metrics log.

``train_on_gym`` is the engine-facing core (any gym-like object on rank 0, nothing on the
other ranks). ``run_training`` wraps it in a run directory: the same store, summary,
pictures and ``thetaevolve show`` as an inference run, plus training metrics and
checkpoints under ``checkpoints/``.

A checkpoint holds the model and tokenizer, the optimizer, scheduler and RNG states
(TRL/transformers' own checkpoint), and ``thetaevolve_state.json``: the database position
(next batch index, candidates stored) at the moment of saving. The store itself is never
rolled back: children committed after the last checkpoint stay in the population (nothing
is lost), and the resumed policy continues from the checkpointed weights.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from accelerate import PartialState
from transformers import PrinterCallback, TrainerCallback

from thetaevolve.rl.coordinator import Channel, CommitInfo, StepCoordinator, StepRecord
from thetaevolve.rl.models import is_random_spec, load_policy, parameter_count
from thetaevolve.config import RLConfig
from thetaevolve.rl.trainer import build_trainer

CHECKPOINT_DIR = "checkpoints"
STATE_FILE = "thetaevolve_state.json"
TRAINING_FILE = "training.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")

LogFn = Callable[..., None]


@dataclass
class TrainOutcome:
    """What a training call did (rank 0 has the audit; every rank has the rest)."""

    steps_done: int
    step_seconds: list[float]
    audit: list[StepRecord]
    last_checkpoint: str | None
    trainer: Any = field(repr=False, default=None)


class _MetricsCallback(TrainerCallback):
    """Training metrics (loss, reward, entropy, KL, clip ratios, ...) into the run's log."""

    def __init__(self, log: LogFn) -> None:
        self.log = log

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[override]
        if logs:
            self.log("train", step=state.global_step, **{k: v for k, v in logs.items()
                                                          if not isinstance(v, (dict, list))})


class _StepTimer(TrainerCallback):
    """Wall time of each optimizer step: generation, scoring, commit and update together."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._since = time.perf_counter()

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[override]
        self._since = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[override]
        now = time.perf_counter()
        self.seconds.append(now - self._since)
        self._since = now


class _DatabasePosition(TrainerCallback):
    """Writes the database position into every checkpoint folder (rank 0)."""

    def __init__(self, gym: Any) -> None:
        self.gym = gym

    def on_save(self, args, state, control, **kwargs):  # type: ignore[override]
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if folder.is_dir():
            data = {
                "step": state.global_step,
                "next_batch_index": self.gym.next_batch_index,
                "evaluations": getattr(self.gym, "evaluations", None),
                "saved": time.time(),
            }
            tmp = folder / (STATE_FILE + ".tmp")
            tmp.write_text(json.dumps(data, indent=2) + "\n")
            tmp.replace(folder / STATE_FILE)


REFERENCE_DIR = "reference-policy"


def reference_policy(
    rl: RLConfig, output_dir: Path, model: Any, tokenizer: Any, channel: Channel
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


def latest_checkpoint(output_dir: Path) -> Path | None:
    """The newest complete checkpoint (one that has its database position written)."""
    if not output_dir.is_dir():
        return None
    found = []
    for child in output_dir.iterdir():
        match = _CHECKPOINT_RE.match(child.name)
        if match and (child / STATE_FILE).exists() and (child / "trainer_state.json").exists():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def checkpoint_step(checkpoint: Path) -> int:
    """The optimizer steps a checkpoint had taken (from the trainer's own state file)."""
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return int(state["global_step"])


def read_position(checkpoint: Path) -> dict[str, Any]:
    return json.loads((checkpoint / STATE_FILE).read_text())


def train_on_gym(
    gym: Any,
    rl: RLConfig,
    output_dir: Path,
    seed: int = 0,
    *,
    log: LogFn | None = None,
    on_commit: Callable[[CommitInfo], None] | None = None,
    resume_from: Path | None = None,
    policy: tuple[Any, Any] | None = None,
) -> TrainOutcome:
    """GRPO for ``rl.steps`` steps in total. Rank 0 passes the gym; other ranks pass None.

    ``resume_from`` is a checkpoint folder: the model, optimizer and step counter continue
    from it. ``policy`` (model, tokenizer) overrides loading ``rl.model``.
    """
    join_processes()
    channel = Channel()
    if resume_from is not None and checkpoint_step(resume_from) >= rl.steps:
        # transformers would still take one more step; a finished run stays finished.
        return TrainOutcome(steps_done=checkpoint_step(resume_from), step_seconds=[], audit=[],
                            last_checkpoint=str(resume_from))
    if policy is not None:
        model, tokenizer = policy
    else:
        spec = str(resume_from) if resume_from is not None else rl.model
        # fp32 master weights: an lr of 1e-6 is below bf16's resolution, so bf16 weights
        # would not move. Compute runs in bf16 autocast where rl.precision asks for it.
        model, tokenizer = load_policy(spec, seed=seed, dtype=torch.float32)

    reference = reference_policy(rl, Path(output_dir), model, tokenizer, channel)
    if reference is not None:
        # TRL builds the KL reference model from this path: the initial policy, also after
        # a resume (when the policy itself was loaded from a checkpoint).
        model.config._name_or_path = reference

    def count_tokens(messages: list[dict[str, str]]) -> int:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    coordinator = StepCoordinator(
        channel, rl.samples_per_prompt, gym=gym if channel.is_root else None,
        count_tokens=count_tokens, on_commit=on_commit,
        advantage=rl.advantage, entropic_beta=rl.entropic_beta,
    )
    timer = _StepTimer()
    callbacks: list[Any] = [timer]
    if channel.is_root:
        callbacks.append(_DatabasePosition(gym))
        if log is not None:
            callbacks.append(_MetricsCallback(log))
            log("train_start", model=rl.model, parameters=parameter_count(model),
                world_size=channel.world_size, steps=rl.steps,
                batch_size=rl.batch_size, samples_per_prompt=rl.samples_per_prompt,
                resume_from=str(resume_from) if resume_from else None)
    trainer = build_trainer(model, tokenizer, rl, coordinator, Path(output_dir), seed, callbacks)
    # The run's own log and progress lines replace transformers' printing of every log dict.
    trainer.remove_callback(PrinterCallback)
    try:
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    except KeyboardInterrupt as stop:
        # Ctrl-C or SIGTERM: keep the last finished step, so that `resume` continues from
        # it instead of from the previous periodic checkpoint (or the initial model).
        stop.checkpoint = _checkpoint_on_interrupt(trainer, channel, Path(output_dir))  # type: ignore[attr-defined]
        stop.step = trainer.state.global_step  # type: ignore[attr-defined]
        raise
    finally:
        coordinator.close()
    last = latest_checkpoint(Path(output_dir)) if channel.is_root else None
    return TrainOutcome(
        steps_done=trainer.state.global_step, step_seconds=timer.seconds,
        audit=list(coordinator.audit), last_checkpoint=str(last) if last else None,
        trainer=trainer,
    )


def _checkpoint_on_interrupt(trainer: Any, channel: Channel, output_dir: Path) -> str | None:
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


def run_training(
    config: Any | None,
    run_dir: Path | None,
    resume: bool = False,
    steps: int | None = None,
    quiet: bool = False,
    allow_problem_change: bool = False,
) -> dict[str, Any] | None:
    """Start (or, with ``resume``, continue) a training run; rank 0 returns the summary.

    Every rank calls this with the same arguments. Only rank 0 opens the run directory and
    the store; the others receive the resolved configuration from it.
    """
    from thetaevolve.config import RunConfig

    _quiet_libraries()
    join_processes()
    channel = Channel()
    session = None
    setup: Any = None
    if channel.is_root:
        try:
            session, setup = _open_session(config, run_dir, resume, steps, allow_problem_change)
        except Exception as exc:
            channel.broadcast(f"{type(exc).__name__}: {exc}")
            raise
    setup = channel.broadcast(setup)
    if isinstance(setup, str):
        raise RuntimeError(f"rank 0 could not open the run: {setup}")
    resolved = RunConfig.model_validate(setup["config"])
    resume_from = Path(setup["checkpoint"]) if setup["checkpoint"] else None
    output_dir = Path(setup["run_dir"]) / CHECKPOINT_DIR
    try:
        outcome = train_on_gym(
            session.gym if session else None, resolved.rl, output_dir, resolved.seed,
            log=session.log if session else None,
            on_commit=_keeper(session, resolved.rl.steps, quiet) if session else None,
            resume_from=resume_from,
        )
    except BaseException as stop:
        if session is not None:
            if isinstance(stop, KeyboardInterrupt):
                stop.run_dir = str(session.run_dir)  # type: ignore[attr-defined]
            session.finalize()
            session.close()
        raise
    if session is None:
        leave_processes()  # waits for rank 0 to write the summary
        return None
    try:
        summary = session.finalize()
        training = {
            "model": resolved.rl.model,
            "steps_done": outcome.steps_done,
            "steps_total": resolved.rl.steps,
            "last_checkpoint": outcome.last_checkpoint,
            "step_seconds": [round(s, 4) for s in outcome.step_seconds],
            "world_size": channel.world_size,
            **_device_facts(),
        }
        (session.run_dir / TRAINING_FILE).write_text(json.dumps(training, indent=2) + "\n")
        session.log("summary", **summary)
        return {**summary, "training": training}
    finally:
        session.close()
        leave_processes()


def _keeper(session: Any, total_steps: int, quiet: bool) -> Callable[[CommitInfo], None]:
    keeper = getattr(session, "keeper", None)  # a multi-task session keeps one per task
    return keeper(total_steps, quiet) if keeper else BestKeeper(session, total_steps, quiet)


def _open_session(
    config: Any | None, run_dir: Path | None, resume: bool, steps: int | None,
    allow_problem_change: bool = False,
) -> tuple[Any, dict[str, Any]]:
    from thetaevolve.rl.multitask import MultiTaskSession, is_multitask_dir
    from thetaevolve.session import Session

    multi = is_multitask_dir(run_dir) if resume and run_dir else bool(config and config.rl.tasks)
    if multi:
        overrides = [f"rl.steps={steps}"] if steps is not None else None
        session = (MultiTaskSession.resume(run_dir, overrides) if resume
                   else MultiTaskSession.create(config, run_dir))
        try:
            session.initialize()
        except BaseException:
            session.close()
            raise
        return session, _setup(session, resume)
    if resume:
        if run_dir is None:
            raise ValueError("resuming needs the run directory")
        overrides = [f"rl.steps={steps}"] if steps is not None else None
        session = Session.resume(run_dir, overrides, allow_problem_change=allow_problem_change)
        if session.kind != "train":
            session.close()
            raise ValueError(f"{run_dir} is an inference run; continue it with `thetaevolve resume`")
    else:
        session = Session.create(config, run_dir, kind="train")
    try:
        initial = asyncio.run(session.gym.initialize())
        if initial is not None:
            record, solution = initial
            session.save_best(solution)
            session.log("initial", program_id=record.id, score=record.score)
    except BaseException:
        session.close()
        raise
    return session, _setup(session, resume)


def _setup(session: Any, resume: bool) -> dict[str, Any]:
    """What every rank needs to know of the opened run (and the resume log line)."""
    try:
        checkpoint = latest_checkpoint(session.run_dir / CHECKPOINT_DIR) if resume else None
        if resume:
            position = read_position(checkpoint) if checkpoint else None
            session.log(
                "resume", checkpoint=str(checkpoint) if checkpoint else None,
                checkpoint_step=position["step"] if position else 0,
                checkpoint_next_batch=position["next_batch_index"] if position else None,
                store_next_batch=session.gym.next_batch_index,
            )
    except BaseException:
        session.close()
        raise
    return {
        "config": session.config.model_dump(mode="json"),
        "run_dir": str(session.run_dir),
        "checkpoint": str(checkpoint) if checkpoint else None,
    }


class BestKeeper:
    """After each commit: keep best_program.py / best_solution.json current, log the batch."""

    def __init__(self, session: Any, total_steps: int, quiet: bool = False) -> None:
        self.session = session
        self.total_steps = total_steps
        self.quiet = quiet
        best = session.database.best()
        self.best_fitness = best.fitness if best is not None else None

    def __call__(self, info: CommitInfo) -> None:
        session = self.session
        best = session.database.best()
        improved = best is not None and best.fitness is not None and (
            self.best_fitness is None or best.fitness > self.best_fitness
        )
        if improved:
            self.best_fitness = best.fitness
            children = [child for row in info.scored for child in row]
            for record, child in zip(info.records, children):
                evaluation = getattr(child, "evaluation", None)
                if record.id == best.id and evaluation is not None:
                    session.save_best(evaluation.solution)
        session.log(
            "batch", batch=info.batch_index, step=info.step,
            evaluations=session.gym.evaluations,
            best_score=best.score if best else None, improved=improved, **info.metrics,
        )
        if not self.quiet:
            m = info.metrics
            shown = "-" if best is None or best.score is None else f"{best.score:.10g}"
            print(f"[{session.task.name}] step {info.step}/{self.total_steps} "
                  f"(batch {info.batch_index}): reward mean {m['mean_reward']:.4g} "
                  f"max {m['max_reward']:.4g} | best {shown}{' (new best)' if improved else ''} "
                  f"| {m['outcomes']}", file=sys.stderr, flush=True)


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
