#!/usr/bin/env bash
# A short prepared check of test-time RL on a machine with one NVIDIA GPU.
#
# It trains a randomly initialised ~0.5B-parameter Qwen2-shaped model (random:0.5b, built
# from a config: no download) for a few GRPO steps on circle_packing_26, generating with
# vLLM (colocated) when vLLM is installed and with transformers otherwise, and prints the
# step time and the generated tokens per second as one JSON line.
#
# Needs the package with its rl extra importable by $PYTHON (default python3), e.g.
#   pip install -e '.[rl]'      (torch from the machine's CUDA build, not the CPU pin)
# CI never runs this; on a machine without a GPU it says so and exits 0.
#
# Knobs (environment): MODEL (random:0.5b), STEPS (4), BATCH (4 prompts), SAMPLES (8 per prompt),
# MAX_NEW_TOKENS (512), MICRO (8 sequences per forward/backward), GENERATION (auto).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU here (nvidia-smi not found); nothing to check"
    exit 0
fi

export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONWARNINGS=ignore::FutureWarning

"$PYTHON" - <<'PY'
import importlib, sys
missing = [m for m in ("torch", "transformers", "trl", "accelerate", "datasets", "pydantic",
                       "yaml", "numpy", "scipy", "rich", "matplotlib")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: missing Python packages: {', '.join(missing)} "
             "(install the package with its rl extra)")
import torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA device (a CPU build of torch?)")
print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", file=sys.stderr)
PY

GENERATION=${GENERATION:-auto}
if [ "$GENERATION" = auto ]; then
    if "$PYTHON" -c "import vllm" >/dev/null 2>&1; then GENERATION=vllm_colocate; else GENERATION=transformers; fi
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RUN="$WORK/run"

"$PYTHON" -m thetaevolve.cli train circle_packing_26 \
    --model "${MODEL:-random:0.5b}" \
    --steps "${STEPS:-4}" \
    --batch-size "${BATCH:-4}" \
    --samples-per-prompt "${SAMPLES:-8}" \
    --max-new-tokens "${MAX_NEW_TOKENS:-512}" \
    --micro-batch-size "${MICRO:-8}" \
    --checkpoint-every 0 \
    --generation "$GENERATION" \
    --set rl.keep_checkpoints=1 \
    --run-dir "$RUN" --quiet >&2

"$PYTHON" - "$RUN" "$GENERATION" <<'PY'
import json, statistics, sys
from pathlib import Path
run, generation = Path(sys.argv[1]), sys.argv[2]
events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
batches = [e for e in events if e["event"] == "batch"]
start = next(e for e in events if e["event"] == "train_start")
training = json.loads((run / "training.json").read_text())
steps = training["step_seconds"]
warm = steps[1:] or steps  # the first step pays for compilation and allocator warm-up
gen = [b["tokens_out"] / b["generate_s"] for b in batches[1:] or batches if b["generate_s"] > 0]
print(json.dumps({
    "check": "gpu_rl_steps",
    "device": training.get("device"),
    "parameters": start["parameters"],
    "generation": generation,
    "steps": training["steps_done"],
    "completions_per_step": batches[0]["children"] if batches else 0,
    "step_s_median": round(statistics.median(warm), 3) if warm else None,
    "step_s_first": round(steps[0], 3) if steps else None,
    "generate_tokens_per_s": round(statistics.fmean(gen), 1) if gen else None,
    "tokens_out_per_step": round(statistics.fmean(b["tokens_out"] for b in batches), 1),
    "cuda_peak_gib": training.get("cuda_peak_gib"),
}))
PY

# GRPO vs TTT-Discover's entropic objective, a few steps each at one budget (issue 17);
# COMPARE_OBJECTIVES=0 skips it. Its knobs are in the script's docstring.
if [ "${COMPARE_OBJECTIVES:-1}" != 0 ]; then
    "$PYTHON" scripts/gpu_compare_objectives.py
fi
