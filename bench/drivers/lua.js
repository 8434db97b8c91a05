'use strict';
// Driver "lua": the standalone interpreter built from the same verified Lua sources (the floor).
// The path comes from params.luaBin (the orchestrator builds build-lua/lua-cli/lua with
// scripts/build-lua-cli.js). Timing: os.clock() around each call inside the interpreter
// (lua-harness.lua); the JSON also carries wall clock minus the startup of an empty script.
const { spawn, spawnSync } = require('child_process');
const path = require('path');
const { driverMain, workloadPath, verifyChecksum, median, nowMs } = require('../lib/common');

const HARNESS = path.join(__dirname, 'lua-harness.lua');

function runLua(bin, args) {
  return new Promise((resolve, reject) => {
    const t0 = nowMs();
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const wallMs = nowMs() - t0;
      if (code !== 0) return reject(new Error(`${bin} exited ${code}: ${err.trim()}`));
      resolve({ out, wallMs });
    });
  });
}

async function startupMs(bin) {
  const t = [];
  for (let i = 0; i < 5; i++) t.push((await runLua(bin, ['-e', ''])).wallMs);
  return median(t);
}

driverMain('lua', {
  async cpu(p) {
    const bin = p.luaBin;
    const startup = await startupMs(bin);
    const { out, wallMs } = await runLua(bin, [HARNESS, workloadPath(p.workload), String(p.n), String(p.iters), String(p.warmup), String(p.warmupMs || 0)]);
    const r = JSON.parse(out.trim().split('\n').pop());
    verifyChecksum('lua', p.workload, p.n, r.checksum);
    const perIterWall = (wallMs - startup - r.warmupMs) / p.iters;
    return { checksum: r.checksum, ms: r.cpuMs, warmupTotalMs: r.warmupMs, wallPerIterMs: perIterWall, startupMs: startup, timing: 'os.clock' };
  },
  // `states` interpreter processes in parallel, each running `jobsPerState` iterations.
  async scaling(p) {
    const bin = p.luaBin;
    const startup = await startupMs(bin);
    // warm the page cache / CPU frequency
    await runLua(bin, [HARNESS, workloadPath(p.workload), String(p.n), '1', '0']);
    const t0 = nowMs();
    const results = await Promise.all(Array.from({ length: p.states }, () =>
      runLua(bin, [HARNESS, workloadPath(p.workload), String(p.n), String(p.jobsPerState), '0'])));
    const wall = nowMs() - t0;
    // minus one interpreter startup (the processes start in parallel); never below half the wall time
    const elapsed = Math.max(wall - startup, wall / 2);
    for (const { out } of results) verifyChecksum('lua', p.workload, p.n, JSON.parse(out.trim()).checksum);
    const jobs = p.states * p.jobsPerState;
    return { states: p.states, jobs, elapsedMs: elapsed, jobsPerSec: (jobs / elapsed) * 1000 };
  },
  async memory(p) {
    // A bare state with the standard libraries: its Lua heap right after startup, and the
    // interpreter process's RSS (the whole process, for reference).
    const { out } = await runLua(p.luaBin, ['-e',
      'local f = io.open("/proc/self/status"); local s = f:read("a"); f:close(); ' +
      'io.write(string.format("%.3f %s", collectgarbage("count"), s:match("VmRSS:%s*(%d+)")))']);
    const [heapKB, rssKB] = out.trim().split(/\s+/).map(Number);
    return { heapKBPerState: heapKB, processRssKB: rssKB };
  },
  // The gameloop floor: the frame loop inside the interpreter over a table of entity tables.
  async entities(p) {
    const E = require('../lib/entities');
    const { out } = await runLua(p.luaBin, [path.join(__dirname, 'entity-frame.lua'), E.BEHAVIOUR_PATH, String(p.entities),
      String(p.warmup), String(p.frames), String(p.maxMs)]);
    const r = JSON.parse(out.trim().split('\n').pop());
    const checksum = E.verify('lua', p.entities, r.framesRun, r.checksum);
    const frameMs = median(r.ms);
    return E.frameResult(p.entities, { frames: r.ms.length, framesRun: r.framesRun, frameMs, frameMinMs: Math.min(...r.ms), mainCpuMs: null, eluActiveMs: null },
      { checksum, timing: 'os.clock', how: 'the frame loop inside lua over a table of entity tables (its only thread)' });
  },
  async calls(p) {
    const { out } = await runLua(p.luaBin, [HARNESS, workloadPath('calls'), String(p.n), '3', '1']);
    const r = JSON.parse(out.trim());
    if (String(r.checksum) !== String(p.n)) throw new Error(`CHECKSUM MISMATCH: calls returned ${r.checksum}`);
    const ms = median(r.cpuMs);
    return { callsPerSec: (p.n / ms) * 1000, note: 'in-VM Lua-to-Lua calls (no host boundary)' };
  },
});
