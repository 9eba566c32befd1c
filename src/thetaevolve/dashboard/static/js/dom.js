// Small DOM and formatting helpers shared by the views (no library: the page must load
// offline and make no request to any other host).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  appendAll(el, children);
  return el;
}

export function svg(tag, attrs = {}) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  return el;
}

function appendAll(el, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// Exact scores are shown as JavaScript prints them: the shortest text that reads back as
// the same double, which is also what Python's repr() prints.
export function fmtScore(x) {
  return x === null || x === undefined ? "–" : String(x);
}

export function fmtNumber(x, digits = 4) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  return Number(x).toPrecision(digits).replace(/\.?0+(e|$)/, "$1");
}

export function fmtInt(x) {
  return x === null || x === undefined ? "–" : Number(x).toLocaleString("en-US");
}

export function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60), sec = Math.round(s % 60);
  if (m < 60) return `${m} min ${sec} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function fmtCost(usd) {
  return usd === null || usd === undefined ? "not known (no prices configured)" : `$${usd.toFixed(4)}`;
}

// One colour per run and per island; chosen to stay apart on a white background.
export const RUN_COLORS = ["#1f6fd1", "#d1451f", "#2a9d3a", "#8e44ad", "#c98a00", "#0e9aa7",
  "#b5179e", "#5c6b00"];
export const ISLAND_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf",
  "#bcbd22", "#e377c2", "#7f7f7f", "#393b79"];

export function note(text, cls = "note") {
  return h("p", { class: cls }, text);
}
