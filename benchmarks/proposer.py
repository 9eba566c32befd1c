"""The framework's own time per batch of 32 prompts x 16 samples (issue 6; target < 0.5 s).

The server is the zero-latency fake from tests/fake_llm_server.py, run as a separate
process so that it does not share this interpreter; what is timed is
``OpenAIProposer.propose`` end to end (request building, HTTP, parsing, accounting).
Two paths: native ``n`` (one request per prompt: 32 requests) and fan-out (a server that
rejects ``n``, as llama.cpp does: 512 single requests). The first batch of each path,
which also finds out whether ``n`` works, is reported separately and not in the median.

Last line: one JSON object with at least ``native_n_s`` and ``fanout_s`` (median wall
seconds), plus the client's CPU seconds per batch (``*_cpu_s``), which a busy machine
disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from thetaevolve.config import LLMConfig
from thetaevolve.database.records import ParentSample, ProgramRecord
from thetaevolve.proposers.base import Prompt
from thetaevolve.proposers.openai_client import OpenAIProposer
from thetaevolve.proposers.usage import UsageTotals
from thetaevolve.types import Outcome

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "fake_llm_server.py"


def make_prompts(count: int, prompt_chars: int) -> list[Prompt]:
    code = ("x = 1\n" * (prompt_chars // 6 + 1))[:prompt_chars]
    record = ProgramRecord(
        id=1, parent_id=None, island=0, generation=0, iteration=0, code=code, code_hash="h",
        outcome=Outcome.OK, score=1.0, fitness=1.0, reward=0.0, metrics={}, prompt="",
        response="", detail="", created_at=0.0,
    )
    return [
        Prompt(
            messages=(
                {"role": "system", "content": "You improve programs."},
                {"role": "user", "content": f"prompt {i}\n```python\n{code}\n```"},
            ),
            sample=ParentSample(record),
            key=f"0:{i}",
        )
        for i in range(count)
    ]


def start_server(n_mode: str, reply_chars: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(SERVER), "--n-mode", n_mode, "--reply-chars", str(reply_chars)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().split()
    if len(line) != 2 or line[0] != "PORT":
        process.kill()
        raise RuntimeError(f"fake server did not start (said {line!r})")
    return process, f"http://127.0.0.1:{line[1]}/v1"


async def measure(url: str, prompts: list[Prompt], n: int, repeats: int, concurrency: int) -> dict[str, Any]:
    config = LLMConfig(
        kind="openai", base_url=url, model="fake", timeout_s=60.0, max_concurrency=concurrency
    )
    proposer = OpenAIProposer(config)
    times: list[float] = []
    cpu: list[float] = []
    totals = UsageTotals()
    try:
        for _ in range(repeats + 1):
            started, cpu_started = time.perf_counter(), time.process_time()
            groups = await proposer.propose(prompts, n)
            times.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
            totals.add_all(groups)
            failed = sum(1 for g in groups for r in g if r.error)
            if failed:
                raise RuntimeError(f"{failed} failed responses against the fake server")
    finally:
        await proposer.aclose()
    return {
        "median_s": statistics.median(times[1:]),
        "cpu_median_s": statistics.median(cpu[1:]),
        "first_batch_s": times[0],
        "all_s": [round(t, 4) for t in times],
        "native_n": proposer.native_n,
        "calls": totals.calls,
        "responses": totals.responses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--prompt-chars", type=int, default=9000)  # ThetaEvolve: ~9.3k
    parser.add_argument("--reply-chars", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)  # llm.max_concurrency default
    args = parser.parse_args()
    prompts = make_prompts(args.prompts, args.prompt_chars)
    results: dict[str, dict[str, Any]] = {}
    for label, mode in (("native_n", "native"), ("fanout", "reject")):
        process, url = start_server(mode, args.reply_chars)
        try:
            results[label] = asyncio.run(measure(url, prompts, args.n, args.repeats, args.concurrency))
        finally:
            process.terminate()
            process.wait(10)
        print(f"{label}: {results[label]}", flush=True)
    summary = {
        "benchmark": "proposer",
        "prompts": args.prompts,
        "n": args.n,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "native_n_s": round(float(results["native_n"]["median_s"]), 4),
        "fanout_s": round(float(results["fanout"]["median_s"]), 4),
        "native_n_first_batch_s": round(float(results["native_n"]["first_batch_s"]), 4),
        "fanout_first_batch_s": round(float(results["fanout"]["first_batch_s"]), 4),
        # Client CPU seconds per batch: the framework's own work, robust to a busy machine.
        "native_n_cpu_s": round(float(results["native_n"]["cpu_median_s"]), 4),
        "fanout_cpu_s": round(float(results["fanout"]["cpu_median_s"]), 4),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "target_s": 0.5,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
