// The game-loop simulation, reusable by main.js, the tests and the benchmark: a 2-D world
// of critters, hunters and nests whose behaviour is Lua modules (behaviours/*.lua). The
// entities live in typed arrays, one per field (columns), with the rows of each behaviour
// kept together. Each frame:
//
//   1. sense    (JS)  a uniform grid finds each entity's nearest threat or prey and writes
//                     it into the near_* columns;
//   2. think    (Lua) runner.callColumns(behaviour, 'update', columns, { first, count })
//                     over a behaviour's rows — Lua reads and writes the arrays in place,
//                     nothing is copied — and, for nests, whose behaviour keeps state per
//                     nest, runner.callMany(..., { keys: nest ids });
//   3. barrier (JS)   meals, deaths, spawns queued by engine.spawn_entity and behaviour
//                     switches are applied while the rows are regrouped by behaviour; the
//                     ActionQueue (engine.log) is drained; pending hot reloads are defined.
//
// Sensing and thinking overlap: the rows are sensed a chunk at a time, and each chunk is
// handed to Lua as soon as it is sensed, so Lua runs a chunk while JavaScript senses the
// next (think()). World constants (its size, the population cap, the codes of behaviour
// and state names) reach every job through runner.share('world', ...), converted once per
// state, and the row behaviours' update as its third argument.
'use strict';
const fs = require('fs');
const path = require('path');
const { EventEmitter } = require('events');
const { performance } = require('perf_hooks');
const { ScriptRunner, ActionQueue } = require('luapool');

const DEFAULT_BEHAVIOURS = path.join(__dirname, 'behaviours');
// keyed: the behaviour keeps state per entity in its module, so it runs through callMany
// with keys (an entity meets its own state again every frame) instead of callColumns.
const KINDS = {
  critter: { code: 1, behaviour: 'wander', speed: 9, glyph: 'o' },
  hunter: { code: 2, behaviour: 'chase', speed: 7, glyph: 'H' },
  nest: { code: 3, behaviour: 'spawn', speed: 0, glyph: '@', keyed: true },
};
const KIND_BY_CODE = Object.fromEntries(Object.entries(KINDS).map(([name, k]) => [k.code, name]));
// What `e.state` may be set to (as engine.shared.world.state.<name>); index = code.
const STATES = ['new', 'wandering', 'alarmed', 'fleeing', 'calm', 'prowling', 'chasing', 'starved', 'nesting'];
const GLYPH_PRIORITY = { '@': 4, H: 3, f: 2, o: 1 };
const VISION = 20;       // hunters see critters this far
const THREAT = 18;       // critters notice hunters this far
const MEAL = 6;          // energy a hunter gains per critter
const RELOAD_QUIET_MS = 40;
const ROWS = [0, -1, 1];  // the rows of grid cells searched, the entity's own first
const FIRST_CHUNK = 1024; // rows sensed, then handed to Lua, at first (then twice as many each time)
const DENSITY_AREA = 160 * 60 / 600; // world units² per entity of the default world

// The columns Lua sees (callColumns) and their element types; the read-only ones are the
// world's to write (identity, speed, what sensing found).
const COLUMNS = {
  id: Int32Array, behaviour: Uint8Array, state: Uint8Array,
  x: Float64Array, y: Float64Array, vx: Float64Array, vy: Float64Array, speed: Float32Array, energy: Float64Array,
  near_x: Float64Array, near_y: Float64Array, near_d: Float64Array, near_id: Int32Array,
  eat: Int32Array, dead: Uint8Array,
};
const READONLY = ['id', 'speed', 'near_x', 'near_y', 'near_d', 'near_id'];
// Columns only JavaScript uses: the kind, and the row of the entity near_id names.
const JS_COLUMNS = { kind: Uint8Array, nearRow: Int32Array };

// A small deterministic PRNG (mulberry32) for the initial layout.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentiles(values) {
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, min: 0, mean: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1], min: s[0], mean: sum / s.length };
}

/** One set of columns with room for `capacity` rows. */
function allocate(capacity) {
  const cols = {};
  for (const [name, Type] of Object.entries({ ...COLUMNS, ...JS_COLUMNS })) cols[name] = new Type(capacity);
  return cols;
}

class World extends EventEmitter {
  /**
   * @param {object} [o]
   * @param {number} [o.entities=600]   initial population (nests + hunters + critters)
   * @param {number} [o.cap]            population cap for spawns (default 1.25 × entities)
   * @param {number} [o.width]          world size in units (default 160 × 60, grown with
   * @param {number} [o.height]           the population so that the density stays the same)
   * @param {number} [o.states]         lua_States (default: the runner's default)
   * @param {number} [o.threads]        threads that run Lua at once (default: the runner's)
   * @param {number} [o.sliceMs=0]      the runner's time slice (0: none)
   * @param {number} [o.timeoutMs=250]  budget per job (a runaway edit cannot hang the game)
   * @param {number} [o.chunkRows=1024] rows sensed, then handed to Lua, at first (each next
   *                                    chunk has twice as many; Infinity: one call per behaviour)
   * @param {number} [o.seed=1]
   * @param {string} [o.behavioursDir]  where behaviours/*.lua live
   */
  constructor(o = {}) {
    super();
    this.initial = o.entities ?? 600;
    const grow = Math.sqrt(Math.max(1, (this.initial * DENSITY_AREA) / (160 * 60)));
    this.width = o.width ?? Math.round(160 * grow);
    this.height = o.height ?? Math.round(60 * grow);
    this.cap = o.cap ?? Math.ceil(this.initial * 1.25);
    this.behavioursDir = o.behavioursDir ?? DEFAULT_BEHAVIOURS;
    this.random = rng(o.seed ?? 1);
    this.capacity = this.cap + 1;
    this.cols = allocate(this.capacity);   // the rows 0 … n-1, grouped by behaviour
    this.spare = allocate(this.capacity);  // the next frame's rows, written at the barrier
    // the barrier's scratch space, per row: removed, the behaviour it goes to, its source
    this.gone = new Uint8Array(this.capacity);
    this.wanted = new Uint8Array(this.capacity);
    this.order = new Int32Array(this.capacity);
    this.n = 0;
    this.ranges = new Map();               // behaviour name -> { first, count }
    this.columnCache = new Map();          // behaviour name -> the columns it works on
    this.chunkRows = o.chunkRows ?? FIRST_CHUNK;
    this.nextId = 1;
    this.frame = 0;
    this.spawnQueue = [];
    this.pendingReloads = new Map();       // name -> time of the last change event
    this.reloads = { ok: 0, failed: 0 };
    this.logCounts = {};
    this.recentLogs = [];
    this.scriptErrors = 0;
    this.totals = { spawned: 0, eaten: 0, starved: 0 };
    this.frameMs = [];
    this.scriptMs = [];
    this.senseMs = [];
    this.barrierMs = [];
    this.population = [];
    this.watcher = undefined;
    this.actions = new ActionQueue();
    this.runner = new ScriptRunner({
      states: o.states,
      threads: o.threads,
      // The frame's own jobs need no time slices between them: each runs to its end, in
      // the order submitted (the biggest first), and one that fails cancels the rest of its
      // behaviour's chunks at once; a runaway edit is stopped by timeoutMs.
      sliceMs: o.sliceMs ?? 0,
      timeoutMs: o.timeoutMs ?? 250,
      actions: this.actions,
      host: { spawn_entity: (template) => this.queueSpawn(template) },
    });
    this.behaviours = [];
    for (const file of fs.readdirSync(this.behavioursDir).filter((f) => f.endsWith('.lua')).sort()) {
      const name = file.slice(0, -4);
      // A syntax error at start-up is fatal (LuaError thrown from here).
      this.runner.define(name, fs.readFileSync(path.join(this.behavioursDir, file), 'utf8'));
      this.behaviours.push(name);
    }
    for (const needed of new Set(Object.values(KINDS).map((k) => k.behaviour))) {
      if (!this.behaviours.includes(needed)) throw new Error(`behaviours/${needed}.lua is missing`);
    }
    this.shareWorld();
    this.allocateGrids();
    this.populate();
  }

  /**
   * The constants every behaviour reads: engine.shared.world in every job, and the third
   * argument of the callColumns behaviours' update (a plain table, cheaper to read per row
   * than engine.shared's read-only proxies).
   */
  shareWorld() {
    this.constants = {
      w: this.width, h: this.height, cap: this.cap,
      behaviour: Object.fromEntries(this.behaviours.map((b, i) => [b, i + 1])),
      state: Object.fromEntries(STATES.map((s, i) => [s, i])),
    };
    this.runner.share('world', this.constants);
  }

  populate() {
    const n = this.initial;
    const nests = Math.max(1, Math.round(n / 75));
    const hunters = Math.max(1, Math.round(n / 10));
    const born = [];
    for (let i = 0; i < n; i++) {
      const kind = i < nests ? 'nest' : i < nests + hunters ? 'hunter' : 'critter';
      born.push({ id: this.nextId++, kind, x: this.random() * this.width, y: this.random() * this.height });
    }
    this.regroup(born);
  }

  // engine.spawn_entity(template), called from Lua on the main thread while the frame's
  // scripts are in flight: the entity is only queued here and appears at the barrier.
  queueSpawn(template) {
    if (template === null || typeof template !== 'object' || !KINDS[template.kind] || template.kind === 'nest') {
      throw new TypeError("template must be a table with kind = 'critter' or 'hunter'");
    }
    const x = Number(template.x);
    const y = Number(template.y);
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new TypeError('template.x and template.y must be numbers');
    if (this.n + this.spawnQueue.length >= this.cap) return false;
    const id = this.nextId++;
    this.spawnQueue.push({ id, kind: template.kind, x, y });
    return id;
  }

  // --- sensing ------------------------------------------------------------------------

  /** Two uniform grids, of the hunters and of the critters: cell -> slots, allocated once. */
  allocateGrids() {
    const cols = Math.ceil(this.width / VISION) + 1;
    const cells = cols * (Math.ceil(this.height / VISION) + 1);
    const grid = () => ({
      cols, cellRows: cells / cols,
      start: new Int32Array(cells + 1),  // the slots of cell c: start[c] … start[c + 1] - 1
      fill: new Int32Array(cells),
      x: new Float64Array(this.capacity), y: new Float64Array(this.capacity), // per slot
      row: new Int32Array(this.capacity),
    });
    this.grids = { [KINDS.hunter.code]: grid(), [KINDS.critter.code]: grid() };
    this.cellOf = new Int32Array(this.capacity);
  }

  /**
   * Sorts the hunters and the critters into their grids (a counting sort by cell). Each
   * slot keeps a copy of the entity's position as the frame begins: the rows are sensed
   * chunk by chunk while Lua already moves the rows of the chunks sensed before.
   */
  buildGrids() {
    const { kind, x, y } = this.cols;
    const { cellOf, grids } = this;
    for (const g of Object.values(grids)) g.start.fill(0);
    for (let r = 0; r < this.n; r++) {
      const g = grids[kind[r]];
      if (!g) { cellOf[r] = -1; continue; }
      const c = Math.floor(y[r] / VISION) * g.cols + Math.floor(x[r] / VISION);
      cellOf[r] = c;
      g.start[c + 1]++;
    }
    for (const g of Object.values(grids)) {
      for (let c = 1; c < g.start.length; c++) g.start[c] += g.start[c - 1];
      g.fill.set(g.start.subarray(0, g.fill.length));
    }
    for (let r = 0; r < this.n; r++) {
      if (cellOf[r] < 0) continue;
      const g = grids[kind[r]];
      const slot = g.fill[cellOf[r]]++;
      g.x[slot] = x[r];
      g.y[slot] = y[r];
      g.row[slot] = r;
    }
  }

  /** The slot of grid `g` nearest to (px, py) within `radius` (at most VISION), or -1. */
  nearest(g, px, py, radius) {
    const { start, x, y, cols, cellRows } = g;
    const cx = Math.floor(px / VISION);
    const cy = Math.floor(py / VISION);
    const left = px - cx * VISION;       // the distances to the edges of the cell
    const right = (cx + 1) * VISION - px;
    const up = py - cy * VISION;
    const down = (cy + 1) * VISION - py;
    let best = -1;
    let bestD = radius * radius;
    // the row of cells of the entity's own cell, then the rows above and below, if they
    // could hold something nearer; a row's cells are consecutive slots
    for (const step of ROWS) {
      const row = cy + step;
      if (row < 0 || row >= cellRows) continue;
      const gapY = step < 0 ? up : step > 0 ? down : 0;
      if (gapY * gapY >= bestD) continue;
      const from = cx > 0 && left * left + gapY * gapY < bestD ? cx - 1 : cx;
      const to = cx + 1 < cols && right * right + gapY * gapY < bestD ? cx + 1 : cx;
      const end = start[row * cols + to + 1];
      for (let i = start[row * cols + from]; i < end; i++) {
        const dx = x[i] - px;
        const dy = y[i] - py;
        const d = dx * dx + dy * dy;
        if (d < bestD) { bestD = d; best = i; }
      }
    }
    return best;
  }

  /** Senses the rows first … end - 1 (after buildGrids): writes their near_* columns. */
  sense(first, end) {
    const { kind, x, y, id, near_x: nx, near_y: ny, near_d: nd, near_id: nid, nearRow } = this.cols;
    const critters = this.grids[KINDS.critter.code];
    const hunters = this.grids[KINDS.hunter.code];
    for (let r = first; r < end; r++) {
      // critters look for the nearest hunter, hunters for the nearest critter
      const k = kind[r];
      const g = k === KINDS.critter.code ? hunters : k === KINDS.hunter.code ? critters : undefined;
      const slot = g ? this.nearest(g, x[r], y[r], g === hunters ? THREAT : VISION) : -1;
      if (slot < 0) { nx[r] = 0; ny[r] = 0; nd[r] = Infinity; nid[r] = 0; nearRow[r] = -1; continue; }
      const o = g.row[slot];
      nx[r] = g.x[slot];
      ny[r] = g.y[slot];
      nd[r] = Math.sqrt((g.x[slot] - x[r]) ** 2 + (g.y[slot] - y[r]) ** 2);
      nid[r] = id[o];
      nearRow[r] = o;
    }
  }

  // --- one frame ----------------------------------------------------------------------

  /**
   * The columns a behaviour works on: its module's `M.columns` list (a row view costs a
   * little per column and row, so each behaviour gets only what it reads and writes), or
   * every column if it has none. Asked once per version of the module.
   */
  async columnsOf(name) {
    let cols = this.columnCache.get(name);
    if (cols) return cols;
    const list = await this.runner.run(`return require(${JSON.stringify(name)}).columns`).catch(() => undefined);
    const names = Array.isArray(list) && list.every((c) => Object.hasOwn(COLUMNS, c)) ? list : Object.keys(COLUMNS);
    cols = { names, readonly: READONLY.filter((c) => names.includes(c)) };
    this.columnCache.set(name, cols);
    return cols;
  }

  /**
   * Senses and thinks: submits the frame's calls, all in flight at once, and resolves once
   * every one has settled, with the first error of each behaviour that failed and the main
   * thread's time spent sensing. The nests, which need no sensing, go first; then the other
   * behaviours, the biggest first, are sensed a chunk of rows at a time and each chunk's
   * rows are handed to Lua at once (runner.callColumns with first/count), so Lua runs a
   * chunk while JavaScript senses the next. A call reads and writes only its own rows of
   * the arrays, so writing the near_* columns of the rows not yet handed over is safe.
   */
  async think(dt) {
    const names = [...this.ranges.keys()].sort((a, b) => this.ranges.get(b).count - this.ranges.get(a).count);
    const views = new Map();
    for (const b of names) if (!this.isKeyed(b)) views.set(b, this.columnCache.get(b) ?? await this.columnsOf(b));
    const failed = new Map(); // behaviour -> its first error
    const calls = [];
    const call = (b, promise, cancel) => calls.push(promise.catch((err) => {
      if (!failed.has(b)) failed.set(b, err);
      cancel?.abort(); // a behaviour that fails (a runaway edit, say) need not time out in every chunk
    }));
    for (const b of names.filter((b) => this.isKeyed(b))) call(b, this.callKeyed(b, dt));
    let senseMs = performance.now();
    this.buildGrids();
    senseMs = performance.now() - senseMs;
    // the first chunk is small, so that Lua starts soon; each next one is twice as big, so
    // that there are few calls and Lua, slower per row than sensing, always has rows to run
    let chunk = this.chunkRows;
    for (const b of names.filter((b) => !this.isKeyed(b))) {
      const { first, count } = this.ranges.get(b);
      const view = views.get(b);
      const columns = {};
      for (const c of view.names) columns[c] = this.cols[c];
      const cancel = new AbortController();
      for (let at = first; at < first + count;) {
        const rows = Math.min(chunk, first + count - at);
        const t = performance.now();
        this.sense(at, at + rows);
        senseMs += performance.now() - t;
        call(b, this.runner.callColumns(b, 'update', columns, {
          first: at, count: rows, readonly: view.readonly, args: [dt, this.constants], signal: cancel.signal,
        }), cancel);
        at += rows;
        chunk *= 2;
      }
    }
    await Promise.all(calls);
    return { failed, senseMs };
  }

  /** Per-entity module state: the same nest meets its own entry on the same state. */
  callKeyed(b, dt) {
    const { first, count } = this.ranges.get(b);
    const { id, x, y } = this.cols;
    const argsList = [];
    const keys = [];
    for (let r = first; r < first + count; r++) {
      argsList.push([{ id: id[r], x: x[r], y: y[r] }, dt, this.n]);
      keys.push(id[r]);
    }
    return this.runner.callMany(b, 'update', argsList, { keys });
  }

  isKeyed(behaviour) {
    return Object.values(KINDS).some((k) => k.keyed && k.behaviour === behaviour);
  }

  /**
   * Runs one fixed-timestep frame; resolves with its timings (ms). scriptMs is the time to
   * the barrier less the sensing: submitting the calls, then waiting for them.
   */
  async step(dt = 1 / 60) {
    const t0 = performance.now();
    const { failed, senseMs } = await this.think(dt);
    const t2 = performance.now();
    this.barrier(failed);
    const t3 = performance.now();
    this.frame++;
    this.frameMs.push(t3 - t0);
    this.scriptMs.push(t2 - t0 - senseMs);
    this.senseMs.push(senseMs);
    this.barrierMs.push(t3 - t2);
    this.population.push(this.n);
    return { frame: this.frame, frameMs: t3 - t0, scriptMs: t2 - t0 - senseMs, entities: this.n };
  }

  // The frame barrier: the only place where the set of entities changes.
  barrier(failed) {
    for (const [b, err] of failed) {
      // A runtime error or a timeout in a freshly edited behaviour: the rows it had not
      // reached keep their state for this frame (rows already updated keep the update).
      this.scriptErrors++;
      this.emit('script-error', b, err);
    }
    const { kind, eat, dead, energy, nearRow, near_id: nid } = this.cols;
    const gone = this.gone.fill(0, 0, this.n);
    let eaten = 0;
    for (let r = 0; r < this.n; r++) {
      if (dead[r]) { gone[r] = 1; this.totals.starved++; continue; }
      if (eat[r] === 0) continue;
      const prey = nearRow[r];
      if (eat[r] === nid[r] && prey >= 0 && !gone[prey] && kind[prey] === KINDS.critter.code) {
        gone[prey] = 1; // first come, first served: a critter is eaten once
        energy[r] += MEAL;
        eaten++;
      }
    }
    this.totals.eaten += eaten;
    this.regroup(this.spawnQueue, gone);
    this.totals.spawned += this.spawnQueue.length;
    this.spawnQueue = [];
    for (const a of this.actions.drain()) {
      if (a.type !== 'log') continue;
      this.logCounts[a.level] = (this.logCounts[a.level] || 0) + 1;
      this.recentLogs.push(`[${a.level}] ${a.message}`);
      if (this.recentLogs.length > 8) this.recentLogs.shift();
      this.emit('log', a);
    }
    // A file is reloaded once its change events have been quiet for a moment, so a save
    // that arrives as several writes is read once, complete.
    const now = performance.now();
    for (const [name, at] of this.pendingReloads) {
      if (now - at < RELOAD_QUIET_MS) continue;
      this.pendingReloads.delete(name);
      this.reload(name);
    }
  }

  /**
   * Writes the surviving rows (not `gone`) and the `born` entities into the spare columns,
   * grouped by behaviour in the order of this.behaviours, and makes them current. A row
   * whose behaviour code is not a behaviour it may switch to keeps its behaviour.
   */
  regroup(born, gone) {
    const src = this.cols;
    const dst = this.spare;
    const codes = this.behaviours.length;
    // each row's behaviour: what Lua set, if it is a behaviour of the same path
    const keyedCode = [false, ...this.behaviours.map((b) => this.isKeyed(b))];
    const wanted = this.wanted;
    for (const [b, { first, count }] of this.ranges) {
      const own = this.behaviours.indexOf(b) + 1;
      for (let r = first; r < first + count; r++) {
        const w = src.behaviour[r];
        wanted[r] = w >= 1 && w <= codes && keyedCode[w] === keyedCode[own] ? w : own;
      }
    }
    const counts = new Int32Array(codes + 1);
    for (let r = 0; r < this.n; r++) if (!(gone && gone[r])) counts[wanted[r]]++;
    const bornCode = born.map((e) => this.behaviours.indexOf(KINDS[e.kind].behaviour) + 1);
    for (const c of bornCode) counts[c]++;
    const offset = new Int32Array(codes + 1);
    for (let c = 2; c <= codes; c++) offset[c] = offset[c - 1] + counts[c - 1];
    const total = offset[codes] + counts[codes];
    const next = offset.slice();
    const order = this.order.fill(-1, 0, total); // slot -> source row (-1: a born entity)
    for (let r = 0; r < this.n; r++) if (!(gone && gone[r])) order[next[wanted[r]]++] = r;
    const bornSlot = bornCode.map((c) => next[c]++);
    // copy the kept rows column by column, a run of consecutive rows at a time (few rows
    // change behaviour or leave per frame, so the runs are long), then fill in the born ones
    const runs = []; // (to, from, rows) …
    for (let j = 0; j < total;) {
      if (order[j] < 0) { j++; continue; }
      let k = j + 1;
      while (k < total && order[k] === order[k - 1] + 1) k++;
      runs.push(j, order[j], k - j);
      j = k;
    }
    for (const name of Object.keys(src)) {
      const a = src[name];
      const b = dst[name];
      for (let i = 0; i < runs.length; i += 3) b.set(a.subarray(runs[i + 1], runs[i + 1] + runs[i + 2]), runs[i]);
    }
    born.forEach((t, i) => {
      const j = bornSlot[i];
      const k = KINDS[t.kind];
      const angle = this.random() * 2 * Math.PI;
      dst.id[j] = t.id;
      dst.kind[j] = k.code;
      dst.behaviour[j] = bornCode[i];
      dst.state[j] = 0;
      dst.x[j] = Math.min(this.width, Math.max(0, t.x));
      dst.y[j] = Math.min(this.height, Math.max(0, t.y));
      dst.vx[j] = Math.cos(angle) * k.speed * 0.4;
      dst.vy[j] = Math.sin(angle) * k.speed * 0.4;
      dst.speed[j] = k.speed;
      dst.energy[j] = t.kind === 'hunter' ? 8 + this.random() * 8 : 0;
      dst.near_d[j] = Infinity;
      dst.near_id[j] = 0;
      dst.nearRow[j] = -1;
    });
    const { width: w, height: h } = this;
    for (let j = 0; j < total; j++) {
      if (order[j] >= 0) dst.behaviour[j] = wanted[order[j]];
      dst.eat[j] = 0;
      dst.dead[j] = 0;
      const x = dst.x[j];
      const y = dst.y[j];
      dst.x[j] = x > 0 ? (x < w ? x : w) : 0; // NaN from a script becomes 0
      dst.y[j] = y > 0 ? (y < h ? y : h) : 0;
    }
    this.spare = src;
    this.cols = dst;
    this.n = total;
    this.ranges = new Map();
    for (let c = 1; c <= codes; c++) {
      if (counts[c] > 0) this.ranges.set(this.behaviours[c - 1], { first: offset[c], count: counts[c] });
    }
  }

  // --- hot reload ---------------------------------------------------------------------

  /** Re-reads behaviours/<name>.lua and defines it again; a broken file keeps the old version. */
  reload(name) {
    let source;
    try {
      source = fs.readFileSync(path.join(this.behavioursDir, `${name}.lua`), 'utf8');
    } catch {
      return false; // deleted or mid-rename: keep what runs
    }
    try {
      this.runner.define(name, source);
      this.columnCache.delete(name);
    } catch (err) {
      this.reloads.failed++;
      this.emit('reload', { name, ok: false, error: err, frame: this.frame });
      return false;
    }
    if (!this.behaviours.includes(name)) {
      this.behaviours.push(name); // a new behaviour: its code is shared with the others
      this.shareWorld();
    }
    this.reloads.ok++;
    this.emit('reload', { name, ok: true, frame: this.frame });
    return true;
  }

  /** Watches the behaviours directory; changed files are redefined at the next barrier. */
  watch() {
    if (this.watcher) return;
    this.watcher = fs.watch(this.behavioursDir, (event, file) => {
      if (file && String(file).endsWith('.lua')) this.pendingReloads.set(String(file).slice(0, -4), performance.now());
    });
    this.watcher.unref();
  }

  // --- output -------------------------------------------------------------------------

  /** The entities now, as objects by id (a copy: for tests, tools and rendering). */
  get entities() {
    const c = this.cols;
    const m = new Map();
    for (let r = 0; r < this.n; r++) {
      m.set(c.id[r], {
        id: c.id[r], kind: KIND_BY_CODE[c.kind[r]], behaviour: this.behaviours[c.behaviour[r] - 1],
        x: c.x[r], y: c.y[r], vx: c.vx[r], vy: c.vy[r], energy: c.energy[r], state: STATES[c.state[r]] ?? String(c.state[r]),
      });
    }
    return m;
  }

  counts() {
    const c = { critter: 0, fleeing: 0, hunter: 0, nest: 0 };
    const flee = this.behaviours.indexOf('flee') + 1;
    for (let r = 0; r < this.n; r++) {
      c[KIND_BY_CODE[this.cols.kind[r]]]++;
      if (this.cols.behaviour[r] === flee) c.fleeing++;
    }
    return c;
  }

  /** The world as an ASCII map, `cols` × `rows` characters inside a border. */
  render(cols = 78, rows = 20) {
    const cells = Array.from({ length: rows }, () => new Array(cols).fill(' '));
    const flee = this.behaviours.indexOf('flee') + 1;
    const { x, y, kind, behaviour } = this.cols;
    for (let r = 0; r < this.n; r++) {
      const c = Math.min(cols - 1, Math.floor((x[r] / this.width) * cols));
      const row = Math.min(rows - 1, Math.floor((y[r] / this.height) * rows));
      const k = KIND_BY_CODE[kind[r]];
      const g = k === 'critter' && behaviour[r] === flee ? 'f' : KINDS[k].glyph;
      const cur = cells[row][c];
      if (cur === ' ' || GLYPH_PRIORITY[g] > GLYPH_PRIORITY[cur]) cells[row][c] = g;
    }
    const c = this.counts();
    const edge = '+' + '-'.repeat(cols) + '+';
    return [
      `frame ${this.frame}: ${this.n} entities — o critter ${c.critter - c.fleeing}, ` +
        `f fleeing ${c.fleeing}, H hunter ${c.hunter}, @ nest ${c.nest}`,
      edge, ...cells.map((r) => '|' + r.join('') + '|'), edge,
    ].join('\n');
  }

  summary() {
    let total = 0;
    let waiting = 0;
    for (let i = 0; i < this.frameMs.length; i++) { total += this.frameMs[i]; waiting += this.scriptMs[i]; }
    return {
      frames: this.frame,
      entities: this.n,
      frameMs: percentiles(this.frameMs),
      scriptMs: percentiles(this.scriptMs),
      senseMs: percentiles(this.senseMs),
      barrierMs: percentiles(this.barrierMs),
      population: percentiles(this.population),
      scriptShare: total > 0 ? waiting / total : 0,
      reloads: { ...this.reloads },
      logs: { ...this.logCounts },
      scriptErrors: this.scriptErrors,
      totals: { ...this.totals },
      runner: this.runner.stats(),
    };
  }

  async close() {
    if (this.watcher) this.watcher.close();
    this.watcher = undefined;
    await this.runner.close();
  }
}

module.exports = { World, percentiles, KINDS, STATES };
