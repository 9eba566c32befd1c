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
log only. What the routes answer lives in ``runs`` (``DashboardRuns``), how they are
answered in ``handler``; this module binds the two to a socket.
"""

from __future__ import annotations

import threading
from pathlib import Path

from thetaevolve.dashboard.handler import DashboardHTTPServer
from thetaevolve.dashboard.runs import DashboardRuns
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


class Dashboard(DashboardRuns):
    """The runs served over HTTP; ``start`` serves from a daemon thread."""

    def __init__(self, run_dirs: list[Path], host: str = "127.0.0.1", port: int = 0,
                 poll_interval_s: float = 0.5, prepare_ahead: bool = True) -> None:
        super().__init__(run_dirs, poll_interval_s, prepare_ahead)
        self.host = host
        try:
            self.httpd = DashboardHTTPServer(host, port, self)
        except OSError as exc:
            hint = " (choose another with --port, or --port 0 for any free one)" \
                if exc.errno in (98, 48) else ""
            raise DashboardError(f"cannot serve on {host}:{port}: {exc.strerror}{hint}") from None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        # The bound socket's address: port 0 has become the port the system chose.
        host, port = self.httpd.socket.getsockname()[:2]
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
