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

import gzip
import json
import math
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from thetaevolve.dashboard.encode import KINDS, OUTCOMES
from thetaevolve.dashboard.follower import RunFollower, dumps
from thetaevolve.dashboard.program_view import NoSuchProgram, program_page
from thetaevolve.dashboard.run_info import run_key
from thetaevolve.dashboard.runstore import ReadOnlyStore
from thetaevolve.errors import UserError
from thetaevolve.session import RUN_MARKER

_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
}
# The page may talk to this server only: no other host, no inline code.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'")
_KEEPALIVE_S = 15.0
_LOCAL_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}


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


class Watcher:
    """Polls every run's follower and wakes the streams when something changed."""

    def __init__(self, followers: list[RunFollower], interval_s: float) -> None:
        self.followers = followers
        self.interval_s = interval_s
        self.generation = 0
        self.stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="dashboard-watch", daemon=True)
        self._builder = threading.Thread(target=self._build_loop, name="dashboard-snapshots",
                                         daemon=True)

    def start(self) -> None:
        self.poll_once()  # the first page load finds every run read
        self._thread.start()
        self._builder.start()

    def _build_loop(self) -> None:
        """Keep every run's snapshot prepared, off the polling thread (a build at 10^5
        programs takes about a second; polls must not wait for it)."""
        while not self.stopping:
            for follower in self.followers:
                if self.stopping:
                    return
                if follower.info is not None and follower.snapshot_is_stale():
                    try:
                        follower.prepare_snapshot()
                    except Exception:  # noqa: BLE001 - a page load will report it
                        pass
            time.sleep(max(self.interval_s, 0.5))

    def poll_once(self) -> None:
        changed = False
        for follower in self.followers:
            changed |= follower.poll()
        if changed:
            with self._changed:
                self.generation += 1
                self._changed.notify_all()

    def _loop(self) -> None:
        while not self.stopping:
            time.sleep(self.interval_s)
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - the watcher must outlive any one bad poll
                traceback.print_exc(file=sys.stderr)

    def wait(self, seen: int, timeout: float) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.generation != seen or self.stopping, timeout)
            return self.generation

    def stop(self) -> None:
        self.stopping = True
        with self._changed:
            self._changed.notify_all()
        for thread in (self._thread, self._builder):
            if thread.is_alive():
                thread.join(timeout=5)


class Dashboard:
    """The server over a set of run directories; ``start`` serves from a daemon thread."""

    def __init__(self, run_dirs: list[Path], host: str = "127.0.0.1", port: int = 0,
                 poll_interval_s: float = 0.5) -> None:
        taken: set[str] = set()
        self.followers = [RunFollower(run_key(d, taken), d) for d in run_dirs]
        self.by_key = {f.key: f for f in self.followers}
        self.watcher = Watcher(self.followers, poll_interval_s)
        self.host = host
        self._pictures: dict[str, tuple[tuple[int, int], bytes]] = {}
        self._picture_lock = threading.Lock()
        try:
            self.httpd = _Server((host, port), _Handler)
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


class NotFound(UserError):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    dashboard: Dashboard

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A viewer that closed its tab mid-response is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the console belongs to the run; errors are still printed by handle_error

    # ---- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._host_allowed():
            self._send_json({"error": "this dashboard answers only to its own address"}, 403)
            return
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        dashboard = self.server.dashboard
        try:
            if path in ("/", "/index.html"):
                self._send_static("index.html")
            elif path.startswith("/static/"):
                self._send_static(path[len("/static/"):])
            elif path == "/api/runs":
                self._send_json(dashboard.runs())
            elif path == "/api/stream":
                self._stream(query)
            elif path.startswith("/api/runs/"):
                self._run_route(path[len("/api/runs/"):].split("/"), query)
            else:
                raise NotFound(f"nothing at {path}")
        except NotFound as exc:
            self._send_json({"error": str(exc)}, 404)
        except UserError as exc:
            self._send_json({"error": str(exc)}, 409)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # noqa: BLE001 - the page gets a sentence, the log the trace
            traceback.print_exc(file=sys.stderr)
            self._send_json({"error": f"internal error ({type(exc).__name__}: {exc}); the "
                                      "server's log has the details"}, 500)

    def _run_route(self, parts: list[str], query: dict[str, list[str]]) -> None:
        dashboard = self.server.dashboard
        key = parts[0]
        if parts[1:] == ["snapshot"]:
            self._send_gzipped_json(dashboard.follower(key).snapshot_gzip())
        elif len(parts) == 3 and parts[1] == "programs":
            try:
                program_id = int(parts[2])
            except ValueError:
                raise NotFound(f"{parts[2]!r} is not a program id (a whole number)") from None
            try:
                self._send_json(_clean(dashboard.program(key, program_id)))
            except NoSuchProgram as exc:
                raise NotFound(str(exc)) from None
        elif parts[1:] == ["failures"]:
            kind = (query.get("kind") or [""])[0]
            limit = min(50, max(1, int((query.get("limit") or ["5"])[0] or 5)))
            self._send_json(dashboard.failures(key, kind, limit))
        elif parts[1:] == ["solution.png"]:
            self._send_bytes(dashboard.picture(key), "image/png", cache=False)
        else:
            raise NotFound(f"nothing at /api/runs/{'/'.join(parts)}")

    # ---- the event stream ----------------------------------------------------------------------

    def _stream(self, query: dict[str, list[str]]) -> None:
        dashboard = self.server.dashboard
        # EventSource resends the last event's id on reconnect; ids carry every run's seq.
        wanted = self.headers.get("Last-Event-ID") or (query.get("runs") or [""])[0]
        seqs = _parse_seqs(wanted, dashboard.by_key)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("Content-Security-Policy", _CSP)
        self.end_headers()
        self.close_connection = True
        watcher = dashboard.watcher
        seen = watcher.generation
        self.wfile.write(b"retry: 1000\n\n")
        self.wfile.flush()
        while not watcher.stopping:
            chunks: list[str] = []
            for key in list(seqs):
                deltas = dashboard.by_key[key].deltas_after(seqs[key])
                if deltas is None:  # fell too far behind: this run must be reloaded whole
                    seqs[key] = dashboard.by_key[key].seq
                    chunks.append(_event("reset", {"run": key}, seqs))
                    continue
                for seq, delta in deltas:
                    seqs[key] = seq
                    chunks.append(_event("delta", delta, seqs))
            self.wfile.write("".join(chunks).encode() if chunks else b": alive\n\n")
            self.wfile.flush()
            seen = watcher.wait(seen, _KEEPALIVE_S)

    # ---- responses ----------------------------------------------------------------------------

    def _host_allowed(self) -> bool:
        """Refuse requests for another host name (a DNS-rebinding page in the browser)."""
        bound = self.server.dashboard.host
        if bound in ("0.0.0.0", "::", ""):
            return True
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in _LOCAL_NAMES or name == bound or name == f"[{bound}]"

    def _send_static(self, name: str) -> None:
        base = resources.files("thetaevolve.dashboard").joinpath("static")
        parts = [p for p in name.split("/") if p]
        if not parts or any(p in ("..", ".") or p.startswith(".") for p in parts):
            raise NotFound(f"no file {name}")
        target = base.joinpath(*parts)
        suffix = Path(parts[-1]).suffix
        if suffix not in _CONTENT_TYPES or not target.is_file():
            raise NotFound(f"no file {name}")
        self._send_bytes(target.read_bytes(), _CONTENT_TYPES[suffix], cache=False)

    def _send_gzipped_json(self, body: bytes) -> None:
        if "gzip" not in (self.headers.get("Accept-Encoding") or ""):
            self._send_bytes(gzip.decompress(body), "application/json", cache=False)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, data: Any, status: int = 200) -> None:
        self._send_bytes(dumps(data).encode(), "application/json", status=status, cache=False)

    def _send_bytes(self, body: bytes, content_type: str, status: int = 200,
                    cache: bool = True) -> None:
        compress = len(body) > 1024 and "gzip" in (self.headers.get("Accept-Encoding") or "") \
            and not content_type.startswith("image/")
        if compress:
            body = gzip.compress(body, compresslevel=5)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if compress:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Cache-Control", "max-age=60" if cache else "no-cache")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        self.wfile.write(body)


def _event(name: str, data: dict[str, Any], seqs: dict[str, int]) -> str:
    ident = ",".join(f"{k}:{v}" for k, v in seqs.items())
    return f"id: {ident}\nevent: {name}\ndata: {dumps(data)}\n\n"


def _parse_seqs(text: str, known: dict[str, Any]) -> dict[str, int]:
    """``key:seq,key:seq`` -> {key: seq} for the runs this server shows."""
    seqs: dict[str, int] = {}
    for item in text.split(","):
        key, _, seq = item.strip().rpartition(":")
        if key in known:
            try:
                seqs[key] = max(0, int(seq))
            except ValueError:
                seqs[key] = 0
    return seqs


def _clean(value: Any) -> Any:
    """JSON-safe data: a NaN or an infinity in stored metrics becomes its name."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value
