#!/usr/bin/env python3
"""A short GRPO-vs-entropic comparison on one NVIDIA GPU (called by scripts/gpu_check.sh).

Trains the same model from the same seed on the same task for the same number of steps
(so the same candidate budget) once per objective in OBJECTIVES, then compares the runs
with `thetaevolve compare` and prints one JSON line: per objective the median step time,
the mean reward of the first and the last step, the mean adaptive beta (entropic
objectives), and compare's best-at-N, AUC and final best.

With the default random:0.5b model every child fails to edit and earns the same penalty,
so the objectives cannot differ in score; the check then measures that each objective
runs on a GPU and what it costs. Give MODEL=/path/to/a/real/model for a comparison of
scores. Numbers from this script are only ever reported from a GPU run.

Knobs (environment): MODEL (random:0.5b), TASK (circle_packing_26), STEPS (3), BATCH (4),
SAMPLES (8), MAX_NEW_TOKENS (256), MICRO (8), GENERATION (auto: vllm_colocate when vLLM
is importable), OBJECTIVES (grpo,entropic_adaptive), SEED (0), PYTHON (this interpreter),
ALLOW_CPU (1: run without a GPU, to check the script itself; its numbers mean nothing).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def main() -> int:
    try:
        import torch
    except ImportError:
        print("gpu_compare_objectives: torch is not installed (needs the rl extra)")
        return 1
    on_gpu = torch.cuda.is_available()
    if not on_gpu and env("ALLOW_CPU", "0") != "1":
        print("gpu_compare_objectives: no CUDA device here; nothing to compare")
        return 0
    python = env("PYTHON", sys.executable)
    generation = env("GENERATION", "auto")
    if generation == "auto":
        try:
            import vllm  # noqa: F401

            generation = "vllm_colocate"
        except ImportError:
            generation = "transformers"
    objectives = [o.strip() for o in env("OBJECTIVES", "grpo,entropic_adaptive").split(",")]
    child_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                 "PYTHONWARNINGS": "ignore::FutureWarning",
                 "PYTHONPATH": f"{ROOT / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
    report: dict = {"check": "gpu_compare_objectives", "device": torch.cuda.get_device_name(0) if on_gpu else "cpu (script check only)",
                    "model": env("MODEL", "random:0.5b"), "task": env("TASK", "circle_packing_26"),
                    "generation": generation, "objectives": {}}
    with tempfile.TemporaryDirectory() as work:
        runs = []
        for objective in objectives:
            run = Path(work) / objective
            command = [
                python, "-m", "thetaevolve.cli", "train", report["task"],
                "--model", report["model"], "--steps", env("STEPS", "3"),
                "--batch-size", env("BATCH", "4"), "--samples-per-prompt", env("SAMPLES", "8"),
                "--max-new-tokens", env("MAX_NEW_TOKENS", "256"),
                "--micro-batch-size", env("MICRO", "8"), "--checkpoint-every", "0",
                "--set", "rl.keep_checkpoints=1", "--generation", generation,
                "--advantage", objective, "--seed", env("SEED", "0"),
                "--run-dir", str(run), "--quiet",
            ]
            done = subprocess.run(command, env=child_env, stdout=sys.stderr, stderr=sys.stderr)
            if done.returncode != 0:
                report["objectives"][objective] = {"error": f"train exited {done.returncode}"}
                continue
            runs.append(run)
            events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            batches = [e for e in events if e["event"] == "batch"]
            betas = [e["entropic_beta"] for e in events
                     if e["event"] == "train" and "entropic_beta" in e]
            steps = json.loads((run / "training.json").read_text())["step_seconds"]
            report["objectives"][objective] = {
                "step_s_median": round(statistics.median(steps[1:] or steps), 3),
                "mean_reward_first": batches[0]["mean_reward"] if batches else None,
                "mean_reward_last": batches[-1]["mean_reward"] if batches else None,
                "entropic_beta_mean": round(statistics.fmean(betas), 4) if betas else None,
            }
        if runs:
            compared = subprocess.run(
                [python, "-m", "thetaevolve.cli", "compare", *map(str, runs), "--json",
                 "--plot", str(Path(work) / "compare.png")],
                env=child_env, capture_output=True, text=True)
            if compared.returncode == 0:
                for row in json.loads(compared.stdout)["runs"]:
                    name = Path(row["run"]).name
                    report["objectives"][name].update(
                        best_at_n=row["best_at_n"], auc=row["auc"], final_best=row["final_best"])
            else:
                report["compare_error"] = compared.stderr.strip()[-500:]
    print(json.dumps(report))
    failed = [o for o, r in report["objectives"].items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
