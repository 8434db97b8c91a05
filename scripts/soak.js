#!/usr/bin/env node
// Soak test: many mixed jobs (one in ten hostile) through a 2-state pool with a time budget
// and a memory limit. Prints RSS at the start, after warm-up, every 10 % and at the end, plus
// counts per outcome; exits non-zero when RSS at the end exceeds RSS after warm-up by more
// than the threshold, when a benign job fails, or when a hostile job ends with the wrong class.
//
//   node scripts/soak.js [--jobs N] [--concurrency C] [--threshold-mb M] [--stall-s S]
'use strict';
const path = require('path');
const v8 = require('v8');
const vm = require('vm');

const args = process.argv.slice(2);
function flag(name, fallback) {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`${name} needs a positive number`);
    process.exit(2);
  }
  return v;
}
const JOBS = Math.floor(flag('--jobs', 100000));
const CONCURRENCY = Math.floor(flag('--concurrency', 32));
const THRESHOLD_MB = flag('--threshold-mb', 50);
const STALL_S = flag('--stall-s', 60);  // no job settled for this long: report a hang and stop
const WARMUP = Math.min(5000, Math.max(1, Math.floor(JOBS / 20)));

// A full GC of the JS heap before each RSS sample keeps garbage from hiding or faking a leak.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const {
  ScriptRunner, ActionQueue, LuaError, TimeoutError, MemoryLimitError, MarshalError,
} = require(path.join(__dirname, '..'));

const MiB = 1 << 20;
const TIMEOUT_MS = 1000;       // runner budget for every job
const HOSTILE_TIMEOUT_MS = 20; // budget of the CPU-bound hostile jobs
const MEMORY_LIMIT = 16 * MiB;

const BENIGN = [
  { name: 'arith', src: 'local a, b = ... return a * b + 1', args: (i) => [i, 3], expect: (i) => i * 3 + 1 },
  {
    name: 'table',
    src: 'local n = ... local t = {} for i = 1, 200 do t[i] = i * n end local s = 0 for _, v in ipairs(t) do s = s + v end return s',
    args: (i) => [i % 100], expect: (i) => 20100 * (i % 100),
  },
  {
    name: 'string',
    src: 'local s = ... return (s:rep(3, "-"):upper():gsub("A", "4"))',
    args: () => ['abc'], expect: () => '4BC-4BC-4BC',
  },
  {
    name: 'marshal',
    src: 'local t = ... t.sum = 0 for _, v in ipairs(t.items) do t.sum = t.sum + v end return t',
    args: (i) => [{ id: i, items: [1, 2, 3, 4] }], check: (v, i) => v.id === i && v.sum === 10 && v.items.length === 4,
  },
  {
    name: 'coroutine',
    src: 'local co = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end) return co(1) + co(5)',
    expect: () => 12,
  },
  { name: 'env', src: 'return x + y', env: (i) => ({ x: i, y: 1 }), expect: (i) => i + 1 },
  {
    name: 'log',
    src: 'engine.log("info", "job", ...) engine.post("tick", { n = ... }) return true',
    args: (i) => [i], expect: () => true,
  },
  { name: 'pcall', src: 'local ok, e = pcall(error, { code = 1 }) return (not ok) and e.code', expect: () => 1 },
];

const HOSTILE = [
  { name: 'endless loop', src: 'while true do end', timeoutMs: HOSTILE_TIMEOUT_MS, expect: TimeoutError },
  { name: 'pcall loop', src: 'while true do pcall(function() while true do end end) end', timeoutMs: HOSTILE_TIMEOUT_MS, expect: TimeoutError },
  {
    name: 'coroutine ping-pong',
    src: 'local co = coroutine.wrap(function() while true do coroutine.yield() end end) while true do co() end',
    timeoutMs: HOSTILE_TIMEOUT_MS, expect: TimeoutError,
  },
  { name: 'pattern', src: 'return string.find(("a"):rep(300), ("a*"):rep(6) .. "b")', timeoutMs: HOSTILE_TIMEOUT_MS, expect: TimeoutError },
  { name: 'table bomb', src: 'local t = {} while true do t[#t + 1] = {} end', expect: MemoryLimitError },
  { name: 'string bomb', src: 'local s = "x" while true do s = s .. s end', expect: MemoryLimitError },
  {
    name: 'caught memory bomb',
    src: 'local k = {} while true do pcall(function() local t = {} while true do t[#t + 1] = {} end end) k[#k + 1] = {} end',
    expect: MemoryLimitError,
  },
  { name: 'error table', src: 'error({ code = 42, msg = ("m"):rep(100) })', expect: LuaError },
  { name: 'stack overflow', src: 'local function f() return 1 + f() end return f()', expect: [LuaError, MemoryLimitError] },
  { name: 'C stack', src: 'local function f() return coroutine.wrap(f)() end return f()', expect: LuaError },
  { name: 'bad result', src: 'return { f = print }', expect: MarshalError },
  { name: 'deep result', src: 'local t = {} for i = 1, 1000 do t = { t } end return t', expect: MarshalError },
  { name: 'sandbox', src: 'return os.execute("true")', expect: LuaError },
];

function rssMb() {
  gc();
  return process.memoryUsage().rss / MiB;
}
const fmt = (mb) => `${mb.toFixed(1)} MB`;

async function main() {
  const actions = new ActionQueue();
  const runner = new ScriptRunner({ states: 2, timeoutMs: TIMEOUT_MS, memoryLimit: MEMORY_LIMIT, actions });
  const counts = new Map();
  const wrong = [];
  const bump = (key) => counts.set(key, (counts.get(key) || 0) + 1);

  const rssStart = rssMb();
  console.log(`soak: ${JOBS} jobs, 1 in 10 hostile, states: 2, timeoutMs: ${TIMEOUT_MS} (hostile CPU jobs ${HOSTILE_TIMEOUT_MS}),`
    + ` memoryLimit: ${MEMORY_LIMIT / MiB} MiB, concurrency ${CONCURRENCY}`);
  console.log(`rss start: ${fmt(rssStart)}`);

  let rssWarm;
  let next = 0;
  let done = 0;
  const started = Date.now();
  let nextReport = Math.ceil(JOBS / 10);

  async function one(i) {
    const hostile = i % 10 === 9;
    if (hostile) {
      const h = HOSTILE[Math.floor(i / 10) % HOSTILE.length];
      try {
        const v = await runner.run(h.src, h.timeoutMs ? { timeoutMs: h.timeoutMs } : undefined);
        bump(`hostile ${h.name}: ok (!)`);
        wrong.push(`${h.name}: succeeded with ${JSON.stringify(v)}`);
      } catch (e) {
        const classes = Array.isArray(h.expect) ? h.expect : [h.expect];
        bump(`hostile ${h.name}: ${e.name}`);
        if (!classes.some((C) => e instanceof C)) wrong.push(`${h.name}: ${e.name}: ${String(e.message).slice(0, 200)}`);
      }
    } else {
      const b = BENIGN[i % BENIGN.length];
      const options = {};
      if (b.args) options.args = b.args(i);
      if (b.env) options.env = b.env(i);
      try {
        const v = await runner.run(b.src, options);
        const ok = b.check ? b.check(v, i) : v === b.expect(i);
        if (ok) bump(`benign ${b.name}: ok`);
        else {
          bump(`benign ${b.name}: WRONG VALUE`);
          wrong.push(`${b.name}#${i}: got ${JSON.stringify(v)}`);
        }
      } catch (e) {
        bump(`benign ${b.name}: ${e.name}`);
        wrong.push(`${b.name}#${i}: ${e.name}: ${String(e.message).slice(0, 200)}`);
      }
    }
    done++;
    lastProgress = Date.now();
    if (done % 1000 === 0) actions.drain();
  }

  // A job that never settles (a lost interrupt, an uninterruptible C loop) must not make
  // the soak hang silently: report it and stop.
  let lastProgress = Date.now();
  const stall = setInterval(() => {
    if (Date.now() - lastProgress < STALL_S * 1000) return;
    console.log(`\nFAIL: no job settled for ${STALL_S} s after ${done} of ${JOBS} jobs (a job hangs)`);
    console.log('stats:', JSON.stringify(runner.stats()));
    for (const [k, v] of [...counts.entries()].sort()) console.log(`  ${String(v).padStart(7)}  ${k}`);
    // process.exit() can wait for the stuck worker thread in the addon's cleanup: kill hard.
    process.kill(process.pid, 'SIGKILL');
  }, 1000);
  stall.unref();

  async function worker() {
    while (next < JOBS) {
      const i = next++;
      await one(i);
      if (rssWarm === undefined && done >= WARMUP) {
        rssWarm = rssMb();
        console.log(`rss after warm-up (${done} jobs): ${fmt(rssWarm)}`);
      }
      if (done >= nextReport) {
        const pct = Math.round((done / JOBS) * 100);
        nextReport += Math.ceil(JOBS / 10);
        const st = runner.stats();
        const lua = st.states.map((s) => `${((s.memory ?? s.memoryInUse ?? 0) / 1024).toFixed(0)} KiB`).join(', ');
        console.log(`${String(pct).padStart(3)} %  ${String(done).padStart(7)} jobs  rss ${fmt(rssMb())}  `
          + `${((Date.now() - started) / 1000).toFixed(1)} s  lua states: ${lua}`);
      }
    }
  }

  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  clearInterval(stall);
  actions.drain();
  const elapsed = (Date.now() - started) / 1000;
  const st = runner.stats();
  await runner.close();
  const rssEnd = rssMb();
  if (rssWarm === undefined) rssWarm = rssEnd;

  console.log(`\n${JOBS} jobs in ${elapsed.toFixed(1)} s (${Math.round(JOBS / elapsed)} jobs/s)`);
  console.log('outcomes:');
  for (const [k, v] of [...counts.entries()].sort()) console.log(`  ${String(v).padStart(7)}  ${k}`);
  console.log('per state:', JSON.stringify(st.states));
  console.log(`rss start ${fmt(rssStart)}, after warm-up ${fmt(rssWarm)}, end ${fmt(rssEnd)}`
    + ` (end - warm-up = ${(rssEnd - rssWarm).toFixed(1)} MB, threshold ${THRESHOLD_MB} MB)`);

  let failed = false;
  if (rssEnd - rssWarm > THRESHOLD_MB) {
    console.log(`FAIL: RSS grew by ${(rssEnd - rssWarm).toFixed(1)} MB after warm-up`);
    failed = true;
  }
  if (wrong.length > 0) {
    console.log(`FAIL: ${wrong.length} jobs ended wrongly; first ones:`);
    for (const w of wrong.slice(0, 20)) console.log(`  ${w}`);
    failed = true;
  }
  if (!failed) console.log('PASS');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
