// Progress: best so far against candidates, tokens and dollars for every selected run, the
// score distribution per batch, and for RL runs the reward distribution per training step.

import { lineChart, scatterChart } from "./chart.js";
import { clear, h, note } from "./dom.js";

function bestSeries(run) {
  return run.bestX.map((x, i) => [x, run.bestY[i]]);
}

// Best so far after each logged batch, against that batch's running total of `field`.
function bestAgainst(run, field) {
  const points = [];
  for (const b of run.batches) {
    const total = b[field], evaluations = b[1];
    if (total === null || total === undefined || evaluations === null) continue;
    const best = run.bestAt(evaluations);
    if (best !== null) points.push([total, best]);
  }
  return points;
}

function refLines(runs, app) {
  const seen = new Map();
  for (const r of runs) {
    if (r.info.best_known !== null && r.info.best_known !== undefined && !seen.has(r.info.best_known)) {
      seen.set(r.info.best_known, { y: r.info.best_known, color: "#777", label: `best known ${r.info.best_known} (${r.info.task})` });
    }
  }
  return [...seen.values()];
}

const FIELD_TOKENS = 2, FIELD_COST = 3, FIELD_STEP = 4;

export function renderProgress(el, app) {
  clear(el);
  const runs = app.selectedRuns().filter((r) => !r.error && r.overview);
  if (!runs.length) { el.append(note("No readable run selected.")); return; }
  const lines = refLines(runs, app);
  // The record can be far from a young run's scores, and putting it on the axis would flatten
  // every curve. By default it is on the axis when it is near the data (within twice the
  // spread of the best scores); the box overrides that either way, and the link keeps it.
  const fit = app.route.known === undefined ? knownIsNear(runs, lines) : app.route.known === "1";
  const toggle = h("label", { class: "inline" },
    h("input", { type: "checkbox", checked: fit ? true : null, onchange: (e) => app.navigate({ known: e.target.checked ? "1" : "0" }) }),
    " include the best-known value in the score axis");
  el.append(h("div", { class: "controls" }, toggle));
  const label = (r) => `${r.key} (${r.info.task}): best ${r.best === null ? "–" : r.best}`;
  const maxCandidates = Math.max(...runs.map((r) => Math.max(0, r.proposals - 1)));
  el.append(h("h2", {}, "Best score so far against candidates evaluated"),
    lineChart({ name: "best-vs-candidates", xLabel: "candidates evaluated", yLabel: "best score",
      series: runs.map((r) => ({ key: r.key, label: label(r), color: app.colorOf(r.key), points: bestSeries(r), step: true })),
      lines, xMin: 0, xMax: Math.max(1, maxCandidates), fitLines: fit }));

  const maxMinutes = Math.max(...runs.map((r) => (r.t.length ? r.t[r.t.length - 1] : 0) / 60));
  el.append(h("h2", {}, "Best score so far against wall time"),
    lineChart({ name: "best-vs-time", xLabel: "minutes since the run's first program", yLabel: "best score",
      series: runs.map((r) => ({ key: r.key, label: label(r), color: app.colorOf(r.key),
        points: r.bestT.map((t, i) => [t / 60, r.bestY[i]]), step: true })),
      lines, xMin: 0, xMax: Math.max(maxMinutes, 1 / 60), fitLines: fit }));

  const tokenRuns = runs.filter((r) => r.batches.some((b) => b[FIELD_TOKENS] > 0));
  el.append(h("h2", {}, "Best score so far against tokens"));
  el.append(tokenRuns.length
    ? lineChart({ name: "best-vs-tokens", xLabel: "tokens (prompt + completion)", yLabel: "best score",
      series: tokenRuns.map((r) => ({ key: r.key, label: label(r), color: app.colorOf(r.key), points: bestAgainst(r, FIELD_TOKENS), step: true })),
      lines, fitLines: fit })
    : note("No token counts: these runs used the offline proposer, or logged no usage per batch."));
  const costRuns = runs.filter((r) => r.batches.some((b) => b[FIELD_COST] !== null && b[FIELD_COST] !== undefined));
  el.append(h("h2", {}, "Best score so far against cost"));
  el.append(costRuns.length
    ? lineChart({ name: "best-vs-cost", xLabel: "cost (US dollars)", yLabel: "best score",
      series: costRuns.map((r) => ({ key: r.key, label: label(r), color: app.colorOf(r.key), points: bestAgainst(r, FIELD_COST), step: true })),
      lines, fitLines: fit })
    : note("Cost is not known: set llm.price_per_mtok_in / llm.price_per_mtok_out to have it counted."));

  el.append(h("h2", {}, "Scores per batch (successful candidates)"));
  el.append(scatterChart({ name: "scores-per-batch", xLabel: "batch", yLabel: "score", lines: fit ? lines : [],
    groups: runs.map((r) => scoreCloud(r, app)) }));

  for (const r of runs.filter((x) => x.info.kind === "train")) {
    el.append(h("h2", {}, `Reward distribution per training step — ${r.key}`));
    const boxes = rewardBoxes(r);
    el.append(boxes.length
      ? scatterChart({ name: `rewards-${r.key}`, xLabel: "training step", yLabel: "reward",
        groups: [{ color: app.colorOf(r.key), label: `${r.key}: box = quartiles, whiskers = min..max`, xs: [], ys: [] }], boxes })
      : note("No training step has been logged yet."));
  }
}

function knownIsNear(runs, lines) {
  const ys = runs.flatMap((r) => r.bestY);
  if (!ys.length || !lines.length) return true;
  const lo = Math.min(...ys), hi = Math.max(...ys), spread = Math.max(hi - lo, Math.abs(hi) * 1e-3);
  return lines.every((l) => l.y >= lo - 2 * spread && l.y <= hi + 2 * spread);
}

function scoreCloud(run, app) {
  const xs = [], ys = [];
  for (let i = 0; i < run.id.length; i++) {
    if (run.kind[i] !== 0 || run.out[i] !== run.okCode || run.score[i] === null || run.iter[i] <= 0) continue;
    xs.push(run.iter[i] + (((i * 0.6180339887) % 1) - 0.5) * 0.6);  // fixed jitter: dots of one batch spread
    ys.push(run.score[i]);
  }
  return { color: app.colorOf(run.key), label: `${run.key}: ${xs.length.toLocaleString("en-US")} scored candidates`, xs, ys };
}

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

// Rewards of every candidate, grouped by the training step whose batch produced it (the
// event log maps batches to steps; a batch with no logged step is left out).
export function rewardBoxes(run) {
  const stepOf = new Map();
  for (const b of run.batches) if (b[FIELD_STEP] !== null && b[FIELD_STEP] !== undefined) stepOf.set(b[0], b[FIELD_STEP]);
  const groups = new Map();
  for (let i = 0; i < run.id.length; i++) {
    if (run.kind[i] !== 0 || run.iter[i] <= 0 || run.reward[i] === null || run.reward[i] === undefined) continue;
    const step = stepOf.get(run.iter[i]);
    if (step === undefined) continue;
    if (!groups.has(step)) groups.set(step, []);
    groups.get(step).push(run.reward[i]);
  }
  return [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([x, values]) => {
    values.sort((a, b) => a - b);
    return { x, min: values[0], q1: quantile(values, 0.25), median: quantile(values, 0.5), q3: quantile(values, 0.75), max: values[values.length - 1] };
  });
}
