"""Dashboard at 10^5 programs: first full render, bytes sent, bytes per live update.

    python benchmarks/dashboard.py                    # 10^5 programs
    python benchmarks/dashboard.py --programs 20000   # a quicker size

It builds a store of N synthetic programs directly through the store API (the gym's own
commit path, 256 per transaction, 20% failures, 4 islands, a population cap so that most
programs get evicted as in a long run), then serves it and opens the page in headless
Chromium (Debian's, driven by Playwright). It reports

* ``server_ready_s``: the server's first read of the store (before it answers);
* ``snapshot_prepare_s``: building the compressed snapshot, which the server does in the
  background right after starting (and again after every 64 deltas);
* ``first_render_s``: in a cold browser, from navigation start to the page's first complete
  render of the lineage tab, the heaviest (10^5 nodes laid out and drawn), the snapshot's
  download and parsing included; ``first_render_overview_s`` is the same for the overview;
* ``initial_bytes``: bytes on the wire (compressed bodies and headers) of every request of
  that first load: page, scripts, style, run list and the snapshot;
* ``update_bytes``: bytes of the server-sent event that carries one committed batch of 32
  candidates (the delta the page receives), and ``update_latency_s`` from the commit to
  the page showing the new count.

Targets (issue 14): first_render_s < 2 s; update_bytes < 10 KB. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dashboard_support import SyntheticRun  # noqa: E402

from thetaevolve.config import DatabaseConfig  # noqa: E402
from thetaevolve.dashboard.server import Dashboard  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]


def build(run_dir: Path, programs: int) -> tuple[SyntheticRun, float]:
    started = time.perf_counter()
    run = SyntheticRun(run_dir, texts=False, tokens_per_candidate=1200, price_per_token=1e-6,
                       database=DatabaseConfig(num_islands=4, population_size=2000,
                                               migration_interval=20))
    while run.db.count() < programs:
        run.add_batch(min(256, programs - run.db.count()))
    return run, time.perf_counter() - started


def sse_event_bytes(url: str, key: str, seq: int, commit) -> int:
    """Bytes of the first event after ``seq``, as the server writes it."""
    with urllib.request.urlopen(f"{url}api/stream?runs={key}:{seq}", timeout=30) as stream:
        stream.readline(), stream.readline()  # "retry: ..." and its blank line
        commit()
        size = 0
        while True:
            line = stream.readline()
            size += len(line)
            if line in (b"\n", b""):
                if size > 1:
                    return size
            elif line.startswith(b":"):
                size = 0  # a keep-alive comment is not the update


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--programs", type=int, default=100_000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
    result: dict = {"programs": args.programs}
    try:
        run, build_s = build(tmp / "bench", args.programs)
        result["build_s"] = round(build_s, 2)
        started = time.perf_counter()
        dash = Dashboard([tmp / "bench"], poll_interval_s=0.25).start()
        result["server_ready_s"] = round(time.perf_counter() - started, 3)
        follower = dash.by_key["bench"]
        started = time.perf_counter()
        follower.prepare_snapshot()  # what the server does in the background after starting
        result["snapshot_prepare_s"] = round(time.perf_counter() - started, 3)
        result["stored_rows"] = follower.rows
        result["evicted"] = follower.evicted
        try:
            result["update_bytes"] = sse_event_bytes(dash.url, "bench", follower.seq,
                                                     lambda: run.add_batch(32))
            result.update(browser_numbers(dash.url, run))
        finally:
            dash.close()
            run.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for key, value in result.items():
        print(f"{key:>26}: {value}")
    print(json.dumps(result))


def browser_numbers(url: str, run: SyntheticRun) -> dict:
    chromium = os.environ.get("THETAEVOLVE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        return {"first_render_s": None, "initial_bytes": None,
                "browser": "no chromium found: install Debian's chromium to measure the page"}
    from playwright.sync_api import sync_playwright

    out: dict = {}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=chromium, args=ARGS, headless=True,
            viewport={"width": 1400, "height": 900})
        for tab in ("lineage", "overview"):  # the heaviest first, in a cold browser
            page = context.new_page()
            sizes: list[int] = []
            page.on("requestfinished", lambda r, sizes=sizes: sizes.append(  # this tab's list
                r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]))
            page.goto(f"{url}?{tab}#tab={tab}")
            page.wait_for_selector("body[data-ready='1']", timeout=60_000)
            render_ms = page.evaluate("window.thetaDashboard.firstRenderMs")
            if tab == "lineage":
                out["first_render_s"] = round(render_ms / 1000, 3)
                out["initial_bytes"] = sum(sizes)
                out["initial_requests"] = len(sizes)
                before = page.evaluate("window.thetaDashboard.app.focusRun().proposals")
                started = time.perf_counter()
                run.add_batch(32)
                deadline = time.time() + 30
                while page.evaluate("window.thetaDashboard.app.focusRun().proposals") < before + 32:
                    if time.time() > deadline:
                        raise RuntimeError("the page never showed the new batch")
                    time.sleep(0.02)
                out["update_latency_s"] = round(time.perf_counter() - started, 3)
            else:
                out["first_render_overview_s"] = round(render_ms / 1000, 3)
            page.close()
        context.close()
    return out


if __name__ == "__main__":
    main()
