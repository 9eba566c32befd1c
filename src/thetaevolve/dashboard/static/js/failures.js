// Failures: counts by kind over the run, and the latest examples of each kind with details.

import { lineChart } from "./chart.js";
import { clear, h, ISLAND_COLORS, note } from "./dom.js";

export async function renderFailures(el, app) {
  const run = app.focusRun();
  clear(el);
  if (!run || run.error || !run.overview) {
    el.append(note(run ? (run.error || "The run is not readable yet.") : "No run to show."));
    return;
  }
  const failures = Object.entries(run.overview.failures || {});
  const total = run.overview.candidates;
  if (!failures.length) { el.append(h("p", { "data-field": "no-failures" }, `No failures among ${total} candidates.`)); return; }
  el.append(h("table", { class: "kv" }, h("tbody", {}, failures.map(([k, v]) =>
    h("tr", {}, h("th", {}, k), h("td", { "data-kind": k }, `${v.toLocaleString("en-US")} (${((v / Math.max(1, total)) * 100).toFixed(1)}% of candidates)`))))));
  // Against candidates by default; against wall time on request (a link keeps the choice).
  const byTime = app.route.fx === "time";
  const series = [...run.failureSeries.entries()].map(([code, points], i) => ({
    key: run.outcomes[code] || `outcome ${code}`, label: run.outcomes[code] || `outcome ${code}`,
    color: ISLAND_COLORS[i % ISLAND_COLORS.length], step: true,
    points: byTime ? points.map(([, n, t]) => [t / 60, n]) : points }));
  const lastT = run.t.length ? run.t[run.t.length - 1] / 60 : 0;
  el.append(h("h2", {}, "Failures by kind over the run"),
    h("div", { class: "controls" }, h("label", { class: "inline" }, "against ",
      h("select", { onchange: (e) => app.navigate({ fx: e.target.value === "time" ? "time" : null }) },
        h("option", { value: "candidates", selected: byTime ? null : true }, "candidates evaluated"),
        h("option", { value: "time", selected: byTime ? true : null }, "wall time")))),
    lineChart({ name: "failures-over-time", xLabel: byTime ? "minutes since the run's first program" : "candidates evaluated",
      yLabel: "failures so far (cumulative)", series, xMin: 0,
      xMax: byTime ? Math.max(lastT, 1 / 60) : Math.max(1, run.proposals - 1) }));
  el.append(h("h2", {}, "Latest examples"));
  const boxes = failures.map(([kind]) => {
    const box = h("section", { class: "failure-kind", "data-kind": kind }, h("h3", {}, kind), note("Loading…"));
    el.append(box);
    return [kind, box];
  });
  await Promise.all(boxes.map(async ([kind, box]) => {
    const data = await app.fetchJSON(`/api/runs/${encodeURIComponent(run.key)}/failures?kind=${encodeURIComponent(kind)}&limit=5`);
    clear(box).append(h("h3", {}, kind));
    if (data.error) { box.append(h("div", { class: "run-error" }, data.error)); return; }
    for (const ex of data.examples) {
      box.append(h("div", { class: "example" }, h("div", {}, app.programLink(run.key, ex.id, `#${ex.id}`), ` · batch ${ex.iteration}`),
        h("pre", { class: "detail" }, ex.detail || "(no detail recorded)")));
    }
  }));
}
