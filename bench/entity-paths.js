#!/usr/bin/env node
// The entity data paths of docs/marshaling.md ("Which data path"), without the whole bench:
// the issue-10 entity behaviour (bench/workloads/entity.lua) per frame through plain
// JavaScript, luapool callMany and luapool callColumns on each pool size, then the round
// trip of a host call and callColumns' fixed cost per call. Each row runs the gameloop
// section's own driver in a fresh process (bench/drivers/<driver>.js, mode `entities`),
// so the numbers are the section's; the
// section itself (with the standalone lua, wasmoon and fengari) is
// `node bench/run.js --sections gameloop`.
//
//   node bench/entity-paths.js [--entities 1000,5000,20000] [--states 1,2] [--frames 30]
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const SIZES = arg('entities', '1000,5000,20000').split(',').map(Number);
const STATES = arg('states', '1,2').split(',').map(Number);
const FRAMES = Number(arg('frames', '30'));

function trial(driver, params) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'drivers', `${driver}.js`),
    JSON.stringify({ mode: 'entities', frames: FRAMES, warmup: 5, maxMs: 20000, ...params })], { encoding: 'utf8' });
  const line = (r.stdout || '').trim().split('\n').pop();
  const res = line ? JSON.parse(line) : { error: r.stderr };
  if (res.error) throw new Error(`${driver}: ${res.error}`);
  return res;
}

function row(label, r) {
  const n = r.entities;
  console.log(`${label.padEnd(26)} ${String(n).padStart(6)}   ${r.frameMs.toFixed(2).padStart(8)} ms   ` +
    `${r.mainMs.toFixed(3).padStart(8)} ms   ${(r.mainMs * 1000 / n).toFixed(3).padStart(7)} µs   ${r.perFrame.toLocaleString('en-US').padStart(9)}`);
}

console.log(`entity paths: ${FRAMES} frames (median) after 5 warm-up frames; Node ${process.version}; main thread = its CPU time per frame`);
console.log(`${'path'.padEnd(26)} ${'n'.padStart(6)}   ${'frame'.padStart(11)}   ${'main thread'.padStart(11)}   ${'main/entity'.padStart(10)}   per 16.6 ms`);
for (const n of SIZES) {
  row('plain JavaScript', trial('js', { entities: n }));
  for (const states of STATES) {
    const s = `${states} state${states > 1 ? 's' : ''}`;
    row(`callMany, ${s}`, trial('luapool', { entities: n, path: 'callMany', states }));
    row(`callColumns, ${s}`, trial('luapool', { entities: n, path: 'callColumns', states }));
  }
}
const r = spawnSync(process.execPath, [path.join(__dirname, 'drivers', 'luapool.js'),
  JSON.stringify({ mode: 'calls', n: 1, durationMs: 200, warmupMs: 100, batchSize: 10, concurrency: 1, states: 1, hostCalls: 2000 })], { encoding: 'utf8' });
const h = JSON.parse(r.stdout.trim().split('\n').pop()).hostCall;
console.log(`host call round trip: ${h.usPerCall.toFixed(1)} µs per call, ${h.mainUsPerCall.toFixed(1)} µs of it on the main thread`);

// callColumns' fixed cost per call: 12 columns of 100 rows (2 parts), 4,000 calls in
// flight three times; the event loop's active time per call (main-thread work).
const fixed = spawnSync(process.execPath, ['-e', `
  const { ScriptRunner } = require(${JSON.stringify(path.join(__dirname, '..'))});
  const E = require(${JSON.stringify(path.join(__dirname, 'lib', 'entities.js'))});
  const { performance } = require('perf_hooks');
  (async () => {
    const r = new ScriptRunner({ states: 2, threads: 2 });
    r.define('bench/entity', E.behaviour());
    const cols = E.makeColumns(E.makeEntities(100));
    const opts = { args: [E.DT], readonly: E.READONLY };
    const burst = () => Promise.all(Array.from({ length: 4000 }, () => r.callColumns('bench/entity', 'step', cols, opts)));
    for (let k = 0; k < 3; k++) await burst();
    const e0 = performance.eventLoopUtilization();
    for (let k = 0; k < 3; k++) await burst();
    console.log(performance.eventLoopUtilization(e0).active * 1000 / 12000);
    await r.close();
  })();`], { encoding: 'utf8' });
console.log(`callColumns fixed cost: ${Number(fixed.stdout.trim()).toFixed(1)} µs of main-thread time per call (12 columns, 2 parts, 4,000 in flight)`);
