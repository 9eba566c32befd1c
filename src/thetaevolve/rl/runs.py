"""Opening a training run directory on rank 0: new or resumed, one task or several.

``train.start_training`` and ``train.resume_training`` call ``open_new_run`` or
``reopen_run`` on rank 0 only. Either returns a ``TrainingRun``: the session (a
``Session`` for one task, a ``MultiTaskSession`` for ``rl.tasks``), the gym the trainer
drives, the recorder that is its ``on_commit``, and the checkpoint a resume continues
from. By then the initial program is stored and recorded, and a resume has logged where
it continues, so a problem that fails shows up before any model loads.

This module imports no torch.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol

from thetaevolve.config import RunConfig
from thetaevolve.gym import ScoredChild
from thetaevolve.rl.checkpoints import CHECKPOINT_DIR, latest_checkpoint, read_position
from thetaevolve.rl.coordinator import ChildT, CommitInfo, GymLike
from thetaevolve.rl.multitask import (
    MultiTaskRecorder,
    MultiTaskSession,
    TaskChild,
    is_multitask_dir,
)
from thetaevolve.rl.recording import StepRecorder
from thetaevolve.session import Session

class TrainingRecorder(Protocol[ChildT]):
    """What records a training run: each commit, then the summary."""

    def __call__(self, info: CommitInfo[ChildT]) -> None: ...

    def on_summary(self, summary: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class RunSetup:
    """What every rank needs to know of the run rank 0 opened (sent to all of them)."""

    config: dict[str, Any]  # the resolved RunConfig, as JSON data
    run_dir: str
    checkpoint: str | None  # the checkpoint to continue from; None: from the model


@dataclass(frozen=True)
class TrainingRun(Generic[ChildT]):
    """A training run opened on rank 0; the gym and its recorder agree on ``ChildT``."""

    session: Session | MultiTaskSession
    gym: GymLike[ChildT]
    recorder: TrainingRecorder[ChildT]
    checkpoint: Path | None

    def setup(self) -> RunSetup:
        return RunSetup(
            config=self.session.config.model_dump(mode="json"),
            run_dir=str(self.session.run_dir),
            checkpoint=str(self.checkpoint) if self.checkpoint else None,
        )


# The kind of child depends on the kind of run; each opener below checks its own pairing.
AnyTrainingRun = TrainingRun[Any]


def open_new_run(config: RunConfig, run_dir: Path | None, quiet: bool = False) -> AnyTrainingRun:
    """Create a training run directory (``run_dir``, or a new default one)."""
    if config.rl.tasks:
        return _multi_task(MultiTaskSession.create(config, run_dir), False, quiet)
    return _single_task(Session.create(config, run_dir, kind="train"), False, quiet)


def reopen_run(
    run_dir: Path, steps: int | None = None, quiet: bool = False,
    allow_problem_change: bool = False,
) -> AnyTrainingRun:
    """Reopen a training run; ``steps`` changes ``rl.steps`` (the total to reach)."""
    overrides = [f"rl.steps={steps}"] if steps is not None else None
    if is_multitask_dir(run_dir):
        return _multi_task(MultiTaskSession.resume(run_dir, overrides), True, quiet)
    session = Session.resume(run_dir, overrides, allow_problem_change=allow_problem_change)
    if session.kind != "train":
        session.close()
        raise ValueError(f"{run_dir} is an inference run; continue it with `thetaevolve resume`")
    return _single_task(session, True, quiet)


def _single_task(session: Session, resume: bool, quiet: bool) -> TrainingRun[ScoredChild]:
    try:
        recorder = StepRecorder(session, session.config.rl.steps, quiet)
        recorder.on_initial(asyncio.run(session.gym.initialize()))
        checkpoint = _log_resume(session, session.gym.next_batch_index) if resume else None
    except BaseException:
        session.close()
        raise
    return TrainingRun(session, session.gym, recorder, checkpoint)


def _multi_task(session: MultiTaskSession, resume: bool, quiet: bool) -> TrainingRun[TaskChild]:
    try:
        recorder = MultiTaskRecorder(session, session.config.rl.steps, quiet)
        for task_session, task_recorder in zip(session.sessions, recorder.tasks):
            task_recorder.on_initial(asyncio.run(task_session.gym.initialize()))
        checkpoint = _log_resume(session, session.gym.next_batch_index) if resume else None
    except BaseException:
        session.close()
        raise
    return TrainingRun(session, session.gym, recorder, checkpoint)


def _log_resume(session: Session | MultiTaskSession, store_next_batch: int) -> Path | None:
    """Log where a resumed run continues; returns its newest checkpoint (None: none yet)."""
    checkpoint = latest_checkpoint(session.run_dir / CHECKPOINT_DIR)
    position = read_position(checkpoint) if checkpoint else None
    session.log(
        "resume", checkpoint=str(checkpoint) if checkpoint else None,
        checkpoint_step=position["step"] if position else 0,
        checkpoint_next_batch=position["next_batch_index"] if position else None,
        store_next_batch=store_next_batch,
    )
    return checkpoint
