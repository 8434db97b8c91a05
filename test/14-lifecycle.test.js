// The job lifecycle: every job settles exactly once on every path (timeouts, cancels,
// aborts, acquire timeouts, close) whatever state it is in (queued, running, blocked in a
// host call, suspended, answered and waiting for a thread, sliced out), hostile host
// results, overruns, exits, garbage collection, async context, fair sharing, details.
// Everything synchronises on events (host calls, settlements), never on timing.
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { spawn } = require('child_process');
const { AsyncLocalStorage } = require('async_hooks');
const {
  ScriptRunner, LuaError, TimeoutError, CancelledError, ExitError, LuapoolError,
} = require('luapool');

const SPIN = 'while true do end';
const root = path.join(__dirname, '..');

async function outcome(promise) {
  try {
    return { value: await promise };
  } catch (e) {
    return { error: e };
  }
}

function withDeadline(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HUNG: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// A host function whose calls the test answers by hand: `await gate.called` then `gate.answer(v)`.
function gate() {
  const g = { calls: [] };
  let arrived;
  g.next = () => new Promise((resolve) => { arrived = resolve; });
  g.called = g.next();
  g.fn = () => new Promise((resolve, reject) => {
    g.calls.push({ resolve, reject });
    const a = arrived;
    g.called = g.next();
    a();
  });
  g.answer = (v) => g.calls.shift().resolve(v);
  return g;
}

// Runs a script in a child Node process; resolves with its exit code, signal and output.
function child(script, args = []) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...args, '-e', script], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

// ------------------------------------------------------------------ overrun and quarantine

test('a job far past its deadline: overrun reported (afterMs), the next job runs on a fresh state', async () => {
  const r = new ScriptRunner({ libs: 'all', states: 1, timeoutMs: 20 });
  const overruns = [];
  r.on('overrun', (o) => overruns.push(o));
  // os.execute runs C code no interrupt check reaches; the second job waits behind it
  const stuck = outcome(r.run('os.execute("sleep 2.5") return 1'));
  const next = r.run('return 2', { timeoutMs: 0 });
  const s = await withDeadline(stuck, 20000, 'the overrunning job');
  assert.instance(s.error, TimeoutError);
  assert.is(await withDeadline(next, 20000, 'the job behind it'), 2);
  assert.is(overruns.length, 1);
  assert.type(overruns[0].afterMs, 'number');
  assert.ok(overruns[0].afterMs >= 1000, JSON.stringify(overruns[0]));
  assert.is(overruns[0].overrunMs, undefined);
  assert.is(r.stats().replacedStates, 1);
  assert.is(await r.run('return 3'), 3);
  await r.close();
});

// ------------------------------------------------------- answered, waiting for a thread

// One thread, no slicing: a spinning job keeps the thread while the gated job is answered.
async function answeredWhileBusy(options, spinMs) {
  const g = gate();
  const r = new ScriptRunner({ states: 2, threads: 1, sliceMs: 0, host: { wait: g.fn } });
  const job = outcome(r.run('engine.wait() while true do end', options));
  await g.called;
  const spin = outcome(r.run(SPIN, { timeoutMs: spinMs }));
  await withDeadline(new Promise((res) => setImmediate(res)), 1000, 'a tick');
  g.answer();
  return { r, job, spin };
}

test('a deadline that passes while an answered job waits for a thread still ends it', async () => {
  const { r, job, spin } = await answeredWhileBusy({ timeoutMs: 100 }, 300);
  const j = await withDeadline(job, 10000, 'the answered job');
  assert.instance(j.error, TimeoutError);
  assert.instance((await spin).error, TimeoutError);
  await r.close();
});

test('an abort while an answered job waits for a thread ends it with CancelledError', async () => {
  const ac = new AbortController();
  const { r, job, spin } = await answeredWhileBusy({ signal: ac.signal }, 200);
  ac.abort();
  const j = await withDeadline(job, 10000, 'the aborted job');
  assert.instance(j.error, CancelledError);
  await spin;
  await r.close();
});

test('cancel() of an answered job waiting for a thread: it unwinds and frees its coroutine', async () => {
  const g = gate();
  const closed = [];
  const r = new ScriptRunner({ states: 1, threads: 1, sliceMs: 0, host: { wait: g.fn, closed: (x) => { closed.push(x); } } });
  const before = r.stats().states[0].memory;
  const script = `
    local big = {} for i = 1, 2e5 do big[i] = i end          -- a few MB held by the coroutine
    local c <close> = setmetatable({}, { __close = function() engine.closed("ran") end })
    engine.wait() while true do end`;
  const job = outcome(r.run(script));
  await g.called;
  const spin = outcome(r.run(SPIN, { timeoutMs: 200 }));
  await new Promise((res) => setImmediate(res));
  g.answer();
  let id;
  for (let i = 1; i < 10; i++) if (r.cancel(i)) { id = i; break; }
  assert.is(id, 1);
  const j = await withDeadline(job, 10000, 'the cancelled job');
  assert.instance(j.error, CancelledError);
  await spin;
  await r.run('collectgarbage() collectgarbage()');
  const after = r.stats().states[0].memory;
  assert.ok(after < before + 256 * 1024, `state memory ${before} -> ${after}`);
  assert.is(r.stats().states[0].openJobs, 0);
  await r.close();
});

test('acquireTimeoutMs never hits a job that has started (answered, waiting for a thread)', async () => {
  const { r, job, spin } = await answeredWhileBusy({ acquireTimeoutMs: 20, timeoutMs: 150 }, 300);
  const j = await withDeadline(job, 10000, 'the answered job');
  assert.instance(j.error, TimeoutError); // its own budget ends it, not the acquire timeout
  await spin;
  await r.close();
});

// ---------------------------------------------------------------------- close() paths

test('close() settles a job blocked on a host Promise that never settles', async () => {
  const never = () => new Promise(() => {});
  const r = new ScriptRunner({ states: 1, host: { never } });
  // a sort comparator cannot yield: the job blocks its thread while it waits
  const job = outcome(r.run('table.sort({2, 1}, function(a, b) engine.never() return a < b end)'));
  await new Promise((res) => { const t = setInterval(() => { if (r.stats().blocked === 1) { clearInterval(t); res(); } }, 2); });
  await withDeadline(r.close(), 10000, 'close()');
  assert.instance((await job).error, CancelledError);
});

test('close() settles a job suspended on a host Promise that never settles, and queued jobs', async () => {
  const never = () => new Promise(() => {});
  const r = new ScriptRunner({ states: 1, threads: 1, host: { never } });
  const a = outcome(r.run('return engine.never()'));
  const b = outcome(r.run(SPIN, { timeoutMs: 100 }));
  const c = outcome(r.run('return 1'));
  await withDeadline(r.close(), 10000, 'close()');
  assert.instance((await a).error, CancelledError);
  assert.ok((await b).error instanceof TimeoutError || (await b).error instanceof CancelledError);
  const cr = await c;
  assert.ok(cr.value === 1 || cr.error instanceof CancelledError);
});

test('close() also cancels a job that reaches its host call after close() (suspended and blocking)', async () => {
  // close() cancels the jobs waiting for the host when it is called; a job still running
  // then that calls the host afterwards used to wait for ever (close() never resolved).
  const never = () => new Promise(() => {});
  for (const libs of ['safe', 'all']) {  // 'all': the host call blocks the state's thread
    for (let i = 0; i < 40; i++) {
      const r = new ScriptRunner({ states: 1, threads: 1, libs, host: { never } });
      const a = outcome(r.run('local s = 0 for k = 1, 1e4 do s = s + k end return engine.never()'));
      const b = outcome(r.run('return engine.never()'));
      await withDeadline(r.close(), 10000, `close() (${libs}, run ${i})`);
      for (const job of [await a, await b]) assert.instance(job.error, CancelledError, `${libs}, run ${i}`);
    }
  }
});

test('close({ force: true }) interrupts a running job with no budget', async () => {
  const r = new ScriptRunner({ states: 1 });
  const job = outcome(r.run(SPIN));
  await new Promise((res) => { const t = setInterval(() => { if (r.stats().running === 1) { clearInterval(t); res(); } }, 2); });
  await withDeadline(r.close({ force: true }), 10000, 'close({ force })');
  assert.instance((await job).error, CancelledError);
});

// ------------------------------------------------- <close> variables when a job is killed

test('<close> variables run when a job is killed: timeout, cancel, memory limit, while suspended', async () => {
  const g = gate();
  const r = new ScriptRunner({ states: 1, memoryLimit: 4 << 20, host: { wait: g.fn } });
  const closed = [];
  r.on('post', (p) => closed.push(p.data));
  const tbc = (tag) => `local c <close> = setmetatable({}, { __close = function() engine.post('closed', '${tag}') end })`;
  assert.instance((await outcome(r.run(`${tbc('timeout')} while true do end`, { timeoutMs: 30 }))).error, TimeoutError);
  const spinning = outcome(r.run(`${tbc('cancel')} while true do end`));
  await new Promise((res) => { const t = setInterval(() => { if (r.stats().running === 1) { clearInterval(t); res(); } }, 2); });
  for (let i = 1; i < 10; i++) r.cancel(i);
  assert.instance((await spinning).error, CancelledError);
  const mem = await outcome(r.run(`${tbc('memory')} local t = {} for i = 1, 1e8 do t[i] = i end`));
  assert.is(mem.error.code, 'ERR_MEMORY_LIMIT');
  const suspended = outcome(r.run(`${tbc('suspended')} engine.wait() while true do end`, { timeoutMs: 50 }));
  await g.called;
  assert.instance((await suspended).error, TimeoutError);
  await new Promise((res) => setImmediate(res));
  assert.equal(closed, ['timeout', 'cancel', 'memory', 'suspended']);
  // a __close handler that never ends is interrupted too: the job still settles
  const stuck = await withDeadline(outcome(r.run(
    'local c <close> = setmetatable({}, { __close = function() while true do end end }) while true do end',
    { timeoutMs: 30 })), 10000, 'a job whose __close loops');
  assert.instance(stuck.error, LuapoolError);
  assert.is(await r.run('return 1'), 1);
  await r.close();
});

test('a job whose budget ran out while suspended runs its <close> handlers to the end (no second deadline)', async () => {
  // Resumed to unwind, it used to get its deadline armed again at zero: the watchdog
  // killed it a second time while its close handler ran (about one run in two).
  for (let i = 0; i < 20; i++) {
    const g = gate();
    const r = new ScriptRunner({ states: 1, host: { wait: g.fn } });
    const closed = [];
    r.on('post', (p) => closed.push(p.data));
    const job = outcome(r.run(`local c <close> = setmetatable({}, { __close = function()
      local s = 0 for k = 1, 2e5 do s = s + k end engine.post('closed', s) end })
      engine.wait() while true do end`, { timeoutMs: 30 }));
    await g.called;
    assert.instance((await job).error, TimeoutError);
    await new Promise((res) => setImmediate(res));
    assert.equal(closed, [2e5 * (2e5 + 1) / 2], `run ${i}`);
    await r.close();
  }
});

// ------------------------------------------------------------- hostile host results

test('host results that throw from then, whose then throws, or that are revoked Proxies raise in the script', async () => {
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const host = {
    thenGetterThrows: () => ({ get then() { throw new Error('getter says no'); } }),
    thenThrows: () => ({ then() { throw new Error('then says no'); } }),
    revokedProxy: () => revoked.proxy,
    throwsRevoked: () => { throw revoked.proxy; },
    rejectsRevoked: () => Promise.reject(revoked.proxy),
  };
  const r = new ScriptRunner({ states: 1, host });
  for (const name of Object.keys(host)) {
    const msg = await r.run(`local ok, e = pcall(engine.${name}) return not ok and e`);
    assert.type(msg, 'string', name);
    assert.ok(msg.startsWith(`engine.${name}: `), `${name}: ${msg}`);
  }
  assert.match(await r.run('local ok, e = pcall(engine.thenGetterThrows) return e'), 'getter says no');
  assert.match(await r.run('local ok, e = pcall(engine.thenThrows) return e'), 'then says no');
  await r.close();
});

test('a thenable that resolves twice answers its own call only', async () => {
  const host = {
    twice: () => ({ then(resolve) { resolve(1); setImmediate(() => resolve(2)); setTimeout(() => resolve(3), 5); } }),
    slow: () => new Promise((resolve) => setTimeout(() => resolve('slow'), 30)),
  };
  const r = new ScriptRunner({ states: 1, host });
  assert.equal(await r.run('local a = engine.twice() local b = engine.slow() return a, b', { multret: true }), [1, 'slow']);
  await r.close();
});

test('a host result that cannot be converted raises in the script; the job goes on', async () => {
  const r = new ScriptRunner({ states: 1, host: { fn: () => () => 1, sym: () => Symbol('x') } });
  const m = await r.run('local ok, e = pcall(engine.fn) local ok2, e2 = pcall(engine.sym) return e .. " | " .. e2');
  assert.match(m, /^engine\.fn: .* \| engine\.sym: /);
  await r.close();
});

test('an error message longer than a JavaScript string can hold still settles the job', async () => {
  const r = new ScriptRunner({ states: 1, memoryLimit: 0, timeoutMs: 0 });
  const e = await outcome(r.run('error(string.rep("x", 550000000), 0)'));
  assert.instance(e.error, LuaError);
  assert.ok(e.error.message.length < 2 << 20 && e.error.message.startsWith('xxxx'), String(e.error.message.length));
  assert.match(e.error.message, /more bytes\)$/);
  assert.is(await r.run('return 1'), 1);
  await r.close();
});

// ------------------------------------------------------------------------------ exits

test('os.exit(code) in trusted code ends the job with ExitError, pcall cannot catch it', async () => {
  const r = new ScriptRunner({ libs: 'all', states: 1 });
  for (const [src, code] of [['os.exit(3)', 3], ['os.exit(true)', 0], ['os.exit(false)', 1], ['os.exit()', 0],
    ['pcall(os.exit, 5) return "caught"', 5]]) {
    const e = await outcome(r.run(src));
    assert.instance(e.error, ExitError, src);
    assert.instance(e.error, LuapoolError);
    assert.is(e.error.code, 'ERR_EXIT');
    assert.is(e.error.exitCode, code, src);
  }
  assert.is(await r.run('return 1'), 1);
  await r.close();
});

const EXIT_CASES = {
  'process.exit() while a job with no budget spins':
    `const r = new ScriptRunner({ states: 1 }); r.run('while true do end').catch(() => {});
     setTimeout(() => process.exit(7), 100);`,
  'an uncaught exception while a job with no budget spins':
    `const r = new ScriptRunner({ states: 1 }); r.run('while true do end').catch(() => {});
     setTimeout(() => { throw new Error('boom'); }, 100);`,
  'process.exit() while a job is blocked in a host call':
    `const r = new ScriptRunner({ states: 1, host: { never: () => new Promise(() => {}) } });
     r.run('table.sort({2, 1}, function(a, b) engine.never() return a < b end)').catch(() => {});
     setTimeout(() => process.exit(7), 100);`,
  'process.exit() with trusted jobs spinning on two threads':
    `const r = new ScriptRunner({ libs: 'all', states: 2, threads: 2 });
     r.run('while true do end').catch(() => {}); r.run('while true do end').catch(() => {});
     setTimeout(() => process.exit(7), 100);`,
};
for (const [name, body] of Object.entries(EXIT_CASES)) {
  test(`the process exits promptly: ${name}`, async () => {
    const res = await withDeadline(child(`const { ScriptRunner } = require('luapool'); ${body}`), 20000, 'the child process');
    assert.is(res.signal, null, res.out);
    assert.is(res.code, name.includes('uncaught') ? 1 : 7, res.out);
  });
}

// ---------------------------------------------------------------- garbage collection

test('a runner dropped without close() is collected with its states and its watchdog thread', async () => {
  const script = `
    const fs = require('fs');
    const { ScriptRunner } = require('luapool');
    const threads = () => fs.readdirSync('/proc/self/task').length;
    (async () => {
      await fs.promises.readFile(__filename).catch(() => {});   // start libuv's pool first
      await new Promise((r) => fs.readFile('package.json', r));
      const baseline = threads();
      let collected = false;
      const registry = new FinalizationRegistry(() => { collected = true; });
      (() => {
        for (let i = 0; i < 3; i++) {
          const r = new ScriptRunner({ states: 2 });
          registry.register(r, i);
        }
      })();
      const during = threads();
      for (let i = 0; i < 20 && (!collected || threads() > baseline); i++) {
        global.gc();
        await new Promise((r) => setTimeout(r, 10));
      }
      console.log(JSON.stringify({ baseline, during, after: threads(), collected }));
    })();`;
  const res = await withDeadline(child(script, ['--expose-gc']), 20000, 'the child process');
  const line = JSON.parse(res.out.trim().split('\n').pop());
  assert.ok(line.during >= line.baseline + 3, res.out);
  assert.ok(line.collected, res.out);
  assert.is(line.after, line.baseline, res.out);
});

test('a runner with a pending job is not collected until the job settles', async () => {
  const script = `
    const { ScriptRunner } = require('luapool');
    let p = (() => new ScriptRunner({ states: 1 }).run('local s = 0 for i = 1, 3e7 do s = s + 1 end return s'))();
    for (let i = 0; i < 5; i++) global.gc();
    p.then((v) => console.log('value', v));`;
  const res = await withDeadline(child(script, ['--expose-gc']), 20000, 'the child process');
  assert.match(res.out, 'value 30000000');
});

// --------------------------------------------------------------------- async context

test('host functions and callbacks run in the async context of the caller', async () => {
  const als = new AsyncLocalStorage();
  const r = new ScriptRunner({ states: 2, host: { who: () => als.getStore()?.tenant } });
  const seen = await Promise.all([7, 8, 9].map((tenant) => als.run({ tenant }, () => r.run('return engine.who()'))));
  assert.equal(seen, [7, 8, 9]);
  const inCallback = await new Promise((resolve) => {
    als.run({ tenant: 'cb' }, () => r.enqueue('return engine.who()', {
      callback: (err, value) => resolve([value, als.getStore()?.tenant]),
    }));
  });
  assert.equal(inCallback, ['cb', 'cb']);
  await r.close();
});

// --------------------------------------------------------------- slices and groups

test('a long job is sliced while others wait: a short job overtakes it, the long result is unchanged', async () => {
  const order = [];
  let short;
  // the host call is answered at once; the short job is submitted after that answer, so
  // it queues behind the (resumed) long job and can only finish first if the long one yields
  const started = () => { setImmediate(() => { short = r.run('return "short"').then((v) => { order.push(v); }); }); };
  const r = new ScriptRunner({ states: 2, threads: 1, sliceMs: 1, host: { started } });
  const l = await r.run('engine.started() local s = 0 for i = 1, 5e7 do s = s + i % 3 end return s', { details: true })
    .then((v) => { order.push('long'); return v; });
  await short;
  assert.equal(order, ['short', 'long']);
  let expect = 0;
  for (let i = 1; i <= 5e7; i++) expect += i % 3;
  assert.is(l.value, expect);
  assert.ok(l.slices >= 1, JSON.stringify(l));
  assert.ok(r.stats().slices >= 1);
  await r.close();
});

test('a short job waits for a fresh endless loop\'s first quantum, not its whole slice (same group)', async () => {
  // One thread. The loop makes a host call first; the short job is submitted once that is
  // answered, so it waits behind the loop, now running again as a fresh job. A fresh job
  // yields after sliceMs / 8 while other fresh jobs wait: the short job runs at ~125 ms,
  // long before the loop's 800 ms budget ends it (with whole slices it could run only then).
  const order = [];
  let short;
  const started = () => { setImmediate(() => { short = r.run('return "short"').then((v) => { order.push(v); }); }); };
  const r = new ScriptRunner({ states: 2, threads: 1, sliceMs: 1000, host: { started } });
  const loop = await outcome(r.run('engine.started() while true do end', { timeoutMs: 800 }));
  order.push('loop');
  await short;
  assert.instance(loop.error, TimeoutError);
  assert.equal(order, ['short', 'loop']);
  await r.close();
});

test('groups take turns: a flood of long jobs in one group does not hold back another group', async () => {
  const r = new ScriptRunner({ states: 4, threads: 1, sliceMs: 1 });
  const order = [];
  const hostile = [1, 2, 3].map((i) => r.run('local s = 0 for i = 1, 3e7 do s = s + 1 end return s', { group: 'flood' })
    .then(() => order.push(`flood${i}`)));
  const benign = r.run('return 1', { group: 'tenant' }).then(() => order.push('tenant'));
  await Promise.all([...hostile, benign]);
  assert.is(order[0], 'tenant', order.join(' '));
  await r.close();
});

test('details: true resolves the figures; errors carry runMs', async () => {
  const r = new ScriptRunner({ states: 1 });
  const d = await r.run('local t = {} for i = 1, 1e5 do t[i] = i end return #t', { details: true });
  assert.is(d.value, 1e5);
  for (const k of ['runMs', 'waitMs', 'slices', 'peakMemory']) assert.type(d[k], 'number', k);
  assert.ok(d.peakMemory > 1e5 * 8, String(d.peakMemory));
  assert.ok(d.runMs > 0);
  const e = await outcome(r.run(SPIN, { timeoutMs: 30 }));
  assert.instance(e.error, TimeoutError);
  assert.type(e.error.runMs, 'number');
  assert.ok(e.error.runMs >= 25, String(e.error.runMs));
  const l = await outcome(r.run('error("x")'));
  assert.type(l.error.runMs, 'number');
  await r.run('x', { details: 1 }).then(assert.unreachable, (err) => assert.match(err.message, 'options.details'));
  await r.run('x', { group: 5 }).then(assert.unreachable, (err) => assert.match(err.message, 'options.group'));
  await r.close();
});

test('options.threads and options.sliceMs are validated; the default pool has more states than threads', () => {
  const d = new ScriptRunner();
  assert.ok(d.states > d.parallelism, `${d.states} states, ${d.parallelism} threads`);
  d.close();
  assert.throws(() => new ScriptRunner({ threads: 0 }), (e) => e instanceof RangeError && /options\.threads/.test(e.message));
  assert.throws(() => new ScriptRunner({ states: 2, threads: 3 }), (e) => e instanceof RangeError && /options\.threads/.test(e.message));
  assert.throws(() => new ScriptRunner({ threads: 'x' }), (e) => e instanceof TypeError && /options\.threads/.test(e.message));
  assert.throws(() => new ScriptRunner({ sliceMs: -1 }), (e) => e instanceof RangeError && /options\.sliceMs/.test(e.message));
  assert.throws(() => new ScriptRunner({ sliceMs: 1e9 }), (e) => e instanceof RangeError && /options\.sliceMs/.test(e.message));
  assert.throws(() => new ScriptRunner().context('a\ud800'), (e) => e instanceof TypeError && /lone surrogate/.test(e.message));
});

test('the sandbox is bounded by default: a memory cap and a time budget; 0 opts out; trusted code is not', async () => {
  const r = new ScriptRunner({ states: 1 });
  const bomb = await outcome(r.run('local t = {} for i = 1, 1e9 do t[i] = i end'));
  assert.is(bomb.error.code, 'ERR_MEMORY_LIMIT');
  const spin = await withDeadline(outcome(r.run(SPIN)), 30000, 'an endless loop under the default budget');
  assert.instance(spin.error, TimeoutError);
  assert.ok(spin.error.runMs >= 9000, String(spin.error.runMs));
  await r.close();
  const open = new ScriptRunner({ states: 1, memoryLimit: 0, timeoutMs: 0 });
  assert.is(await open.run('local t = {} for i = 1, 4e7 do t[i] = i end return #t'), 4e7); // ~640 MB
  await open.close();
});

test.run();
