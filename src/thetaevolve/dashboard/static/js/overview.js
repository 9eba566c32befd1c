// Overview: one column per selected run, every number as plain text (tests read it, and
// so can a screen reader or a copy-paste into a lab notebook).

import { clear, fmtCost, fmtInt, fmtNumber, fmtScore, fmtSeconds, h } from "./dom.js";

const STATE_TEXT = { running: "running", finished: "finished", stopped: "stopped (not running, budget not spent)" };

function gapText(run, o) {
  if (o.gap === null || o.gap === undefined) return "–";
  const rel = run.info.best_known ? Math.abs(o.gap / run.info.best_known) * 100 : null;
  const relText = rel === null ? "" : ` (${rel.toPrecision(3)}%)`;
  if (o.gap > 0) return `${fmtNumber(o.gap, 6)}${relText} short of the best known`;
  if (o.gap < 0) return `beats the best known by ${fmtNumber(-o.gap, 6)}${relText}`;
  return "equals the best known";
}

function failuresText(o) {
  const entries = Object.entries(o.failures || {});
  if (!entries.length) return "none";
  return entries.map(([k, v]) => `${k} ${v}`).join(", ");
}

function llmFailures(o) {
  return Object.entries(o.llm.failures || {}).map(([k, v]) => `${k} ${v}`).join(", ") || "kinds not recorded";
}

const ROWS = [
  ["task", "Task", (r) => r.info.task],
  ["trust", "Score trust", (r) => `${r.info.trust} — ${r.info.trust_note}`],
  ["state", "State", (r, o) => STATE_TEXT[o.state] || o.state],
  ["candidates", "Candidates evaluated", (r, o) => fmtInt(o.candidates)],
  ["best_score", "Best score", (r, o) => fmtScore(o.best_score)],
  ["best_id", "Best program", (r, o) => (o.best_id ? `#${o.best_id}` : "–")],
  ["best_known", "Best known", (r) => (r.info.best_known === null || r.info.best_known === undefined ? "–"
    : `${fmtScore(r.info.best_known)}${r.info.best_known_source ? ` (${r.info.best_known_source})` : ""}`)],
  ["gap", "Gap to best known", (r, o) => gapText(r, o)],
  ["initial_score", "Initial score", (r, o) => fmtScore(o.initial_score)],
  ["ok", "Succeeded", (r, o) => fmtInt(o.ok)],
  ["failures", "Failures by kind", (r, o) => failuresText(o)],
  ["llm_calls", "LLM calls", (r, o) => `${fmtInt(o.llm.calls)}${o.llm.failed_calls ? ` (${o.llm.failed_calls} failed: ${llmFailures(o)})` : ""}`
    + (o.llm.offline_proposals ? `; ${fmtInt(o.llm.offline_proposals)} offline proposals` : "")],
  ["tokens", "Tokens", (r, o) => `${fmtInt(o.llm.tokens_in + o.llm.tokens_out)} (${fmtInt(o.llm.tokens_in)} in, ${fmtInt(o.llm.tokens_out)} out)`],
  ["cost", "Cost", (r, o) => fmtCost(o.llm.cost_usd)],
  ["wall_seconds", "Wall time", (r, o) => `${fmtSeconds(o.wall_seconds)}`],
  ["batches", "Batches", (r, o) => fmtInt(o.batches)],
  ["programs", "Programs stored", (r, o) => `${fmtInt(o.programs)} (copies made by the database included; ${fmtInt(o.evicted)} evicted)`],
];

export function renderOverview(el, app) {
  clear(el);
  const runs = app.selectedRuns();
  if (!runs.length) { el.append(h("p", { class: "note" }, "No run selected.")); return; }
  for (const run of runs.filter((r) => r.error)) {
    el.append(h("div", { class: "run-error", role: "alert", "data-run": run.key },
      h("strong", {}, `Run ${run.key} cannot be shown. `), run.error));
  }
  const shown = runs.filter((r) => !r.error && r.overview);
  if (!shown.length) return;
  const head = h("tr", {}, h("th", {}, ""), shown.map((r) =>
    h("th", { scope: "col", "data-run": r.key }, h("span", { class: "run-dot", dataset: { run: r.key } }), r.key,
      h("div", { class: "path" }, r.info.path))));
  const body = ROWS.map(([field, label, value]) => h("tr", {},
    h("th", { scope: "row" }, label),
    shown.map((r) => h("td", { "data-run": r.key, "data-field": field, class: field === "state" ? `state-${r.overview.state}` : null },
      value(r, r.overview)))));
  el.append(h("table", { class: "overview" }, h("thead", {}, head), h("tbody", {}, body)));
  for (const dot of el.querySelectorAll(".run-dot")) dot.style.background = app.colorOf(dot.dataset.run);
}
