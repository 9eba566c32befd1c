"""The runs one dashboard shows, and what each of its routes answers about them.

No HTTP here: ``handler`` turns these answers into responses, ``server`` binds the socket.
Keeping the data apart lets the handler import it without importing the server that
builds the handler (no cycle), and lets a test ask for an answer without a socket.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any

from thetaevolve.dashboard.encode import KINDS, OUTCOMES
from thetaevolve.dashboard.follower import RunFollower
from thetaevolve.dashboard.program_view import program_page
from thetaevolve.dashboard.run_info import run_key
from thetaevolve.dashboard.runstore import ReadOnlyStore
from thetaevolve.dashboard.watcher import Watcher
from thetaevolve.errors import UserError


class NotFound(UserError):
    """Nothing at that address (a run, a program, a file): answered with 404."""


class DashboardRuns:
    """One follower per run directory, the watcher that polls them, and the routes' answers."""

    def __init__(self, run_dirs: list[Path], poll_interval_s: float = 0.5,
                 prepare_ahead: bool = True) -> None:
        taken: set[str] = set()
        self.followers = [RunFollower(run_key(d, taken), d) for d in run_dirs]
        self.by_key = {f.key: f for f in self.followers}
        self.instance = secrets.token_hex(4)  # tells a page's old event ids from ours
        self.watcher = Watcher(self.followers, poll_interval_s, prepare_ahead=prepare_ahead)
        self._pictures: dict[str, tuple[tuple[int, int], bytes]] = {}
        self._picture_lock = threading.Lock()

    def runs(self) -> dict[str, Any]:
        return {"runs": [f.describe() for f in self.followers], "outcomes": OUTCOMES,
                "kinds": KINDS}

    def follower(self, key: str) -> RunFollower:
        try:
            return self.by_key[key]
        except KeyError:
            raise NotFound(f"no run named {key!r} is being shown; the runs are: "
                           f"{', '.join(self.by_key) or 'none'}") from None

    def program(self, key: str, program_id: int) -> dict[str, Any]:
        follower = self.follower(key)
        head = follower.describe()
        if follower.info is None or "error" in head:
            raise UserError(head.get("error") or f"run {key} is not readable yet")
        store = ReadOnlyStore.open(follower.info.store_path)
        try:
            best = (head.get("overview") or {}).get("best_id")
            return program_page(store, follower.info, program_id, best)
        finally:
            store.close()

    def failures(self, key: str, kind: str, limit: int) -> dict[str, Any]:
        follower = self.follower(key)
        if follower.info is None:
            raise UserError(follower.error or f"run {key} is not readable yet")
        store = ReadOnlyStore.open(follower.info.store_path)
        try:
            rows = store.latest_failures(kind, limit)
        finally:
            store.close()
        return {"kind": kind, "examples": [
            {"id": pid, "iteration": it, "detail": detail[:4000]} for pid, it, detail in rows]}

    def picture(self, key: str) -> bytes:
        """The best solution drawn by the task (cached until best_solution.json changes)."""
        follower = self.follower(key)
        info = follower.info
        if info is None or not info.has_picture:
            raise NotFound(f"run {key}'s task draws no picture of its solutions")
        path = info.best_solution_path
        try:
            stat = path.stat()
            solution = json.loads(path.read_text())
        except (OSError, ValueError):
            raise NotFound(f"{path} is missing or unreadable: no picture yet") from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._picture_lock:  # matplotlib draws one picture at a time
            cached = self._pictures.get(key)
            if cached and cached[0] == stamp:
                return cached[1]
            from thetaevolve.tasks import get_task  # the task modules: only when drawing

            task = get_task(info.task)
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / "solution.png"
                if not task.plot_solution(solution, target):
                    raise NotFound(f"{path} holds no solution the task can draw")
                data = target.read_bytes()
            self._pictures[key] = (stamp, data)
            return data
