"""The dashboard's HTTP server: the page, its JSON API and a server-sent-event stream.

Why the standard library and not Starlette or aiohttp: the dashboard serves a handful of
local viewers, its work is blocking SQLite reads (an async server would push them to a
thread pool anyway), and ``thetaevolve run --dashboard`` must sit beside a run's asyncio
loop without touching it. ``ThreadingHTTPServer`` in a daemon thread does all of that, and
installs nothing: the dashboard works in the core install.

Routes (all GET):
    /                              the page (static/index.html)
    /static/...                    its scripts and style, shipped in the package
    /api/runs                      every run: its facts and overview, or why it is unusable
    /api/runs/KEY/snapshot         one run whole, up to a cursor, with the matching seq
    /api/runs/KEY/programs/ID      one program: code, diffs to parent and best, texts
    /api/runs/KEY/failures?kind=K  the latest failures of one kind, with their details
    /api/runs/KEY/solution.png     a picture of the best solution (tasks that draw one)
    /api/stream?runs=KEY:SEQ,...   deltas after each run's SEQ, pushed as they happen

Every failure reaches the page as ``{"error": message}``; a traceback goes to the server's
log only.
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
from thetaevolve.dashboard.handler import NotFound, RequestHandler, DashboardHTTPServer
from thetaevolve.dashboard.program_view import program_page
from thetaevolve.dashboard.run_info import run_key
from thetaevolve.dashboard.runstore import ReadOnlyStore
from thetaevolve.dashboard.watcher import Watcher
from thetaevolve.errors import UserError
from thetaevolve.session import RUN_MARKER


class DashboardError(UserError):
    """The dashboard cannot start as asked (port taken, bad address)."""


def expand_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories as given; a folder of runs (e.g. ``runs/``) stands for its runs."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir() and not (path / RUN_MARKER).exists():
            inner = sorted(p for p in path.iterdir() if (p / RUN_MARKER).is_file())
            if inner:
                out.extend(inner)
                continue
        out.append(path)
    return out


class Dashboard:
    """The server over a set of run directories; ``start`` serves from a daemon thread."""

    def __init__(self, run_dirs: list[Path], host: str = "127.0.0.1", port: int = 0,
                 poll_interval_s: float = 0.5, prepare_ahead: bool = True) -> None:
        taken: set[str] = set()
        self.followers = [RunFollower(run_key(d, taken), d) for d in run_dirs]
        self.by_key = {f.key: f for f in self.followers}
        self.instance = secrets.token_hex(4)  # tells a page's old event ids from ours
        self.watcher = Watcher(self.followers, poll_interval_s, prepare_ahead=prepare_ahead)
        self.host = host
        self._pictures: dict[str, tuple[tuple[int, int], bytes]] = {}
        self._picture_lock = threading.Lock()
        try:
            self.httpd = DashboardHTTPServer((host, port), RequestHandler)
        except OSError as exc:
            hint = " (choose another with --port, or --port 0 for any free one)" \
                if exc.errno in (98, 48) else ""
            raise DashboardError(f"cannot serve on {host}:{port}: {exc.strerror}{hint}") from None
        self.httpd.dashboard = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        shown = f"[{shown}]" if ":" in str(shown) else shown
        return f"http://{shown}:{port}/"

    def start(self) -> "Dashboard":
        self.watcher.start()
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.1,),
                                        name="dashboard-http", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.watcher.start()
        self.httpd.serve_forever()

    def close(self) -> None:
        self.watcher.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        for follower in self.followers:
            follower.close()

    def __enter__(self) -> "Dashboard":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- what the routes return --------------------------------------------------------------

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
            from thetaevolve.tasks import get_task

            task = get_task(info.task)
            with tempfile.TemporaryDirectory() as tmp:
                target = Path(tmp) / "solution.png"
                if not task.plot_solution(solution, target):
                    raise NotFound(f"{path} holds no solution the task can draw")
                data = target.read_bytes()
            self._pictures[key] = (stamp, data)
            return data
