#!/usr/bin/env node
// multi (the seeds' script_multi_demo): many concurrent jobs stress the pool. Every job is
// submitted at once, through all three delivery modes (promise, callback, ActionQueue), with
// a mix of workloads; the results are checked and the throughput and the pool's wait/run
// percentiles (runner.stats()) reported. A last phase shows back-pressure with maxQueue.
//
//   node examples/multi/main.js [--jobs 4000] [--states N]
'use strict';
const { parseArgs } = require('util');
const { performance } = require('perf_hooks');
const { ScriptRunner, ActionQueue, QueueFullError } = require('luapool');

const WORKLOADS = [
  // [name, source, args(i), expected(i)]
  ['fib', 'local n = ... local function fib(k) if k < 2 then return k end return fib(k-1) + fib(k-2) end return fib(n)',
    (i) => [10 + (i % 8)], (i) => fibJs(10 + (i % 8))],
  ['sort', 'local n = ... local t = {} for i = 1, n do t[i] = (i * 7919) % n end table.sort(t) return t[1] + t[n]',
    (i) => [200 + (i % 100)], (i) => 299 + (i % 100) - 100],
  ['strings', 'local n = ... local p = {} for i = 1, n do p[#p + 1] = tostring(i) end return #table.concat(p, ",")',
    (i) => [100 + (i % 50)], (i) => joinedLength(100 + (i % 50))],
  ['trivial', 'return ... + 1', (i) => [i], (i) => i + 1],
];

function fibJs(n) { return n < 2 ? n : fibJs(n - 1) + fibJs(n - 2); }
function joinedLength(n) { let s = 0; for (let i = 1; i <= n; i++) s += String(i).length; return s + n - 1; }
const fmt = (p) => `p50 ${p.p50.toFixed(3)}  p90 ${p.p90.toFixed(3)}  p99 ${p.p99.toFixed(3)}  max ${p.max.toFixed(3)} ms`;

function options() {
  let v;
  try {
    v = parseArgs({ options: { jobs: { type: 'string' }, states: { type: 'string' } } }).values;
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const int = (name, fallback) => {
    if (v[name] === undefined) return fallback;
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--${name} must be a positive integer, got '${v[name]}'`);
      process.exit(2);
    }
    return n;
  };
  return { jobs: int('jobs', 4000), states: int('states', undefined) };
}

async function main() {
  const o = options();
  const actions = new ActionQueue();
  const runner = new ScriptRunner({ states: o.states, actions, timeoutMs: 5000 });
  console.log(`multi: ${o.jobs} jobs at once on ${runner.states} states (parallelism ${runner.parallelism}), ` +
    `workloads ${WORKLOADS.map((w) => w[0]).join('/')}, delivered by promise/callback/ActionQueue`);

  const expected = new Map();
  let ok = 0;
  let wrong = 0;
  const check = (i, value) => { if (value === expected.get(i)) ok++; else wrong++; };
  const promises = [];
  let callbacks = 0;
  let callbackDone;
  const callbacksDone = new Promise((resolve) => { callbackDone = resolve; });
  let wantCallbacks = 0;
  const started = performance.now();
  for (let i = 0; i < o.jobs; i++) {
    const [name, source, args, want] = WORKLOADS[i % WORKLOADS.length];
    expected.set(i, want(i));
    const job = { args: args(i), name: `${name}.lua` };
    switch (i % 3) {
      case 0:
        promises.push(runner.run(source, job).then((v) => check(i, v)));
        break;
      case 1:
        wantCallbacks++;
        runner.enqueue(source, {
          ...job,
          callback: (err, v) => {
            if (err) wrong++; else check(i, v);
            if (++callbacks === wantCallbacks) callbackDone();
          },
        });
        break;
      default:
        runner.enqueue(source, { ...job, ctx: i, deliver: 'actions' });
    }
  }
  const submitted = performance.now();
  const peakQueue = runner.stats().queued;
  // The main thread drains the ActionQueue like a game loop would, once per "frame".
  let viaActions = 0;
  const wantActions = o.jobs - promises.length - wantCallbacks;
  while (viaActions < wantActions) {
    await new Promise((resolve) => setTimeout(resolve, 4));
    for (const a of actions.drain()) {
      if (a.type === 'result') { viaActions++; check(a.ctx, a.value); }
      else if (a.type === 'error') { viaActions++; wrong++; }
    }
  }
  await Promise.all(promises);
  if (wantCallbacks > 0) await callbacksDone;
  const seconds = (performance.now() - started) / 1000;
  const s = runner.stats();
  console.log(`submitted ${o.jobs} jobs in ${(submitted - started).toFixed(1)} ms (queue depth after submit: ${peakQueue})`);
  console.log(`completed ${ok + wrong} jobs in ${seconds.toFixed(3)} s: ${Math.round(o.jobs / seconds)} jobs/s`);
  console.log(`results: ${ok} correct, ${wrong} wrong`);
  console.log(`wait ms (last ${Math.min(1024, s.completed)} jobs): ${fmt(s.waitMs)}`);
  console.log(`run ms  (last ${Math.min(1024, s.completed)} jobs): ${fmt(s.runMs)}`);
  s.states.forEach((st, i) => {
    console.log(`state ${i}: ${st.jobs} jobs, memory ${(st.memory / 1024).toFixed(0)} KiB (peak ${(st.peakMemory / 1024).toFixed(0)} KiB), ` +
      `${st.gcSteps} GC steps`);
  });
  await runner.close();

  // Back-pressure: a bounded queue rejects what does not fit instead of growing for ever.
  const bounded = new ScriptRunner({ states: 1, maxQueue: 16 });
  const burst = await Promise.allSettled(Array.from({ length: 100 }, () =>
    bounded.run('local t = os.clock() while os.clock() - t < 0.001 do end return true')));
  const rejected = burst.filter((r) => r.status === 'rejected' && r.reason instanceof QueueFullError).length;
  console.log(`back-pressure: 100 jobs into maxQueue 16: ${100 - rejected} ran, ${rejected} rejected with QueueFullError`);
  await bounded.close();
  if (wrong > 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
