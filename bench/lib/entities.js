'use strict';
// The issue-10 entity, shared by every driver of the `gameloop` section: its fields, the
// initial population, its behaviour in JavaScript (the Lua one is bench/workloads/entity.lua),
// the reference result after a number of frames, and the frame timer.
const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const { WORKLOAD_DIR, median } = require('./common');

const FIELDS = ['id', 'x', 'y', 'vx', 'vy', 'tx', 'ty', 'speed', 'energy', 'state', 'kind', 'age'];
const INT_FIELDS = new Set(['id', 'state', 'kind', 'age']);
const WRITTEN = ['x', 'y', 'vx', 'vy', 'energy', 'state'];  // the 6 fields update() returns
const READONLY = FIELDS.filter((f) => !WRITTEN.includes(f));
const DT = 1 / 60;
const FRAME_BUDGET_MS = 1000 / 60;
const BEHAVIOUR_PATH = path.join(WORKLOAD_DIR, 'entity.lua');
const behaviour = () => fs.readFileSync(BEHAVIOUR_PATH, 'utf8');

// The same formulas as bench/drivers/entity-frame.lua.
function makeEntities(n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = {
      id: i, x: (i * 37) % 160, y: (i * 11) % 60, vx: 0, vy: 0, tx: (i * 53) % 160, ty: (i * 7) % 60,
      speed: 2 + (i % 5), energy: 10 + (i % 7), state: 1, kind: i % 2, age: 0,
    };
  }
  return out;
}

// The entities as columns: Float64Array, Int32Array for the integer fields, all in one
// SharedArrayBuffer.
function makeColumns(entities) {
  const n = entities.length;
  const sab = new SharedArrayBuffer(n * FIELDS.reduce((s, f) => s + (INT_FIELDS.has(f) ? 4 : 8), 0));
  const c = {};
  let at = 0;
  // the Float64 columns first, so that every column is aligned whatever n is
  for (const f of [...FIELDS.filter((x) => !INT_FIELDS.has(x)), ...FIELDS.filter((x) => INT_FIELDS.has(x))]) {
    const T = INT_FIELDS.has(f) ? Int32Array : Float64Array;
    c[f] = new T(sab, at, n);
    at += n * T.BYTES_PER_ELEMENT;
    for (let i = 0; i < n; i++) c[f][i] = entities[i][f];
  }
  return Object.fromEntries(FIELDS.map((f) => [f, c[f]]));
}

function stepJs(e, dt) {
  const dx = e.tx - e.x, dy = e.ty - e.y;
  const d = Math.sqrt(dx * dx + dy * dy);
  const speed = e.energy < 1 ? e.speed * 0.5 : e.speed;
  const vx = d > 1e-6 ? dx / d * speed : 0, vy = d > 1e-6 ? dy / d * speed : 0;
  e.vx += (vx - e.vx) * 0.2;
  e.vy += (vy - e.vy) * 0.2;
  e.x += e.vx * dt;
  e.y += e.vy * dt;
  e.energy -= dt * (e.kind === 1 ? 0.5 : 0.25);
  e.state = d < 1 ? 2 : (e.energy < 1 ? 3 : 1);
}

// Sum of the written fields over every entity; get(i, field) reads one.
function checksumOf(n, get) {
  let s = 0;
  for (let i = 0; i < n; i++) for (const f of WRITTEN) s += get(i, f);
  return s;
}
// What the checksum must be after `frames` frames of n entities.
function expected(n, frames) {
  const es = makeEntities(n);
  for (let f = 0; f < frames; f++) for (const e of es) stepJs(e, DT);
  return checksumOf(n, (i, f) => es[i][f]);
}
function verify(driver, n, frames, got) {
  const want = expected(n, frames);
  if (!(Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)))) {
    throw new Error(`CHECKSUM MISMATCH: ${driver} gameloop(${n}) after ${frames} frames: ${got}, expected ${want}`);
  }
  return String(want);
}

// CPU time of the main thread so far (ms): Linux's schedstat, else null. The kernel brings
// it up to date when the thread sleeps or at a scheduler tick, so it suits frames that wait
// (luapool's), not a thread that never sleeps.
function mainThreadCpuMs() {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

// Runs `warmup` untimed frames (fewer if they take longer than maxMs), then timed ones
// until `frames` frames or maxMs, at least minFrames.
// frame() runs one frame (may return a Promise). Reports the median frame time, the main
// thread's CPU time per frame (mean over the timed frames) and the event loop's busy time
// per frame (median; it also counts time the main thread waited for a core).
async function timeFrames(frame, { frames, warmup = 0, maxMs = Infinity, minFrames = 3 }) {
  const w0 = performance.now();
  let warmed = 0;
  while (warmed < warmup && (warmed === 0 || performance.now() - w0 < maxMs)) {
    await frame();
    warmed++;
  }
  const wall = [];
  const busy = [];
  const cpu0 = mainThreadCpuMs();
  const t0 = performance.now();
  while (wall.length < frames && (wall.length < minFrames || performance.now() - t0 < maxMs)) {
    const elu = performance.eventLoopUtilization();
    const s = performance.now();
    await frame();
    wall.push(performance.now() - s);
    busy.push(performance.eventLoopUtilization(elu).active);
  }
  const cpu1 = mainThreadCpuMs();
  const frameMs = median(wall);
  return {
    frames: wall.length, framesRun: warmed + wall.length, frameMs, frameMinMs: Math.min(...wall),
    mainCpuMs: cpu0 === null ? null : (cpu1 - cpu0) / wall.length,
    eluActiveMs: median(busy),
  };
}

// The fields every gameloop trial reports, from timeFrames() and the entity count.
function frameResult(n, t, extra) {
  return {
    entities: n, ...t,
    // main-thread CPU time where it can be read; drivers whose whole frame blocks the main
    // thread (plain JS, wasmoon, fengari) report the frame (`extra.mainMs`)
    mainMs: t.mainCpuMs ?? t.frameMs,
    perFrame: Math.floor((n * FRAME_BUDGET_MS) / t.frameMs),
    ...extra,
  };
}

module.exports = {
  FIELDS, INT_FIELDS, WRITTEN, READONLY, DT, FRAME_BUDGET_MS, BEHAVIOUR_PATH, behaviour,
  makeEntities, makeColumns, stepJs, checksumOf, expected, verify, mainThreadCpuMs, timeFrames, frameResult,
};
