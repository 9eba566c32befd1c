"""The RL objectives on the toy learning task, with the random-reward control (CPU).

    python benchmarks/objectives_toy.py                  # grpo, entropic, entropic_adaptive
    python benchmarks/objectives_toy.py --steps 16 --objective entropic_adaptive

The task is the test suite's (tests/helpers.py, its RL section): the reward is the share of the
letter ``x`` in 8 generated tokens; ``random:tiny`` trains with 4 prompts x 8 samples per
step at lr 1e-2. For each objective it trains once on the verifier's reward and once on
random rewards, and reports the mean score of each step's 32 children. It needs the rl
extra. One seed of a toy task: it shows learning of signal versus noise, not which
objective is better on a real problem. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
warnings.filterwarnings("ignore", category=FutureWarning)

try:
    from helpers import SyntheticGym

    from thetaevolve.config import RLConfig
    from thetaevolve.rl.train import train_on_gym
except ImportError as exc:  # `make bench` installs the core only
    print(json.dumps({"benchmark": "objectives_toy", "skipped": f"needs the rl extra ({exc})"}))
    sys.exit(0)

PER_STEP = 32


def curve(objective: str, reward: str, steps: int, seed: int) -> tuple[list[float], float]:
    rl = RLConfig(steps=steps, batch_size=4, samples_per_prompt=8, micro_batch_size=32,
                  max_new_tokens=8, learning_rate=1e-2, checkpoint_every=0,
                  keep_checkpoints=None, advantage=objective)
    gym = SyntheticGym(reward=reward, seed=seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        train_on_gym(gym, rl, Path(folder), seed=seed)
    children = gym.records[1:]
    means = [round(statistics.fmean(r.score for r in children[k * PER_STEP:(k + 1) * PER_STEP]), 4)
             for k in range(steps)]
    return means, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--objective", action="append",
                        choices=["grpo", "entropic", "entropic_adaptive"])
    args = parser.parse_args()
    results = {}
    for objective in args.objective or ["grpo", "entropic", "entropic_adaptive"]:
        signal, signal_s = curve(objective, "original", args.steps, args.seed)
        noise, noise_s = curve(objective, "random", args.steps, args.seed)
        results[objective] = {"signal": signal, "random_reward": noise,
                              "seconds": round(signal_s + noise_s, 1)}
        print(f"{objective}: signal {signal}\n{objective}: random {noise}", flush=True)
    print(json.dumps({"benchmark": "objectives_toy", "steps": args.steps, "seed": args.seed,
                      "per_step": PER_STEP, "results": results}))


if __name__ == "__main__":
    main()
