// Charts drawn by hand: SVG for curves (few points each: one per improvement or batch) and a
// canvas for clouds of points (one per program, up to 10^5 and more).

import { h, svg } from "./dom.js";

const MARGIN = { left: 78, right: 18, top: 14, bottom: 42 };

export function niceTicks(lo, hi, count = 6) {
  if (!(hi > lo)) { hi = lo + 1; lo -= 0; }
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

function tickText(v) {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(8)));
}

function extent(values, pad = 0.05) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v !== null && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
  if (lo === Infinity) return [0, 1];
  if (lo === hi) { const d = Math.abs(lo) * 0.05 || 1; return [lo - d, hi + d]; }
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}

// series: [{key, label, color, points: [[x, y], ...], step}]; lines: [{y, color, label}]
export function lineChart({ series, lines = [], xLabel, yLabel, width = 900, height = 320,
  xMin = null, xMax = null, fitLines = true, name = "chart" }) {
  const xs = [], ys = [];
  for (const s of series) for (const [x, y] of s.points) { xs.push(x); ys.push(y); }
  if (xMin !== null) xs.push(xMin);
  if (xMax !== null) xs.push(xMax);
  if (fitLines) for (const l of lines) ys.push(l.y);
  const [x0, x1] = xMin !== null && xMax !== null && xMax > xMin ? [xMin, xMax] : extent(xs, 0);
  const [y0, y1] = extent(ys);
  const W = width - MARGIN.left - MARGIN.right, H = height - MARGIN.top - MARGIN.bottom;
  const sx = (x) => MARGIN.left + (x1 === x0 ? 0 : ((x - x0) / (x1 - x0)) * W);
  const sy = (y) => MARGIN.top + H - ((y - y0) / (y1 - y0)) * H;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", "data-chart": name,
    role: "img", "aria-label": `${yLabel} against ${xLabel}` });
  const axes = svg("g", { class: "axes" });
  for (const t of niceTicks(y0, y1)) {
    axes.append(svg("line", { x1: MARGIN.left, x2: MARGIN.left + W, y1: sy(t), y2: sy(t), class: "grid" }));
    const label = svg("text", { x: MARGIN.left - 6, y: sy(t) + 4, "text-anchor": "end" });
    label.textContent = tickText(t);
    axes.append(label);
  }
  for (const t of niceTicks(x0, x1, 8)) {
    const label = svg("text", { x: sx(t), y: MARGIN.top + H + 16, "text-anchor": "middle" });
    label.textContent = tickText(t);
    axes.append(label, svg("line", { x1: sx(t), x2: sx(t), y1: MARGIN.top + H, y2: MARGIN.top + H + 4, class: "tick" }));
  }
  axes.append(svg("rect", { x: MARGIN.left, y: MARGIN.top, width: W, height: H, class: "frame" }));
  const xl = svg("text", { x: MARGIN.left + W / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" });
  xl.textContent = xLabel;
  const yl = svg("text", { x: 14, y: MARGIN.top + H / 2, "text-anchor": "middle", class: "axis-label",
    transform: `rotate(-90 14 ${MARGIN.top + H / 2})` });
  yl.textContent = yLabel;
  axes.append(xl, yl);
  root.append(axes);
  const clipId = `clip-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const defs = svg("defs");
  const clip = svg("clipPath", { id: clipId });
  clip.append(svg("rect", { x: MARGIN.left, y: MARGIN.top, width: W, height: H }));
  defs.append(clip);
  root.append(defs);
  const plot = svg("g", { "clip-path": `url(#${clipId})` });
  lines = lines.map((l) => (!fitLines && (l.y < y0 || l.y > y1) ? { ...l, off: true, label: `${l.label} — off the scale` } : l));
  for (const l of lines) {
    if (l.off) continue;
    plot.append(svg("line", { x1: MARGIN.left, x2: MARGIN.left + W, y1: sy(l.y), y2: sy(l.y),
      stroke: l.color, class: "ref-line", "data-ref": l.label }));
  }
  for (const s of series) {
    if (!s.points.length) continue;
    let d = "";
    s.points.forEach(([x, y], i) => {
      const X = sx(x).toFixed(1), Y = sy(y).toFixed(1);
      if (i === 0) d += `M${X},${Y}`;
      else if (s.step) d += `H${X}V${Y}`;
      else d += `L${X},${Y}`;
    });
    if (s.step && xMax !== null) d += `H${sx(xMax).toFixed(1)}`;
    plot.append(svg("path", { d, stroke: s.color, class: "series", "data-run": s.key,
      "data-points": s.points.length }));
  }
  root.append(plot);
  const legend = h("div", { class: "legend" },
    series.map((s) => h("span", { class: "legend-item", "data-run": s.key },
      h("span", { class: "swatch", style: null, dataset: { color: s.color } }), s.label)),
    lines.map((l) => h("span", { class: "legend-item ref" },
      h("span", { class: "swatch dashed", dataset: { color: l.color } }), l.label)));
  for (const sw of legend.querySelectorAll(".swatch")) sw.style.background = sw.dataset.color;
  return h("figure", { class: "chart-box", "data-chart": name }, root, legend);
}

// A cloud of points on a canvas. groups: [{color, xs, ys, label}]
export function scatterChart({ groups, xLabel, yLabel, width = 900, height = 300, name = "scatter",
  lines = [], boxes = null }) {
  const all = (k) => groups.flatMap((g) => g[k]);
  const [x0, x1] = extent(boxes ? boxes.map((b) => b.x) : all("xs"), boxes ? 0.08 : 0.02);
  const [y0, y1] = extent(boxes ? boxes.flatMap((b) => [b.min, b.max]) : all("ys").concat(lines.map((l) => l.y)));
  const ratio = window.devicePixelRatio || 1;
  const canvas = h("canvas", { class: "scatter", "data-chart": name, width: width * ratio, height: height * ratio });
  canvas.style.width = `${width}px`;
  canvas.style.maxWidth = "100%";
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  const W = width - MARGIN.left - MARGIN.right, H = height - MARGIN.top - MARGIN.bottom;
  const sx = (x) => MARGIN.left + ((x - x0) / (x1 - x0 || 1)) * W;
  const sy = (y) => MARGIN.top + H - ((y - y0) / (y1 - y0 || 1)) * H;
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#555";
  ctx.strokeStyle = "#e3e3e3";
  ctx.textAlign = "right";
  for (const t of niceTicks(y0, y1)) {
    ctx.beginPath(); ctx.moveTo(MARGIN.left, sy(t)); ctx.lineTo(MARGIN.left + W, sy(t)); ctx.stroke();
    ctx.fillText(tickText(t), MARGIN.left - 6, sy(t) + 4);
  }
  ctx.textAlign = "center";
  for (const t of niceTicks(x0, x1, 8)) ctx.fillText(tickText(t), sx(t), MARGIN.top + H + 16);
  ctx.fillText(xLabel, MARGIN.left + W / 2, height - 6);
  ctx.save(); ctx.translate(14, MARGIN.top + H / 2); ctx.rotate(-Math.PI / 2); ctx.fillText(yLabel, 0, 0); ctx.restore();
  ctx.strokeStyle = "#999"; ctx.strokeRect(MARGIN.left, MARGIN.top, W, H);
  ctx.save();
  ctx.beginPath(); ctx.rect(MARGIN.left, MARGIN.top, W, H); ctx.clip();
  if (boxes) {
    const bw = Math.max(1, Math.min(14, (W / Math.max(1, boxes.length)) * 0.7));
    ctx.strokeStyle = groups[0] ? groups[0].color : "#333";
    ctx.fillStyle = "rgba(31, 111, 209, 0.25)";
    for (const b of boxes) {
      const X = sx(b.x);
      ctx.beginPath(); ctx.moveTo(X, sy(b.min)); ctx.lineTo(X, sy(b.max)); ctx.stroke();
      ctx.fillRect(X - bw / 2, sy(b.q3), bw, Math.max(1, sy(b.q1) - sy(b.q3)));
      ctx.beginPath(); ctx.moveTo(X - bw / 2, sy(b.median)); ctx.lineTo(X + bw / 2, sy(b.median)); ctx.stroke();
    }
  }
  for (const g of groups) {
    ctx.fillStyle = g.color;
    ctx.globalAlpha = g.xs.length > 5000 ? 0.35 : 0.7;
    for (let i = 0; i < g.xs.length; i++) {
      if (g.ys[i] === null) continue;
      ctx.fillRect(sx(g.xs[i]) - 1, sy(g.ys[i]) - 1, 2.2, 2.2);
    }
  }
  ctx.globalAlpha = 1;
  for (const l of lines) {
    ctx.strokeStyle = l.color; ctx.setLineDash([6, 4]);
    ctx.beginPath(); ctx.moveTo(MARGIN.left, sy(l.y)); ctx.lineTo(MARGIN.left + W, sy(l.y)); ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.restore();
  const legend = h("div", { class: "legend" }, groups.map((g) => {
    const sw = h("span", { class: "swatch" }); sw.style.background = g.color;
    return h("span", { class: "legend-item" }, sw, g.label);
  }));
  return h("figure", { class: "chart-box", "data-chart": name }, canvas, legend);
}
