'use strict';
// Driver "luapool": this package, loaded by its own name (package self-reference).
// params.opts are passed to new ScriptRunner(); CPU jobs go through runner.run(src, { args }).
const os = require('os');
const path = require('path');
const { driverMain, loadWorkload, verifyChecksum, closedLoop, nowMs, timedIterations, percentile, ROOT } = require('../lib/common');

let lp;
function luapool() {
  if (!lp) lp = require('luapool');
  return lp;
}
// opts.profileHz (the luapool+profile variant): the Lua profiler samples every state at that
// rate for the runner's whole life; close() stops it first.
function runner(opts, extra) {
  const { ScriptRunner } = luapool();
  const { profileHz, ...rest } = opts || {};
  const r = new ScriptRunner({ libs: 'safe', timeoutMs: 0, memoryLimit: 0, ...rest, ...extra });
  if (profileHz) {
    const profiling = r.profile({ sampleHz: profileHz });
    const close = r.close.bind(r);
    r.close = async (...a) => { await profiling.stop(); return close(...a); };
  }
  return r;
}
const unavailable = (what) => ({ skipped: `not available yet: ${what}` });

// The libuv floor: a no-op native async job (napi_async_work that does nothing), exported
// only as a test hook: _testing.noop(callback), or (older names) a Promise-returning
// _testHooks.noopAsync / testHooks.noopAsync / __bench.noopAsync. First match wins.
function noopHook() {
  const m = { ...luapool() };
  // the addon's test hooks are not exported: they are binding.testing of the build's native.js
  try { m._testing = m._testing || require(path.join(path.dirname(require.resolve('luapool')), 'native')).binding.testing; } catch {}
  if (m._testing && typeof m._testing.noop === 'function') {
    const noop = m._testing.noop; // noop(callback): napi_async_work with empty execute
    return () => new Promise((resolve) => noop(resolve));
  }
  return (m._testHooks && m._testHooks.noopAsync) || (m.testHooks && m.testHooks.noopAsync) ||
    (m.__bench && m.__bench.noopAsync) || null;
}
// Batched calls: one round trip, many calls. Looked up as runner.callMany / runner.callBatch
// with the shape (module, fn, argsList) -> Promise<results[]>.
function batchFn(r) {
  if (typeof r.callMany === 'function') return r.callMany.bind(r);
  if (typeof r.callBatch === 'function') return r.callBatch.bind(r);
  return null;
}

// Realistic payloads (bench/lib/payloads.js) through callMany, p.batchSize calls a batch,
// one batch per state in flight: calls/s and the main thread's CPU time per call.
async function payloadBatches(r, batch, p, states) {
  const { payload, source } = require('../lib/payloads');
  const { mainThreadCpuMs } = require('../lib/entities');
  r.define('bench/payloads', source());
  const out = {};
  for (const kind of p.payloads) {
    const [fn, arg, check] = payload(kind, p.batchSize);
    const args = Array.from({ length: p.batchSize }, (_, i) => [arg(i)]);
    const submit = async () => {
      const vals = await batch('bench/payloads', fn, args);
      check(vals[0], 0);
      check(vals[vals.length - 1], vals.length - 1);
    };
    await closedLoop(submit, { concurrency: Math.max(1, states), durationMs: p.warmupMs });
    const c0 = mainThreadCpuMs();
    const res = await closedLoop(submit, { concurrency: Math.max(1, states), durationMs: p.durationMs });
    const c1 = mainThreadCpuMs();
    const calls = res.jobs * p.batchSize;
    out[kind] = { callsPerSec: res.jobsPerSec * p.batchSize, mainUsPerCall: c0 === null ? null : ((c1 - c0) * 1000) / calls, how: `callMany, ${p.batchSize} calls a batch` };
  }
  return out;
}

// A host-call round trip: one job calls engine.nearby(i) p.hostCalls times, one after the
// other; each call suspends the job, runs the JS function on the main thread, resumes.
async function hostCallRoundTrip(p) {
  const { mainThreadCpuMs } = require('../lib/entities');
  const r = runner({}, { states: 1, threads: 1, host: { nearby: (x) => x + 1 } });
  const n = p.hostCalls;
  const src = `local s = 0 for i = 1, ${n} do s = s + engine.nearby(i) end return s`;
  const want = (n * (n + 1)) / 2 + n;
  const job = async () => { const v = await r.run(src); if (v !== want) throw new Error(`CHECKSUM MISMATCH: host calls summed to ${v}, expected ${want}`); };
  await job();
  const ms = [];
  const c0 = mainThreadCpuMs();
  for (let i = 0; i < 5; i++) { const t0 = nowMs(); await job(); ms.push(nowMs() - t0); }
  const c1 = mainThreadCpuMs();
  await r.close();
  ms.sort((a, b) => a - b);
  return { usPerCall: (ms[2] * 1000) / n, mainUsPerCall: c0 === null ? null : ((c1 - c0) * 1000) / (5 * n), how: 'engine.nearby(i) from a job, answered by a JS host function' };
}

driverMain('luapool', {
  async cpu(p) {
    const r = runner(p.opts, { states: 1 });
    const src = loadWorkload(p.workload);
    const { ms, last, warmupTotalMs } = await timedIterations(() => r.run(src, { args: [p.n], name: `${p.workload}.lua` }), {
      ...p, check: (v) => verifyChecksum('luapool', p.workload, p.n, v),
    });
    await r.close();
    return { checksum: String(last), ms, warmupTotalMs, opts: p.opts };
  },
  async trivial(p) {
    const states = p.states || os.availableParallelism();
    const r = runner(p.opts, { states });
    const res = await closedLoop(() => r.run('return 1 + 1'), {
      concurrency: p.concurrency, durationMs: p.durationMs, warmupMs: p.warmupMs,
      check: (v) => { if (v !== 2) throw new Error(`CHECKSUM MISMATCH: trivial returned ${v}`); },
    });
    await r.close();
    return { ...res, states };
  },
  // libuv floor: no Lua at all, just a native no-op async job.
  async noop(p) {
    const hook = noopHook();
    if (!hook) return unavailable('luapool exports no no-op async test hook (_testing.noop)');
    const res = await closedLoop(() => hook(), {
      concurrency: p.concurrency, durationMs: p.durationMs, warmupMs: p.warmupMs,
    });
    return res;
  },
  async calls(p) {
    const states = p.states || os.availableParallelism();
    const r = runner(p.opts, { states });
    if (typeof r.define !== 'function' || typeof r.call !== 'function') {
      await r.close();
      return unavailable('runner.define()/runner.call()');
    }
    r.define('bench/calls', loadWorkload('calls'));
    const single = await closedLoop(() => r.call('bench/calls', 'add', [1, 1]), {
      concurrency: p.concurrency, durationMs: p.durationMs, warmupMs: p.warmupMs,
      check: (v) => { if (v !== 2) throw new Error(`CHECKSUM MISMATCH: call add(1,1) returned ${v}`); },
    });
    const out = { callsPerSecOneCallPerJob: single.jobsPerSec, callP50Ms: single.p50Ms, callP99Ms: single.p99Ms };
    const batch = batchFn(r);
    if (!batch) {
      out.batched = unavailable('batched calls (runner.callMany/callBatch)');
    } else {
      const args = Array.from({ length: p.batchSize }, (_, i) => [i, 1]);
      const want = (p.batchSize * (p.batchSize - 1)) / 2 + p.batchSize;
      const res = await closedLoop(async () => {
        const vals = await batch('bench/calls', 'add', args);
        let s = 0;
        for (const v of vals) s += v;
        return s;
      }, {
        concurrency: Math.max(1, states), durationMs: p.durationMs, warmupMs: p.warmupMs,
        check: (v) => { if (v !== want) throw new Error(`CHECKSUM MISMATCH: batched sum ${v}, expected ${want}`); },
      });
      out.batched = { batchSize: p.batchSize, callsPerSec: res.jobsPerSec * p.batchSize, batchP50Ms: res.p50Ms };
      if (p.payloads) out.payloads = await payloadBatches(r, batch, p, states);
    }
    if (p.hostCalls) out.hostCall = await hostCallRoundTrip(p);
    await r.close();
    return { ...out, callsPerSec: out.batched && out.batched.callsPerSec || single.jobsPerSec, states };
  },
  async scaling(p) {
    const r = runner(p.opts, { states: p.states });
    const src = loadWorkload(p.workload);
    const job = () => r.run(src, { args: [p.n] });
    const w0 = nowMs();
    do await Promise.all(Array.from({ length: p.states }, job)); while (nowMs() - w0 < (p.warmupMs || 0));
    const jobs = p.states * p.jobsPerState;
    const t0 = nowMs();
    const res = await Promise.all(Array.from({ length: jobs }, job));
    const elapsed = nowMs() - t0;
    for (const v of res) verifyChecksum('luapool', p.workload, p.n, v);
    await r.close();
    return { states: p.states, jobs, elapsedMs: elapsed, jobsPerSec: (jobs / elapsed) * 1000 };
  },
  async health(p) {
    const states = p.states || os.availableParallelism();
    const r = runner(p.opts, { states });
    const src = loadWorkload(p.workload);
    await r.run('return 1');
    const { measureHealth } = require('../lib/health');
    const res = await measureHealth({
      durationMs: p.durationMs,
      startLoad: () => {
        let stop = false;
        let done = 0;
        const lanes = Array.from({ length: states * 2 }, async () => {
          while (!stop) { verifyChecksum('luapool', p.workload, p.n, await r.run(src, { args: [p.n] })); done++; }
        });
        return async () => { stop = true; await Promise.all(lanes); return { jobsDone: done }; };
      },
    });
    await r.close();
    return { ...res, states, uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE) || 4 };
  },
  // The game-loop frame: the examples/game-loop world (behaviours in Lua through callColumns,
  // sensed and submitted a chunk of rows at a time), stepped unpaced with a fixed 1/60 s timestep.
  async gameloop(p) {
    const { World } = require(path.join(ROOT, 'examples', 'game-loop', 'world.js'));
    const world = new World({ entities: p.entities, states: p.states, seed: 1 });
    const budgetMs = p.budgetMs || 1000 / 60;
    let firstError;
    world.on('script-error', (name, err) => { if (!firstError) firstError = `${name}: ${String(err && err.message || err).split('\n')[0]}`; });
    const frameMs = [];
    const scriptMs = [];
    const population = [];
    let states;
    let parallelism;
    let elapsedMs;
    try {
      states = world.runner.states;
      parallelism = world.runner.parallelism;
      for (let f = 0; f < (p.warmupFrames || 0); f++) await world.step(1 / 60);
      const t0 = nowMs();
      while (frameMs.length < p.frames && (frameMs.length === 0 || nowMs() - t0 < p.maxMs)) {
        const r = await world.step(1 / 60);
        frameMs.push(r.frameMs);
        scriptMs.push(r.scriptMs);
        population.push(r.entities);
      }
      elapsedMs = nowMs() - t0;
    } finally {
      await world.close();
    }
    // a failed batch does less work than a good one: it must fail the trial, not win it
    if (world.scriptErrors) throw new Error(`game-loop: ${world.scriptErrors} behaviour batch(es) failed, first: ${firstError}`);
    const pct = (v) => {
      const s = [...v].sort((a, b) => a - b);
      return { p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1], mean: v.reduce((a, b) => a + b, 0) / v.length };
    };
    const sum = (v) => v.reduce((a, b) => a + b, 0);
    return {
      entities: p.entities, states, parallelism, frames: frameMs.length, elapsedMs,
      framesPerSec: (frameMs.length / elapsedMs) * 1000,
      frameMs: pct(frameMs), scriptMs: pct(scriptMs),
      scriptShare: sum(scriptMs) / sum(frameMs),
      overBudget: frameMs.filter((x) => x > budgetMs).length,
      population: { start: population[0], end: population[population.length - 1], mean: sum(population) / population.length },
    };
  },
  // The gameloop section: the issue-10 entity behaviour (bench/workloads/entity.lua) for
  // p.entities entities per frame, through callMany (one [entity, dt] per entity, six fields
  // back, applied to the objects) or callColumns (the fields as typed arrays, written in
  // place), on p.states states (one thread each).
  async entities(p) {
    const E = require('../lib/entities');
    const r = runner({}, { states: p.states, threads: p.states, ...(p.opts || {}) });
    r.define('bench/entity', E.behaviour());
    const n = p.entities;
    let frame, read, how;
    if (p.path === 'callColumns') {
      const columns = E.makeColumns(E.makeEntities(n));
      const opts = { args: [E.DT], readonly: E.READONLY };
      frame = () => r.callColumns('bench/entity', 'step', columns, opts);
      read = (i, f) => columns[f][i];
      how = `runner.callColumns('bench/entity', 'step', columns, { args: [dt], readonly }) on 12 typed arrays in one SharedArrayBuffer`;
    } else {
      const es = E.makeEntities(n);
      frame = async () => {
        const out = await r.callMany('bench/entity', 'update', es.map((e) => [e, E.DT]));
        for (let i = 0; i < n; i++) {
          const e = es[i], o = out[i];
          e.x = o.x; e.y = o.y; e.vx = o.vx; e.vy = o.vy; e.energy = o.energy; e.state = o.state;
        }
      };
      read = (i, f) => es[i][f];
      how = "runner.callMany('bench/entity', 'update', entities.map((e) => [e, dt])), the 6 fields applied to the objects";
    }
    try {
      const t = await E.timeFrames(frame, p);
      const checksum = E.verify(`luapool ${p.path}`, n, t.framesRun, E.checksumOf(n, read));
      return E.frameResult(n, t, { checksum, states: r.states, threads: r.parallelism, path: p.path, how });
    } finally {
      await r.close();
    }
  },
  // Fairness (luapool only: no peer time-slices a running job). A fresh runner with the
  // default options plus p.opts (timeoutMs: 50, and sliceMs/threads for the slicing
  // scenario). Scenarios:
  //   benign:  one client, `return 1` in a closed loop (one in flight), submit -> settle;
  //   hostile: the same client while p.hostile clients each keep `while true do end` in
  //            flight (resubmitted when it settles with TimeoutError), in p.hostileGroup
  //            and p.benignGroup (absent: the runner's default group);
  //   slicing: p.clients clients each run p.workload(p.n) in a closed loop; total jobs/s.
  async fairness(p) {
    const { ScriptRunner, TimeoutError, CancelledError } = luapool();
    const r = new ScriptRunner({ ...p.opts });
    const slices = () => r.stats().slices;
    const base = { scenario: p.scenario, threads: r.parallelism, states: r.states, opts: p.opts };
    if (p.scenario === 'slicing') {
      const src = loadWorkload(p.workload);
      const loop = (ms) => closedLoop(() => r.run(src, { args: [p.n], name: `${p.workload}.lua` }), {
        concurrency: p.clients, durationMs: ms, check: (v) => verifyChecksum('luapool', p.workload, p.n, v),
      });
      if (p.warmupMs > 0) await loop(p.warmupMs);
      const s0 = slices();
      const cpu0 = process.cpuUsage();
      const res = await loop(p.durationMs);
      const cpu = process.cpuUsage(cpu0);
      const s1 = slices();
      await r.close();
      // CPU time of the whole process (every thread) per job: what slicing costs in work,
      // less sensitive than jobs/s to other processes taking the CPUs
      return { ...base, ...res, workload: p.workload, n: p.n, clients: p.clients, slices: s1 - s0,
        cpuMsPerJob: (cpu.user + cpu.system) / 1000 / res.jobs };
    }
    const stop = new AbortController();
    let hostileTimeouts = 0;
    let hostileStarted = 0;
    const hostileOpts = { signal: stop.signal, ...(p.hostileGroup ? { group: p.hostileGroup } : {}) };
    const hostileClient = async () => {
      while (!stop.signal.aborted) {
        hostileStarted++;
        try {
          await r.run('while true do end', hostileOpts);
        } catch (e) {
          if (e instanceof TimeoutError) { hostileTimeouts++; continue; }
          if (e instanceof CancelledError && stop.signal.aborted) return;
          throw e;
        }
        throw new Error('a hostile job returned');
      }
    };
    const hostile = Array.from({ length: p.hostile || 0 }, hostileClient);
    // let every hostile job start (and the slice tick run) before the benign client starts
    if (hostile.length) await new Promise((res) => setTimeout(res, p.rampMs || 0));
    const benignOpts = p.benignGroup ? { group: p.benignGroup } : {};
    const s0 = slices();
    const t0 = hostileTimeouts;
    let res;
    try {
      res = await closedLoop(() => r.run('return 1', benignOpts), {
        concurrency: 1, durationMs: p.durationMs, warmupMs: p.warmupMs,
        check: (v) => { if (v !== 1) throw new Error(`CHECKSUM MISMATCH: benign job returned ${v}`); },
      });
    } finally {
      stop.abort();
    }
    const s1 = slices();
    const t1 = hostileTimeouts;
    await Promise.all(hostile);
    await r.close({ force: true });
    const sec = (res.elapsedMs + (p.warmupMs || 0)) / 1000;
    return {
      ...base, ...res, hostile: hostile.length, hostileGroup: p.hostileGroup, benignGroup: p.benignGroup,
      // over the benign client's warm-up + measured window
      slices: s1 - s0, slicesPerSec: (s1 - s0) / sec, hostileTimeoutsPerSec: (t1 - t0) / sec, hostileStarted,
    };
  },
  async memory(p) {
    luapool();
    global.gc && global.gc();
    const warm = runner(p.opts, { states: 1 });
    await warm.run('return 1');
    await warm.close();
    global.gc && global.gc();
    const rss0 = process.memoryUsage().rss;
    const r = runner(p.opts, { states: p.count });
    // touch every state: concurrent jobs that each hold their state for a few ms
    const spin = 'local t = os.clock() while os.clock() - t < 0.003 do end ' +
      'local ok, kb = pcall(collectgarbage, "count") return ok and kb or -1';
    const heaps = await Promise.all(Array.from({ length: p.count * 3 }, () => r.run(spin)));
    global.gc && global.gc();
    const rss1 = process.memoryUsage().rss;
    let stats;
    try { stats = typeof r.stats === 'function' ? r.stats() : undefined; } catch { stats = undefined; }
    await r.close();
    const h = heaps.filter((x) => x > 0).sort((a, b) => a - b);
    // runner.stats().states[i].memory: bytes the state's allocator holds (all states, used or not)
    const st = stats && Array.isArray(stats.states) ? stats.states.map((x) => Number(x.memory) / 1024).filter((x) => x > 0).sort((a, b) => a - b) : [];
    return {
      states: p.count, rssKBPerState: (rss1 - rss0) / 1024 / p.count,
      heapKBPerState: st.length ? st[st.length >> 1] : h.length ? h[h.length >> 1] : null,
      heapSource: st.length ? 'stats().states[].memory (median)' : 'collectgarbage("count") in a job',
      heapKBInJob: h.length ? h[h.length >> 1] : null,
      statesUsed: stats && Array.isArray(stats.states) ? stats.states.filter((x) => x.jobs > 0).length : undefined,
    };
  },
});
