"""HTTP for the dashboard: routing, the event stream, and how answers are sent.

Every failure reaches the page as ``{"error": message}`` with a 4xx/5xx status; a traceback
goes to the server's log only.
"""

from __future__ import annotations

import gzip
import math
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from thetaevolve.dashboard.follower import dumps
from thetaevolve.dashboard.program_view import NoSuchProgram
from thetaevolve.dashboard.runs import DashboardRuns, NotFound
from thetaevolve.errors import UserError

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


class DashboardHTTPServer(ThreadingHTTPServer):
    """Serves one dashboard: ``runs`` answers its routes, ``host`` is the address as asked
    (``localhost`` stays a name: the Host-header check compares names)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, runs: DashboardRuns) -> None:
        self.runs = runs
        self.host = host
        super().__init__((host, port), RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A viewer that closed its tab mid-response is not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: DashboardHTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # the console belongs to the run; errors are still printed by handle_error

    # ---- dispatch ----------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._host_allowed():
            self._send_json({"error": "this dashboard answers only to its own address"}, 403)
            return
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        dashboard = self.server.runs
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
        dashboard = self.server.runs
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
        dashboard = self.server.runs
        # EventSource resends the last event's id on reconnect; ids carry this server's
        # instance and every run's seq. Seqs from another instance (the server was restarted
        # under the open page) mean nothing here: those runs are reset.
        last = self.headers.get("Last-Event-ID")
        stale: list[str] = []
        if last:
            instance, _, wanted = last.rpartition("|")
            seqs = _parse_seqs(wanted, dashboard.by_key)
            if instance != dashboard.instance:
                stale = list(seqs)
        else:
            seqs = _parse_seqs((query.get("runs") or [""])[0], dashboard.by_key)
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
        for key in stale:
            seqs[key] = dashboard.by_key[key].seq
        if stale:
            self.wfile.write("".join(_event("reset", {"run": k}, seqs, dashboard.instance)
                                     for k in stale).encode())
        while not watcher.stopping:
            chunks: list[str] = []
            for key in list(seqs):
                deltas = dashboard.by_key[key].deltas_after(seqs[key])
                if deltas is None:  # fell too far behind: this run must be reloaded whole
                    seqs[key] = dashboard.by_key[key].seq
                    chunks.append(_event("reset", {"run": key}, seqs, dashboard.instance))
                    continue
                for seq, delta in deltas:
                    seqs[key] = seq
                    chunks.append(_event("delta", delta, seqs, dashboard.instance))
            self.wfile.write("".join(chunks).encode() if chunks else b": alive\n\n")
            self.wfile.flush()
            seen = watcher.wait(seen, _KEEPALIVE_S)

    # ---- responses ----------------------------------------------------------------------------

    def _host_allowed(self) -> bool:
        """Refuse requests for another host name (a DNS-rebinding page in the browser)."""
        bound = self.server.host
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


def _event(name: str, data: dict[str, Any], seqs: dict[str, int], instance: str) -> str:
    ident = instance + "|" + ",".join(f"{k}:{v}" for k, v in seqs.items())
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
