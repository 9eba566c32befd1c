// One run in the browser: its programs as columns, filled from a snapshot and then grown by
// the deltas the server pushes. Derived series (best so far, failures over time) are kept
// up to date as rows arrive, so a live update costs the new rows only.

export class RunData {
  constructor(entry, outcomes, kinds) {
    this.key = entry.key;
    this.outcomes = outcomes;
    this.kinds = kinds;
    this.okCode = outcomes.indexOf("ok");
    this.setEntry(entry);
    this.clearRows();
  }

  setEntry(entry) {
    this.info = entry;
    this.error = entry.error || null;
    this.overview = entry.overview || null;
    this.seq = entry.seq || 0;
  }

  clearRows() {
    this.id = []; this.parent = []; this.kind = []; this.island = []; this.gen = [];
    this.iter = []; this.out = []; this.score = []; this.reward = []; this.t = [];
    this.evicted = [];
    this.rowOf = new Map();
    this.lastId = 0;
    this.batches = [];
    // Derived: candidates in id order (position 0 is the initial program).
    this.proposals = 0;
    this.bestX = []; this.bestY = []; this.bestT = [];  // candidate position, score, seconds
    this.best = null;
    this.failureSeries = new Map();  // outcome code -> [[position, cumulative count], ...]
    this.version = 0;
  }

  get direction() { return this.info.direction || "max"; }

  better(a, b) { return b === null || (this.direction === "max" ? a > b : a < b); }

  loadSnapshot(snap) {
    this.clearRows();
    this.setEntry(snap);
    this.t0 = snap.t0 || 0;
    if (snap.programs) this.appendColumns(snap.programs, snap.programs.ev);
    if (snap.batches) this.batches.push(...snap.batches);
    this.version++;
  }

  applyDelta(delta) {
    if (delta.error) { this.error = delta.error; this.version++; return; }
    if (delta.programs) this.appendColumns(delta.programs, null);
    if (delta.evicted) {
      for (const pid of delta.evicted) {
        const row = this.rowOf.get(pid);
        if (row !== undefined) this.evicted[row] = 1;
      }
    }
    if (delta.batches) this.batches.push(...delta.batches);
    if (delta.overview) this.overview = delta.overview;
    if (delta.info) this.info = { ...this.info, ...delta.info };
    this.error = null;
    this.seq = delta.seq;
    this.version++;
  }

  appendColumns(c, ev) {
    let pid = c.after;
    if (pid !== this.lastId) {
      // A gap means a delta was lost: better to say so than to draw a wrong tree.
      console.warn(`run ${this.key}: rows after ${c.after} arrived, but ${this.lastId} was the last`);
    }
    const okCode = this.okCode;
    for (let i = 0; i < c.did.length; i++) {
      pid += c.did[i];
      const row = this.id.length;
      this.rowOf.set(pid, row);
      this.id.push(pid);
      this.parent.push(c.par[i] === 0 ? 0 : pid - c.par[i]);
      this.kind.push(c.kind[i]);
      this.island.push(c.isl[i]);
      this.gen.push(c.gen[i]);
      this.iter.push(c.it[i]);
      this.out.push(c.out[i]);
      this.score.push(c.sc[i]);
      this.reward.push(c.rw ? c.rw[i] : null);  // sent for RL runs only
      this.t.push(c.t[i]);
      this.evicted.push(ev ? ev[i] : 0);
      if (c.kind[i] !== 0) continue;  // copies made by the database are not candidates
      const position = this.proposals++;
      const s = c.sc[i];
      if (c.out[i] === okCode && s !== null) {
        if (this.best === null || this.better(s, this.best)) {
          this.best = s;
          this.bestX.push(position);
          this.bestY.push(s);
          this.bestT.push(c.t[i]);
        }
      } else if (position > 0) {
        let series = this.failureSeries.get(c.out[i]);
        if (!series) this.failureSeries.set(c.out[i], series = []);
        series.push([position, series.length + 1, c.t[i]]);
      }
    }
    this.lastId = pid;
  }

  // The best score among the first `position + 1` candidates (binary search).
  bestAt(position) {
    let lo = 0, hi = this.bestX.length - 1, found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.bestX[mid] <= position) { found = this.bestY[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    return found;
  }

  children(pid) {
    const out = [];
    for (let i = this.rowOf.get(pid) + 1; i < this.id.length; i++) {
      if (this.parent[i] === pid) out.push(this.id[i]);
    }
    return out;
  }
}
