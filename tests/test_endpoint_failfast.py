"""A dead, unauthorised or wrongly addressed model endpoint ends the command quickly with
one message and exit 1, whatever the budget, against real loopback HTTP servers."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from thetaevolve.cli import main
from thetaevolve.config import LLMConfig
from thetaevolve.endpoint_check import EndpointGuard
from thetaevolve.proposers.base import Response
from thetaevolve.proposers.calls import CallStats, FailureKind

BUDGET = "100000"  # far more than could finish in the time the test allows


@contextmanager
def http_server(models_status: int, chat_status: int, text: str, html: bool = False) -> Iterator[str]:
    """A loopback server: GET .../models answers ``models_status``, POSTs ``chat_status``;
    ``html`` answers every request with a web page instead."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = json.dumps({"error": {"message": text}} if status != 200 else
                              {"object": "list", "data": [{"id": "foo"}]}).encode()
            if html:
                body = f"<html><body>{text}</body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer(models_status)

        def do_POST(self) -> None:  # noqa: N802
            self._answer(chat_status)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(base_url: str, run_dir: Path) -> list[str]:
    return ["run", "circle_packing_26", "--llm", "openai", "--base-url", base_url, "--model", "foo",
            "--budget", BUDGET, "--batch-size", "4", "--samples-per-prompt", "2",
            "--run-dir", str(run_dir), "--quiet", "--set", "sandbox.workers=1"]


def test_closed_port_is_refused_before_anything_is_created(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run_dir = tmp_path / "run"
    started = time.monotonic()
    code = main(_run(f"http://127.0.0.1:{closed_port()}/v1", run_dir))
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("thetaevolve: error: cannot reach the model endpoint http://127.0.0.1:")
    assert "connection error" in err
    assert not run_dir.exists()


def test_unauthorised_endpoint_names_status_server_text_and_key_variable(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-wrong")
    run_dir = tmp_path / "run"
    with http_server(401, 401, "fake error 401: invalid key") as url:
        started = time.monotonic()
        code = main(_run(f"{url}/v1", run_dir) + ["--set", "llm.api_key_env=MY_KEY"])
        assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("thetaevolve: error:")
    assert f"{url}/v1" in line and "HTTP 401" in line and "fake error 401: invalid key" in line
    assert "$MY_KEY" in line
    assert "sk-wrong" not in err
    assert not run_dir.exists()


def test_a_web_page_instead_of_an_api_is_refused_before_anything_is_created(tmp_path, capsys):
    run_dir = tmp_path / "run"
    with http_server(200, 200, "Grafana login", html=True) as url:
        code = main(_run(url, run_dir))
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert "not with JSON" in err and "Grafana login" in err and "OpenAI-compatible" in err
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("models_status", "chat_status", "expected"),
    [(404, 404, "HTTP 404"),  # a base URL without /v1: no model list, every call 404
     (200, 401, "HTTP 401")],  # the list answers, but the calls are refused
)
def test_calls_failing_in_a_row_stop_the_run_with_everything_committed(
    tmp_path, capsys, monkeypatch, models_status, chat_status, expected
):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    run_dir = tmp_path / "run"
    with http_server(models_status, chat_status, f"fake {chat_status} text") as url:
        started = time.monotonic()
        code = main(_run(url, run_dir))
        assert time.monotonic() - started < 30
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    line = captured.err.strip().splitlines()[-1]
    assert line.startswith("thetaevolve: error: stopped: 8 calls in a row")
    assert expected in line and f"fake {chat_status} text" in line and url in line
    assert "OPENAI_API_KEY" in line and f"thetaevolve resume {run_dir}" in line
    # The batch in flight was committed, the summary written, the counters labelled.
    # (A 404 on an n=2 call is retried as two single calls; a 401 fails the call at once,
    # so 8 failed calls take one batch of 4 x 2 candidates or two.)
    summary = json.loads((run_dir / "summary.json").read_text())
    done = summary["evaluations"]
    assert done in (8, 16) and summary["failures"] == {"llm_error": done}
    assert re.search(r"\d+ HTTP calls \(retries included\), \d+ of them failed for good",
                     captured.out)
    assert "candidates left without a response, by cause:" in captured.out


def _failed(kind: FailureKind, status: int | None = None) -> Response:
    stats = CallStats(failure=kind, calls=1, call_failed=True, replica="u", status=status)
    return Response(text="", error=f"{kind}: boom", stats=stats)


def test_guard_counts_only_unfixable_failures_and_a_success_resets_it():
    guard = EndpointGuard(inner=None, llm=LLMConfig(max_consecutive_failures=3))  # type: ignore[arg-type]
    for response in [_failed("connection"), _failed("auth", 401), _failed("rate_limit", 429),
                     _failed("server_error", 500), _failed("deadline")]:
        guard._observe(response)
    assert guard.in_a_row == 2 and guard.tripped is None  # transient kinds neither count nor reset
    guard._observe(Response(text="ok", stats=CallStats(calls=1)))
    assert guard.in_a_row == 0
    guard._observe(_failed("client_error", 400))  # a prompt the server refused: not the endpoint
    for _ in range(3):
        guard._observe(_failed("client_error", 404))
    assert guard.tripped is not None and "3 calls in a row" in guard.tripped
