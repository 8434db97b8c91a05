// Lua-source fuzzer, part 2: the driver. Generated programs (lua-gen.js) run with small
// limits (timeoutMs 50, memoryLimit 8 MiB) on a pool of two states, two at a time, some
// through a module call or enqueue(), some cancelled or aborted at a random moment.
// What must hold:
//   - the process survives (a crash fails the test run; under ASan it is a report);
//   - every job settles, within HANG_MS, with a value or a LuapoolError subclass
//     (LuaError, TimeoutError, MemoryLimitError, MarshalError, CancelledError), never
//     another error and never ERR_INTERNAL;
//   - after each job both states run `return 1` (through a context pinned to each);
//   - at the end, after a full collection, each state's memory (stats().states[i].memory)
//     is back near the baseline measured the same way at the start.
// Late settlements (more than LATE_MS past the budget) and 'overrun' events are reported
// with their seeds; they fail the run only with `strictTime`.
'use strict';

const { Rng, seedFor } = require('./prng');
const { LuaGen } = require('./lua-gen');

const HANG_MS = 20000;
const LATE_MS = 1000;
const PING_MS = 10000;
const MEMORY_SLACK = 256 << 10;
const TIMEOUT_MS = 50;
const MEMORY_LIMIT = 8 << 20;
const CHUNK_CACHE = 16;

// load() without an env would bind the module's environment, which persists on the state:
// each program gets a fresh one over it (a program's globals are garbage afterwards)
const MODULE = `
local M = {}
local base = _ENV
function M.run(src)
  local env = setmetatable({}, { __index = base })
  env._G = env
  return load(src, "=fuzz", "t", env)()
end
function M.echo(...) return ... end
return M`;

function withDeadline(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`HUNG: ${what} did not settle within ${ms} ms`)), ms); });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

class LuaFuzzer {
  constructor(lib, { known = false, log = () => {}, strictTime = false } = {}) {
    this.lib = lib;
    this.known = known;
    this.log = log;
    this.strictTime = strictTime;
    this.actions = new lib.ActionQueue();
    this.stats = {
      inputs: 0, jobs: 0, failures: [], late: [], overruns: [], outcomes: {}, patterns: {}, knownHits: {},
      maxSettleMs: 0, memory: null, rss: null,
    };
    let reenter = 0;
    this.runner = new lib.ScriptRunner({
      states: 2, timeoutMs: TIMEOUT_MS, memoryLimit: MEMORY_LIMIT, chunkCacheSize: CHUNK_CACHE, actions: this.actions,
      host: {
        echo: (v) => v,
        slow: (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), Math.min(Number(ms) || 0, 50))),
        fail: (m) => { throw new Error(String(m)); },
        never: () => new Promise(() => {}),
        big: (n) => 'b'.repeat(Math.max(0, Math.min(Number(n) || 0, 4 << 20))),
        reenter: () => (++reenter % 4 === 0 ? this.runner.run('return 1').catch((e) => e.code) : 0),
      },
    });
    // an overrun is reported 2 s after the deadline: the programs running then are the suspects
    this.inFlight = new Set();
    this.runner.on('overrun', (info) => this.stats.overruns.push({ ...info, seeds: [...this.inFlight] }));
    this.runner.define('fuzz', MODULE);
    this.pings = [];
  }

  count(map, what) { this.stats[map][what] = (this.stats[map][what] || 0) + 1; }

  async setUp() {
    // a context per state, for pings and memory measurements
    for (let i = 0; this.pings.length < this.runner.states && i < 64; i++) {
      const ctx = this.runner.context(`fuzz-ping-${i}`);
      if (!this.pings.some((c) => c.state === ctx.state)) this.pings.push(ctx);
    }
    // the module is loaded lazily, once per state: load it before the baseline
    for (const ctx of this.pings) await ctx.call('fuzz', 'echo', [1], { timeoutMs: 5000 });
    this.stats.rss = { start: process.memoryUsage().rss };
    this.stats.memory = { baseline: await this.memory() };
  }

  knownHit(name) { this.stats.knownHits[name] = (this.stats.knownHits[name] || 0) + 1; }

  /** Each state's memory after its chunk cache is flushed and a full collection. */
  async memory() {
    const out = [];
    const run = (ctx, src) => ctx.run(src, { timeoutMs: 5000 }).catch((e) => {
      if (e.code !== 'ERR_MEMORY_LIMIT' || this.known) throw e;
      this.knownHit('garbage-at-limit'); // KNOWN garbage-at-limit: the failed job collected the state
      return ctx.run(src, { timeoutMs: 5000 });
    });
    for (const ctx of this.pings) {
      // chunkCacheSize + 1 distinct sources: the cache is dropped and holds only these
      for (let i = 0; i <= CHUNK_CACHE; i++) await run(ctx, `return ${i}`);
      // (each full cycle halves an oversized string table at most once)
      await run(ctx, 'for i = 1, 4 do collectgarbage() end');
      out[ctx.state] = this.runner.stats().states[ctx.state].memory;
    }
    return out;
  }

  failure(seed, problem, src) {
    const f = { seed, problem, source: src };
    this.stats.failures.push(f);
    this.log(formatFailure(f));
  }

  /** Runs one generated program (the input of `seed`) and checks how it settled. */
  async input(seed) {
    const { LuapoolError } = this.lib;
    const rng = new Rng(seed);
    const gen = new LuaGen(rng, { known: this.known });
    const src = gen.program();
    for (const p of gen.used) this.count('patterns', p);
    const how = rng.weighted([[7, 'run'], [1, 'call'], [1, 'enqueue']]);
    let cancel = rng.weighted([[8, null], [1, 'abort'], [1, 'cancel']]);
    const cancelAfter = rng.range(0, 40);
    const timeoutMs = rng.weighted([[8, TIMEOUT_MS], [1, 10], [1, 200]]);
    const multret = rng.chance(0.3);
    const options = { timeoutMs, multret, name: 'fuzz.lua' };
    if (cancel === 'cancel' && how !== 'enqueue') cancel = 'abort'; // cancel(id) needs the id enqueue() gives
    let ac;
    if (cancel === 'abort') { ac = new AbortController(); options.signal = ac.signal; }
    const started = Date.now();
    let promise;
    let id;
    try {
      if (how === 'call') {
        delete options.name;
        promise = this.runner.call('fuzz', 'run', [src], options);
      } else if (how === 'enqueue') {
        promise = new Promise((resolve, reject) => {
          id = this.runner.enqueue(src, { ...options, callback: (err, value) => (err ? reject(err) : resolve(value)) });
        });
      } else {
        promise = this.runner.run(src, options);
      }
    } catch (e) {
      this.failure(seed, `submitting threw ${e && e.name}: ${e && e.message}`, src);
      return { hung: false, src };
    }
    this.inFlight.add(seed);
    let timer;
    if (cancel) {
      timer = setTimeout(() => {
        if (ac) ac.abort();
        else if (id !== undefined) this.runner.cancel(id);
      }, cancelAfter);
    }
    this.stats.jobs++;
    let outcome;
    try {
      outcome = { ok: true, value: await withDeadline(promise, HANG_MS, 'the job') };
    } catch (e) {
      outcome = { ok: false, error: e };
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(seed);
    }
    const ms = Date.now() - started;
    if (this.verbose) {
      this.log(`[fuzz] Lua program of seed ${seed} (${how}, timeoutMs ${timeoutMs}${cancel ? `, ${cancel} after ${cancelAfter} ms` : ''}):\n${indent(src)}`);
      this.log(`[fuzz]   settled in ${ms} ms: ${outcome.ok ? `value ${String(outcome.value).slice(0, 100)}` : `${outcome.error && outcome.error.name}: ${String(outcome.error && outcome.error.message).slice(0, 200)}`}`);
    }
    this.stats.maxSettleMs = Math.max(this.stats.maxSettleMs, ms);
    if (!outcome.ok) {
      const e = outcome.error;
      if (e instanceof Error && /^HUNG/.test(e.message)) {
        this.failure(seed, `${e.message} (timeoutMs ${timeoutMs})`, src);
        return { hung: true, src };
      }
      if (!(e instanceof LuapoolError)) {
        this.failure(seed, `settled with ${e && e.name}: ${e && e.message} (not a LuapoolError)`, src);
      } else if (e.code === 'ERR_INTERNAL') {
        this.failure(seed, `internal error: ${e.message}`, src);
      } else if (!['ERR_LUA', 'ERR_TIMEOUT', 'ERR_MEMORY_LIMIT', 'ERR_MARSHAL', 'ERR_CANCELLED'].includes(e.code)) {
        this.failure(seed, `unexpected ${e.code}: ${e.message}`, src);
      }
      this.count('outcomes', e.code || e.name);
    } else {
      this.count('outcomes', 'value');
    }
    if (ms > timeoutMs + LATE_MS) {
      const late = { seed, ms, timeoutMs, outcome: outcome.ok ? 'value' : outcome.error.code, source: src };
      this.stats.late.push(late);
      this.log(`LUA FUZZER: seed ${seed} settled ${ms} ms after submission with a ${timeoutMs} ms budget (${late.outcome})\n${indent(src)}`);
      if (this.strictTime) this.failure(seed, `settled late: ${ms} ms for a ${timeoutMs} ms budget`, src);
    }
    this.stats.inputs++;
    return { hung: false, src };
  }

  /** Both states run `return 1` (nothing else runs meanwhile: open jobs share a state's memory limit). */
  async ping(seeds, sources) {
    const who = seeds.join(' or ');
    const src = sources.join('\n-- or --\n');
    const once = (c) => c.run('return 1', { timeoutMs: 5000 }).then((v) => ({ v }), (e) => ({ e }));
    let results;
    try {
      results = await withDeadline(Promise.all(this.pings.map(once)), PING_MS, 'the ping jobs');
    } catch (e) {
      this.failure(who, `a ping after the jobs failed: ${e && e.message}`, src);
      return 'hung';
    }
    for (let i = 0; i < results.length; i++) {
      let r = results[i];
      if (r.e && r.e.code === 'ERR_MEMORY_LIMIT' && !this.known) {
        // KNOWN garbage-at-limit: the state was left full of garbage; the failed ping collected it
        r = await once(this.pings[i]);
        if (r.v === 1) {
          this.knownHit('garbage-at-limit');
          this.log(`LUA FUZZER: known garbage-at-limit: state ${this.pings[i].state} was left full after seeds ${who}`);
          continue;
        }
      }
      if (r.e) {
        this.failure(who, `a ping on state ${this.pings[i].state} after the jobs failed: ${r.e.name}: ${r.e.message}`, src);
        return 'failed';
      }
      if (r.v !== 1) this.failure(who, `a ping returned ${JSON.stringify(r.v)}`, src);
    }
    this.actions.drain();
    return null;
  }

  async tearDown() {
    this.stats.memory.end = await this.memory();
    this.stats.rss.end = process.memoryUsage().rss;
    const { baseline, end } = this.stats.memory;
    end.forEach((m, i) => {
      if (m > baseline[i] + MEMORY_SLACK) {
        this.failure(null, `state ${i} holds ${m} bytes after a full collection, ${m - baseline[i]} more than at the start (${baseline[i]})`, '');
      }
    });
    if (this.stats.overruns.length) {
      for (const o of this.stats.overruns) this.log(`LUA FUZZER: overrun of job ${o.jobId} on state ${o.state} (one of the seeds ${o.seeds.join(', ')})`);
      if (this.strictTime) this.failure(null, `${this.stats.overruns.length} overruns`, '');
    }
  }

  close() { return this.runner.close({ force: true }); }
}

function indent(s) { return s.split('\n').map((l) => `    ${l.length > 300 ? `${l.slice(0, 300)}…` : l}`).join('\n'); }

function formatFailure(f) {
  return [
    `LUA FUZZER FAILURE  seed ${f.seed ?? '(whole run)'}`,
    f.seed !== null ? `  replay: npm run fuzz -- --only lua --seed ${String(f.seed).replace(' or ', ',')}` : '',
    `  problem: ${f.problem}`,
    f.source ? `  program:\n${indent(f.source)}` : '',
  ].filter(Boolean).join('\n');
}

/**
 * Runs rounds of two programs until `deadline`, seeds derived from `base` (round i runs
 * seedFor(base, 2 * i) and seedFor(base, 2 * i + 1)); or only `seed`. Returns the stats.
 */
async function fuzzLua(lib, { deadline = Infinity, count = Infinity, base = 1, seed, known = false, log = () => {}, trace, strictTime = false, verbose = false, memoryEvery = 0 } = {}) {
  const f = new LuaFuzzer(lib, { known, log, strictTime });
  f.verbose = verbose;
  let hung = false;
  let broken = false;
  try {
    await f.setUp();
    const round = async (seeds) => {
      if (trace) trace(seeds.join(' '));
      const results = await Promise.all(seeds.map((x) => f.input(x)));
      if (results.some((r) => r.hung)) return true;
      const p = await f.ping(seeds, results.map((r) => r.src));
      if (p === 'failed') broken = true; // the state is broken: stop
      return p === 'hung';
    };
    if (seed !== undefined) {
      hung = await round(Array.isArray(seed) ? seed : [seed]);
    } else {
      // rounds of two programs at once (one per state, usually), then the pings
      let since = [];
      for (let i = 0; !hung && !broken && 2 * i < count && Date.now() < deadline && f.stats.failures.length < 5; i++) {
        const seeds = [seedFor(base, 2 * i), seedFor(base, 2 * i + 1)];
        hung = await round(seeds);
        since.push(...seeds);
        // --memory-every N: measure every N rounds, to find the programs that leave memory behind
        if (!hung && memoryEvery > 0 && (i + 1) % memoryEvery === 0) {
          let now;
          try {
            now = await f.memory();
          } catch (e) {
            f.failure(since.join(' or '), `measuring memory after these programs failed: ${e && e.name}: ${e && e.message}`, '');
            broken = true;
            break;
          }
          const grew = now.findIndex((m, k) => m > f.stats.memory.baseline[k] + MEMORY_SLACK);
          if (grew >= 0) {
            f.failure(since.join(' or '), `state ${grew} holds ${now[grew]} bytes after a full collection (${f.stats.memory.baseline[grew]} at the start) after these programs`, '');
            broken = true;
          }
          since = [];
        }
      }
    }
    if (!hung) {
      try {
        await f.tearDown();
      } catch (e) {
        f.failure(null, `measuring memory at the end failed: ${e && e.name}: ${e && e.message}`, '');
      }
    }
  } finally {
    // a hung job keeps its thread: close without waiting for it
    if (hung) f.close().catch(() => {});
    else await f.close();
  }
  f.stats.hung = hung;
  return f.stats;
}

module.exports = { fuzzLua, LuaFuzzer, formatFailure, TIMEOUT_MS, MEMORY_LIMIT };
