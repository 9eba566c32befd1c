// Program: one program whole — code, diff to its parent and to the best, outcome, metrics,
// score, reward, the verifier's verdict, the prompt and the response, and the picture of
// the solution where the task draws one.

import { clear, fmtScore, h, note } from "./dom.js";

function diffBlock(rel, title, app, run) {
  if (!rel) return null;
  const head = h("h3", {}, `${title}: `, app.programLink(run.key, rel.id, `#${rel.id}`),
    rel.score !== null && rel.score !== undefined ? ` (score ${rel.score})` : ` (${rel.outcome || "missing"})`);
  if (rel.missing) return h("div", {}, head, note("That program is not in the store."));
  if (!rel.diff.length) return h("div", { class: "diff-box", "data-diff": title }, head, note("No difference in the code."));
  const pre = h("pre", { class: "diff", "data-diff": title });
  for (const line of rel.diff) {
    const cls = line.startsWith("+++") || line.startsWith("---") ? "file"
      : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
    pre.append(h("span", { class: `line ${cls}` }, line), "\n");
  }
  return h("div", { class: "diff-box" }, head, pre, rel.diff_cut ? note("The diff was cut at 5,000 lines.") : null);
}

function metricsTable(metrics) {
  const entries = Object.entries(metrics || {});
  if (!entries.length) return note("No metrics were recorded.");
  return h("table", { class: "kv" }, h("tbody", {}, entries.map(([k, v]) =>
    h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v))))));
}

export async function renderProgram(el, app) {
  const run = app.focusRun();
  clear(el);
  if (!run || run.error || !run.overview) {
    el.append(note(run ? (run.error || "The run is not readable yet.") : "No run to show."));
    return;
  }
  let pid = Number(app.route.program || run.overview.best_id || 0);
  const jump = h("form", { class: "controls", onsubmit: (e) => {
    e.preventDefault();
    const value = Number(new FormData(e.target).get("id"));
    if (value > 0) app.navigate({ tab: "program", run: run.key, program: value });
  } }, h("label", { class: "inline" }, "program # ", h("input", { name: "id", type: "number", min: 1, value: pid || "" })),
  h("button", { type: "submit" }, "Open"),
  run.overview.best_id ? h("span", {}, " · ", app.programLink(run.key, run.overview.best_id, "open the best")) : null);
  el.append(jump);
  if (!pid) { el.append(note("This run has no program yet.")); return; }
  const box = h("div", { class: "program", "data-program": pid }, note("Loading…"));
  el.append(box);
  const p = await app.fetchJSON(`/api/runs/${encodeURIComponent(run.key)}/programs/${pid}`);
  if (app.route.program && Number(app.route.program) !== pid) return;  // the user moved on
  clear(box);
  if (p.error) { box.append(h("div", { class: "run-error", role: "alert" }, p.error)); return; }
  const badge = (text, cls) => h("span", { class: `badge ${cls}` }, text);
  const facts = h("table", { class: "kv facts" }, h("tbody", {},
    h("tr", {}, h("th", {}, "Outcome"), h("td", { "data-field": "outcome" }, badge(p.outcome, p.outcome === "ok" ? "ok" : "fail"))),
    h("tr", {}, h("th", {}, "Score"), h("td", { "data-field": "score" }, fmtScore(p.score))),
    h("tr", {}, h("th", {}, "Verdict"), h("td", { "data-field": "verdict" }, badge(p.verdict.label, `verdict-${p.verdict.label.replace(/\W+/g, "-")}`), " ", p.verdict.text)),
    h("tr", {}, h("th", {}, "Reward"), h("td", {}, fmtScore(p.reward))),
    h("tr", {}, h("th", {}, "Island · generation · batch"), h("td", {}, `${p.island} · ${p.generation} · ${p.iteration}`)),
    h("tr", {}, h("th", {}, "Kind"), h("td", {}, p.kind, p.origin_id ? [" of ", app.programLink(run.key, p.origin_id, `#${p.origin_id}`), " (a copy made by the database: code and texts are its origin's)"] : "")),
    h("tr", {}, h("th", {}, "In the population"), h("td", {}, p.evicted ? "no: evicted (kept in the store)" : p.outcome !== "ok" ? "no: a failed candidate is never a parent" : p.id < (run.overview.retired_below || 1) ? "no: retired by a re-initialisation (kept in the store)" : "yes")),
    h("tr", {}, h("th", {}, "Parent"), h("td", {}, p.parent_id ? app.programLink(run.key, p.parent_id, `#${p.parent_id}`) : "none (a root)")),
    h("tr", {}, h("th", {}, "Children"), h("td", {}, childLinks(run, pid, app)))));
  box.append(h("h2", {}, `Program #${p.id}`, p.id === p.best_id ? badge("best", "best") : null), facts);
  if (p.picture) {
    box.append(h("h3", {}, "Solution"), h("img", { class: "solution", alt: `picture of the best solution of ${run.key}`,
      src: `/api/runs/${encodeURIComponent(run.key)}/solution.png?v=${run.overview.best_id}` }));
  } else if (run.info.has_picture && p.outcome === "ok") {
    box.append(note(p.id === p.best_id
      ? "No picture yet: the run has not written best_solution.json."
      : "The solution picture is drawn for the run's best program only: the store keeps no solution data for the others."));
  }
  if (p.detail) box.append(h("h3", {}, "What went wrong"), h("pre", { class: "detail" }, p.detail));
  box.append(diffBlock(p.parent, "Diff to its parent", app, run));
  box.append(p.best ? diffBlock(p.best, "Diff to the best", app, run) : note(p.id === p.best_id ? "This is the run's best program." : ""));
  box.append(h("h3", {}, "Metrics"), metricsTable(p.metrics));
  box.append(h("h3", {}, "Code"), p.code ? h("pre", { class: "code" }, p.code) : note("No program could be built from the response."));
  box.append(h("details", {}, h("summary", {}, `Prompt (${p.prompt.length.toLocaleString("en-US")} characters)`), h("pre", { class: "text" }, p.prompt || "(none: the initial program or a copy)")));
  box.append(h("details", {}, h("summary", {}, `Response (${p.response.length.toLocaleString("en-US")} characters)`), h("pre", { class: "text" }, p.response || "(none)")));
}

function childLinks(run, pid, app) {
  if (!run.rowOf.has(pid)) return "–";
  const kids = run.children(pid);
  if (!kids.length) return "none";
  const shown = kids.slice(0, 40).flatMap((k, i) => [i ? ", " : "", app.programLink(run.key, k, `#${k}`)]);
  return kids.length > 40 ? [...shown, ` and ${kids.length - 40} more`] : shown;
}
