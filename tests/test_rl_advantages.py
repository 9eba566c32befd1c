"""The advantage estimators (pure Python; no torch needed)."""

from __future__ import annotations

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from thetaevolve.rl.advantages import (
    ADAPTIVE_KL_TARGET,
    adaptive_beta,
    entropic_advantages,
    grpo_advantages,
    group_advantages,
    tilted_kl_from_uniform,
)


def test_entropic_weights_match_a_hand_computed_example():
    # beta = ln 2, rewards (0, 0, 1): exp(beta r) = (1, 1, 2).
    # Leave-one-out means: (1 + 2) / 2 = 1.5 for the two zeros, (1 + 1) / 2 = 1 for the one.
    # Weights: 1 / 1.5, 1 / 1.5, 2 / 1; advantages w - 1.
    got = entropic_advantages([0.0, 0.0, 1.0], math.log(2.0))
    assert got == pytest.approx([-1 / 3, -1 / 3, 1.0], abs=1e-12)
    # beta = 1, rewards (0, 1): w = (e^0 / e^1, e^1 / e^0).
    assert entropic_advantages([0.0, 1.0], 1.0) == pytest.approx(
        [math.exp(-1) - 1, math.e - 1], abs=1e-12)


def test_entropic_weights_ignore_a_shift_and_survive_huge_rewards():
    base = entropic_advantages([0.1, 0.5, 0.2, 0.9], 3.0)
    assert entropic_advantages([1000.1, 1000.5, 1000.2, 1000.9], 3.0) == pytest.approx(base)
    # No overflow for exp(beta r) with beta r ~ 1e5.
    huge = entropic_advantages([0.0, 1e5], 1.0)
    assert all(math.isfinite(a) for a in huge) and huge[1] > 0 > huge[0]


def test_equal_rewards_give_zero_advantage_for_every_objective():
    for objective in ("grpo", "entropic", "entropic_adaptive"):
        advantages, _ = group_advantages([0.3] * 5, objective, beta=2.0)
        assert advantages == pytest.approx([0.0] * 5, abs=1e-9), objective


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=16)
       .filter(lambda r: max(r) - min(r) > 1e-3))
# Gaps of very different scales: the bisection alone once stopped far above the crossing.
@example([0.0, 7.305757549171737e-238, -1.0, -1.0, -1.0])
@example([0.0, 7.305757549171737e-238, -1.0, -1.0, -2.4773760099455743e-51])
def test_adaptive_beta_meets_its_kl_target(rewards):
    beta = adaptive_beta(rewards)
    top = max(rewards)
    ties = sum(1 for r in rewards if top - r < 1e-12)
    reachable = math.log(len(rewards) / ties) > ADAPTIVE_KL_TARGET + 1e-6
    if reachable:
        assert tilted_kl_from_uniform(rewards, beta) == pytest.approx(ADAPTIVE_KL_TARGET, abs=1e-9)
    else:  # as close as a finite beta gets: the tilted distribution is ~ its limit
        assert tilted_kl_from_uniform(rewards, beta) <= ADAPTIVE_KL_TARGET + 1e-9


def test_adaptive_beta_on_a_hand_checked_group():
    # Rewards (0, 0, 0, 1): q = (1, 1, 1, e^b) / (3 + e^b), KL = ln 4 - H(q). With p = e^b /
    # (3 + e^b), H(q) = -p ln p - (1 - p) ln((1 - p) / 3) = ln 2 at p ~ 0.8107 (checked by hand:
    # 0.8107 * 0.2098 + 0.1893 * 2.7632 = 0.6932), i.e. b = ln(3 p / (1 - p)) ~ 2.5532.
    beta = adaptive_beta([0.0, 0.0, 0.0, 1.0])
    assert tilted_kl_from_uniform([0.0, 0.0, 0.0, 1.0], beta) == pytest.approx(math.log(2), abs=1e-10)
    p = math.exp(beta) / (3 + math.exp(beta))
    assert p == pytest.approx(0.8107, abs=2e-4) and beta == pytest.approx(2.5532, abs=2e-3)
    assert adaptive_beta([0.0, 0.0, 0.0, 10.0]) == pytest.approx(beta / 10, rel=1e-9)
    # Two samples: the supremum ln 2 is only reached at infinity; beta is capped, finite.
    two = adaptive_beta([0.0, 1.0])
    assert math.isfinite(two) and tilted_kl_from_uniform([0.0, 1.0], two) > math.log(2) - 1e-9


def test_grpo_advantages_are_trls_formula():
    rewards = [1.0, 2.0, 4.0]
    mean, std = 7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    assert grpo_advantages(rewards) == pytest.approx([(r - mean) / (std + 1e-4) for r in rewards])


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="2 samples"):
        entropic_advantages([1.0], 1.0)
    with pytest.raises(ValueError, match="beta"):
        entropic_advantages([1.0, 2.0], -1.0)
    with pytest.raises(ValueError, match="unknown"):
        group_advantages([1.0, 2.0], "ppo")
