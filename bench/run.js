#!/usr/bin/env node
'use strict';
// npm run bench — luapool against the floor (standalone lua) and every peer, in one run.
//
//   node bench/run.js [--quick] [--rounds N] [--drivers lua,luapool,wasmoon,fengari,piscina]
//                     [--workloads fib,tables,strings,nbody] [--sections cpu,errors,trivial,calls,scaling,health,memory,gameloop,demo,fairness]
//                     [--no-write] [--write-docs] [--out-dir DIR] [--update-checksums] [--report results.json]
//
// A run writes its raw results to bench/results/<date>.json (not committed) and nothing else.
// Only --write-docs (a full run, or --report) rewrites the committed report: docs/benchmark.md
// and bench/results/latest.svg, the README chart (and latest.json); --out-dir DIR writes
// every output (benchmark.md included) into DIR instead; --no-write nothing.
//
// Every trial (one driver × one measurement × one round) runs in a fresh child process
// (bench/drivers/<driver>.js, argv[2] = JSON params) that prints one JSON line. Every CPU
// result is checked against bench/workloads/checksums.json inside the driver.
// Exported: runBench(options) for the test suite (tiny input, no files written).

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const { ROOT, BENCH_DIR, WORKLOAD_DIR, summarize, median, workloadPath } = require('./lib/common');
const { presets, luapoolVariants, P } = require('./lib/presets');
const report = require('./lib/report');

const CPU_WORKLOADS = ['fib', 'tables', 'strings', 'nbody'];
const ALL_DRIVERS = ['lua', 'luapool', 'wasmoon', 'fengari', 'piscina'];
// gameloop: the issue-10 entity frame side by side on every peer; demo: the examples/game-loop world
// The error path: pcall(error, "x"), error three Lua frames deep, an argument error inside
// a C function; trusted (libs 'all') and sandboxed luapool beside the floor and the peers.
const ERROR_WORKLOADS = ['errors-pcall', 'errors-deep', 'errors-cfunc'];
const ALL_SECTIONS = ['cpu', 'errors', 'trivial', 'calls', 'scaling', 'health', 'memory', 'gameloop', 'demo', 'fairness'];
const SECTION_ALIASES = { 'game-loop': 'demo' };  // the demo section's former name
const FRAME_BUDGET_MS = 1000 / 60; // 16.6 ms

// ---------------------------------------------------------------------------------------
// Environment: the floor binary and the package itself.

function resolveLua(log) {
  if (process.env.LUAPOOL_BENCH_LUA) {
    return { bin: path.resolve(process.env.LUAPOOL_BENCH_LUA), note: 'LUAPOOL_BENCH_LUA' };
  }
  const script = path.join(ROOT, 'scripts', 'build-lua-cli.js');
  const bin = path.join(ROOT, 'build-lua', 'lua-cli', 'lua');
  if (!fs.existsSync(script)) {
    if (fs.existsSync(bin)) return { bin, note: 'build-lua/lua-cli/lua (scripts/build-lua-cli.js missing)' };
    return { bin: null, note: 'scripts/build-lua-cli.js is missing and build-lua/lua-cli/lua does not exist' };
  }
  log('building the floor: node scripts/build-lua-cli.js');
  const r = spawnSync(process.execPath, [script], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0 || !fs.existsSync(bin)) {
    return { bin: null, note: `scripts/build-lua-cli.js failed: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join(' | ')}` };
  }
  return { bin, note: 'build-lua/lua-cli/lua' };
}

function luaVersion(bin) {
  if (!bin) return null;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim();
}

function checkLuapool() {
  const r = spawnSync(process.execPath, ['-e',
    "const m = require('luapool'); if (typeof m.ScriptRunner !== 'function') throw new Error('no ScriptRunner export')"],
  { cwd: ROOT, encoding: 'utf8' });
  if (r.status === 0) return { ok: true };
  const lines = (r.stderr || '').split('\n');
  const line = lines.find((l) => /^\w*Error\b/.test(l)) || lines.find((l) => /Error/.test(l)) || lines[0];
  return { ok: false, reason: `luapool does not load (${(line || 'unknown error').trim()})` };
}

function pkgVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Child processes.

function runTrial(driverFile, params, timeoutMs) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--expose-gc', path.join(BENCH_DIR, 'drivers', driverFile), JSON.stringify(params)], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').filter(Boolean).pop();
      let obj = null;
      try { obj = last ? JSON.parse(last) : null; } catch { obj = null; }
      if (timedOut) return resolve({ error: `timed out after ${timeoutMs} ms` });
      if (!obj) return resolve({ error: `driver exited ${code ?? signal} without a JSON line: ${(err || out).trim().slice(-500)}` });
      if (code !== 0 && !obj.error) obj.error = `driver exited ${code ?? signal}`;
      resolve(obj);
    });
  });
}

// ---------------------------------------------------------------------------------------
// The plan: a list of trials, each run once per round.

function baseDriver(id) {
  if (id === 'libuv-noop' || id.startsWith('luapool')) return 'luapool';
  if (id === 'js') return 'lua';  // plain JavaScript: a floor, selected with the other one
  return id;
}

// The gameloop section's luapool variants: data path × pool size ("N" = one state per CPU).
const GAMELOOP_LUAPOOL = [['callMany', 1], ['callMany', P], ['callColumns', 1], ['callColumns', P]];
const gameloopId = (pathName, states) => `luapool ${pathName} ${states === 1 ? '1 state' : `${states} states`}`;

function buildPlan(cfg, opts) {
  const want = (d) => opts.drivers.includes(baseDriver(d));
  const plan = [];
  const add = (section, key, id, file, params) => { if (want(id)) plan.push({ section, key, id, file, params }); };
  const lp = (id) => luapoolVariants[id];

  if (opts.sections.includes('cpu')) {
    for (const w of opts.workloads) {
      const n = cfg.sizes[w];
      const common = { mode: 'cpu', workload: w, n, iters: cfg.iters, warmup: cfg.warmup, warmupMs: cfg.warmupMs };
      add('cpu', w, 'lua', 'lua.js', { ...common, luaBin: opts.luaBin });
      for (const v of cfg.hookVariants) add('cpu', w, v, 'luapool.js', { ...common, opts: lp(v) });
      add('cpu', w, 'wasmoon', 'wasmoon.js', common);
      // fengari runs for seconds per iteration; one cold iteration per round is plenty
      add('cpu', w, 'fengari', 'fengari.js', { ...common, iters: 1, warmup: 0, warmupMs: 0 });
      add('cpu', w, 'piscina', 'piscina.js', common);
    }
  }
  if (opts.sections.includes('errors') && cfg.errors) {
    for (const w of ERROR_WORKLOADS) {
      const common = { mode: 'cpu', workload: w, n: cfg.errors.n, iters: cfg.iters, warmup: cfg.warmup, warmupMs: cfg.warmupMs };
      add('errors', w, 'lua', 'lua.js', { ...common, luaBin: opts.luaBin });
      add('errors', w, 'luapool+trusted', 'luapool.js', { ...common, opts: lp('luapool+trusted') });
      add('errors', w, 'luapool', 'luapool.js', { ...common, opts: lp('luapool') });
      add('errors', w, 'wasmoon', 'wasmoon.js', common);
      add('errors', w, 'fengari', 'fengari.js', { ...common, n: cfg.errors.nSlow, iters: 1, warmup: 0, warmupMs: 0 });
    }
  }
  if (opts.sections.includes('trivial')) {
    for (const c of cfg.trivial.concurrency) {
      const common = { mode: 'trivial', workload: 'trivial', concurrency: c, durationMs: cfg.trivial.durationMs, warmupMs: cfg.trivial.warmupMs, states: P };
      add('trivial', `c${c}`, 'libuv-noop', 'luapool.js', { ...common, mode: 'noop' });
      add('trivial', `c${c}`, 'luapool', 'luapool.js', { ...common, opts: lp('luapool') });
      add('trivial', `c${c}`, 'wasmoon', 'wasmoon.js', common);
      add('trivial', `c${c}`, 'fengari', 'fengari.js', common);
      add('trivial', `c${c}`, 'piscina', 'piscina.js', common);
    }
  }
  if (opts.sections.includes('calls')) {
    const common = { mode: 'calls', workload: 'calls', n: cfg.calls.n, durationMs: cfg.calls.durationMs, warmupMs: cfg.calls.warmupMs, batchSize: cfg.calls.batchSize, concurrency: 64, states: P,
      payloads: ['entity', 'string1k', 'array50'], hostCalls: cfg.calls.hostCalls || 2000 };
    add('calls', 'calls', 'lua', 'lua.js', { ...common, luaBin: opts.luaBin });
    add('calls', 'calls', 'luapool', 'luapool.js', { ...common, opts: lp('luapool') });
    add('calls', 'calls', 'wasmoon', 'wasmoon.js', common);
    add('calls', 'calls', 'fengari', 'fengari.js', common);
  }
  if (opts.sections.includes('scaling')) {
    for (let s = 1; s <= P; s++) {
      const common = { mode: 'scaling', ...cfg.scaling, states: s, warmupMs: cfg.warmupMs };
      add('scaling', `s${s}`, 'lua', 'lua.js', { ...common, luaBin: opts.luaBin });
      // the production configuration: timeouts and memory limits on
      add('scaling', `s${s}`, 'luapool+hooks', 'luapool.js', { ...common, opts: lp('luapool+hooks') });
      add('scaling', `s${s}`, 'piscina', 'piscina.js', common);
    }
  }
  if (opts.sections.includes('health')) {
    // luapool's default pool size (one CPU left for the main thread), then one state per CPU
    const sizes = [...new Set([Math.max(1, P - 1), P])];
    for (const st of sizes) {
      const common = { mode: 'health', ...cfg.health, states: st };
      add('health', `h${st}`, 'luapool', 'luapool.js', { ...common, opts: lp('luapool') });
      add('health', `h${st}`, 'piscina', 'piscina.js', common);
    }
    add('health', `h${sizes[0]}`, 'wasmoon', 'wasmoon.js', { mode: 'health', ...cfg.health, states: 1 });
  }
  if (opts.sections.includes('memory')) {
    const common = { mode: 'memory', count: cfg.memory.count };
    add('memory', 'memory', 'lua', 'lua.js', { ...common, luaBin: opts.luaBin });
    add('memory', 'memory', 'luapool', 'luapool.js', { ...common, opts: lp('luapool') });
    add('memory', 'memory', 'luapool+hooks', 'luapool.js', { ...common, opts: lp('luapool+hooks') });
    add('memory', 'memory', 'wasmoon', 'wasmoon.js', common);
    add('memory', 'memory', 'fengari', 'fengari.js', common);
    // a worker thread per engine costs megabytes and a startup each: at most 8
    add('memory', 'memory', 'piscina', 'piscina.js', { ...common, count: Math.min(8, common.count) });
  }
  if (opts.sections.includes('gameloop') && cfg.entities) {
    // the issue-10 entity, the same behaviour everywhere (bench/workloads/entity.lua,
    // bench/lib/entities.js), per entity count: the floors, luapool's two data paths on 1
    // and N states, and the main-thread peers
    const { counts, peerMaxEntities, ...frames } = cfg.entities;
    for (const n of counts) {
      const common = { mode: 'entities', workload: 'entity', entities: n, ...frames };
      add('gameloop', `e${n}`, 'js', 'js.js', common);
      add('gameloop', `e${n}`, 'lua', 'lua.js', { ...common, luaBin: opts.luaBin });
      const seen = new Set();
      for (const [pathName, states] of GAMELOOP_LUAPOOL) {
        const id = gameloopId(pathName, states);
        if (seen.has(id)) continue;  // a 1-CPU machine: N = 1
        seen.add(id);
        add('gameloop', `e${n}`, id, 'luapool.js', { ...common, path: pathName, states });
      }
      // main-thread peers take up to ~1 ms per entity (wasmoon): larger counts would take
      // minutes per trial, so they run up to peerMaxEntities and are projected from there
      if (n <= peerMaxEntities) {
        add('gameloop', `e${n}`, 'wasmoon', 'wasmoon.js', { ...common, minFrames: 1 });
        add('gameloop', `e${n}`, 'fengari', 'fengari.js', { ...common, minFrames: 1 });
      }
    }
  }
  if (opts.sections.includes('demo') && cfg.gameLoop) {
    // luapool only: the examples/game-loop world at several entity counts, unpaced, the
    // pool at luapool's default size (what the demo uses)
    const { entities, ...rest } = cfg.gameLoop;
    for (const n of entities) {
      add('demo', `e${n}`, 'luapool', 'luapool.js', { mode: 'gameloop', workload: 'game-loop', ...rest, entities: n, budgetMs: FRAME_BUDGET_MS });
    }
  }
  if (opts.sections.includes('fairness') && cfg.fairness) {
    // luapool only (no peer time-slices a running job); default runner options plus a
    // 50 ms budget, so a hostile job ends with TimeoutError and is resubmitted
    const f = cfg.fairness;
    const base = { opts: { timeoutMs: 50 } };
    const loop = { mode: 'fairness', durationMs: f.durationMs, warmupMs: f.warmupMs, rampMs: f.rampMs };
    add('fairness', 'benign', 'luapool', 'luapool.js', { ...loop, ...base, scenario: 'benign', hostile: 0 });
    add('fairness', 'same-group', 'luapool', 'luapool.js', { ...loop, ...base, scenario: 'hostile', hostile: f.hostile });
    add('fairness', 'groups', 'luapool', 'luapool.js', { ...loop, ...base, scenario: 'hostile', hostile: f.hostile, hostileGroup: 'hostile', benignGroup: 'benign' });
    const { timeoutMs, ...sl } = f.slicing;
    add('fairness', 'slicing', 'luapool', 'luapool.js', { mode: 'fairness', scenario: 'slicing', ...sl, opts: { timeoutMs, threads: 1 } });
    add('fairness', 'slicing', 'luapool+noslice', 'luapool.js', { mode: 'fairness', scenario: 'slicing', ...sl, opts: { timeoutMs, threads: 1, sliceMs: 0 } });
    // a few per cent is the point here: the two run in the other order every other round
    for (const t of plan) if (t.section === 'fairness' && t.key === 'slicing') t.alternate = 'fairness/slicing';
  }
  return plan;
}

// Trials marked with the same `alternate` tag next to each other swap places in every
// even round, so a drift in the machine's load does not always favour the same side.
function roundOrder(plan, round) {
  const out = [...plan];
  if (round % 2) return out;
  for (let i = 0; i + 1 < out.length; i++) {
    if (out[i].alternate && out[i].alternate === out[i + 1].alternate) {
      [out[i], out[i + 1]] = [out[i + 1], out[i]];
      i++;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Metrics: one number per trial, and whether higher is better.

const METRIC = {
  cpu: { get: (r) => median(r.ms), unit: 'ms', higherIsBetter: false },
  // µs per error (the workload returns how many errors it caught)
  errors: { get: (r) => (median(r.ms) * 1000) / Number(r.checksum), unit: 'µs/error', higherIsBetter: false },
  trivial: { get: (r) => r.jobsPerSec, unit: 'jobs/s', higherIsBetter: true },
  calls: { get: (r) => r.callsPerSec, unit: 'calls/s', higherIsBetter: true },
  scaling: { get: (r) => r.jobsPerSec, unit: 'jobs/s', higherIsBetter: true },
  health: { get: (r) => r.loaded && r.loaded.eldP99Ms, unit: 'ms', higherIsBetter: false },
  memory: { get: (r) => r.rssKBPerState != null ? r.rssKBPerState : r.heapKBPerState, unit: 'KB', higherIsBetter: false },
  gameloop: { get: (r) => r.frameMs, unit: 'ms per frame', higherIsBetter: false,
    detail: (r) => `main thread ${fmtNum(r.mainMs)} ms, ${Number(r.perFrame).toLocaleString('en-US')} entities per 16.6 ms` },
  demo: { get: (r) => r.frameMs && r.frameMs.p50, unit: 'ms frame p50', higherIsBetter: false },
  fairness: {
    get: (r) => r.jobsPerSec, unit: 'jobs/s', higherIsBetter: true,
    detail: (r) => (r.scenario === 'slicing' ? `${r.slices} slices` : `p50 ${fmtNum(r.p50Ms)} / p99 ${fmtNum(r.p99Ms)} ms`),
  },
};

function statusLine(i, total, t, res, elapsedS, round, rounds) {
  const m = METRIC[t.section];
  let what;
  if (res.error) what = `ERROR ${String(res.error).split('\n')[0].slice(0, 160)}`;
  else if (res.skipped) what = `skipped: ${res.skipped}`;
  else {
    const v = m.get(res);
    what = `${Number.isFinite(v) ? fmtNum(v) : '-'} ${m.unit}${m.detail ? `, ${m.detail(res)}` : ''}${res.checksum !== undefined ? ' checksum ok' : ''}`;
  }
  return `[${String(i).padStart(String(total).length)}/${total}] round ${round}/${rounds} ${t.section} ${t.key} ${t.id}: ${what} (${elapsedS.toFixed(1)} s)`;
}

function fmtNum(v) {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 100000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(v === 0 ? 0 : 3);
}

// Pair-by-pair ratio within each round: `num` relative to `den`, oriented so that > 1 means
// `num` is better (faster / more throughput / less memory).
function pairRatio(raw, section, key, num, den) {
  const a = (raw[section] && raw[section][key] && raw[section][key][num]) || [];
  const b = (raw[section] && raw[section][key] && raw[section][key][den]) || [];
  const m = METRIC[section];
  const vals = [];
  for (let r = 0; r < Math.min(a.length, b.length); r++) {
    const x = a[r] && !a[r].error && !a[r].skipped ? m.get(a[r]) : NaN;
    const y = b[r] && !b[r].error && !b[r].skipped ? m.get(b[r]) : NaN;
    if (Number.isFinite(x) && Number.isFinite(y) && x > 0 && y > 0) vals.push(m.higherIsBetter ? x / y : y / x);
  }
  return summarize(vals);
}

function cellSummary(raw, section, key, id, get) {
  const arr = (raw[section] && raw[section][key] && raw[section][key][id]) || [];
  const g = get || METRIC[section].get;
  const ok = arr.filter((r) => r && !r.error && !r.skipped);
  const vals = ok.map(g).filter((v) => Number.isFinite(v));
  const skipped = arr.find((r) => r && r.skipped);
  const error = arr.find((r) => r && r.error);
  return { ...(summarize(vals) || {}), skipped: skipped && skipped.skipped, error: error && error.error, last: ok[ok.length - 1] };
}

// ---------------------------------------------------------------------------------------

async function runBench(options = {}) {
  const t0 = Date.now();
  const preset = options.tiny ? 'tiny' : options.quick ? 'quick' : 'full';
  if (options.writeDocs && preset !== 'full') throw new Error(`--write-docs needs a full run, not a ${preset} one`);
  const cfg = JSON.parse(JSON.stringify(presets[preset]));
  if (options.rounds) cfg.rounds = options.rounds;
  const log = options.log || ((s) => process.stderr.write(s + '\n'));
  const opts = {
    drivers: options.drivers || ALL_DRIVERS,
    workloads: options.workloads || CPU_WORKLOADS,
    sections: (options.sections || ALL_SECTIONS).map((x) => SECTION_ALIASES[x] || x),
  };
  for (const d of opts.drivers) if (!ALL_DRIVERS.includes(d)) throw new Error(`unknown driver ${d}`);
  for (const w of opts.workloads) if (!CPU_WORKLOADS.includes(w)) throw new Error(`unknown workload ${w}`);
  for (const s of opts.sections) if (!ALL_SECTIONS.includes(s)) throw new Error(`unknown section ${s}`);

  const lua = opts.drivers.includes('lua') ? resolveLua(log) : { bin: null, note: 'not selected' };
  opts.luaBin = lua.bin;
  const luapool = opts.drivers.includes('luapool') ? checkLuapool() : { ok: false, reason: 'not selected' };

  const plan = buildPlan(cfg, opts);
  const raw = {};
  const total = plan.length * cfg.rounds;
  log(`luapool bench: preset ${preset}, ${cfg.rounds} round(s), ${plan.length} trials per round, ` +
    `${P} CPU(s); floor: ${lua.bin || lua.note}; luapool: ${luapool.ok ? 'loads' : luapool.reason}`);
  const loadavgStart = +os.loadavg()[0].toFixed(2);
  let i = 0;
  const failures = [];
  for (let round = 1; round <= cfg.rounds; round++) {
    for (const t of roundOrder(plan, round)) {
      i++;
      let res;
      if (baseDriver(t.id) === 'luapool' && !luapool.ok) res = { skipped: luapool.reason };
      else if (t.id === 'lua' && !lua.bin) res = { skipped: `floor unavailable: ${lua.note}` };
      else res = await runTrial(t.file, t.params, cfg.trialTimeoutMs);
      ((raw[t.section] ||= {})[t.key] ||= {})[t.id] ||= [];
      raw[t.section][t.key][t.id].push(res);
      if (res.error) failures.push({ section: t.section, key: t.key, driver: t.id, round, error: res.error });
      log(statusLine(i, total, t, res, (Date.now() - t0) / 1000, round, cfg.rounds));
    }
  }

  const result = {
    date: new Date().toISOString(),
    preset, rounds: cfg.rounds, config: cfg,
    machine: {
      node: process.version, platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpu: (os.cpus()[0] || {}).model, availableParallelism: P,
      totalMemGB: +(os.totalmem() / 2 ** 30).toFixed(1),
      uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE) || 4,
      loadavgStart, loadavgEnd: +os.loadavg()[0].toFixed(2),
    },
    versions: { luapool: require(path.join(ROOT, 'package.json')).version, lua: luaVersion(lua.bin), wasmoon: pkgVersion('wasmoon'), fengari: pkgVersion('fengari'), piscina: pkgVersion('piscina') },
    floor: lua, luapoolStatus: luapool,
    durationS: 0,
    raw, failures,
  };
  result.analysis = analyze(result);
  result.durationS = (Date.now() - t0) / 1000;

  if (options.write !== false) {
    const out = outputPlan(preset, options, result.date.replace(/[:.]/g, '-'));
    fs.mkdirSync(out.dir, { recursive: true });
    const json = JSON.stringify(result, null, 2) + '\n';
    fs.writeFileSync(out.raw, json);
    if (out.latestJson) fs.writeFileSync(out.latestJson, json);
    if (out.svg) fs.writeFileSync(out.svg, report.svg(result));
    if (out.doc) {
      fs.mkdirSync(path.dirname(out.doc), { recursive: true });
      fs.writeFileSync(out.doc, report.markdown(result, { svgPath: path.relative(path.dirname(out.doc), out.svg || path.join(out.dir, 'latest.svg')) }));
    }
    const rel = (f) => path.relative(ROOT, f);
    log(`wrote ${[out.raw, out.latestJson, out.svg, out.doc].filter(Boolean).map(rel).join(', ')}` +
      (out.doc ? '' : ' (docs/benchmark.md and bench/results/latest.* are left alone: --write-docs rewrites them)'));
  }
  log(`done in ${result.durationS.toFixed(1)} s` + (failures.length ? `; ${failures.length} FAILED trial(s)` : ''));
  return result;
}

// Which files a run writes. The committed report (docs/benchmark.md and
// bench/results/latest.svg, which the README shows) and latest.json are written only with
// writeDocs (--write-docs, full runs only); any other run keeps just its raw <stamp>.json.
// outDir sends every output (benchmark.md included) there instead; docPath names the page.
function outputPlan(preset, options, stamp) {
  const custom = Boolean(options.outDir);
  if (options.writeDocs && preset !== 'full') throw new Error(`--write-docs needs a full run, not a ${preset} one`);
  const dir = options.outDir || path.join(BENCH_DIR, 'results');
  const out = { dir, raw: path.join(dir, `${stamp}.json`), latestJson: null, svg: null, doc: null };
  if (options.writeDocs || custom) {
    out.latestJson = path.join(dir, 'latest.json');
    out.svg = path.join(dir, 'latest.svg');
  }
  if (options.writeDocs || custom || options.docPath) {
    out.doc = options.docPath || (custom ? path.join(dir, 'benchmark.md') : path.join(ROOT, 'docs', 'benchmark.md'));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Analysis: tables of medians, pairwise ratios, targets.

function analyze(result) {
  const raw = result.raw;
  const a = { cpu: {}, errors: {}, trivial: {}, calls: {}, scaling: {}, health: {}, memory: {}, targets: [], notes: [] };

  // CPU: time per driver, speed relative to the floor, luapool relative to each peer.
  const cpuDrivers = ['lua', ...result.config.hookVariants, 'wasmoon', 'fengari', 'piscina'];
  for (const w of Object.keys(raw.cpu || {})) {
    const row = { n: result.config.sizes[w], ms: {}, vsFloor: {}, luapoolVs: {}, hookCost: {} };
    for (const d of cpuDrivers) {
      row.ms[d] = cellSummary(raw, 'cpu', w, d);
      if (d !== 'lua') row.vsFloor[d] = pairRatio(raw, 'cpu', w, d, 'lua');
    }
    for (const peer of ['wasmoon', 'fengari', 'piscina']) row.luapoolVs[peer] = pairRatio(raw, 'cpu', w, 'luapool', peer);
    for (const v of result.config.hookVariants.filter((x) => x !== 'luapool')) row.hookCost[v] = pairRatio(raw, 'cpu', w, v, 'luapool');
    a.cpu[w] = row;
  }
  // The error path: µs per error, and each driver's cost relative to the floor's
  // (driver time ÷ floor time per round: 1× = as fast as standalone lua, 2× = twice the cost).
  for (const w of Object.keys(raw.errors || {})) {
    const row = { usPerError: {}, costVsFloor: {} };
    for (const d of ['lua', 'luapool+trusted', 'luapool', 'wasmoon', 'fengari']) {
      row.usPerError[d] = cellSummary(raw, 'errors', w, d);
      if (d !== 'lua') {
        const r = pairRatio(raw, 'errors', w, d, 'lua');  // floor ÷ driver
        row.costVsFloor[d] = r && Number.isFinite(r.median) ? { median: 1 / r.median, min: 1 / r.max, max: 1 / r.min, n: r.n } : r;
      }
    }
    a.errors[w] = row;
  }
  // Trivial job.
  for (const key of Object.keys(raw.trivial || {})) {
    const row = { jobsPerSec: {}, p50Ms: {}, p99Ms: {}, luapoolVs: {} };
    for (const d of ['libuv-noop', 'luapool', 'wasmoon', 'fengari', 'piscina']) {
      row.jobsPerSec[d] = cellSummary(raw, 'trivial', key, d);
      row.p50Ms[d] = cellSummary(raw, 'trivial', key, d, (r) => r.p50Ms);
      row.p99Ms[d] = cellSummary(raw, 'trivial', key, d, (r) => r.p99Ms);
      if (d !== 'luapool') row.luapoolVs[d] = pairRatio(raw, 'trivial', key, 'luapool', d);
    }
    a.trivial[key] = row;
  }
  // Calls.
  if (raw.calls) {
    const row = { callsPerSec: {}, luapoolVs: {} };
    for (const d of ['lua', 'luapool', 'wasmoon', 'fengari']) row.callsPerSec[d] = cellSummary(raw, 'calls', 'calls', d);
    const lp = row.callsPerSec.luapool.last;
    row.luapoolDetail = lp ? { oneCallPerJob: lp.callsPerSecOneCallPerJob, batched: lp.batched } : null;
    for (const d of ['lua', 'wasmoon', 'fengari']) row.luapoolVs[d] = pairRatio(raw, 'calls', 'calls', 'luapool', d);
    // realistic payloads and the host-call round trip, per driver
    row.payloads = {};
    for (const kind of ['entity', 'string1k', 'array50']) {
      row.payloads[kind] = {};
      for (const d of ['luapool', 'wasmoon', 'fengari']) {
        const g = (f) => (r) => r.payloads && r.payloads[kind] && r.payloads[kind][f];
        const cs = cellSummary(raw, 'calls', 'calls', d, g('callsPerSec'));
        if (Number.isFinite(cs.median)) row.payloads[kind][d] = { callsPerSec: cs, mainUsPerCall: cellSummary(raw, 'calls', 'calls', d, g('mainUsPerCall')), how: g('how')(cs.last) };
      }
    }
    row.hostCall = {};
    for (const d of ['luapool', 'wasmoon', 'fengari']) {
      const g = (f) => (r) => r.hostCall && r.hostCall[f];
      const us = cellSummary(raw, 'calls', 'calls', d, g('usPerCall'));
      if (Number.isFinite(us.median)) row.hostCall[d] = { usPerCall: us, mainUsPerCall: cellSummary(raw, 'calls', 'calls', d, g('mainUsPerCall')), how: g('how')(us.last) };
    }
    a.calls = row;
  }
  // Scaling: throughput per state count, relative to the single interpreter.
  if (raw.scaling) {
    for (const key of Object.keys(raw.scaling)) {
      const row = { jobsPerSec: {}, vsSingleFloor: {} };
      for (const d of ['lua', 'luapool+hooks', 'piscina']) {
        row.jobsPerSec[d] = cellSummary(raw, 'scaling', key, d);
        // pairwise against the single-process floor of the same round
        const mine = (raw.scaling[key][d] || []);
        const base = ((raw.scaling.s1 || {}).lua || []);
        const vals = [];
        for (let r = 0; r < Math.min(mine.length, base.length); r++) {
          const x = mine[r] && mine[r].jobsPerSec;
          const y = base[r] && base[r].jobsPerSec;
          if (x > 0 && y > 0) vals.push(x / y);
        }
        row.vsSingleFloor[d] = summarize(vals);
      }
      a.scaling[key] = row;
    }
  }
  // Main-thread health, per pool size.
  if (raw.health) {
    for (const key of Object.keys(raw.health)) {
      a.health[key] = {};
      for (const d of ['luapool', 'piscina', 'wasmoon']) {
        if (!raw.health[key][d]) continue;
        const g = (phase, f) => (r) => r[phase] && r[phase][f];
        const cell = {};
        for (const phase of ['idle', 'loaded']) {
          for (const f of ['eldP50Ms', 'eldP99Ms', 'eldMaxMs', 'fsP50Ms', 'fsP99Ms']) cell[`${phase}.${f}`] = cellSummary(raw, 'health', key, d, g(phase, f));
        }
        cell.jobsDone = cellSummary(raw, 'health', key, d, (r) => r.jobsDone);
        const any = cellSummary(raw, 'health', key, d);
        cell.skipped = any.skipped;
        cell.error = any.error;
        a.health[key][d] = cell;
      }
    }
  }
  // Memory.
  if (raw.memory) {
    for (const d of ['lua', 'luapool', 'luapool+hooks', 'wasmoon', 'fengari', 'piscina']) {
      a.memory[d] = {
        rssKBPerState: cellSummary(raw, 'memory', 'memory', d, (r) => r.rssKBPerState),
        heapKBPerState: cellSummary(raw, 'memory', 'memory', d, (r) => r.heapKBPerState),
        skipped: cellSummary(raw, 'memory', 'memory', d).skipped,
        error: cellSummary(raw, 'memory', 'memory', d).error,
      };
    }
  }
  // Game-loop frame: per entity count, frame and script-wait percentiles (luapool only).
  if (raw.gameloop) a.entities = analyzeEntities(raw);
  if (raw.demo) {
    a.gameLoop = {};
    const keys = Object.keys(raw.demo).sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
    for (const key of keys) {
      const c = (get) => cellSummary(raw, 'demo', key, 'luapool', get);
      const any = c();
      const last = any.last;
      a.gameLoop[key] = {
        entities: Number(key.slice(1)),
        frameP50: c((r) => r.frameMs.p50), frameP99: c((r) => r.frameMs.p99),
        scriptP50: c((r) => r.scriptMs.p50), scriptP99: c((r) => r.scriptMs.p99),
        scriptShare: c((r) => r.scriptShare), population: c((r) => r.population.mean),
        framesPerSec: c((r) => r.framesPerSec),
        states: last && last.states, frames: last && last.frames,
        skipped: any.skipped, error: any.error,
      };
    }
  }
  if (raw.fairness) a.fairness = analyzeFairness(raw);
  a.targets = targets(a, result);
  return a;
}

// The gameloop section: per entity count and driver, the frame, the main thread's share and
// entities per 16.6 ms frame (n × 16.6 ÷ frame ms: linear in the per-entity cost); the
// headline per driver is the figure at the largest count it ran.
function analyzeEntities(raw) {
  const G = raw.gameloop;
  const keys = Object.keys(G).sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)));
  const ids = [];
  for (const k of keys) for (const id of Object.keys(G[k])) if (!ids.includes(id)) ids.push(id);
  const order = (id) => (id === 'js' ? 0 : id === 'lua' ? 1 : id.startsWith('luapool') ? 2 : 3);
  ids.sort((x, y) => order(x) - order(y));
  const rows = {};
  const headline = {};
  for (const k of keys) {
    rows[k] = {};
    for (const id of Object.keys(G[k])) {
      const c = (get) => cellSummary(raw, 'gameloop', k, id, get);
      const any = c();
      rows[k][id] = {
        entities: Number(k.slice(1)), frameMs: any, mainMs: c((r) => r.mainMs), eluMs: c((r) => r.eluActiveMs),
        perFrame: c((r) => r.perFrame), frames: any.last && any.last.frames, how: any.last && any.last.how,
        skipped: any.skipped, error: any.error,
      };
      if (Number.isFinite(rows[k][id].perFrame.median)) headline[id] = rows[k][id];
    }
  }
  return { keys, ids, rows, headline };
}

// Per-round ratio of two trial lists (x ÷ y of get(), rounds paired by index).
function roundRatio(xs, ys, get) {
  const vals = [];
  for (let r = 0; r < Math.min(xs.length, ys.length); r++) {
    const ok = (t) => t && !t.error && !t.skipped;
    const x = ok(xs[r]) ? get(xs[r]) : NaN;
    const y = ok(ys[r]) ? get(ys[r]) : NaN;
    if (Number.isFinite(x) && Number.isFinite(y) && x > 0 && y > 0) vals.push(x / y);
  }
  return summarize(vals);
}

// Fairness: the benign client alone, beside hostile jobs (same group / own groups), and the
// cost of slicing (sliceMs default vs 0). Its goals are reported, never asserted.
function analyzeFairness(raw) {
  const F = raw.fairness;
  const c = (key, id, get) => cellSummary(raw, 'fairness', key, id, get);
  const out = { scenarios: {}, slicing: null, targets: [] };
  for (const key of ['benign', 'same-group', 'groups']) {
    if (!F[key]) continue;
    const any = c(key, 'luapool');
    out.scenarios[key] = {
      jobsPerSec: any, p50Ms: c(key, 'luapool', (r) => r.p50Ms), p99Ms: c(key, 'luapool', (r) => r.p99Ms),
      maxMs: c(key, 'luapool', (r) => r.maxMs), slicesPerSec: c(key, 'luapool', (r) => r.slicesPerSec),
      hostileTimeoutsPerSec: c(key, 'luapool', (r) => r.hostileTimeoutsPerSec),
      vsBenign: key !== 'benign' && F.benign ? roundRatio(F[key].luapool || [], F.benign.luapool || [], (r) => r.jobsPerSec) : null,
      hostile: any.last ? any.last.hostile : undefined, threads: any.last && any.last.threads, states: any.last && any.last.states,
      skipped: any.skipped, error: any.error,
    };
  }
  if (F.slicing) {
    const side = (id) => {
      const any = c('slicing', id);
      return {
        jobsPerSec: any, slices: c('slicing', id, (r) => r.slices),
        // one thread, always busy: run time between two switches
        meanSliceMs: c('slicing', id, (r) => (r.slices > 0 ? r.elapsedMs / r.slices : NaN)),
        cpuMsPerJob: c('slicing', id, (r) => r.cpuMsPerJob),
        skipped: any.skipped, error: any.error, last: any.last,
      };
    };
    const on = side('luapool');
    const off = side('luapool+noslice');
    const l = on.last || off.last || {};
    out.slicing = {
      workload: l.workload, n: l.n, clients: l.clients, on, off,
      ratio: roundRatio(F.slicing.luapool || [], F.slicing['luapool+noslice'] || [], (r) => r.jobsPerSec),
      // CPU time per job with slicing ÷ without (> 1: slicing costs work)
      cpuRatio: roundRatio(F.slicing.luapool || [], F.slicing['luapool+noslice'] || [], (r) => r.cpuMsPerJob),
    };
  }
  const fm = (s, d = 2) => (s && Number.isFinite(s.median) ? `${s.median.toFixed(d)} ms${s.n > 1 ? ` (${s.min.toFixed(d)}–${s.max.toFixed(d)})` : ''}` : null);
  const p1 = (v) => `${(v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1)}%`;
  const pct = (s) => (s && Number.isFinite(s.median) ? `${p1(s.median)}${s.n > 1 ? ` (${p1(s.min)}–${p1(s.max)})` : ''}` : null);
  const why = (sc, what) => (sc ? (sc.error ? 'FAILED' : sc.skipped) : `${what} not run`);
  const same = out.scenarios['same-group'];
  const groups = out.scenarios.groups;
  const ok = (s) => s && Number.isFinite(s.median);
  out.targets.push(target('hostile jobs in the same group: benign p99 latency', '≤ 10 ms', fm(same && same.p99Ms),
    same && ok(same.p99Ms) ? same.p99Ms.median <= 10 : null, same && ok(same.p99Ms) ? undefined : why(same, 'scenario')));
  out.targets.push(target('hostile jobs in the same group: benign jobs/s vs all benign', '≥ 50%', pct(same && same.vsBenign),
    same && ok(same.vsBenign) ? same.vsBenign.median >= 0.5 : null, same && ok(same.vsBenign) ? undefined : why(same, 'scenario')));
  out.targets.push(target('hostile jobs in their own group: benign p99 latency', '≤ 5 ms', fm(groups && groups.p99Ms),
    groups && ok(groups.p99Ms) ? groups.p99Ms.median <= 5 : null, groups && ok(groups.p99Ms) ? undefined : why(groups, 'scenario')));
  const r = out.slicing && out.slicing.ratio;
  const cost = r ? { median: 1 - r.median, min: 1 - r.max, max: 1 - r.min, n: r.n } : null;
  const sl = out.slicing && out.slicing.on.slices;
  out.targets.push(target('slicing cost: CPU-bound throughput, sliceMs default vs 0, 1 thread, 2 clients', '≤ 3%', pct(cost),
    cost ? cost.median <= 0.03 : null,
    cost ? (ok(sl) ? `${Math.round(sl.median).toLocaleString('en-US')} slice switches per trial with slicing, ${out.slicing.off.slices.median ?? '–'} without` +
      (sl.median === 0 ? ' (no slicing happened: the jobs are shorter than a slice)' : '') +
      (ok(out.slicing.cpuRatio) ? `; CPU time per job with slicing ${out.slicing.cpuRatio.median >= 1 ? '+' : '−'}${pct({ median: Math.abs(out.slicing.cpuRatio.median - 1), n: 1 })}` : '') : undefined)
      : why(out.slicing && out.slicing.on, 'slicing scenario')));
  if (cost) {
    out.slicing.cost = cost;
    // a 3 % effect cannot be read off rounds that disagree by more than twice that
    const t = out.targets[out.targets.length - 1];
    if (cost.n < 2 || cost.max - cost.min > 0.06) {
      t.status = 'inconclusive';
      t.detail = `${cost.n < 2 ? 'one round only' : `the rounds disagree by ${((cost.max - cost.min) * 100).toFixed(0)} points`}, ` +
        `more than the 3% being tested (other load on the machine?); ${t.detail}`;
    }
  }
  return out;
}

function target(name, goal, measured, met, detail) {
  return { name, goal, measured, status: met === null ? 'not measured' : met ? 'met' : 'missed', detail };
}

function targets(a, result) {
  const out = [];
  const fx = (s) => (s && Number.isFinite(s.median) ? `${s.median.toFixed(2)}× (${s.min.toFixed(2)}–${s.max.toFixed(2)})` : null);
  // 1. CPU ≥ 0.95× floor per state, timeouts + memory limits on.
  for (const w of Object.keys(a.cpu)) {
    const r = a.cpu[w].vsFloor['luapool+hooks'];
    out.push(target(`CPU ${w}: luapool (timeout + memory limit on) vs standalone lua, 1 state`, '≥ 0.95×', fx(r), r ? r.median >= 0.95 : null));
  }
  // 1b. the error path: ≤ 2× the floor's cost trusted, ≤ 3× sandboxed.
  for (const w of Object.keys(a.errors || {})) {
    for (const [d, goal, what] of [['luapool+trusted', 2, 'trusted (libs: all)'], ['luapool', 3, 'sandbox']]) {
      const r = a.errors[w].costVsFloor[d];
      out.push(target(`error path ${w}: luapool ${what} cost vs standalone lua`, `≤ ${goal}×`, fx(r), r && Number.isFinite(r.median) ? r.median <= goal : null));
    }
  }
  // 2. ≥ 1.9× with 2 states on 2 cores.
  const s2 = a.scaling && a.scaling.s2 && a.scaling.s2.vsSingleFloor['luapool+hooks'];
  out.push(target(`CPU scaling: luapool 2 states (hooks on) vs one standalone lua, ${result.config.scaling.workload}(${result.config.scaling.n})`,
    '≥ 1.9×', fx(s2), s2 ? s2.median >= 1.9 : null, P < 2 ? 'machine has fewer than 2 CPUs' : undefined));
  // 3. trivial job.
  const t64 = a.trivial.c64;
  const noop = t64 && t64.luapoolVs['libuv-noop'];
  const lpJobs = t64 && t64.jobsPerSec.luapool;
  out.push(target('trivial run() vs no-op native async job (64 in flight)', '≥ 0.8×', fx(noop), noop ? noop.median >= 0.8 : null,
    noop ? undefined : `no floor hook; luapool did ${lpJobs && Number.isFinite(lpJobs.median) ? Math.round(lpJobs.median).toLocaleString('en-US') + ' jobs/s' : 'not run'} (the goal means ~300,000 where the floor is ~385,000 on 2 cores)`));
  const vw = t64 && t64.luapoolVs.wasmoon;
  out.push(target('trivial run() vs wasmoon doString (64 in flight)', '≥ 3×', fx(vw), vw ? vw.median >= 3 : null));
  const vp = t64 && t64.luapoolVs.piscina;
  out.push(target('trivial run() vs piscina + wasmoon (64 in flight)', '≥ 8×', fx(vp), vp ? vp.median >= 8 : null));
  // 4. batched calls.
  const b = a.calls && a.calls.luapoolDetail && a.calls.luapoolDetail.batched;
  const bOk = b && !b.skipped && Number.isFinite(b.callsPerSec);
  out.push(target('batched calls', '≥ 5,000,000 calls/s', bOk ? `${Math.round(b.callsPerSec).toLocaleString('en-US')} calls/s` : null,
    bOk ? b.callsPerSec >= 5e6 : null, bOk ? undefined : (b && b.skipped) || 'luapool calls not run'));
  // 5. event-loop delay.
  const hk = `h${Math.max(1, P - 1)}`;
  const h = a.health && a.health[hk] && a.health[hk].luapool && a.health[hk].luapool['loaded.eldP99Ms'];
  out.push(target(`event-loop delay p99 while the pool is saturated (default pool size, ${Math.max(1, P - 1)} state${P > 2 ? 's' : ''})`, '≤ 1 ms', h && Number.isFinite(h.median) ? `${h.median.toFixed(3)} ms (${h.min.toFixed(3)}–${h.max.toFixed(3)})` : null,
    h && Number.isFinite(h.median) ? h.median <= 1 : null));
  // 6. per-state memory.
  const m = a.memory && a.memory.luapool && a.memory.luapool.heapKBPerState;
  const f = a.memory && a.memory.lua && a.memory.lua.heapKBPerState;
  const mOk = m && f && Number.isFinite(m.median) && Number.isFinite(f.median);
  out.push(target('per-state memory (Lua heap) vs a bare state with the standard libraries', '≤ 1.5×',
    mOk ? `${(m.median / f.median).toFixed(2)}× (${m.median.toFixed(1)} KB vs ${f.median.toFixed(1)} KB)` : null, mOk ? m.median / f.median <= 1.5 : null,
    'RSS per state is shown in the memory table'));
  // 7. the issue-10 entity frame (gameloop section).
  out.push(...entityTargets(a.entities));
  // 8. the demo's frame: reported, with no threshold.
  out.push(gameLoopTarget(a.gameLoop));
  return out;
}

// Issue 10's targets on the entity frame: at the largest count, N states.
function entityTargets(en) {
  const out = [];
  const N = gameloopId('callColumns', P);
  const M = gameloopId('callMany', P);
  const last = en && en.keys[en.keys.length - 1];
  const at = (id) => en && en.rows[last] && en.rows[last][id];
  const fits = (r) => (r && Number.isFinite(r.perFrame.median) ? r.perFrame.median : null);
  const fmt = (r, v) => `${Math.round(v).toLocaleString('en-US')} entities per 16.6 ms (${r.frameMs.median.toFixed(2)} ms per ${r.entities.toLocaleString('en-US')}-entity frame)`;
  const why = (r) => (!en ? 'gameloop section not run' : !r ? 'not run' : r.error ? 'FAILED' : r.skipped || 'not run');
  const c = at(N);
  out.push(target(`entity frame through callColumns, ${P} state${P === 1 ? '' : 's'}`, '≥ 50,000 entities per frame',
    fits(c) != null ? fmt(c, fits(c)) : null, fits(c) != null ? fits(c) >= 50000 : null, fits(c) != null ? undefined : why(c)));
  const m = at(M);
  out.push(target(`entity frame through callMany (objects), ${P} state${P === 1 ? '' : 's'}`, '≥ 10,000 entities per frame',
    fits(m) != null ? fmt(m, fits(m)) : null, fits(m) != null ? fits(m) >= 10000 : null, fits(m) != null ? undefined : why(m)));
  const mm = c && c.mainMs && Number.isFinite(c.mainMs.median) ? c.mainMs : null;
  out.push(target(`main-thread CPU per frame through callColumns at ${last ? Number(last.slice(1)).toLocaleString('en-US') : '–'} entities, ${P} states`,
    '≤ 1 ms', mm ? `${mm.median.toFixed(3)} ms${mm.n > 1 ? ` (${mm.min.toFixed(3)}–${mm.max.toFixed(3)})` : ''}` : null, mm ? mm.median <= 1 : null, mm ? undefined : why(c)));
  return out;
}

// The largest entity count (of those tried) whose median p50 frame fits in 16.6 ms.
function gameLoopTarget(gl) {
  const name = 'demo frame: entities per 16.6 ms frame (examples/game-loop, unpaced, p50 frame)';
  const goal = 'reported (no fixed goal)';
  const rows = Object.values(gl || {}).filter((r) => r.frameP50 && Number.isFinite(r.frameP50.median));
  if (!rows.length) {
    const bad = Object.values(gl || {}).find((r) => r.error || r.skipped);
    return target(name, goal, null, null, bad ? (bad.error ? 'FAILED' : bad.skipped) : 'demo section not run');
  }
  const t = target(name, goal, null, null);
  t.status = 'measured';
  const fits = rows.filter((r) => r.frameP50.median <= FRAME_BUDGET_MS);
  const scriptFits = rows.filter((r) => r.scriptP50 && r.scriptP50.median <= FRAME_BUDGET_MS);
  const desc = (r) => `p50 frame ${r.frameP50.median.toFixed(2)} ms, script wait p50 ${r.scriptP50.median.toFixed(2)} ms, ` +
    `${(r.scriptShare.median * 100).toFixed(0)}% of the frame waiting on scripts`;
  const largestTried = rows[rows.length - 1];
  if (fits.length) {
    const best = fits[fits.length - 1];
    t.measured = `${best.entities.toLocaleString('en-US')} entities${best === largestTried ? ' (the largest tried)' : ''}: ${desc(best)}`;
  } else {
    t.measured = `none of the counts tried (smallest: ${rows[0].entities}: ${desc(rows[0])})`;
  }
  const detail = [];
  if (scriptFits.length && (!fits.length || scriptFits[scriptFits.length - 1] !== fits[fits.length - 1])) {
    detail.push(`script wait alone fits up to ${scriptFits[scriptFits.length - 1].entities.toLocaleString('en-US')} entities`);
  }
  // linear projection from the largest count that was measured, to show the headroom
  const r = largestTried;
  if (r.population && Number.isFinite(r.population.median)) {
    detail.push(`≈ ${Math.round((r.population.median / r.frameP50.median) * FRAME_BUDGET_MS).toLocaleString('en-US')} entities per 16.6 ms ` +
      `projected linearly from ${r.entities.toLocaleString('en-US')}`);
  }
  if (r.states) detail.push(`${r.states} state${r.states === 1 ? '' : 's'} (luapool's default)`);
  t.detail = detail.join('; ');
  return t;
}

// ---------------------------------------------------------------------------------------
// Checksums: computed once with the floor for every preset's sizes.

function updateChecksums(log) {
  const lua = resolveLua(log);
  if (!lua.bin) throw new Error(`cannot update checksums: ${lua.note}`);
  const file = path.join(WORKLOAD_DIR, 'checksums.json');
  const sums = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  const harness = path.join(BENCH_DIR, 'drivers', 'lua-harness.lua');
  const jobs = new Set();
  for (const p of Object.values(presets)) {
    for (const [w, n] of Object.entries(p.sizes)) jobs.add(`${w}:${n}`);
    if (p.errors) for (const w of ERROR_WORKLOADS) for (const n of [p.errors.n, p.errors.nSlow]) jobs.add(`${w}:${n}`);
    jobs.add(`${p.scaling.workload}:${p.scaling.n}`);
    jobs.add(`${p.health.workload}:${p.health.n}`);
    if (p.fairness) jobs.add(`${p.fairness.slicing.workload}:${p.fairness.slicing.n}`);
  }
  for (const j of jobs) {
    const [w, n] = j.split(':');
    const r = spawnSync(lua.bin, [harness, workloadPath(w), n, '1', '0'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${w}(${n}) failed: ${r.stderr}`);
    const c = JSON.parse(r.stdout.trim()).checksum;
    (sums[w] ||= {})[n] = c;
    log(`${w}(${n}) = ${c}`);
  }
  const sorted = {};
  for (const w of Object.keys(sums).sort()) {
    sorted[w] = {};
    for (const n of Object.keys(sums[w]).sort((x, y) => Number(x) - Number(y))) sorted[w][n] = sums[w][n];
  }
  fs.writeFileSync(file, JSON.stringify(sorted, null, 2) + '\n');
  log(`wrote ${path.relative(ROOT, file)}`);
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (a.includes('=')) return a.slice(a.indexOf('=') + 1);
      return argv[++i];
    };
    const name = a.split('=')[0];
    if (name === '--quick') o.quick = true;
    else if (name === '--tiny') o.tiny = true;
    else if (name === '--rounds') o.rounds = Number(val());
    else if (name === '--drivers') o.drivers = val().split(',').filter(Boolean);
    else if (name === '--workloads') o.workloads = val().split(',').filter(Boolean);
    else if (name === '--sections') o.sections = val().split(',').filter(Boolean).map((x) => SECTION_ALIASES[x] || x);
    else if (name === '--no-write') o.write = false;
    else if (name === '--write-docs') o.writeDocs = true;
    else if (name === '--out-dir') o.outDir = path.resolve(val());
    else if (name === '--update-checksums') o.updateChecksums = true;
    else if (name === '--report') o.report = val();
    else if (name === '--help' || name === '-h') o.help = true;
    else throw new Error(`unknown option ${a}`);
  }
  if (o.rounds !== undefined && !(Number.isInteger(o.rounds) && o.rounds > 0)) throw new Error('--rounds must be a positive integer');
  return o;
}

if (require.main === module) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(2, 13).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    process.exit(0);
  }
  if (o.report && !o.writeDocs && !o.outDir) {
    process.stderr.write('--report re-renders docs/benchmark.md and the chart: give --write-docs (or --out-dir DIR)\n');
    process.exit(2);
  }
  if (o.report) {
    // re-render docs/benchmark.md and bench/results/latest.svg from a saved results file
    const res = JSON.parse(fs.readFileSync(o.report, 'utf8'));
    res.analysis = analyze(res);
    // (with --out-dir DIR: DIR/benchmark.md and DIR/latest.svg)
    const outDir = o.outDir || path.join(BENCH_DIR, 'results');
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'latest.svg'), report.svg(res));
    const docPath = o.outDir ? path.join(outDir, 'benchmark.md') : path.join(ROOT, 'docs', 'benchmark.md');
    fs.writeFileSync(docPath, report.markdown(res, { svgPath: path.relative(path.dirname(docPath), path.join(outDir, 'latest.svg')) }));
    process.stderr.write(`re-rendered ${path.relative(ROOT, docPath)} and ${path.relative(ROOT, path.join(outDir, 'latest.svg'))} from ${o.report}\n`);
    process.exit(0);
  }
  if (o.updateChecksums) {
    updateChecksums((s) => process.stderr.write(s + '\n'));
    process.exit(0);
  }
  runBench(o).then((r) => {
    const mismatch = r.failures.filter((f) => /CHECKSUM MISMATCH/.test(f.error));
    for (const f of r.failures) process.stderr.write(`FAILED ${f.section} ${f.key} ${f.driver} round ${f.round}: ${String(f.error).split('\n')[0]}\n`);
    if (mismatch.length) process.stderr.write(`${mismatch.length} CHECKSUM MISMATCH(ES): a driver did not do the work it was timed for\n`);
    process.exit(r.failures.length ? 1 : 0);
  }, (e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
}

module.exports = { runBench, analyze, parseArgs, buildPlan, outputPlan, gameloopId, CPU_WORKLOADS, ERROR_WORKLOADS, ALL_DRIVERS, ALL_SECTIONS };
