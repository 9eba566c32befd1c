#!/usr/bin/env bash
# A short prepared check of the model paths on a machine with one NVIDIA GPU (meant to
# finish in under 10 minutes on one H200). Nothing is downloaded: the models are built
# with random weights from a config (random:0.5b ~ Qwen2.5-0.5B's body, random:1.5b ~
# Qwen2.5-1.5B's), with an in-memory tokenizer.
#
# What it runs, for each size (SIZES, default "0.5b 1.5b"):
#   1. generation through the in-process Transformers proposer: B prompts x n samples in
#      one generate, tokens per second;
#   2. GRPO with TRL on circle_packing_26 (`thetaevolve train`): median step time and peak
#      GPU memory (transformers generation; also vLLM colocated where vLLM is installed);
#   3. a short evolution (`thetaevolve run --llm transformers`) that must finish its budget.
# It prints one JSON line: which checks passed and the figures. A failed check is
# reported in that line (with the end of its log on stderr) and the others still run.
#
# Python packages: the package itself is put on PYTHONPATH from src/. A machine without
# TRL/datasets/pydantic (such as the lent H200, which has torch and transformers) gets
# them as wheels carried in WHEELS (default .whl/, made here by scripts/gpu_wheels.sh):
#   bash scripts/gpu_wheels.sh            # on a machine with PyPI: fills .whl/ (< 64 MiB)
#   bash scripts/gpu_check.sh             # on the GPU machine, with .whl/ carried along
# CI never runs this; on a machine without a GPU it says so and exits 0.
#
# Knobs (environment): SIZES, BATCH (4 prompts), SAMPLES (8 per prompt), MAX_NEW_TOKENS
# (256), STEPS (2), BUDGET (32 candidates), PYTHON (python3), WHEELS (.whl).
set -uo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# DRY_RUN_CPU=1 runs the same steps on the CPU (e.g. SIZES=tiny), to check the script itself.
DRY_RUN_CPU=${DRY_RUN_CPU:-0}
if [ "$DRY_RUN_CPU" != 1 ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "gpu_check: no NVIDIA GPU here (nvidia-smi not found); nothing to check"
    exit 0
fi
WHEELS=${WHEELS:-.whl}
if compgen -G "$WHEELS/*.whl" >/dev/null; then
    SITE=$(mktemp -d)
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$WHEELS"/*.whl >&2 || { echo "gpu_check: installing $WHEELS failed" >&2; exit 1; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONWARNINGS=ignore PYTHONUNBUFFERED=1

"$PYTHON" - "$DRY_RUN_CPU" <<'PY' || exit 1
import importlib.util, sys
missing = [m for m in ("torch", "transformers", "trl", "accelerate", "datasets", "pydantic",
                       "yaml", "numpy", "scipy", "rich", "matplotlib")
           if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"gpu_check: missing Python packages: {', '.join(missing)} "
             "(carry them as wheels: scripts/gpu_wheels.sh)")
import torch
if not torch.cuda.is_available():
    if sys.argv[1] != "1":
        sys.exit("gpu_check: torch sees no CUDA device (a CPU build of torch?)")
    print("gpu_check: dry run on the CPU", file=sys.stderr)
else:
    print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", file=sys.stderr)
PY

SIZES=${SIZES:-0.5b 1.5b}
BATCH=${BATCH:-4}; SAMPLES=${SAMPLES:-8}; MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-256}
STEPS=${STEPS:-2}; BUDGET=${BUDGET:-32}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
HAS_VLLM=0
"$PYTHON" -c "import vllm" >/dev/null 2>&1 && HAS_VLLM=1

# check NAME COMMAND...: runs one check, its log in $WORK/NAME.log; a failure is recorded.
check() {
    local name=$1; shift
    local started=$SECONDS
    if "$@" >"$WORK/$name.log" 2>&1; then
        echo "{\"check\": \"$name\", \"passed\": true, \"seconds\": $((SECONDS - started))}" >>"$RESULTS"
    else
        echo "gpu_check: $name failed; the end of its log:" >&2
        tail -n 25 "$WORK/$name.log" >&2
        echo "{\"check\": \"$name\", \"passed\": false, \"seconds\": $((SECONDS - started))}" >>"$RESULTS"
    fi
}

generate() {  # generate SIZE: tokens/s of the in-process proposer, B x n in one generate
    "$PYTHON" - "$1" "$BATCH" "$SAMPLES" "$MAX_NEW_TOKENS" "$WORK/generate-$1.json" <<'PY'
import asyncio, json, sys, time
import torch
from thetaevolve.config import LLMConfig
from thetaevolve.proposers.base import Prompt
from thetaevolve.proposers.transformers_local import TransformersProposer
from thetaevolve.tasks import get_task

size, batch, n, max_new, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
config = LLMConfig(kind="transformers", model=f"random:{size}", max_tokens=max_new,
                   timeout_s=300, max_batch_sequences=batch * n)
proposer = TransformersProposer(config)
code = get_task("circle_packing_26").initial_program
prompts = [Prompt(messages=({"role": "user", "content": f"{i}\n{code}"},), sample=None)
           for i in range(batch)]

async def one():
    t = time.perf_counter()
    groups = await asyncio.gather(*(proposer.propose([p], n) for p in prompts))
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    responses = [r for g in groups for r in g[0]]
    assert all(not r.error for r in responses), [r.error for r in responses if r.error][:2]
    return sum(r.tokens_out for r in responses), time.perf_counter() - t

asyncio.run(one())  # warm-up
tokens, seconds = asyncio.run(one())
json.dump({"size": size, "rows": batch * n, "tokens": tokens, "seconds": round(seconds, 3),
           "tokens_per_s": round(tokens / seconds, 1),
           "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3)
           if torch.cuda.is_available() else None}, open(out, "w"))
PY
}

train() {  # train SIZE GENERATION: GRPO steps through `thetaevolve train`
    "$PYTHON" -m thetaevolve.cli train circle_packing_26 --model "random:$1" --steps "$STEPS" \
        --batch-size "$BATCH" --samples-per-prompt "$SAMPLES" --max-new-tokens "$MAX_NEW_TOKENS" \
        --micro-batch-size "$SAMPLES" --checkpoint-every 0 --generation "$2" \
        --set rl.keep_checkpoints=1 --set rl.gradient_checkpointing=true \
        --run-dir "$WORK/train-$1-$2" --quiet
}

evolve() {  # evolve SIZE: a short inference run through the in-process proposer
    "$PYTHON" -m thetaevolve.cli run circle_packing_26 --llm transformers --model "random:$1" \
        --budget "$BUDGET" --batch-size "$BATCH" --samples-per-prompt "$SAMPLES" \
        --set llm.max_tokens="$MAX_NEW_TOKENS" --set llm.max_batch_sequences=$((BATCH * SAMPLES)) \
        --run-dir "$WORK/run-$1" --quiet
}

for size in $SIZES; do
    check "generate-$size" generate "$size"
    check "train-$size-transformers" train "$size" transformers
    if [ "$HAS_VLLM" = 1 ]; then check "train-$size-vllm_colocate" train "$size" vllm_colocate; fi
    check "evolve-$size" evolve "$size"
    rm -rf "$WORK"/train-*/checkpoints  # GBs of optimizer state; only the figures are kept
done

"$PYTHON" - "$WORK" "$RESULTS" "$HAS_VLLM" <<'PY'
import json, statistics, sys
from pathlib import Path
work, results, has_vllm = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
checks = [json.loads(line) for line in results.read_text().splitlines()]
figures = {}
for path in sorted(work.glob("generate-*.json")):
    data = json.loads(path.read_text())
    figures[f"generate_{data['size']}_tok_s"] = data["tokens_per_s"]
    figures[f"generate_{data['size']}_peak_gib"] = data["peak_gib"]
for folder in sorted(work.glob("train-*")):
    training = folder / "training.json"
    if not training.exists():
        continue
    data = json.loads(training.read_text())
    steps = data.get("step_seconds") or []
    warm = steps[1:] or steps  # the first step pays for allocator warm-up
    key = folder.name.replace("train-", "train_").replace("-", "_")
    figures[f"{key}_step_s"] = round(statistics.median(warm), 3) if warm else None
    figures[f"{key}_peak_gib"] = data.get("cuda_peak_gib")
for folder in sorted(work.glob("run-*")):
    summary = folder / "summary.json"
    if summary.exists():
        data = json.loads(summary.read_text())
        key = folder.name.replace("run-", "evolve_").replace("-", "_")
        figures[f"{key}_candidates"] = data["evaluations"]
        figures[f"{key}_wall_s"] = data["wall_seconds"]
print(json.dumps({
    "check": "gpu",
    "passed": all(c["passed"] for c in checks),
    "checks": {c["check"]: c["passed"] for c in checks},
    "seconds": {c["check"]: c["seconds"] for c in checks},
    "vllm": has_vllm,
    **figures,
}))
PY

# GRPO vs TTT-Discover's entropic objective, a few steps each at one budget (issue 17);
# COMPARE_OBJECTIVES=0 skips it. Its knobs are in the script's docstring.
if [ "${COMPARE_OBJECTIVES:-1}" != 0 ]; then
    "$PYTHON" scripts/gpu_compare_objectives.py
fi
