// The game-loop simulation, reusable by main.js and by the tests: a 2-D world of critters,
// hunters and nests whose behaviour is Lua modules (behaviours/*.lua). Each frame:
//
//   1. sense    (JS)  a uniform grid finds each entity's nearest threat / prey;
//   2. think    (Lua) one runner.callMany(behaviour, 'update', argsList) per behaviour, all
//                     in flight at once, spread over the pool's states;
//   3. barrier  (JS)  results are applied, spawns queued by engine.spawn_entity are added,
//                     the ActionQueue (engine.log) is drained, pending hot reloads defined.
'use strict';
const fs = require('fs');
const path = require('path');
const { EventEmitter } = require('events');
const { performance } = require('perf_hooks');
const { ScriptRunner, ActionQueue } = require('luapool');

const DEFAULT_BEHAVIOURS = path.join(__dirname, 'behaviours');
const KINDS = {
  critter: { behaviour: 'wander', speed: 9, glyph: 'o' },
  hunter: { behaviour: 'chase', speed: 7, glyph: 'H' },
  nest: { behaviour: 'spawn', speed: 0, glyph: '@' },
};
const GLYPH_PRIORITY = { '@': 4, H: 3, f: 2, o: 1 };
const VISION = 20;       // hunters see critters this far
const THREAT = 18;       // critters notice hunters this far
const MEAL = 6;          // energy a hunter gains per critter
const RELOAD_QUIET_MS = 40;

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
  if (values.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const s = Float64Array.from(values).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  let sum = 0;
  for (const v of s) sum += v;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s[s.length - 1], mean: sum / s.length };
}

class World extends EventEmitter {
  /**
   * @param {object} [o]
   * @param {number} [o.entities=600]   initial population (nests + hunters + critters)
   * @param {number} [o.cap]            population cap for spawns (default 1.25 × entities)
   * @param {number} [o.width=160]      world size in units
   * @param {number} [o.height=60]
   * @param {number} [o.states]         lua_States (default: the runner's default)
   * @param {number} [o.timeoutMs=250]  budget per batch job (a runaway edit cannot hang the game)
   * @param {number} [o.seed=1]
   * @param {string} [o.behavioursDir]  where behaviours/*.lua live
   */
  constructor(o = {}) {
    super();
    this.width = o.width ?? 160;
    this.height = o.height ?? 60;
    this.initial = o.entities ?? 600;
    this.cap = o.cap ?? Math.ceil(this.initial * 1.25);
    this.behavioursDir = o.behavioursDir ?? DEFAULT_BEHAVIOURS;
    this.random = rng(o.seed ?? 1);
    this.entities = new Map();
    this.nextId = 1;
    this.frame = 0;
    this.spawnQueue = [];
    this.pendingReloads = new Map(); // name -> time of the last change event
    this.reloads = { ok: 0, failed: 0 };
    this.logCounts = {};
    this.recentLogs = [];
    this.scriptErrors = 0;
    this.totals = { spawned: 0, eaten: 0, starved: 0 };
    this.frameMs = [];
    this.scriptMs = [];
    this.watcher = undefined;
    this.actions = new ActionQueue();
    this.runner = new ScriptRunner({
      states: o.states,
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
    this.populate();
  }

  populate() {
    const n = this.initial;
    const nests = Math.max(1, Math.round(n / 75));
    const hunters = Math.max(1, Math.round(n / 10));
    for (let i = 0; i < n; i++) {
      const kind = i < nests ? 'nest' : i < nests + hunters ? 'hunter' : 'critter';
      this.add({ kind, x: this.random() * this.width, y: this.random() * this.height });
    }
  }

  add(t) {
    const k = KINDS[t.kind];
    const angle = this.random() * 2 * Math.PI;
    const e = {
      id: t.id ?? this.nextId++,
      kind: t.kind,
      behaviour: k.behaviour,
      x: Math.min(this.width, Math.max(0, t.x)),
      y: Math.min(this.height, Math.max(0, t.y)),
      vx: Math.cos(angle) * k.speed * 0.4,
      vy: Math.sin(angle) * k.speed * 0.4,
      speed: k.speed,
      energy: t.kind === 'hunter' ? 8 + this.random() * 8 : 0,
      timer: this.random() * 1.5,
      hatched: 0,
      state: 'new',
    };
    this.entities.set(e.id, e);
    return e;
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
    if (this.entities.size + this.spawnQueue.length >= this.cap) return false;
    const id = this.nextId++;
    this.spawnQueue.push({ id, kind: template.kind, x, y });
    return id;
  }

  // --- sensing ------------------------------------------------------------------------

  buildGrid(kind) {
    const cell = VISION;
    const cols = Math.ceil(this.width / cell) + 1;
    const grid = new Map();
    for (const e of this.entities.values()) {
      if (e.kind !== kind) continue;
      const key = Math.floor(e.y / cell) * cols + Math.floor(e.x / cell);
      let list = grid.get(key);
      if (!list) grid.set(key, (list = []));
      list.push(e);
    }
    return { grid, cell, cols };
  }

  nearest(g, e, radius) {
    const cx = Math.floor(e.x / g.cell);
    const cy = Math.floor(e.y / g.cell);
    let best;
    let bestD = radius * radius;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        if (cx + dx < 0 || cy + dy < 0) continue;
        const list = g.grid.get((cy + dy) * g.cols + cx + dx);
        if (!list) continue;
        for (const o of list) {
          const d = (o.x - e.x) ** 2 + (o.y - e.y) ** 2;
          if (d < bestD) { bestD = d; best = o; }
        }
      }
    }
    return best ? { id: best.id, x: best.x, y: best.y, d: Math.sqrt(bestD) } : undefined;
  }

  // --- one frame ----------------------------------------------------------------------

  /** Runs one fixed-timestep frame; resolves with its timings (ms). */
  async step(dt = 1 / 60) {
    const t0 = performance.now();
    const hunters = this.buildGrid('hunter');
    const critters = this.buildGrid('critter');
    const population = this.entities.size;
    const groups = new Map(this.behaviours.map((b) => [b, { ids: [], args: [] }]));
    for (const e of this.entities.values()) {
      const sense = { w: this.width, h: this.height, population, cap: this.cap };
      if (e.kind === 'critter') sense.threat = this.nearest(hunters, e, THREAT);
      else if (e.kind === 'hunter') sense.prey = this.nearest(critters, e, VISION);
      const g = groups.get(e.behaviour);
      g.ids.push(e.id);
      g.args.push([{
        id: e.id, x: e.x, y: e.y, vx: e.vx, vy: e.vy, speed: e.speed,
        energy: e.energy, timer: e.timer, hatched: e.hatched,
      }, sense, dt]);
    }
    const t1 = performance.now();
    // Every behaviour's batch is in flight at once; callMany splits each over the states.
    const names = [...groups.keys()].filter((b) => groups.get(b).ids.length > 0);
    const settled = await Promise.allSettled(names.map((b) => this.runner.callMany(b, 'update', groups.get(b).args)));
    const t2 = performance.now();
    this.barrier(names, groups, settled);
    const t3 = performance.now();
    this.frame++;
    this.frameMs.push(t3 - t0);
    this.scriptMs.push(t2 - t1);
    return { frame: this.frame, frameMs: t3 - t0, scriptMs: t2 - t1, entities: this.entities.size };
  }

  // The frame barrier: the only place where the world changes.
  barrier(names, groups, settled) {
    const eaten = new Set();
    names.forEach((b, i) => {
      const r = settled[i];
      if (r.status === 'rejected') {
        // The whole batch failed (a runtime error or a timeout in a freshly edited
        // behaviour): its entities keep their previous state for this frame.
        this.scriptErrors++;
        this.emit('script-error', b, r.reason);
        return;
      }
      const ids = groups.get(b).ids;
      r.value.forEach((out, j) => {
        const e = this.entities.get(ids[j]);
        if (!e || eaten.has(e.id) || !out || typeof out !== 'object') return;
        if (Number.isFinite(out.x)) e.x = Math.min(this.width, Math.max(0, out.x));
        if (Number.isFinite(out.y)) e.y = Math.min(this.height, Math.max(0, out.y));
        if (Number.isFinite(out.vx)) e.vx = out.vx;
        if (Number.isFinite(out.vy)) e.vy = out.vy;
        if (Number.isFinite(out.energy)) e.energy = out.energy;
        if (Number.isFinite(out.timer)) e.timer = out.timer;
        if (Number.isInteger(out.hatched)) e.hatched = out.hatched;
        if (typeof out.state === 'string') e.state = out.state;
        if (typeof out.behaviour === 'string' && groups.has(out.behaviour)) e.behaviour = out.behaviour;
        if (out.eat !== undefined) {
          const prey = this.entities.get(out.eat);
          if (prey && prey.kind === 'critter' && !eaten.has(prey.id)) {
            eaten.add(prey.id);
            e.energy += MEAL;
          }
        }
        if (out.dead === true) {
          this.entities.delete(e.id);
          this.totals.starved++;
        }
      });
    });
    for (const id of eaten) this.entities.delete(id);
    this.totals.eaten += eaten.size;
    for (const s of this.spawnQueue) this.add(s); // keeps the id promised to the script
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
    } catch (err) {
      this.reloads.failed++;
      this.emit('reload', { name, ok: false, error: err, frame: this.frame });
      return false;
    }
    if (!this.behaviours.includes(name)) this.behaviours.push(name);
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

  counts() {
    const c = { critter: 0, fleeing: 0, hunter: 0, nest: 0 };
    for (const e of this.entities.values()) {
      c[e.kind]++;
      if (e.behaviour === 'flee') c.fleeing++;
    }
    return c;
  }

  /** The world as an ASCII map, `cols` × `rows` characters inside a border. */
  render(cols = 78, rows = 20) {
    const cells = Array.from({ length: rows }, () => new Array(cols).fill(' '));
    for (const e of this.entities.values()) {
      const c = Math.min(cols - 1, Math.floor((e.x / this.width) * cols));
      const r = Math.min(rows - 1, Math.floor((e.y / this.height) * rows));
      const g = e.kind === 'critter' && e.behaviour === 'flee' ? 'f' : KINDS[e.kind].glyph;
      const cur = cells[r][c];
      if (cur === ' ' || GLYPH_PRIORITY[g] > GLYPH_PRIORITY[cur]) cells[r][c] = g;
    }
    const c = this.counts();
    const edge = '+' + '-'.repeat(cols) + '+';
    return [
      `frame ${this.frame}: ${this.entities.size} entities — o critter ${c.critter - c.fleeing}, ` +
        `f fleeing ${c.fleeing}, H hunter ${c.hunter}, @ nest ${c.nest}`,
      edge, ...cells.map((r) => '|' + r.join('') + '|'), edge,
    ].join('\n');
  }

  summary() {
    const frame = percentiles(this.frameMs);
    const script = percentiles(this.scriptMs);
    let total = 0;
    let waiting = 0;
    for (let i = 0; i < this.frameMs.length; i++) { total += this.frameMs[i]; waiting += this.scriptMs[i]; }
    return {
      frames: this.frame,
      entities: this.entities.size,
      frameMs: frame,
      scriptMs: script,
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

module.exports = { World, percentiles, KINDS };
