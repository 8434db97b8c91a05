'use strict';
// Helpers shared by the orchestrator and the drivers (no dependencies).
const fs = require('fs');
const path = require('path');

const BENCH_DIR = path.resolve(__dirname, '..');
const ROOT = path.resolve(BENCH_DIR, '..');
const WORKLOAD_DIR = path.join(BENCH_DIR, 'workloads');

function workloadPath(name) {
  if (!/^[a-z][a-z0-9_-]*$/.test(name)) throw new Error(`bad workload name ${name}`);
  return path.join(WORKLOAD_DIR, `${name}.lua`);
}
function loadWorkload(name) {
  return fs.readFileSync(workloadPath(name), 'utf8');
}
// For engines that have no way to pass `...` to a chunk (wasmoon doString, fengari
// luaL_dostring), the chunk body becomes a vararg function called with the same argument
// string the standalone interpreter gets from its command line.
function wrapVararg(src, args) {
  const lit = args.map((a) => JSON.stringify(String(a))).join(', ');
  return `return (function(...)\n${src}\nend)(${lit})`;
}

let checksumCache = null;
function checksums() {
  if (!checksumCache) checksumCache = JSON.parse(fs.readFileSync(path.join(WORKLOAD_DIR, 'checksums.json'), 'utf8'));
  return checksumCache;
}
function expectedChecksum(workload, n) {
  const w = checksums()[workload];
  if (!w || !(String(n) in w)) return undefined;
  return w[String(n)];
}
// Throws unless `got` (any driver's result, converted with String()) matches the known value.
function verifyChecksum(driver, workload, n, got) {
  const want = expectedChecksum(workload, n);
  if (want === undefined) {
    throw new Error(`no known checksum for ${workload}(${n}) in bench/workloads/checksums.json ` +
      `(run: node bench/run.js --update-checksums)`);
  }
  if (String(got) !== String(want)) {
    throw new Error(`CHECKSUM MISMATCH: ${driver} ${workload}(${n}) returned ${String(got)}, expected ${want}`);
  }
  return true;
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}
function median(values) {
  const s = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
function summarize(values) {
  const v = values.filter((x) => Number.isFinite(x));
  if (!v.length) return null;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

// Closed loop: `concurrency` lanes each submit a job as soon as their previous one settles,
// for durationMs after warmupMs. submit() may return a value or a Promise; check(value)
// throws on a wrong result. Returns jobs/s and latency percentiles (ms).
async function closedLoop(submit, { concurrency, durationMs, warmupMs = 0, check }) {
  async function phase(ms, record) {
    const lat = [];
    let done = 0;
    const t0 = nowMs();
    let stop = false;
    async function lane() {
      while (!stop) {
        const s = nowMs();
        const v = await submit();
        const e = nowMs();
        if (check) check(v);
        if (record) lat.push(e - s);
        done++;
        if (e - t0 >= ms) stop = true;
      }
    }
    const lanes = [];
    for (let i = 0; i < concurrency; i++) lanes.push(lane());
    await Promise.all(lanes);
    return { done, elapsed: nowMs() - t0, lat };
  }
  if (warmupMs > 0) await phase(warmupMs, false);
  const { done, elapsed, lat } = await phase(durationMs, true);
  lat.sort((a, b) => a - b);
  return {
    jobs: done,
    elapsedMs: elapsed,
    jobsPerSec: (done / elapsed) * 1000,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    maxMs: lat[lat.length - 1],
  };
}

// Runs fn() untimed until at least `warmup` calls AND `warmupMs` have passed (WebAssembly
// and JS engines tier up hot code only after a while: wasmoon's fib gets 4x faster after
// its first ~200 ms), then `iters` timed calls. check(value) verifies each result.
async function timedIterations(fn, { iters, warmup = 0, warmupMs = 0, check }) {
  const w0 = nowMs();
  let last;
  for (let i = 0; i < warmup || (warmup > 0 && nowMs() - w0 < warmupMs); i++) {
    last = await fn();
    if (check) check(last);
  }
  const ms = [];
  for (let i = 0; i < iters; i++) {
    const t0 = nowMs();
    last = await fn();
    const t1 = nowMs();
    if (check) check(last);
    ms.push(t1 - t0);
  }
  return { ms, last, warmupTotalMs: nowMs() - w0 - ms.reduce((a, b) => a + b, 0) };
}

function parseDriverArgs() {
  const raw = process.argv[2];
  if (!raw) throw new Error('driver: missing JSON argument');
  return JSON.parse(raw);
}
function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
// Standard driver main: runs handler(params), prints one JSON line, exits.
function driverMain(driver, handlers) {
  const params = parseDriverArgs();
  const h = handlers[params.mode];
  const base = { driver, mode: params.mode, workload: params.workload, n: params.n };
  (async () => {
    if (!h) return emit({ ...base, skipped: `mode ${params.mode} not supported by ${driver}` });
    const r = await h(params);
    emit({ ...base, ...r });
  })().then(
    () => process.exit(0),
    (err) => {
      emit({ ...base, error: String(err && err.stack || err) });
      process.exit(1);
    },
  );
}

module.exports = {
  BENCH_DIR, ROOT, WORKLOAD_DIR, workloadPath, loadWorkload, wrapVararg, checksums,
  expectedChecksum, verifyChecksum, percentile, median, summarize, nowMs, closedLoop, timedIterations,
  parseDriverArgs, emit, driverMain,
};
