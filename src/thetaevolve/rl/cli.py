"""``thetaevolve train``: test-time RL on a task, and ``resume`` of a training run.

Registered by ``thetaevolve.cli`` without a guard: importing this module imports no torch
(only the config tree and ``cli_common``), so ``train --help`` works without the rl extra
and running it says what to install. Launch with several processes through ``torchrun``
or ``accelerate launch`` (see docs/rl.md):

    torchrun --nproc-per-node 2 -m thetaevolve.cli train circle_packing_26 --model random:tiny
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from thetaevolve.cli_common import EXIT_OK, CLIError, choices, print_summary, resolve_task
from thetaevolve.config import DatabaseConfig, GymConfig, RLConfig, flag_overrides

# The flags' choices, read off the config tree so that the two cannot drift apart.
REWARDS = choices(GymConfig, "reward")
GENERATION = choices(RLConfig, "generation")
ADVANTAGES = choices(RLConfig, "advantage")
SAMPLERS = choices(DatabaseConfig, "sampler")
# Each baseline is one flag: the settings it stands for, applied over everything else, so
# the budget (steps x batch x samples), the model and the seed stay those of the run it is
# compared with.
BASELINES: dict[str, list[str]] = {
    # n samples per step from the initial program, no database feedback, no learning.
    "best_of_n": ["database.sampler=initial", "rl.update=false"],
    # Evolution with the same model and database, no learning.
    "inference": ["rl.update=false"],
    # Learning from noise: a gain that also shows here is not the verifier's signal.
    "random_reward": ["gym.reward=random"],
}
INSTALL_HINT = "thetaevolve train needs the rl extra: pip install 'thetaevolve[rl]'"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "train", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        help="test-time RL: train the model with GRPO on its own search (needs the rl extra)",
        description="GRPO on the evolving gym. Defaults are ThetaEvolve's preset "
                    "(32 prompts x 16 samples, lr 1e-6, clip 0.2/0.28, no KL); see docs/rl.md.",
    )
    p.add_argument("task", nargs="?", default=None,
                   help="the task (a built-in name or a problem path); or use --tasks")
    p.add_argument("--tasks", default=None, metavar="A,B[,C]",
                   help="multi-task training: one policy, one store per task")
    p.add_argument("--task-weights", default=None, metavar="W1,W2[,W3]",
                   help="share of the prompts per task (default equal)")
    p.add_argument("--model", default=None,
                   help="local path, Hugging Face id, or random:tiny (no download)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (one batch each)")
    p.add_argument("--batch-size", type=int, default=None, help="prompts (parents) per step")
    p.add_argument("--samples-per-prompt", type=int, default=None, help="GRPO group size")
    p.add_argument("--max-new-tokens", type=int, default=None)
    p.add_argument("--reward", choices=REWARDS, default=None,
                   help="reward type; 'random' is the noise control")
    p.add_argument("--lr", type=float, default=None, help="learning rate")
    p.add_argument("--micro-batch-size", type=int, default=None,
                   help="sequences per forward/backward on one device")
    p.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints")
    p.add_argument("--generation", choices=GENERATION, default=None)
    p.add_argument("--vllm-server-url", default=None, help="address of `trl vllm-serve`")
    p.add_argument("--advantage", choices=ADVANTAGES, default=None,
                   help="objective: grpo (ThetaEvolve), entropic or entropic_adaptive "
                        "(TTT-Discover); see docs/rl.md")
    p.add_argument("--kl-coef", type=float, default=None,
                   help="KL-to-reference penalty (TRL's beta; 0: no reference model)")
    p.add_argument("--sampler", choices=SAMPLERS, default=None,
                   help="parent selection: islands (default), puct, initial")
    p.add_argument("--baseline", choices=sorted(BASELINES), default=None,
                   help="a control at the same budget: best_of_n, inference (no weight "
                        "update) or random_reward")
    p.add_argument("--config", help="YAML configuration file")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one setting, e.g. --set rl.kl_coef=0.01 (repeatable)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--run-dir", default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)


def train_overrides(args: argparse.Namespace) -> list[str]:
    """CLI flags as config overrides; explicit flags win over --set."""
    overrides = [*_task_overrides(args), *(args.set or [])]
    pairs = [
        ("rl.model", args.model), ("rl.steps", args.steps), ("rl.batch_size", args.batch_size),
        ("rl.samples_per_prompt", args.samples_per_prompt),
        ("rl.max_new_tokens", args.max_new_tokens), ("gym.reward", args.reward),
        ("rl.learning_rate", args.lr), ("rl.micro_batch_size", args.micro_batch_size),
        ("rl.checkpoint_every", args.checkpoint_every), ("rl.generation", args.generation),
        ("rl.vllm_server_url", args.vllm_server_url), ("seed", args.seed),
        ("run_dir", args.run_dir), ("rl.advantage", getattr(args, "advantage", None)),
        ("rl.kl_coef", getattr(args, "kl_coef", None)),
        ("database.sampler", getattr(args, "sampler", None)),
    ]
    baseline = BASELINES[args.baseline] if getattr(args, "baseline", None) else []
    return overrides + flag_overrides(pairs) + baseline


def split_tasks(text: str) -> list[str]:
    """``A,B,C`` into task names; a sized family's own ``,key=value`` stays with it
    (``min_max_distance:n=20,d=2,circle_packing_26`` is two tasks)."""
    tasks: list[str] = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if tasks and ":" in tasks[-1] and re.fullmatch(r"\w+=[^:]*", piece):
            tasks[-1] += "," + piece
        else:
            tasks.append(piece)
    return tasks


def _task_overrides(args: argparse.Namespace) -> list[str]:
    """``task=`` for one task; ``rl.tasks`` (and weights) for ``--tasks A,B``."""
    tasks_flag = getattr(args, "tasks", None)
    if tasks_flag is None:
        if args.task is None:
            raise CLIError("train needs a task (thetaevolve train TASK) or --tasks A,B")
        if getattr(args, "task_weights", None):
            raise CLIError("--task-weights goes with --tasks A,B")
        return [f"task={json.dumps(args.task)}"]
    if args.task is not None:
        raise CLIError(f"give either a task ({args.task}) or --tasks, not both")
    tasks = split_tasks(tasks_flag)
    if len(tasks) < 2:
        raise CLIError(f"--tasks needs at least two comma-separated tasks, got {tasks_flag!r}")
    out = [f"task={json.dumps(tasks[0])}", f"rl.tasks={json.dumps(tasks)}"]
    if getattr(args, "task_weights", None):
        try:
            weights = [float(w) for w in args.task_weights.split(",")]
        except ValueError:
            raise CLIError(f"--task-weights must be numbers, got {args.task_weights!r}") from None
        out.append(f"rl.task_weights={json.dumps(weights)}")
    return out


def training_config(args: argparse.Namespace) -> Any:
    """The resolved RunConfig for ``train``: the gym's batch shape follows rl's."""
    from thetaevolve.config import load_config

    config = load_config(args.config, overrides=train_overrides(args))
    # One source of truth for the batch shape: the gym's settings mirror the trainer's, so
    # config.yaml and the summary describe what actually ran.
    config.gym.batch_size = config.rl.batch_size
    config.gym.samples_per_prompt = config.rl.samples_per_prompt
    config.llm.temperature = config.rl.temperature
    config.llm.max_tokens = config.rl.max_new_tokens
    return config


def _require_rl_extra() -> None:
    missing = []
    for module in ("torch", "transformers", "trl", "accelerate"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise CLIError(f"{INSTALL_HINT} (missing: {', '.join(missing)})")


def cmd_train(args: argparse.Namespace) -> int:
    config = training_config(args)
    for name in config.rl.tasks or [config.task]:
        resolve_task(name).close()  # a bad problem fails here, before any run directory exists
    _require_rl_extra()
    from thetaevolve.models.bundled import check_available

    check_available(config.rl.model)
    from thetaevolve.rl.train import run_training

    run_dir = Path(config.run_dir) if config.run_dir else None
    with _interrupt_report():
        summary = run_training(config, run_dir, resume=False, quiet=args.quiet)
    _report(summary, args.quiet)
    return EXIT_OK


@contextmanager
def _interrupt_report() -> Iterator[None]:
    """Ctrl-C or SIGTERM during training: say which step was kept and how to go on."""
    from thetaevolve.signals import Terminated, terminate_as_interrupt, was_terminated

    try:
        with terminate_as_interrupt():
            yield
    except KeyboardInterrupt as stop:
        run_dir = getattr(stop, "run_dir", None)
        checkpoint = getattr(stop, "checkpoint", None)
        kept = (f"saved the checkpoint of step {getattr(stop, 'step', '?')}: {checkpoint}"
                if checkpoint else "no step had finished, so there is no checkpoint")
        go_on = f"; continue with `thetaevolve resume {run_dir}`" if run_dir else ""
        word = ("terminated (SIGTERM)" if isinstance(stop, Terminated) or was_terminated()
                else "interrupted")
        print(f"{word}; every committed candidate is kept; {kept}{go_on}", file=sys.stderr)
        raise


def resume_training(run_dir: Path, args: argparse.Namespace) -> int:
    """Continue a training run from its newest checkpoint (called by ``thetaevolve resume``)."""
    _require_rl_extra()
    from thetaevolve.rl.train import run_training

    steps = getattr(args, "steps", None)
    with _interrupt_report():
        summary = run_training(None, Path(run_dir), resume=True, steps=steps,
                               quiet=getattr(args, "quiet", False),
                               allow_problem_change=getattr(args, "allow_problem_change", False))
    _report(summary, getattr(args, "quiet", False))
    return EXIT_OK


def _report(summary: dict[str, Any] | None, quiet: bool) -> None:
    if summary is None:  # not rank 0
        return
    if summary.get("kind") == "train-multi":
        for task_summary in summary["tasks"].values():
            print_summary(task_summary)
    else:
        print_summary(summary)
    training = summary.get("training") or {}
    times = training.get("step_seconds") or []
    mean = sum(times) / len(times) if times else 0.0
    print(f"training: {training.get('steps_done')}/{training.get('steps_total')} steps, "
          f"{mean:.2f} s per step, last checkpoint {training.get('last_checkpoint')}",
          file=sys.stderr if quiet else sys.stdout)
