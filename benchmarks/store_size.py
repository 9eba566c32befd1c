"""Disk use of a run's program store per candidate, for the README's sizing note.

    python benchmarks/store_size.py                    # 1000 offline candidates
    python benchmarks/store_size.py --budget 5000

Runs the offline mutator on circle_packing_26 through the CLI (prompts, responses and
code are stored for every candidate, failures included) and reports the size of
programs.sqlite (plus its -wal file, if any) divided by the candidates stored. The
prompt is the largest text per row, so an LLM run with longer prompts and responses
uses more; ``prompt_chars_mean`` and ``response_chars_mean`` say what this run stored.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from pathlib import Path

from thetaevolve.cli import main


def measure(budget: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        code = main(["run", "circle_packing_26", "--budget", str(budget), "--seed", str(seed),
                     "--run-dir", str(run_dir), "--quiet"])
        assert code == 0
        store = run_dir / "programs.sqlite"
        size = sum(p.stat().st_size for p in run_dir.glob("programs.sqlite*") if p.is_file())
        db = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
        rows, prompt, response, code_chars = db.execute(
            "SELECT COUNT(*), AVG(LENGTH(prompt)), AVG(LENGTH(response)), AVG(LENGTH(code)) "
            "FROM program_texts").fetchone()
        db.close()
        return {
            "candidates": budget,
            "store_bytes": size,
            "bytes_per_candidate": round(size / max(1, rows), 1),
            "prompt_chars_mean": round(prompt or 0.0, 1),
            "response_chars_mean": round(response or 0.0, 1),
            "code_chars_mean": round(code_chars or 0.0, 1),
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(measure(args.budget, args.seed)))
