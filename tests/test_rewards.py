"""Reward shaping follows ThetaEvolve's formulas and failure codes."""

import math
import random

import pytest

from thetaevolve.config import GymConfig
from thetaevolve.rewards import compute_reward, failure_penalty, rl_normalized
from thetaevolve.tasks.base import RewardShaping
from thetaevolve.types import Outcome


# ThetaEvolve's circle-packing range (docs/references.md#thetaevolve-shaping-ranges).
CIRCLE_PACKING_SHAPING = RewardShaping(0.0, 2.635, 3.0, 5.0)


class _Task:
    def __init__(self, direction, shaping=CIRCLE_PACKING_SHAPING):
        self.direction = direction
        self.reward_shaping = shaping

    def fitness(self, score):
        return score if self.direction == "max" else -score


def test_failure_families_get_thetaevolve_codes():
    config = GymConfig()
    assert failure_penalty(Outcome.NO_DIFF, config) == -0.4
    assert failure_penalty(Outcome.EDIT_NO_MATCH, config) == -0.4
    assert failure_penalty(Outcome.NO_CHANGE, config) == -0.3
    assert failure_penalty(Outcome.DUPLICATE, config) == -0.3
    assert failure_penalty(Outcome.TIMEOUT, config) == -0.2
    assert failure_penalty(Outcome.CRASH, config) == -0.2
    assert failure_penalty(Outcome.INVALID_SOLUTION, config) == -0.1


def test_rl_normalized_matches_worked_example():
    # docs/references.md#thetaevolve-shaping-ranges: circle packing 0.9598 -> 0.242, 2.0 -> 2.186, saturates at 5.
    shaping = RewardShaping(0.0, 2.635, 3.0, 5.0)
    assert rl_normalized(0.9598, "max", shaping) == pytest.approx(0.242, abs=1e-3)
    assert rl_normalized(2.0, "max", shaping) == pytest.approx(2.186, abs=1e-3)
    assert rl_normalized(3.0, "max", shaping) == 5.0


def test_rl_normalized_minimise_is_a_sign_flip():
    # first autocorrelation it_XL: [1.5, 1.53], alpha 1, M 3: 1.5214 -> 0.860
    shaping = RewardShaping(1.5, 1.53, 1.0, 3.0)
    assert rl_normalized(1.5214, "min", shaping) == pytest.approx(0.860, abs=1e-3)


def test_original_reward_inverts_minimised_scores():
    config = GymConfig(reward="original")
    value = compute_reward(_Task("min"), config, Outcome.OK, 1.5, None, random.Random(0))
    assert value == pytest.approx(1 / 1.5, rel=1e-6)


def test_improve_reward_compares_with_parent():
    config = GymConfig(reward="improve")
    task = _Task("max")
    rng = random.Random(0)
    assert compute_reward(task, config, Outcome.OK, 1.1, 1.0, rng) == 1.0
    assert compute_reward(task, config, Outcome.OK, 1.0, 1.0, rng) == 0.0
    assert compute_reward(task, config, Outcome.CRASH, None, 1.0, rng) == -0.2


def test_random_control_ignores_the_verifier():
    config = GymConfig(reward="random")
    a = compute_reward(_Task("max"), config, Outcome.OK, 2.0, None, random.Random(1))
    b = compute_reward(_Task("max"), config, Outcome.CRASH, None, None, random.Random(1))
    assert a == b and 0.0 <= a < 1.0


def test_non_finite_and_huge_rewards_are_sanitised():
    config = GymConfig(reward="original")
    rng = random.Random(0)
    assert compute_reward(_Task("max"), config, Outcome.OK, math.inf, None, rng) == -1.0
    assert compute_reward(_Task("max"), config, Outcome.OK, 1e9, None, rng) == 10.0
