'use strict';
// Driver "wasmoon": Lua 5.4 compiled to WebAssembly, on the main thread (LuaFactory, doString).
const { driverMain, loadWorkload, wrapVararg, verifyChecksum, closedLoop, nowMs, timedIterations } = require('../lib/common');
const { doString, serial } = require('../lib/wasmoon-util');

async function engine() {
  const { LuaFactory } = require('wasmoon');
  return new LuaFactory().createEngine();
}

// Realistic payloads: one synchronous call per payload through a function proxy, with
// enableProxy: false (values copied to Lua and back: the faster way here), for p.durationMs.
async function payloadCalls(p) {
  const { payload, source } = require('../lib/payloads');
  const { LuaFactory } = require('wasmoon');
  const e = await new LuaFactory().createEngine({ enableProxy: false });
  await doString(e, `P = (function() ${source()} end)()`);
  const out = {};
  for (const kind of p.payloads) {
    const [fn, arg, check] = payload(kind, 100);
    const values = Array.from({ length: 100 }, (_, i) => arg(i));
    const f = e.global.get('P')[fn];
    const run = (ms) => {
      const t0 = nowMs();
      let n = 0;
      while (nowMs() - t0 < ms) for (let i = 0; i < 100; i++, n++) check(f(values[i]), i);
      return { n, ms: nowMs() - t0 };
    };
    run(p.warmupMs);
    const r = run(p.durationMs);
    out[kind] = { callsPerSec: (r.n / r.ms) * 1000, mainUsPerCall: (r.ms * 1000) / r.n, how: 'a function proxy call per payload, enableProxy: false (main thread)' };
  }
  e.global.close();
  return out;
}

// engine.nearby(i) from Lua: a JS function set as a global, called p.hostCalls times.
async function hostCalls(p) {
  const e = await engine();
  e.global.set('nearby', (x) => x + 1);
  const n = p.hostCalls;
  const src = `local s = 0 for i = 1, ${n} do s = s + nearby(i) end return s`;
  const want = (n * (n + 1)) / 2 + n;
  const ms = [];
  for (let i = 0; i < 6; i++) {
    const t0 = nowMs();
    const v = await doString(e, src);
    if (i) ms.push(nowMs() - t0);
    if (v !== want) throw new Error(`CHECKSUM MISMATCH: host calls summed to ${v}`);
  }
  e.global.close();
  ms.sort((a, b) => a - b);
  const us = (ms[2] * 1000) / n;
  return { usPerCall: us, mainUsPerCall: us, how: 'a JS function set as a Lua global (main thread)' };
}

driverMain('wasmoon', {
  async cpu(p) {
    const e = await engine();
    const chunk = wrapVararg(loadWorkload(p.workload), [p.n]);
    const { ms, last, warmupTotalMs } = await timedIterations(() => doString(e, chunk), {
      ...p, check: (v) => verifyChecksum('wasmoon', p.workload, p.n, v),
    });
    e.global.close();
    return { checksum: String(last), ms, warmupTotalMs };
  },
  async trivial(p) {
    const e = await engine();
    const run = serial(e);
    return closedLoop(() => run('return 1 + 1'), {
      concurrency: p.concurrency, durationMs: p.durationMs, warmupMs: p.warmupMs,
      check: (v) => { if (v !== 2) throw new Error(`CHECKSUM MISMATCH: trivial returned ${v}`); },
    });
  },
  async calls(p) {
    const e = await engine();
    await doString(e, loadWorkload('calls').replace(/^local M = \{\}/m, 'M = {}'));
    const add = e.global.get('M').add;
    // one JS -> Lua call per trivial call (wasmoon has no batching)
    let s = 0;
    const w0 = nowMs();
    while (nowMs() - w0 < (p.warmupMs || 0)) for (let i = 0; i < 1000; i++) s = add(s, 1);
    s = 0;
    const t0 = nowMs();
    for (let i = 0; i < p.n; i++) s = add(s, 1);
    const ms = nowMs() - t0;
    if (s !== p.n) throw new Error(`CHECKSUM MISMATCH: calls returned ${s}`);
    const out = { callsPerSec: (p.n / ms) * 1000, note: 'JS calls a Lua function proxy (synchronous)' };
    if (p.payloads) out.payloads = await payloadCalls(p);
    if (p.hostCalls) out.hostCall = await hostCalls(p);
    return out;
  },
  // The gameloop section: one call of M.update(entity, dt) per entity, the entity passed as
  // a plain object and copied into a Lua table (enableProxy: false; with the default proxies
  // every field read goes back to JavaScript, measured ~2× slower here), the returned table
  // copied back to an object; the 6 fields applied to the entity.
  async entities(p) {
    const E = require('../lib/entities');
    const { LuaFactory } = require('wasmoon');
    const e = await new LuaFactory().createEngine({ enableProxy: false });
    await doString(e, `M = (function() ${E.behaviour()} end)()`);
    const update = e.global.get('M').update;
    const es = E.makeEntities(p.entities);
    const t = await E.timeFrames(() => {
      for (let i = 0; i < es.length; i++) {
        const en = es[i], o = update(en, E.DT);
        en.x = o.x; en.y = o.y; en.vx = o.vx; en.vy = o.vy; en.energy = o.energy; en.state = o.state;
      }
    }, p);
    const checksum = E.verify('wasmoon', p.entities, t.framesRun, E.checksumOf(es.length, (i, f) => es[i][f]));
    e.global.close();
    return E.frameResult(p.entities, t, { checksum, mainMs: t.frameMs,
      how: 'update(entity, dt) per entity through a wasmoon function proxy, enableProxy: false (objects copied to tables and back), main thread' });
  },
  async memory(p) {
    global.gc && global.gc();
    const { LuaFactory } = require('wasmoon');
    const factory = new LuaFactory();
    const warm = await factory.createEngine(); // module compiled once; not counted
    await doString(warm, 'return 1');
    global.gc && global.gc();
    const rss0 = process.memoryUsage().rss;
    const engines = [];
    for (let i = 0; i < p.count; i++) {
      const e = await factory.createEngine();
      await doString(e, 'return 1 + 1');
      engines.push(e);
    }
    global.gc && global.gc();
    const rss1 = process.memoryUsage().rss;
    const heapKB = await doString(engines[0], 'return collectgarbage("count")');
    return { states: p.count, rssKBPerState: (rss1 - rss0) / 1024 / p.count, heapKBPerState: heapKB };
  },
  // wasmoon runs on the main thread: while it works, the event loop waits.
  async health(p) {
    const e = await engine();
    const chunk = wrapVararg(loadWorkload(p.workload), [p.n]);
    const { measureHealth } = require('../lib/health');
    return measureHealth({
      durationMs: p.durationMs,
      startLoad: () => {
        let stop = false;
        const loop = (async () => {
          while (!stop) {
            verifyChecksum('wasmoon', p.workload, p.n, await doString(e, chunk));
            await new Promise((r) => setImmediate(r));
          }
        })();
        return async () => { stop = true; await loop; };
      },
    });
  },
});
