'use strict';
// Main-thread health: event-loop delay (perf_hooks.monitorEventLoopDelay, 1 ms sampling)
// and fs.promises.readFile latency, first idle, then while startLoad() keeps a pool busy.
// The histogram records the whole interval between samples; we report the delay beyond
// the 1 ms sampling interval (value - 1 ms, floored at 0).
const fsp = require('fs/promises');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');
const { nowMs, percentile } = require('./common');

const RES_MS = 1;
const FILE = path.join(__dirname, '..', 'workloads', 'nbody.lua');

async function phase(durationMs) {
  const h = monitorEventLoopDelay({ resolution: RES_MS });
  const fsLat = [];
  h.enable();
  const t0 = nowMs();
  while (nowMs() - t0 < durationMs) {
    const s = nowMs();
    await fsp.readFile(FILE);
    fsLat.push(nowMs() - s);
    await new Promise((r) => setTimeout(r, 2));
  }
  h.disable();
  fsLat.sort((a, b) => a - b);
  const d = (v) => Math.max(0, v / 1e6 - RES_MS);
  return {
    eldP50Ms: d(h.percentile(50)), eldP99Ms: d(h.percentile(99)), eldMaxMs: d(h.max),
    fsP50Ms: percentile(fsLat, 50), fsP99Ms: percentile(fsLat, 99), fsReads: fsLat.length,
  };
}

async function measureHealth({ durationMs, startLoad }) {
  const idle = await phase(durationMs);
  const stop = await startLoad();
  await new Promise((r) => setTimeout(r, 50)); // let the load ramp up
  const loaded = await phase(durationMs);
  const extra = await stop();
  return { idle, loaded, ...(extra || {}) };
}

module.exports = { measureHealth };
