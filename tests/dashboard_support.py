"""Synthetic runs for the dashboard's tests and benchmark, written through the store API.

A run directory made here looks exactly like one ``thetaevolve run`` leaves (run.json,
config.yaml, programs.sqlite, metrics.jsonl), but its programs are made up, so a store of
10^5 programs takes seconds, and a test controls when each batch lands.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

from thetaevolve.config import DatabaseConfig, RunConfig, dump_config
from thetaevolve.database import ChildDraft, ProgramDatabase
from thetaevolve.session import RUN_FORMAT, summarize
from thetaevolve.tasks import get_task
from thetaevolve.types import Outcome

FAILURE_KINDS = (Outcome.INVALID_SOLUTION, Outcome.CRASH, Outcome.TIMEOUT, Outcome.NO_DIFF)
_CODE = "import numpy as np\n\n# EVOLVE-BLOCK-START\ndef step():\n    return {value!r}\n# EVOLVE-BLOCK-END\n"


class SyntheticRun:
    """A run that a test (or the benchmark) drives batch by batch."""

    def __init__(self, run_dir: Path, task: str = "circle_packing_26", kind: str = "evolve",
                 seed: int = 0, database: DatabaseConfig | None = None,
                 tokens_per_candidate: int = 0, price_per_token: float | None = None,
                 texts: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.task = get_task(task)
        self.kind = kind
        self.rng = random.Random(seed)
        self.tokens_per_candidate = tokens_per_candidate
        self.price_per_token = price_per_token
        self.texts = texts
        self.run_dir.mkdir(parents=True, exist_ok=False)
        config = RunConfig(task=task, run_dir=str(self.run_dir),
                           database=database or DatabaseConfig(num_islands=2))
        dump_config(config, self.run_dir / "config.yaml")
        (self.run_dir / "run.json").write_text(json.dumps({
            "format": RUN_FORMAT, "version": 1, "kind": kind, "task": task,
            "created": "2026-01-01T00:00:00+00:00", "thetaevolve": "test"}))
        self.db = ProgramDatabase.open(self.run_dir / "programs.sqlite", config.database)
        self.batch = 0
        self.tokens = 0
        self.cost: float | None = None if price_per_token is None else 0.0
        initial = self._draft(None, 0.9, Outcome.OK, 0)
        self.db.commit([initial], meta={"initial_programs": 1, "wall_seconds": 0.01})

    def _draft(self, parent: Any, score: float | None, outcome: Outcome, iteration: int) -> ChildDraft:
        value = self.rng.random()
        code = _CODE.format(value=value) if outcome is not Outcome.NO_DIFF else ""
        digest = hashlib.sha256(code.encode() + str(value).encode()).hexdigest()
        fitness = None if score is None else self.task.fitness(score)
        reward = 0.0 if score is None else max(0.0, score - 0.9) * 5
        text = self.texts and parent is not None
        return ChildDraft(
            parent_id=None if parent is None else parent.id, code=code, code_hash=digest,
            outcome=outcome, score=score, fitness=fitness, reward=reward, iteration=iteration,
            metrics={"score": score} if score is not None else {},
            prompt=f"Improve this program (batch {iteration})." if text else "",
            response=("<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE")
            if text else "",
            detail="" if outcome is Outcome.OK else f"{outcome.value}: made up for the test",
        )

    def add_batch(self, size: int = 32, failure_rate: float = 0.2, step: int | None = None) -> None:
        """One committed batch of ``size`` candidates, and its line in metrics.jsonl."""
        self.batch += 1
        parents = self.db.sample_batch(size, self.rng)
        drafts = []
        for sample in parents:
            parent = sample.parent
            if self.rng.random() < failure_rate:
                kind = FAILURE_KINDS[self.rng.randrange(len(FAILURE_KINDS))]
                drafts.append(self._draft(parent, None, kind, self.batch))
            else:
                score = (parent.score or 0.9) + self.rng.gauss(0.002, 0.01)
                drafts.append(self._draft(parent, score, Outcome.OK, self.batch))
        self.tokens += self.tokens_per_candidate * size
        if self.cost is not None:
            self.cost += self.tokens_per_candidate * size * (self.price_per_token or 0.0)
        usage = {"calls": self.batch * size if self.tokens_per_candidate else 0,
                 "responses": self.batch * size if self.tokens_per_candidate else 0,
                 "tokens_in": self.tokens // 2, "tokens_out": self.tokens - self.tokens // 2,
                 "cost_usd": self.cost}
        wall = float(self.db.get_meta("wall_seconds") or 0.0) + 0.25
        self.db.commit(drafts, meta={"usage": usage, "wall_seconds": wall,
                                     "offline_proposals": 0 if self.tokens_per_candidate
                                     else int(self.db.get_meta("offline_proposals") or 0) + size})
        best = self.db.best()
        self.log("batch", batch=self.batch, step=step, evaluations=self.db.count() - 1,
                 best_score=best.score if best else None, tokens=self.tokens,
                 cost_usd=self.cost)

    def log(self, event: str, **fields: Any) -> None:
        with open(self.run_dir / "metrics.jsonl", "a") as handle:
            handle.write(json.dumps({"event": event, "time": time.time(), **fields}) + "\n")

    def summary(self) -> dict[str, Any]:
        return summarize(self.run_dir, self.db, self.task)

    def finish(self) -> dict[str, Any]:
        """End the run the way the drivers do: a summary event, then the writer closes."""
        summary = self.summary()
        self.log("summary", **summary)
        self.close()
        return summary

    def close(self) -> None:
        self.db.close()
