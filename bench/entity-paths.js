#!/usr/bin/env node
// Main-thread cost of the entity data paths (docs/marshaling.md, "Which data path"): one
// steering behaviour over the issue-10 entity (12 fields in: id, x, y, vx, vy, tx, ty,
// speed, energy, state, kind, age; 6 out: x, y, vx, vy, energy, state), run per frame
//   - through callMany: one [entity, dt] per entity, a 6-field table back, applied to the
//     entity objects;
//   - through callColumns: the same fields as typed arrays, written in place;
//   - in plain JavaScript (the floor).
// Main-thread time is the event loop's active time (performance.eventLoopUtilization)
// over the frame: encoding, decoding, applying, and the native side's callbacks. On a
// loaded machine that includes time the thread waited for a core, so on Linux the CPU time
// the main thread itself used is shown too (/proc/self/task/<pid>/schedstat), and the CPU
// time of the runner's worker threads (decoding into Lua, the calls, encoding, Lua's GC).
//
// Then the round trip of a host call (engine.<name>() from Lua, answered on the main thread).
//
//   node bench/entity-paths.js [--entities 1000,5000,20000] [--states 1,2] [--frames 30]
'use strict';
const fs = require('fs');
const { performance } = require('perf_hooks');
const { ScriptRunner } = require('..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const SIZES = arg('entities', '1000,5000,20000').split(',').map(Number);
const STATES = arg('states', '1,2').split(',').map(Number);
const FRAMES = Number(arg('frames', '30'));
const WARMUP = 5;
const DT = 1 / 60;

// The behaviour, written once against e.x: a table (callMany) or a row view (callColumns).
const BEHAVIOUR = `
local M = {}
local SEEK, WANDER, TIRED = 1, 2, 3
function M.step(e, dt)
  local dx, dy = e.tx - e.x, e.ty - e.y
  local d = math.sqrt(dx * dx + dy * dy)
  local speed = e.speed
  if e.energy < 1 then speed = speed * 0.5 end
  local vx, vy
  if d > 1e-6 then vx, vy = dx / d * speed, dy / d * speed else vx, vy = 0, 0 end
  e.vx = e.vx + (vx - e.vx) * 0.2
  e.vy = e.vy + (vy - e.vy) * 0.2
  e.x = e.x + e.vx * dt
  e.y = e.y + e.vy * dt
  e.energy = e.energy - dt * (e.kind == 1 and 0.5 or 0.25)
  e.state = d < 1 and WANDER or (e.energy < 1 and TIRED or SEEK)
end
-- callMany: the same step on the entity table, six fields back
function M.update(e, dt)
  M.step(e, dt)
  return { x = e.x, y = e.y, vx = e.vx, vy = e.vy, energy = e.energy, state = e.state }
end
return M`;

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

function makeEntities(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({
      id: i, x: (i * 37) % 160, y: (i * 11) % 60, vx: 0, vy: 0, tx: (i * 53) % 160, ty: (i * 7) % 60,
      speed: 2 + (i % 5), energy: 10 + (i % 7), state: 1, kind: i % 2, age: 0,
    });
  }
  return out;
}

const FIELDS = ['id', 'x', 'y', 'vx', 'vy', 'tx', 'ty', 'speed', 'energy', 'state', 'kind', 'age'];
const INT_FIELDS = new Set(['id', 'state', 'kind', 'age']);

function makeColumns(entities) {
  const n = entities.length;
  const sab = new SharedArrayBuffer(n * FIELDS.reduce((s, f) => s + (INT_FIELDS.has(f) ? 4 : 8), 0));
  const c = {};
  let at = 0;
  for (const f of FIELDS) {
    const T = INT_FIELDS.has(f) ? Int32Array : Float64Array;
    c[f] = new T(sab, at, n);
    at += n * T.BYTES_PER_ELEMENT;
    for (let i = 0; i < n; i++) c[f][i] = entities[i][f];
  }
  return c;
}

// CPU time the main thread has used, in ms (NaN where the kernel does not tell)
const SCHEDSTAT = `/proc/self/task/${process.pid}/schedstat`;
function mainCpuMs() {
  try {
    return Number(fs.readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
}

// CPU time (ms) of the threads in `tids` (luapool's worker threads: those that were not
// there before the first runner started), NaN where the kernel does not tell
function threadsCpuMs(tids) {
  if (tids.length === 0) return NaN;
  let sum = 0;
  try {
    for (const t of tids) sum += Number(fs.readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
  return sum;
}
function tasks() {
  try {
    return fs.readdirSync('/proc/self/task');
  } catch {
    return [];
  }
}

const NODE_THREADS = new Set(tasks());  // Node's own, before any runner: the rest are luapool's

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function frames(run, workers = []) {
  const wall = [], main = [], cpu = [], work = [];
  for (let f = 0; f < WARMUP + FRAMES; f++) {
    const c0 = mainCpuMs();
    const w0 = threadsCpuMs(workers);
    const elu = performance.eventLoopUtilization();
    const t0 = performance.now();
    await run();
    const t1 = performance.now();
    const used = performance.eventLoopUtilization(elu);
    const c1 = mainCpuMs();
    const w1 = threadsCpuMs(workers);
    if (f >= WARMUP) {
      wall.push(t1 - t0);
      main.push(used.active);
      cpu.push(c1 - c0);
      work.push(w1 - w0);
    }
  }
  return { wallMs: median(wall), mainMs: median(main), cpuMs: median(cpu), workerMs: median(work) };
}

function row(label, n, r) {
  const perFrame = Math.floor(n * 16.6 / r.wallMs);
  console.log(`${label.padEnd(26)} ${String(n).padStart(6)}   ${r.wallMs.toFixed(2).padStart(8)} ms   ` +
    `${r.mainMs.toFixed(2).padStart(8)} ms   ${(r.mainMs * 1000 / n).toFixed(3).padStart(7)} µs   ${String(perFrame).padStart(8)}   ` +
    `${(r.cpuMs * 1000 / n).toFixed(3).padStart(7)} µs   ` +
    `${Number.isNaN(r.workerMs) ? '      –' : (r.workerMs * 1000 / n).toFixed(3).padStart(7) + ' µs'}`);
}

(async () => {
  console.log(`entity paths: ${FRAMES} frames (median) after ${WARMUP} warm-up frames; Node ${process.version}`);
  console.log(`${'path'.padEnd(26)} ${'n'.padStart(6)}   ${'frame'.padStart(11)}   ${'main thread'.padStart(11)}   ${'main/entity'.padStart(10)}   per 16.6 ms   main CPU/entity   worker CPU/entity`);
  for (const n of SIZES) {
    const js = makeEntities(n);
    row('plain JavaScript', n, await frames(async () => { for (const e of js) stepJs(e, DT); }));
    for (const states of STATES) {
      const runner = new ScriptRunner({ states, threads: states });
      runner.define('b', BEHAVIOUR);
      await runner.call('b', 'update', [makeEntities(1)[0], DT]);  // its threads are running
      const workers = tasks().filter((t) => !NODE_THREADS.has(t));
      const entities = makeEntities(n);
      row(`callMany, ${states} state${states > 1 ? 's' : ''}`, n, await frames(async () => {
        const out = await runner.callMany('b', 'update', entities.map((e) => [e, DT]));
        for (let i = 0; i < n; i++) {
          const e = entities[i], o = out[i];
          e.x = o.x; e.y = o.y; e.vx = o.vx; e.vy = o.vy; e.energy = o.energy; e.state = o.state;
        }
      }, workers));
      const columns = makeColumns(makeEntities(n));
      row(`callColumns, ${states} state${states > 1 ? 's' : ''}`, n, await frames(async () => {
        await runner.callColumns('b', 'step', columns, { args: [DT], readonly: ['id', 'tx', 'ty', 'speed', 'kind', 'age'] });
      }, workers));
      await runner.close();
    }
  }
  // host calls: one job calling engine.nearby() `calls` times, one after the other
  const calls = 2000;
  const runner = new ScriptRunner({ states: 1, threads: 1, host: { nearby: (x) => x + 1 } });
  const src = `local s = 0 for i = 1, ${calls} do s = s + engine.nearby(i) end return s`;
  const r = await frames(() => runner.run(src));
  console.log(`host call round trip: ${(r.wallMs * 1000 / calls).toFixed(1)} µs per call, ` +
    `${(r.mainMs * 1000 / calls).toFixed(1)} µs of it on the main thread`);
  await runner.close();
})();
