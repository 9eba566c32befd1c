"""Tokens per second of the bundled smollm2-135m, in process and served, and the
framework's share of a candidate's time (issue 16).

- ``inprocess_tok_s``: completion tokens per second of wall time of
  ``TransformersProposer.propose`` (B prompts x n samples in one generate), after one
  warm-up batch.
- ``served_tok_s``: the same prompts through ``transformers serve`` (started here on a
  loopback port) and the HTTP proposer; that server ignores ``n``, so the samples are
  fanned out as concurrent requests.
- ``framework_share``: a short ``thetaevolve run --llm transformers`` on circle_packing_26;
  the fraction of the batches' wall time spent outside the model's generation (prompt
  building, edit parsing, sandbox and verifier, the store). With so small a model most
  answers hold no usable edit, so little of that is sandbox time.

CPU numbers on a shared machine move with its load; the machine and its load average
are printed with them. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from thetaevolve.config import LLMConfig, load_config  # noqa: E402
from thetaevolve.models.bundled import ensure_converted  # noqa: E402
from thetaevolve.proposers.base import Prompt  # noqa: E402
from thetaevolve.tasks import get_task  # noqa: E402


def make_prompts(count: int) -> list[Prompt]:
    code = get_task("circle_packing_26").initial_program  # a real program, ~650 tokens
    return [
        Prompt(messages=(
            {"role": "system", "content": "You improve Python programs with SEARCH/REPLACE edits."},
            {"role": "user", "content": f"Variant {i}. Improve this program:\n```python\n{code}\n```"},
        ), sample=None, key=f"0:{i}")  # type: ignore[arg-type]
        for i in range(count)
    ]


def tokens_per_second(proposer, prompts: list[Prompt], n: int, repeats: int) -> float:
    async def one_batch() -> tuple[int, float]:
        started = time.perf_counter()
        groups = await asyncio.gather(*(proposer.propose([p], n) for p in prompts))
        wall = time.perf_counter() - started
        return sum(r.tokens_out for g in groups for r in g[0] if not r.error), wall

    async def run() -> float:
        await one_batch()  # warm-up: first-call allocations, the server's first request
        tokens = seconds = 0.0
        for _ in range(repeats):
            t, s = await one_batch()
            tokens, seconds = tokens + t, seconds + s
        await proposer.aclose()
        return tokens / seconds if seconds else 0.0

    return asyncio.run(run())


def measure_inprocess(folder: Path, args) -> float:
    from thetaevolve.proposers.transformers_local import TransformersProposer

    config = LLMConfig(kind="transformers", model=str(folder), max_tokens=args.max_tokens,
                       timeout_s=600, device="cpu")
    return tokens_per_second(TransformersProposer(config), make_prompts(args.prompts), args.n,
                             args.repeats)


def measure_served(folder: Path, args) -> float:
    from served_model import transformers_server

    from thetaevolve.proposers.openai_client import OpenAIProposer

    with tempfile.TemporaryDirectory() as tmp:
        with transformers_server(folder, Path(tmp) / "server.log") as server:
            config = LLMConfig(kind="openai", base_url=server.base_url, model=server.model,
                               max_tokens=args.max_tokens, timeout_s=600, max_retries=0)
            return tokens_per_second(OpenAIProposer(config), make_prompts(args.prompts), args.n,
                                     args.repeats)


def measure_framework_share(args) -> dict[str, float]:
    import thetaevolve.evolve as evolve_module
    from thetaevolve.session import Session

    spans: list[tuple[float, float]] = []
    original = evolve_module.make_proposer

    class Timed:
        def __init__(self, inner) -> None:
            self.inner = inner

        async def propose(self, prompts, n):
            started = time.perf_counter()
            try:
                return await self.inner.propose(prompts, n)
            finally:
                spans.append((started, time.perf_counter()))

        async def aclose(self) -> None:
            await self.inner.aclose()

    evolve_module.make_proposer = lambda config: Timed(original(config))
    walls: list[float] = []  # filled from the run's log below
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(overrides=[
                "task=circle_packing_26", "llm.kind=transformers", "llm.model=smollm2-135m",
                f"llm.max_tokens={args.max_tokens}", f"budget={args.run_budget}",
                "gym.batch_size=2", f"gym.samples_per_prompt={args.n}", "seed=0",
            ])
            session = Session.create(config, Path(tmp) / "run")
            asyncio.run(evolve_module.evolve(session, config.budget, quiet=True))
            session.close()
            # Each batch's wall time, as the run recorded it in its own log.
            lines = (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()
            walls = [e["wall_s"] for e in map(json.loads, lines) if e["event"] == "batch"]
    finally:
        evolve_module.make_proposer = original
    # The prompts of a batch are generated together: the union of their spans is the
    # model's share of the batch.
    generate = 0.0
    last_end = float("-inf")
    for start, end in sorted(spans):
        generate += max(0.0, end - max(start, last_end))
        last_end = max(last_end, end)
    wall = sum(walls)
    candidates = len(walls) and args.run_budget
    return {"framework_share": max(0.0, (wall - generate) / wall) if wall else 0.0,
            "run_wall_s": wall, "run_generate_s": generate,
            "framework_s_per_candidate": max(0.0, wall - generate) / candidates if candidates else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--run-budget", type=int, default=8)
    parser.add_argument("--skip-served", action="store_true",
                        help="leave out the served measurement (reported as null)")
    args = parser.parse_args()
    folder = ensure_converted("smollm2-135m")
    inprocess = measure_inprocess(folder, args)
    print(f"in-process: {inprocess:.1f} tokens/s", file=sys.stderr)
    served = None if args.skip_served else measure_served(folder, args)
    if served is not None:
        print(f"served (transformers serve): {served:.1f} tokens/s", file=sys.stderr)
    share = measure_framework_share(args)
    print(f"framework share of a run's time: {share['framework_share']:.5f}", file=sys.stderr)
    print(json.dumps({
        "benchmark": "models",
        "model": "smollm2-135m",
        "inprocess_tok_s": round(inprocess, 2),
        "served_tok_s": None if served is None else round(served, 2),
        "framework_share": round(share["framework_share"], 6),
        "framework_s_per_candidate": round(share["framework_s_per_candidate"], 4),
        "run_wall_s": round(share["run_wall_s"], 2),
        "run_generate_s": round(share["run_generate_s"], 2),
        "prompts": args.prompts, "n": args.n, "max_tokens": args.max_tokens,
        "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
