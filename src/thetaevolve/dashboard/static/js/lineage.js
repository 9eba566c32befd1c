// Lineage: every program of a run as a layered tree on one canvas.
//
// Layout (O(N log k), fine at 10^5 nodes and more): a node's row is its depth in the tree (a
// copy the database made - island seed, migrant, re-initialisation - sits one row below the
// program it copies); its columns are an interval as wide as the number of leaves under it,
// split among its children, the largest subtree first. A node is drawn at the left of its
// interval, so it sits straight above its largest subtree: the main lines of descent run
// down as vertical spines and side branches step off to the right. Nothing is ever removed:
// evicted programs stay, drawn faded, so a lineage never breaks.

import { clear, h, ISLAND_COLORS } from "./dom.js";

const HEIGHT = 620;
const FAIL_COLOR = "#d62728";

export function layoutTree(run, hideFailures) {
  const n = run.id.length;
  const prow = new Int32Array(n).fill(-1);
  const include = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const failed = run.kind[i] === 0 && run.out[i] !== run.okCode;
    include[i] = hideFailures && failed ? 0 : 1;
    const p = run.parent[i];
    if (p) { const r = run.rowOf.get(p); if (r !== undefined && include[r]) prow[i] = r; }
  }
  const weight = new Float64Array(n);
  const degree = new Int32Array(n + 1);
  for (let i = n - 1; i >= 0; i--) {  // children always have larger ids than their parents
    if (!include[i]) continue;
    if (weight[i] === 0) weight[i] = 1;
    if (prow[i] >= 0) { weight[prow[i]] += weight[i]; degree[prow[i]]++; }
  }
  // Children of every node, contiguous (CSR), each list sorted largest subtree first.
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i] + degree[i];
  const fill = start.slice(0, n);
  const kids = new Int32Array(start[n]);
  for (let i = 0; i < n; i++) if (include[i] && prow[i] >= 0) kids[fill[prow[i]]++] = i;
  for (let i = 0; i < n; i++) {
    if (degree[i] > 1) {
      const part = kids.subarray(start[i], start[i + 1]);
      part.sort((a, b) => weight[b] - weight[a] || a - b);
    }
  }
  const x0 = new Float64Array(n);
  const depth = new Int32Array(n);
  let cursor = 0, maxDepth = 0;
  for (let i = 0; i < n; i++) {  // parents come before their children
    if (!include[i]) continue;
    if (prow[i] < 0) { x0[i] = cursor; cursor += weight[i]; }
    let next = x0[i];
    for (let k = start[i]; k < start[i + 1]; k++) {
      const c = kids[k];
      x0[c] = next; next += weight[c]; depth[c] = depth[i] + 1;
      if (depth[c] > maxDepth) maxDepth = depth[c];
    }
  }
  const total = cursor || 1;
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let i = 0; i < n; i++) { x[i] = (x0[i] + 0.5) / total; y[i] = depth[i]; }
  return { n, x, y, prow, include, maxDepth, version: run.version, hideFailures };
}

export class LineageView {
  constructor(app) {
    this.app = app;
    this.layout = null;
    this.runKey = null;
    this.view = null;  // {kx, ky, tx, ty}: screen = world * k + t
    this.userMoved = false;
    this.canvas = null;
  }

  render(el) {
    const app = this.app, run = app.focusRun();
    if (!run || run.error || !run.overview) {
      clear(el);
      this.built = null;
      el.append(h("p", { class: "note" }, run ? (run.error || "The run is not readable yet.") : "No run to show."));
      return;
    }
    const hide = app.route.failures === "hide";
    const island = app.route.island === undefined ? null : Number(app.route.island);
    if (this.runKey !== run.key) { this.view = null; this.userMoved = false; this.runKey = run.key; }
    if (!this.layout || this.layout.version !== run.version || this.layout.hideFailures !== hide
        || this.layout.runKey !== run.key) {
      this.layout = layoutTree(run, hide);
      this.layout.runKey = run.key;
    }
    this.island = island;
    const built = `${run.key}|${hide}|${island}`;
    if (this.canvas && this.canvas.isConnected && this.built === built) {
      // A live update: the same view, more programs. Keep the DOM (and the user's zoom).
      this.hint.textContent = this.hintText();
      this.draw();
      return;
    }
    this.built = built;
    clear(el);
    const islands = [...new Set(run.island)].sort((a, b) => a - b);
    const controls = h("div", { class: "controls" },
      h("button", { type: "button", onclick: () => { this.view = null; this.userMoved = false; this.draw(); } }, "Fit"),
      h("label", { class: "inline" }, h("input", { type: "checkbox", checked: hide ? true : null,
        onchange: (e) => app.navigate({ failures: e.target.checked ? "hide" : null }) }), " hide failed candidates"),
      h("label", { class: "inline" }, "island ", h("select", { onchange: (e) => app.navigate({ island: e.target.value === "" ? null : e.target.value }) },
        h("option", { value: "" }, "all"),
        islands.map((k) => h("option", { value: k, selected: island === k ? true : null }, `island ${k}`)))),
      this.hint = h("span", { class: "hint" }, this.hintText()));
    const legend = h("div", { class: "legend" },
      islands.slice(0, ISLAND_COLORS.length).map((k) => {
        const sw = h("span", { class: "swatch" }); sw.style.background = ISLAND_COLORS[k % ISLAND_COLORS.length];
        return h("span", { class: "legend-item" }, sw, `island ${k}`);
      }),
      h("span", { class: "legend-item" }, h("span", { class: "swatch fail" }), "failed"),
      h("span", { class: "legend-item" }, h("span", { class: "swatch evicted" }), "evicted or retired (faded)"),
      h("span", { class: "legend-item" }, h("span", { class: "swatch copy" }), "copy (seed, migrant, re-init)"),
      h("span", { class: "legend-item" }, h("span", { class: "swatch best" }), "best and its ancestors"));
    this.canvas = h("canvas", { class: "lineage", "data-run": run.key, tabindex: 0 });
    this.tip = h("div", { class: "tooltip", hidden: true });
    const box = h("div", { class: "lineage-box" }, this.canvas, this.tip);
    el.append(controls, legend, box);
    this.bind(run);
    this.draw();
  }

  hintText() {
    return `${this.layout.n.toLocaleString("en-US")} programs, ${this.layout.maxDepth + 1} rows — drag to pan, wheel to zoom (shift: width only), click a node to open it`;
  }

  resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(300, this.canvas.parentElement.clientWidth);
    this.width = width; this.height = HEIGHT;
    this.canvas.width = width * ratio; this.canvas.height = HEIGHT * ratio;
    this.canvas.style.width = `${width}px`; this.canvas.style.height = `${HEIGHT}px`;
    this.ratio = ratio;
  }

  fit() {
    const pad = 16;
    this.view = { kx: this.width - 2 * pad, tx: pad,
      ky: (this.height - 2 * pad) / Math.max(1, this.layout.maxDepth), ty: pad };
  }

  screen(i) {
    const v = this.view, L = this.layout;
    return [L.x[i] * v.kx + v.tx, L.y[i] * v.ky + v.ty];
  }

  draw() {
    if (!this.canvas) return;
    this.resize();
    if (!this.view || !this.userMoved) this.fit();
    const run = this.app.focusRun(), L = this.layout, ctx = this.canvas.getContext("2d");
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.clearRect(0, 0, this.width, this.height);
    const W = this.width, H = this.height, v = this.view;
    const visible = (sx, sy) => sx >= -4 && sx <= W + 4 && sy >= -4 && sy <= H + 4;
    // Edges first, in one path, as elbows (down, across, down): the children of one parent
    // share one horizontal bar, so a parent with thousands of children draws one line.
    ctx.strokeStyle = L.n > 20000 ? "rgba(60,60,60,0.22)" : "rgba(60,60,60,0.35)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 0; i < L.n; i++) {
      const p = L.prow[i];
      if (p < 0 || !L.include[i] || !L.include[p]) continue;
      const ax = L.x[p] * v.kx + v.tx, bx = L.x[i] * v.kx + v.tx;
      if ((ax < 0 && bx < 0) || (ax > W && bx > W)) continue;
      const ay = L.y[p] * v.ky + v.ty, by = L.y[i] * v.ky + v.ty, mid = by - v.ky / 2;
      ctx.moveTo(ax, ay);
      ctx.lineTo(ax, mid);
      ctx.lineTo(bx, mid);
      ctx.lineTo(bx, by);
    }
    ctx.stroke();
    const size = L.n > 20000 ? 2 : L.n > 2000 ? 3 : 5;
    const retired = run.overview.retired_below || 1;  // a re-initialisation retired older ids
    const ok = run.okCode;
    for (let i = 0; i < L.n; i++) {
      if (!L.include[i]) continue;
      const sx = L.x[i] * v.kx + v.tx, sy = L.y[i] * v.ky + v.ty;
      if (!visible(sx, sy)) continue;
      const failed = run.out[i] !== ok;
      const dim = run.evicted[i] || run.id[i] < retired || (this.island !== null && run.island[i] !== this.island);
      ctx.globalAlpha = dim ? 0.25 : 0.9;
      const color = failed ? FAIL_COLOR : ISLAND_COLORS[run.island[i] % ISLAND_COLORS.length];
      if (run.kind[i] !== 0) {
        ctx.strokeStyle = color;
        ctx.strokeRect(sx - size / 2 - 0.5, sy - size / 2 - 0.5, size + 1, size + 1);
      } else {
        ctx.fillStyle = color;
        const s = failed ? Math.max(1.5, size - 1) : size;
        ctx.fillRect(sx - s / 2, sy - s / 2, s, s);
      }
    }
    ctx.globalAlpha = 1;
    const bestRow = run.overview.best_id ? run.rowOf.get(run.overview.best_id) : undefined;
    if (bestRow !== undefined) this.path(ctx, bestRow, "#e0a100", 2.5);
    const selected = this.app.route.program ? run.rowOf.get(Number(this.app.route.program)) : undefined;
    if (selected !== undefined && L.include[selected]) {
      this.path(ctx, selected, "#111", 1.5);
      const [sx, sy] = this.screen(selected);
      ctx.strokeStyle = "#111"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(sx, sy, 7, 0, 2 * Math.PI); ctx.stroke();
    }
  }

  path(ctx, row, color, width) {
    const L = this.layout;
    ctx.strokeStyle = color; ctx.lineWidth = width;
    ctx.beginPath();
    let [sx, sy] = this.screen(row);
    ctx.moveTo(sx, sy);
    for (let r = L.prow[row]; r >= 0; r = L.prow[r]) {
      const [px, py] = this.screen(r), mid = sy - this.view.ky / 2;
      ctx.lineTo(sx, mid); ctx.lineTo(px, mid); ctx.lineTo(px, py);
      [sx, sy] = [px, py];
    }
    ctx.stroke();
    const [bx, by] = this.screen(row);
    ctx.fillStyle = color; ctx.beginPath(); ctx.arc(bx, by, 4, 0, 2 * Math.PI); ctx.fill();
    ctx.lineWidth = 1;
  }

  // The node nearest to a screen point, within `radius` pixels (a scan: ~1 ms at 10^5).
  nodeAt(sx, sy, radius = 8) {
    const L = this.layout, v = this.view;
    let best = -1, bestD = radius * radius;
    for (let i = 0; i < L.n; i++) {
      if (!L.include[i]) continue;
      const dx = L.x[i] * v.kx + v.tx - sx, dy = L.y[i] * v.ky + v.ty - sy;
      const d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = i; }
    }
    return best;
  }

  bind(run) {
    const c = this.canvas;
    let drag = null;
    const local = (e) => { const r = c.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    c.addEventListener("mousedown", (e) => { drag = { start: local(e), view: { ...this.view }, moved: false }; });
    // The click that ends a drag comes after mouseup: forget the drag only once it has passed.
    c.addEventListener("mouseup", () => { setTimeout(() => { drag = null; }, 0); });
    c.addEventListener("mousemove", (e) => {
      const [x, y] = local(e);
      if (drag && (e.buttons & 1)) {
        const dx = x - drag.start[0], dy = y - drag.start[1];
        if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
        if (drag.moved) {
          this.view = { ...drag.view, tx: drag.view.tx + dx, ty: drag.view.ty + dy };
          this.userMoved = true;
          this.schedule();
        }
        return;
      }
      // One hit test per frame, however fast the mouse moves (each scans every node).
      this.hoverAt = [x, y];
      if (!this.hoverPending) {
        this.hoverPending = requestAnimationFrame(() => {
          this.hoverPending = null;
          this.hover(this.hoverAt[0], this.hoverAt[1], run);
        });
      }
    });
    c.addEventListener("mouseleave", () => { this.tip.hidden = true; drag = null; });
    c.addEventListener("click", (e) => {
      if (drag && drag.moved) return;
      const [x, y] = local(e);
      const row = this.nodeAt(x, y);
      if (row >= 0) this.app.navigate({ tab: "program", run: run.key, program: run.id[row] });
    });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [x, y] = local(e);
      const f = e.deltaY < 0 ? 1.25 : 0.8, v = this.view;
      const kx = v.kx * f, ky = e.shiftKey ? v.ky : v.ky * f;
      this.view = { kx, ky, tx: x - (x - v.tx) * (kx / v.kx), ty: e.shiftKey ? v.ty : y - (y - v.ty) * (ky / v.ky) };
      this.userMoved = true;
      this.schedule();
    }, { passive: false });
  }

  hover(x, y, run) {
    const row = this.nodeAt(x, y);
    if (row < 0) { this.tip.hidden = true; setCursor(this.canvas, false); return; }
    setCursor(this.canvas, true);
    const score = run.score[row];
    this.tip.textContent = `#${run.id[row]} · ${run.kinds[run.kind[row]] || "?"} · island ${run.island[row]} · generation ${run.gen[row]} · batch ${run.iter[row]} · ${run.outcomes[run.out[row]] || "?"}${score !== null ? ` · score ${score}` : ""}${run.evicted[row] ? " · evicted" : ""}`;
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(x + 12, this.width - 320)}px`;
    this.tip.style.top = `${y + 12}px`;
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.draw(); });
  }

  // Where a program is drawn, in page coordinates (for keyboard-free checks and tests).
  pointOf(pid) {
    const run = this.app.focusRun();
    const row = run ? run.rowOf.get(pid) : undefined;
    if (row === undefined || !this.canvas || !this.layout.include[row]) return null;
    const [sx, sy] = this.screen(row), r = this.canvas.getBoundingClientRect();
    return { x: r.left + sx, y: r.top + sy };
  }
}

function setCursor(canvas, pointer) { canvas.style.cursor = pointer ? "pointer" : "grab"; }
