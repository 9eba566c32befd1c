"""The dashboard in a real headless Chromium (Debian's, driven by Playwright).

No browser is downloaded: Playwright drives the system's ``chromium``, which
``scripts/setup_system.sh`` installs. These tests skip, saying why, only when no Chromium
can be found. Every page visited leaves a screenshot in ``test-output/dashboard/`` (or
``$THETAEVOLVE_TEST_OUTPUT``).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from dashboard_support import SyntheticRun
from thetaevolve.dashboard.server import Dashboard

pytestmark = pytest.mark.slow

_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
OUTPUT = Path(os.environ.get("THETAEVOLVE_TEST_OUTPUT")
              or Path(__file__).resolve().parent.parent / "test-output") / "dashboard"


def _chromium() -> str | None:
    for candidate in (os.environ.get("THETAEVOLVE_CHROMIUM"), shutil.which("chromium"),
                      "/usr/bin/chromium", shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium on this machine: scripts/setup_system.sh installs Debian's "
                    "`chromium` (as root, with apt-get); set THETAEVOLVE_CHROMIUM to use another")
    from playwright.sync_api import sync_playwright  # the dev extra installs it

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=path, args=_ARGS, headless=True,
            viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    page.close()
    assert not errors, f"the page reported errors: {errors}"


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", timeout=20_000)


def _shot(page, name: str) -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    target = OUTPUT / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5_000
    return target


def _wait_until(page, expression: str, timeout_s: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true. (Playwright's wait_for_function
    evaluates a string, which the page's Content-Security-Policy rightly forbids.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.05)


def _field(page, run: str, field: str) -> str:
    return page.inner_text(f"td[data-run='{run}'][data-field='{field}']")


@pytest.fixture
def finished(tmp_path):
    run = SyntheticRun(tmp_path / "finished", tokens_per_candidate=150, price_per_token=2e-6)
    for _ in range(6):
        run.add_batch(32)
    return run.finish()


def test_overview_shows_the_numbers_of_a_finished_run(page, tmp_path, finished):
    with Dashboard([tmp_path / "finished"], poll_interval_s=0.1) as dash:
        _open(page, dash.url)
        assert _field(page, "finished", "task") == "circle_packing_26"
        assert _field(page, "finished", "state") == "finished"
        assert _field(page, "finished", "candidates") == f"{finished['evaluations']:,}"
        assert _field(page, "finished", "best_score") == repr(finished["best_score"])
        assert _field(page, "finished", "best_id") == f"#{finished['best_program_id']}"
        assert _field(page, "finished", "initial_score") == repr(finished["initial_score"])
        assert _field(page, "finished", "ok") == f"{finished['ok']:,}"
        failures = ", ".join(f"{k} {v}" for k, v in sorted(finished["failures"].items()))
        assert _field(page, "finished", "failures") == failures
        assert _field(page, "finished", "tokens").startswith(f"{6 * 32 * 150:,} ")
        assert _field(page, "finished", "cost") == f"${6 * 32 * 150 * 2e-6:.4f}"
        assert _field(page, "finished", "trust").startswith("verified")
        gap = finished["best_known"] - finished["best_score"]
        assert "short of the best known" in _field(page, "finished", "gap")
        assert _field(page, "finished", "gap").startswith(f"{gap:.6g}"[:6])
        _shot(page, "overview")


def test_a_live_runs_count_rises_without_a_reload(page, tmp_path):
    run = SyntheticRun(tmp_path / "live")
    run.add_batch(16)
    try:
        with Dashboard([tmp_path / "live"], poll_interval_s=0.1) as dash:
            _open(page, dash.url + "#tab=overview")
            assert _field(page, "live", "candidates") == "16"
            assert _field(page, "live", "state") == "running"
            page.evaluate("window.__sameDocument = true")

            def write() -> None:
                for _ in range(3):
                    time.sleep(0.3)
                    run.add_batch(32)

            writer = threading.Thread(target=write)
            writer.start()
            try:
                _wait_until(page, "document.querySelector(\"td[data-field='candidates']\")"
                                  ".textContent === '112'")
            finally:
                writer.join()
            assert page.evaluate("window.__sameDocument") is True  # no reload happened
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
            assert page.inner_text("#live") == "live"
            _shot(page, "overview-live")
            # The lineage follows too: the new programs are drawn without a reload.
            page.click("a[data-tab='lineage']")
            page.wait_for_selector("canvas.lineage")
            count = run.db.count()
            run.add_batch(32)
            _wait_until(page, f"window.thetaDashboard.app.focusRun().proposals === {count + 32}")
            assert page.evaluate("window.__sameDocument") is True
    finally:
        run.close()


def test_clicking_a_lineage_node_opens_its_program_with_the_diff(page, tmp_path, finished):
    target = finished["best_program_id"]
    with Dashboard([tmp_path / "finished"], poll_interval_s=0.1) as dash:
        _open(page, dash.url + "#tab=lineage&run=finished")
        page.wait_for_selector("canvas.lineage")
        _shot(page, "lineage")
        point = page.evaluate(f"window.thetaDashboard.lineagePoint({target})")
        assert point is not None
        page.mouse.click(point["x"], point["y"])
        page.wait_for_selector(f".program[data-program='{target}'] h2", timeout=10_000)
        assert f"program={target}" in page.evaluate("location.hash")
        assert "tab=program" in page.evaluate("location.hash")
        diff = page.locator("pre.diff[data-diff='Diff to its parent']")
        assert diff.locator(".line.add").count() >= 1 and diff.locator(".line.del").count() >= 1
        assert page.inner_text(f".program[data-program='{target}'] td[data-field='verdict']") \
            .startswith("strict")
        _wait_until(page, "document.querySelector('img.solution') === null || "
                          "document.querySelector('img.solution').complete")
        _shot(page, "program")
        # The deep link survives a reload.
        page.reload()
        page.wait_for_selector(f".program[data-program='{target}'] h2", timeout=10_000)
        assert page.locator("a.tab.active").inner_text() == "Program"


def test_comparing_two_runs_draws_both_curves(page, tmp_path):
    keys = ("first", "second")
    for seed, key in enumerate(keys):
        # The second is an RL run: its batches are training steps, with rewards to plot.
        kind = "train" if key == "second" else "evolve"
        run = SyntheticRun(tmp_path / key, seed=seed, tokens_per_candidate=100, kind=kind)
        for step in range(1, 6):
            run.add_batch(32, step=step if kind == "train" else None)
        run.finish()
    with Dashboard([tmp_path / k for k in keys], poll_interval_s=0.1) as dash:
        _open(page, dash.url + "#tab=progress")
        for chart in ("best-vs-candidates", "best-vs-time", "best-vs-tokens"):
            paths = page.locator(f"svg[data-chart='{chart}'] path.series")
            assert paths.count() == 2, chart
            assert {paths.nth(i).get_attribute("data-run") for i in range(2)} == set(keys)
            for i in range(2):
                assert int(paths.nth(i).get_attribute("data-points")) >= 2
                assert len(paths.nth(i).get_attribute("d")) > 20
            colours = {paths.nth(i).get_attribute("stroke") for i in range(2)}
            assert len(colours) == 2, "two runs must be told apart by colour"
        # Only the RL run gets a reward distribution per training step (5 steps, 5 boxes).
        assert page.locator("canvas[data-chart='rewards-second']").count() == 1
        assert page.locator("canvas[data-chart='rewards-first']").count() == 0
        assert page.evaluate("window.thetaDashboard.rewardBoxes('second').length") == 5
        _shot(page, "progress")
        # The best-known value is far above these scores: one tick puts it on the axis.
        assert page.locator("svg[data-chart='best-vs-candidates'] line.ref-line").count() == 0
        page.check("#view-progress .controls input[type=checkbox]")
        _wait_until(page, "document.querySelectorAll(\"svg[data-chart='best-vs-candidates'] "
                          "line.ref-line\").length === 1")
        assert "known=1" in page.evaluate("location.hash")
        # Unticking a run leaves one curve, and the choice is in the link.
        page.uncheck("#runs input[data-run='second']")
        _wait_until(page, "document.querySelectorAll(\"svg[data-chart='best-vs-candidates'] "
                          "path.series\").length === 1")
        assert "runs=first" in page.evaluate("location.hash")


def test_the_page_works_with_every_other_host_blocked(page, tmp_path, finished):
    with Dashboard([tmp_path / "finished"], poll_interval_s=0.1) as dash:
        blocked: list[str] = []

        def route(r):
            if r.request.url.startswith(dash.url):
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        # The server's Content-Security-Policy stops such a request before the network sees
        # it; count those refusals too.
        page.add_init_script("window.__refused = []; document.addEventListener("
                             "'securitypolicyviolation', (e) => window.__refused.push(e.blockedURI));")
        for tab in ("overview", "progress", "lineage", "program", "failures"):
            _open(page, dash.url + f"?offline#tab={tab}&run=finished")
            page.wait_for_selector(f"#view-{tab}:not([hidden]) > *")
        page.wait_for_selector(".failure-kind .example pre.detail")
        _wait_until(page, "!document.querySelector('#view-failures').textContent.includes('Loading')")
        assert "made up for the test" in page.inner_text("#view-failures")
        _shot(page, "failures")
        page.select_option("#view-failures select", "time")  # counts against wall time
        _wait_until(page, "location.hash.includes('fx=time')")
        page.wait_for_selector("svg[data-chart='failures-over-time'] path.series")
        assert "minutes" in page.text_content("svg[data-chart='failures-over-time']")
        assert blocked == [], f"the page asked other hosts for {blocked}"
        assert page.evaluate("window.__refused") == []


def test_damaged_and_foreign_run_directories_get_a_clear_message(page, tmp_path, finished):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a run")
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "finished", damaged)
    (damaged / "programs.sqlite").write_bytes(b"garbage" * 1000)
    with Dashboard([tmp_path / "finished", foreign, damaged], poll_interval_s=0.1) as dash:
        _open(page, dash.url)
        foreign_text = page.inner_text(".run-error[data-run='foreign']")
        assert "is not a ThetaEvolve run directory" in foreign_text
        damaged_text = page.inner_text(".run-error[data-run='damaged']")
        assert "not an SQLite database" in damaged_text
        assert "Traceback" not in page.inner_text("body")
        assert _field(page, "finished", "state") == "finished"  # the good run still shows
        _shot(page, "damaged-runs")
        _open(page, dash.url + "#tab=lineage&run=damaged")
        assert "not an SQLite database" in page.inner_text("#view-lineage")


def test_a_run_that_goes_away_and_comes_back_is_followed_again(page, tmp_path):
    run = SyntheticRun(tmp_path / "flaky")
    run.add_batch(8)
    store = tmp_path / "flaky" / "programs.sqlite"
    try:
        with Dashboard([tmp_path / "flaky"], poll_interval_s=0.1) as dash:
            _open(page, dash.url)
            assert _field(page, "flaky", "candidates") == "8"
            store.rename(store.with_name("away.sqlite"))
            # As after a read error: the store is closed and the next poll reopens it, by its
            # name, which is gone now (an open store would go on reading the moved file).
            dash.by_key["flaky"].close()
            _wait_until(page, "document.querySelector(\".run-error[data-run='flaky']\") !== null")
            assert "does not exist" in page.inner_text(".run-error[data-run='flaky']")
            store.with_name("away.sqlite").rename(store)
            _wait_until(page, "document.querySelector(\"td[data-field='candidates']\") !== null")
            run.add_batch(32)  # and live updates flow again after the reload
            _wait_until(page, "document.querySelector(\"td[data-field='candidates']\")"
                              ".textContent === '40'")
            assert page.evaluate("window.thetaDashboard.app.runs.get('flaky').proposals") == 41
    finally:
        run.close()


def test_a_real_run_is_followed_from_before_it_starts_to_its_end(page, tmp_path):
    """`thetaevolve run` in its own process, watched from the start: the page recovers when
    the run directory appears, follows it live, and ends with `thetaevolve show`'s numbers
    and the picture of the best solution."""
    import json
    import subprocess
    import sys

    run_dir = tmp_path / "real"
    with Dashboard([run_dir], poll_interval_s=0.1) as dash:
        _open(page, dash.url + "#tab=overview")
        assert "does not exist" in page.inner_text(".run-error[data-run='real']")
        result = subprocess.run(
            [sys.executable, "-m", "thetaevolve.cli", "run", "circle_packing_26", "--budget",
             "48", "--batch-size", "4", "--run-dir", str(run_dir), "--quiet"],
            capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        shown = json.loads(subprocess.run(
            [sys.executable, "-m", "thetaevolve.cli", "show", str(run_dir), "--json"],
            capture_output=True, text=True, timeout=120, check=True).stdout)
        _wait_until(page, "document.querySelector(\"td[data-field='state']\") !== null && "
                          "document.querySelector(\"td[data-field='state']\").textContent "
                          "=== 'finished'", timeout_s=30)
        assert _field(page, "real", "candidates") == str(shown["evaluations"]) == "48"
        assert _field(page, "real", "best_score") == repr(shown["best_score"])
        page.click("a[data-tab='program']")
        page.wait_for_selector(f".program[data-program='{shown['best_program_id']}'] img.solution")
        _wait_until(page, "document.querySelector('img.solution').complete && "
                          "document.querySelector('img.solution').naturalWidth > 100")
        if shown["best_program_id"] != 1:  # a child of the initial program: it has a diff
            assert page.locator("pre.diff[data-diff='Diff to its parent'] .line.add").count() >= 1
        _shot(page, "program-real-run")
