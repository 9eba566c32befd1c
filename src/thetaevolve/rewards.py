"""Reward shaping: a child's outcome and raw score become one reward (docs/references.md#thetaevolve-rewards).

Failures get ThetaEvolve's fixed penalties by family (no diff -0.4, no change -0.3,
execution -0.2, invalid -0.1). Successful children get, by ``GymConfig.reward``:
- ``original``: the raw objective for a maximised task, 1/(objective + 1e-8) for a
  minimised one (ThetaEvolve's ``combined_score``, so larger is always better);
- ``rl_normalized``: clamp to the task's range, scale to [0, 1], raise to alpha, multiply;
- ``improve``: 1.0 if the child beats its parent by more than 1e-6, else 0.0;
- ``random``: uniform noise in [0, 1): a control for RL experiments, same pipeline.
Non-finite rewards become -1.0 and every reward is clipped to [-10, 10].
"""

from __future__ import annotations

import math
import random

from thetaevolve.config import GymConfig
from thetaevolve.tasks.base import RewardShaping, Task
from thetaevolve.types import Outcome

_REWARD_CLIP = 10.0
_IMPROVE_MARGIN = 1e-6


def failure_penalty(outcome: Outcome, config: GymConfig) -> float:
    """The fixed penalty of a failure family; lazy failures are never evaluated."""
    if outcome in (Outcome.NO_DIFF, Outcome.EDIT_NO_MATCH, Outcome.EDIT_AMBIGUOUS,
                   Outcome.EDIT_OUTSIDE_BLOCK):
        return config.penalty_no_diff
    if outcome in (Outcome.NO_CHANGE, Outcome.DUPLICATE):
        return config.penalty_no_change
    if outcome in (Outcome.INVALID_SOLUTION, Outcome.VERIFIER_ERROR):
        # A verify that broke on this data is the problem's fault, so it costs no more
        # than data the verifier rejected.
        return config.penalty_invalid
    if outcome is Outcome.LLM_ERROR:
        return config.penalty_llm_error
    # TIMEOUT, MEMORY, CRASH, NO_OUTPUT, MALFORMED_OUTPUT, TOO_LONG
    return config.penalty_execution


def thetaevolve_combined_score(task: Task, score: float) -> float:
    """The ``original`` reward: ThetaEvolve's ``combined_score``, 1/x for minimised objectives.

    Larger is better, like ``Task.fitness``, but it is a reward, not the ranking key: the
    database ranks by ``Task.fitness`` (``-score`` for a minimised task), never by this.
    """
    return score if task.direction == "max" else 1.0 / (score + 1e-8)


def shaping_for(task: Task, config: GymConfig) -> RewardShaping:
    base = task.reward_shaping
    return RewardShaping(
        range_min=base.range_min if config.shaping_range_min is None else config.shaping_range_min,
        range_max=base.range_max if config.shaping_range_max is None else config.shaping_range_max,
        alpha=base.alpha if config.shaping_alpha is None else config.shaping_alpha,
        multiplier=(
            base.multiplier if config.shaping_multiplier is None else config.shaping_multiplier
        ),
    )


def rl_normalized(score: float, direction: str, shaping: RewardShaping) -> float:
    """ThetaEvolve's score transform; a minimised objective is sign-flipped, not inverted."""
    if direction == "max":
        w, lo, hi = score, shaping.range_min, shaping.range_max
    else:
        w, lo, hi = -score, -shaping.range_max, -shaping.range_min
    if hi <= lo:
        raise ValueError(f"reward shaping range is empty: [{shaping.range_min}, {shaping.range_max}]")
    fraction = (min(max(w, lo), hi) - lo) / (hi - lo)
    return shaping.multiplier * fraction**shaping.alpha


def compute_reward(
    task: Task,
    config: GymConfig,
    outcome: Outcome,
    score: float | None,
    parent_score: float | None,
    rng: random.Random,
) -> float:
    """The reward of one child. ``rng`` is only used by the ``random`` control."""
    if config.reward == "random":
        # The control replaces *every* reward, failures included, so that the policy
        # gets no signal from the verifier at all.
        return rng.random()
    if outcome.is_failure or score is None:
        value = failure_penalty(outcome, config)
    elif config.reward == "original":
        value = thetaevolve_combined_score(task, score)
    elif config.reward == "rl_normalized":
        value = rl_normalized(score, task.direction, shaping_for(task, config))
    else:  # improve
        better = parent_score is None or (
            task.fitness(score) > task.fitness(parent_score) + _IMPROVE_MARGIN
        )
        value = 1.0 if better else 0.0
    if not math.isfinite(value):
        return -1.0
    return max(-_REWARD_CLIP, min(_REWARD_CLIP, value))
