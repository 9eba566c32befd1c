"""The dashboard's HTTP side: API answers, the event stream, errors, and what it ships."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib import resources
from pathlib import Path

import pytest

from dashboard_support import SyntheticRun
from thetaevolve.dashboard.server import Dashboard, DashboardError


def _get(url: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def live(tmp_path):
    run = SyntheticRun(tmp_path / "live")
    run.add_batch(16)
    with Dashboard([tmp_path / "live", tmp_path / "nothing-here"], poll_interval_s=0.05) as dash:
        yield run, dash
    run.close()


def test_api_lists_runs_and_errors_as_sentences(live):
    run, dash = live
    status, data = _get(dash.url + "api/runs")
    assert status == 200
    good, missing = data["runs"]
    assert good["key"] == "live" and good["overview"]["candidates"] == 16
    assert "does not exist" in missing["error"]
    status, data = _get(dash.url + "api/runs/nope/snapshot")
    assert status == 404 and "no run named 'nope'" in data["error"]
    status, data = _get(dash.url + "api/runs/live/programs/abc")
    assert status == 404 and "not a program id" in data["error"]
    status, data = _get(dash.url + "api/runs/live/programs/99999")
    assert status == 404 and "no program #99999" in data["error"]
    status, data = _get(dash.url + "api/runs/live/programs/2")  # island 1's seed: a copy
    assert status == 200 and data["kind"] == "seed" and data["origin_id"] == 1
    assert data["parent"]["diff"] == []  # a copy's code is its origin's
    status, data = _get(dash.url + "api/runs/live/programs/3")
    assert status == 200 and data["kind"] == "proposal"
    assert data["parent"]["diff"][0].startswith("--- parent #")
    status, data = _get(dash.url + "static/../server.py")
    assert status == 404


def test_requests_for_another_host_name_are_refused(live):
    _, dash = live
    status, data = _get(dash.url + "api/runs", headers={"Host": "attacker.example:80"})
    assert status == 403 and "own address" in data["error"]


def test_the_stream_pushes_new_rows_and_resumes_from_its_last_id(live):
    run, dash = live
    seq = dash.by_key["live"].seq
    stream = urllib.request.urlopen(dash.url + f"api/stream?runs=live:{seq}", timeout=10)
    run.add_batch(32)
    event = _next_event(stream)
    stream.close()
    assert event["event"] == "delta"
    delta = json.loads(event["data"])
    assert delta["seq"] == seq + 1 and delta["overview"]["candidates"] == 48
    assert sum(1 for k in delta["programs"]["kind"] if k == 0) == 32
    assert len(event["data"].encode()) < 10_000
    # A reconnecting EventSource sends the last id it saw: the stream goes on from there.
    run.add_batch(8)
    request = urllib.request.Request(dash.url + "api/stream?runs=live:0",
                                     headers={"Last-Event-ID": event["id"]})
    time.sleep(0.3)
    with urllib.request.urlopen(request, timeout=10) as again:
        delta = json.loads(_next_event(again)["data"])
    assert delta["seq"] == seq + 2 and delta["overview"]["candidates"] == 56


def test_a_page_from_before_a_restart_is_told_to_reload(live):
    """Event ids name the server instance: seqs from another one (the server was restarted
    under an open page) are answered with a reset, never with deltas on a wrong base."""
    _, dash = live
    request = urllib.request.Request(dash.url + "api/stream",
                                     headers={"Last-Event-ID": "0123abcd|live:99"})
    with urllib.request.urlopen(request, timeout=10) as stream:
        event = _next_event(stream)
    assert event["event"] == "reset" and json.loads(event["data"]) == {"run": "live"}
    assert event["id"] == f"{dash.instance}|live:{dash.by_key['live'].seq}"


def _next_event(stream) -> dict:
    fields: dict = {}
    deadline = time.time() + 10
    while time.time() < deadline:
        line = stream.readline().decode().rstrip("\n")
        if not line:
            if "data" in fields:
                return fields
            continue
        if line.startswith(":") or line.startswith("retry:"):
            continue
        name, _, value = line.partition(": ")
        fields[name] = value
    raise AssertionError("no event within 10 s")


def test_a_taken_port_is_one_clear_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(DashboardError, match=f"cannot serve on 127.0.0.1:{port}"):
            Dashboard([tmp_path], port=port)


def test_shipped_assets_name_no_other_host():
    static = resources.files("thetaevolve.dashboard").joinpath("static")
    files = [p for p in Path(str(static)).rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".html", ".js", ".css"}
    for path in files:
        text = path.read_text()
        # The SVG namespace is a name, not an address the browser fetches.
        text = text.replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), path
        assert "@import" not in text and "url(http" not in text, path


def test_run_with_dashboard_flag_serves_beside_the_run(tmp_path):
    run_dir = tmp_path / "cli-run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "thetaevolve.cli", "run", "circle_packing_26", "--budget", "64",
         "--batch-size", "8", "--run-dir", str(run_dir), "--quiet", "--dashboard"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = None
        for line in proc.stderr:
            found = re.search(r"dashboard: (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, "the run printed no dashboard URL"
        status, data = _get(url + "api/runs")
        assert status == 200 and data["runs"][0]["task"] == "circle_packing_26"
        # Served from the run's own process, which holds the store's writer lock (a very
        # fast machine may already have finished the 64 candidates).
        assert data["runs"][0]["overview"]["state"] in ("running", "finished")
        proc.stderr.read()
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(urllib.error.URLError):  # the dashboard stopped with the run
        urllib.request.urlopen(url + "api/runs", timeout=5)
    # Every batch event carries the run's LLM totals so far (progress against tokens, cost).
    batches = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
               if '"batch"' in line]
    assert batches and all(b["tokens"] == 0 and b["cost_usd"] is None for b in batches)
    # The finished run's best solution is drawn by the task, as a PNG.
    with Dashboard([run_dir]) as dash:
        _, data = _get(dash.url + "api/runs")
        assert data["runs"][0]["overview"]["state"] == "finished"
        with urllib.request.urlopen(dash.url + "api/runs/cli-run/solution.png", timeout=30) as r:
            assert r.headers["Content-Type"] == "image/png"
            assert r.read(8) == b"\x89PNG\r\n\x1a\n"


def test_dashboard_command_rejects_bad_flags_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "thetaevolve.cli", "dashboard", str(tmp_path), "--poll", "0"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("thetaevolve: error: --poll must be a positive number of "
                                     "seconds, got 0.0")


def test_every_asset_is_declared_as_package_data():
    """An installed (non-editable) package must carry the page: pyproject's package-data
    patterns have to match every file under static/."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["thetaevolve"]
    package = root / "src" / "thetaevolve"
    for path in (package / "dashboard" / "static").rglob("*"):
        if path.is_file():
            name = path.relative_to(package).as_posix()
            assert any(fnmatch.fnmatch(name, p) for p in patterns), f"{name} is not package data"
