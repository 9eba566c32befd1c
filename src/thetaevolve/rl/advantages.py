"""Advantage estimators for one GRPO group (the n samples that share one parent).

Three objectives, chosen by ``rl.advantage``:

* ``grpo`` (ThetaEvolve, arXiv 2511.23473): the expected reward; advantage
  ``(r - mean) / (std + 1e-4)`` within the group. TRL computes it itself
  (``scale_rewards``); ``grpo_advantages`` here is the same formula for the metrics log.
* ``entropic`` (TTT-Discover, arXiv 2601.16175): the objective ``log E[exp(beta R)]``,
  whose gradient weights each sample by ``w = exp(beta r) / E[exp(beta R)]``. The
  expectation in the denominator is estimated *leave-one-out*, from the other n - 1
  samples of the group, so that a sample's weight does not contain its own reward; the
  advantage is ``w - 1`` (E[w] = 1 is the baseline). As beta grows the objective tends
  to the group's maximum: it rewards the best sample, not the average one.
* ``entropic_adaptive`` (TTT-Discover's default): the same weights with beta chosen per
  group, by bisection, so that the tilted distribution ``q_beta = softmax(beta r)`` over
  the group has KL(q_beta || uniform) = ln 2 (``ADAPTIVE_KL_TARGET``). Beta then adapts to
  the reward scale of each group on its own.

Pure Python on purpose: no torch, so it is cheap to test and to call from the metrics.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

ADAPTIVE_KL_TARGET = math.log(2.0)
GRPO_EPS = 1e-4  # TRL's epsilon in (r - mean) / (std + eps)
_BISECTION_STEPS = 100
_HALVING_STEPS = 2200  # more than a float's exponent range (2^-1074 .. 2^1024)
# The largest tilt used: a weight or a beta-scaled reward gap above 50 (e^50 ~ 5e21)
# changes nothing measurable but risks overflow.
_MAX_TILT = 50.0


def grpo_advantages(rewards: Sequence[float]) -> list[float]:
    """GRPO's group-normalised advantages, as TRL's ``scale_rewards="group"``."""
    mean = statistics.fmean(rewards)
    std = statistics.stdev(rewards) if len(rewards) > 1 else 0.0
    return [(r - mean) / (std + GRPO_EPS) for r in rewards]


def entropic_advantages(rewards: Sequence[float], beta: float) -> list[float]:
    """Leave-one-out entropic advantages ``w_i - 1`` for one group.

    ``w_i = exp(beta r_i) / ((1 / (n - 1)) * sum_{j != i} exp(beta r_j))``, computed in log
    space (the weights are unchanged by a shift of the rewards, and nothing overflows).
    O(n^2) per group: n is a group size (16 in ThetaEvolve's preset, 64 in TTT-Discover's).
    """
    n = len(rewards)
    if n < 2:
        raise ValueError("entropic advantages need at least 2 samples per group")
    if beta < 0 or not math.isfinite(beta):
        raise ValueError(f"beta must be finite and non-negative, got {beta}")
    scaled = [beta * r for r in rewards]
    out = []
    for i, own in enumerate(scaled):
        others = scaled[:i] + scaled[i + 1:]
        # log of the leave-one-out mean of exp(beta r), shifted by its maximum: no overflow
        # and no underflow to a zero denominator.
        top = max(others)
        log_mean = top + math.log(math.fsum(math.exp(x - top) for x in others) / (n - 1))
        # A weight above e^50 only arises with a fixed beta far too large for the rewards'
        # scale; capping it keeps the update finite.
        out.append(math.exp(min(own - log_mean, _MAX_TILT)) - 1.0)
    return out


def tilted_kl_from_uniform(rewards: Sequence[float], beta: float) -> float:
    """KL(softmax(beta r) || uniform) = ln n - H(softmax(beta r)), in nats."""
    top = max(rewards)
    tilted = [math.exp(beta * (r - top)) for r in rewards]
    total = math.fsum(tilted)
    entropy = -math.fsum((e / total) * math.log(e / total) for e in tilted if e > 0)
    return max(0.0, math.log(len(rewards)) - entropy)


def adaptive_beta(rewards: Sequence[float], target: float = ADAPTIVE_KL_TARGET) -> float:
    """The beta at which KL(softmax(beta r) || uniform) equals ``target``.

    The KL grows monotonically with beta from 0 (beta = 0) to ln(n / m), m being the number
    of samples tied at the maximum. A group with no spread gets beta = 0 (all advantages
    are 0 anyway); a group whose supremum ln(n / m) does not exceed the target (e.g. n = 2,
    or most samples tied at the top) gets the largest beta allowed (``_MAX_TILT`` over the
    gap between the best reward and the runner-up), the closest it can come.
    """
    top = max(rewards)
    below = [r for r in rewards if r < top]
    if not below:
        return 0.0
    # At beta * (gap to the runner-up) = _MAX_TILT the tilted distribution sits on the
    # samples tied at the top (to ~e^-50): the KL is at its supremum, up to rounding.
    high = _MAX_TILT / (top - max(below))
    if tilted_kl_from_uniform(rewards, high) <= target:
        return high
    # Halve down to the crossing's scale first: with rewards whose gaps differ by hundreds
    # of orders of magnitude (1e-238 next to 1e-51), ``high`` is that far above it, more
    # than the bisection's steps can cover. The KL grows with beta, so the first halving
    # that falls below the target brackets the one crossing.
    for _ in range(_HALVING_STEPS):
        if tilted_kl_from_uniform(rewards, high / 2) < target:
            break
        high /= 2
    low = high / 2
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if tilted_kl_from_uniform(rewards, mid) < target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * high:
            break
    return 0.5 * (low + high)


def group_advantages(
    rewards: Sequence[float], objective: str, beta: float = 1.0
) -> tuple[list[float], float | None]:
    """(advantages, beta used) for one group under ``objective``; beta None for grpo."""
    if objective == "grpo":
        return grpo_advantages(rewards), None
    if objective == "entropic":
        return entropic_advantages(rewards, beta), beta
    if objective == "entropic_adaptive":
        chosen = adaptive_beta(rewards)
        return entropic_advantages(rewards, chosen), chosen
    raise ValueError(f"unknown advantage objective {objective!r}")
