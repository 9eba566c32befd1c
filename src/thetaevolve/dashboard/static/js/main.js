// The dashboard page: routing (deep links in the URL hash), loading runs, following the
// server's event stream, and rendering the visible tab when something changed.

import { clear, h, RUN_COLORS } from "./dom.js";
import { renderFailures } from "./failures.js";
import { LineageView } from "./lineage.js";
import { renderOverview } from "./overview.js";
import { renderProgram } from "./program.js";
import { renderProgress, rewardBoxes } from "./progress.js";
import { RunData } from "./rundata.js";

const TABS = [["overview", "Overview"], ["progress", "Progress"], ["lineage", "Lineage"],
  ["program", "Program"], ["failures", "Failures"]];

class App {
  constructor() {
    this.runs = new Map();
    this.order = [];
    this.route = {};
    this.lineage = new LineageView(this);
    this.pending = null;
    this.lastFailures = "";
  }

  // ---- routing: everything that names what is shown lives in the hash ----------------------

  readRoute() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    this.route = Object.fromEntries(params.entries());
    if (!TABS.some(([t]) => t === this.route.tab)) this.route.tab = "overview";
  }

  href(changes) {
    const next = { ...this.route, ...changes };
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== null && v !== undefined && v !== "") params.set(k, v);
    return `#${params.toString()}`;
  }

  navigate(changes) {
    const target = this.href(changes);
    if (target !== location.hash) location.hash = target;  // hashchange renders it
  }

  programLink(key, pid, text) {
    return h("a", { href: this.href({ tab: "program", run: key, program: pid }), class: "program-link", "data-program": pid }, text);
  }

  selectedRuns() {
    const wanted = this.route.runs ? this.route.runs.split(",") : this.order;
    return wanted.filter((k) => this.runs.has(k)).map((k) => this.runs.get(k));
  }

  focusRun() {
    if (this.route.run && this.runs.has(this.route.run)) return this.runs.get(this.route.run);
    const selected = this.selectedRuns();
    return selected.find((r) => !r.error) || selected[0] || null;
  }

  colorOf(key) { return RUN_COLORS[Math.max(0, this.order.indexOf(key)) % RUN_COLORS.length]; }

  async fetchJSON(url) {
    try {
      const response = await fetch(url, { cache: "no-store" });
      const data = await response.json().catch(() => ({ error: `the server answered ${response.status} without data` }));
      if (!response.ok && !data.error) data.error = `the server answered ${response.status}`;
      return data;
    } catch (err) {
      return { error: `the dashboard server cannot be reached (${err.message}); is it still running?` };
    }
  }

  // ---- loading and following -----------------------------------------------------------------

  async boot() {
    this.readRoute();
    const list = await this.fetchJSON("/api/runs");
    if (list.error) { this.fatal(list.error); return; }
    for (const entry of list.runs) {
      this.runs.set(entry.key, new RunData(entry, list.outcomes, list.kinds));
      this.order.push(entry.key);
    }
    await Promise.all([...this.runs.values()].filter((r) => !r.error).map((r) => this.loadRun(r)));
    this.renderHeader();
    await this.render();
    window.thetaDashboard.firstRenderMs = performance.now();
    document.body.dataset.ready = "1";
    this.follow();
    window.addEventListener("hashchange", () => { this.readRoute(); this.renderHeader(); this.render(); });
    window.addEventListener("resize", () => { if (this.route.tab === "lineage") this.lineage.draw(); });
  }

  async loadRun(run) {
    run.loading = true;
    run.queue = [];
    const snap = await this.fetchJSON(`/api/runs/${encodeURIComponent(run.key)}/snapshot`);
    if (snap.error && !snap.key) run.error = snap.error;
    else run.loadSnapshot(snap);
    run.loading = false;
    for (const d of run.queue.splice(0)) this.apply(run, d);
  }

  follow() {
    if (this.source) this.source.close();
    const runs = this.order.map((k) => `${k}:${this.runs.get(k).seq}`).join(",");
    const source = this.source = new EventSource(`/api/stream?runs=${encodeURIComponent(runs)}`);
    const status = document.getElementById("live");
    source.onopen = () => { status.textContent = "live"; status.className = "live on"; };
    source.onerror = () => { status.textContent = "reconnecting…"; status.className = "live off"; };
    source.addEventListener("delta", (e) => {
      const d = JSON.parse(e.data), run = this.runs.get(d.run);
      if (!run) return;
      if (run.loading) { run.queue.push(d); return; }
      this.apply(run, d);
    });
    source.addEventListener("reset", (e) => {
      const run = this.runs.get(JSON.parse(e.data).run);
      if (run) this.reload(run);
    });
  }

  // Load a run whole again, then follow the stream from that snapshot's seq: the server
  // replays what came after it, so nothing is missed and nothing is applied twice.
  reload(run) {
    this.loadRun(run).then(() => { this.follow(); this.schedule(); });
  }

  apply(run, d) {
    if (d.seq <= run.seq) return;
    if (d.reset || d.recovered || (d.seq !== run.seq + 1 && !d.error)) {
      // The run was replaced, came back from an error, or a delta is missing: reload it whole.
      this.reload(run);
      return;
    }
    run.applyDelta(d);
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.render(true); });
  }

  // ---- rendering -------------------------------------------------------------------------------

  fatal(message) {
    const main = clear(document.getElementById("main"));
    main.append(h("div", { class: "run-error", role: "alert" }, message));
    document.body.dataset.ready = "1";
  }

  renderHeader() {
    const nav = clear(document.getElementById("tabs"));
    for (const [tab, label] of TABS) {
      nav.append(h("a", { href: this.href({ tab }), class: tab === this.route.tab ? "tab active" : "tab", "data-tab": tab,
        "aria-current": tab === this.route.tab ? "page" : null }, label));
    }
    const picker = clear(document.getElementById("runs"));
    const selected = new Set(this.selectedRuns().map((r) => r.key));
    for (const key of this.order) {
      const box = h("input", { type: "checkbox", checked: selected.has(key) ? true : null, "data-run": key,
        onchange: () => {
          const keys = this.order.filter((k) => (k === key ? box.checked : selected.has(k)));
          this.navigate({ runs: keys.length === this.order.length ? null : keys.join(",") });
        } });
      const dot = h("span", { class: "run-dot" }); dot.style.background = this.colorOf(key);
      picker.append(h("label", { class: "run-pick", title: this.runs.get(key).info.path }, box, dot, key));
    }
    const focus = this.focusRun();
    if (this.order.length > 1) {
      picker.append(h("label", { class: "inline focus" }, "details for ",
        h("select", { onchange: (e) => this.navigate({ run: e.target.value, program: null }) },
          this.order.map((k) => h("option", { value: k, selected: focus && focus.key === k ? true : null }, k)))));
    }
  }

  async render(live = false) {
    const tab = this.route.tab;
    for (const [t] of TABS) document.getElementById(`view-${t}`).hidden = t !== tab;
    const el = document.getElementById(`view-${tab}`);
    if (tab === "overview") renderOverview(el, this);
    else if (tab === "progress") renderProgress(el, this);
    else if (tab === "lineage") this.lineage.render(el);
    else if (tab === "program") { if (!live) await renderProgram(el, this); }
    else if (tab === "failures") {
      const run = this.focusRun();
      const key = run && run.overview ? JSON.stringify(run.overview.failures) + run.key : "";
      if (!live || key !== this.lastFailures) { this.lastFailures = key; await renderFailures(el, this); }
    }
  }
}

const app = new App();
window.thetaDashboard = {
  app,
  lineagePoint: (pid) => app.lineage.pointOf(pid),
  rewardBoxes: (key) => rewardBoxes(app.runs.get(key)),
};
app.boot().catch((err) => app.fatal(`the page failed to start: ${err.message}`));
