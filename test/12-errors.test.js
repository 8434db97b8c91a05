// Every error class and code, cancellation in every state a job can be in, admission
// errors, and close() settling everything (and letting the process exit).
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { spawn } = require('child_process');
const {
  ScriptRunner, LuapoolError, LuaError, TimeoutError, MemoryLimitError, CancelledError, QueueFullError,
  AcquireTimeoutError, MarshalError, RunnerClosedError,
} = require('luapool');

const SPIN = 'while true do end';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function rejection(promise) {
  try {
    const v = await promise;
    return { resolved: v };
  } catch (e) {
    return e;
  }
}

function withDeadline(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`HUNG: ${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

// Resolves once the runner reports `n` running jobs (polling stats(), no timing assumptions).
async function untilRunning(runner, n = 1) {
  const until = Date.now() + 10000;
  while (runner.stats().running < n) {
    if (Date.now() > until) throw new Error(`never saw ${n} running job(s)`);
    await sleep(2);
  }
}

// enqueue() with a callback, as a promise, plus the job id.
function enqueued(runner, source, options = {}) {
  let id;
  const settled = new Promise((resolve) => {
    id = runner.enqueue(source, { ...options, callback: (err, value) => resolve(err || { resolved: value }) });
  });
  return { id, settled };
}

function checkError(e, Class, code) {
  assert.ok(e instanceof Class, `expected ${Class.name}, got ${e && e.name}: ${e && e.message}`);
  assert.instance(e, LuapoolError);
  assert.instance(e, Error);
  assert.is(e.code, code);
  assert.is(e.name, Class.name);
  assert.type(e.message, 'string');
  assert.ok(e.message.length > 0);
}

// ---------------------------------------------------------------------------- LuaError
test('LuaError: message, chunk, line, traceback, jobId', async () => {
  const r = new ScriptRunner({ states: 1 });
  const src = 'local function inner()\n  error("kaput")\nend\nlocal function outer() inner() end\nouter()';
  const e = await rejection(r.run(src, { name: 'game/npc.lua' }));
  checkError(e, LuaError, 'ERR_LUA');
  assert.is(e.message, 'game/npc.lua:2: kaput');
  assert.is(e.chunk, 'game/npc.lua');
  assert.is(e.line, 2);
  assert.match(e.traceback, 'stack traceback:');
  assert.match(e.traceback, /in (upvalue|local) 'inner'/);
  assert.match(e.traceback, "in local 'outer'");
  assert.match(e.traceback, 'game/npc.lua:5: in main chunk');
  assert.type(e.jobId, 'number');
  assert.is(e.value, undefined);
  await r.close();
});

test('LuaError: error(msg, 2) blames the caller; error(msg, 0) adds no position', async () => {
  const r = new ScriptRunner({ states: 1 });
  let e = await rejection(r.run('local function check(x) if not x then error("bad x", 2) end end\n\ncheck(false)', { name: 'c.lua' }));
  assert.is(e.message, 'c.lua:3: bad x');
  e = await rejection(r.run('error("plain", 0)'));
  checkError(e, LuaError, 'ERR_LUA');
  assert.is(e.message, 'plain');
  await r.close();
});

test('LuaError: runtime errors from the VM and from C functions', async () => {
  const r = new ScriptRunner({ states: 1 });
  let e = await rejection(r.run('local t = nil\nreturn t.x', { name: 'vm.lua' }));
  checkError(e, LuaError, 'ERR_LUA');
  assert.match(e.message, /^vm\.lua:2: attempt to index a nil value \(local 't'\)/);
  assert.is(e.line, 2);
  e = await rejection(r.run('return ("x"):rep({})', { name: 'c.lua' }));
  assert.match(e.message, /bad argument #1 to 'rep'/);
  assert.is(e.chunk, 'c.lua');
  await r.close();
});

test('LuaError: syntax errors carry chunk and line', async () => {
  const r = new ScriptRunner({ states: 1 });
  const e = await rejection(r.run('local x = 1\nlocal y = = 2', { name: 'syn.lua' }));
  checkError(e, LuaError, 'ERR_LUA');
  assert.is(e.chunk, 'syn.lua');
  assert.is(e.line, 2);
  assert.match(e.message, "unexpected symbol near '='");
  await r.close();
});

test('LuaError: non-string error values are preserved in .value', async () => {
  const r = new ScriptRunner({ states: 1 });
  const cases = [
    ['error({ code = "E42", list = { 1, 2 } })', { code: 'E42', list: [1, 2] }],
    ['error(42)', 42],
    ['error(4.5)', 4.5],
    ['error(true)', true],
    ['error(false)', false],
  ];
  for (const [src, value] of cases) {
    const e = await rejection(r.run(src));
    checkError(e, LuaError, 'ERR_LUA');
    assert.equal(e.value, value, src);
  }
  const nil = await rejection(r.run('error(nil)'));
  checkError(nil, LuaError, 'ERR_LUA');
  assert.is(nil.value, undefined);
  assert.match(nil.message, /nil/);
  const tostr = await rejection(r.run('error(setmetatable({}, { __tostring = function() return "custom text" end }))'));
  assert.is(tostr.message, 'custom text');
  await r.close();
});

test('LuaError: a host function that throws raises a Lua error in the script', async () => {
  const r = new ScriptRunner({ states: 1, host: { boom: () => { throw new Error('js side failed'); } } });
  const e = await rejection(r.run('engine.boom()'));
  checkError(e, LuaError, 'ERR_LUA');
  assert.match(e.message, 'js side failed');
  assert.equal(await r.run('local ok, e = pcall(engine.boom) return { ok, (e:find("js side failed")) ~= nil }'), [false, true]);
  await r.close();
});

// ----------------------------------------------------------- TimeoutError, MemoryLimitError
test("TimeoutError: code 'ERR_TIMEOUT', per runner and per job, fires within a few seconds", async () => {
  const r = new ScriptRunner({ states: 1, timeoutMs: 100 });
  let t = Date.now();
  let e = await rejection(r.run(SPIN));
  checkError(e, TimeoutError, 'ERR_TIMEOUT');
  assert.ok(Date.now() - t < 5000, `took ${Date.now() - t} ms`);
  t = Date.now();
  e = await rejection(r.run(SPIN, { timeoutMs: 50 }));
  checkError(e, TimeoutError, 'ERR_TIMEOUT');
  assert.type(e.jobId, 'number');
  // timeoutMs: 0 overrides the runner's budget: a job that ends on its own is not cut short.
  assert.is(await r.run('local n = 0 for i = 1, 1e6 do n = n + 1 end return n', { timeoutMs: 0 }), 1e6);
  await r.close();
});

test('a job whose budget ran out while it waited in the queue still ends with TimeoutError', async () => {
  // Run in a child: if the interrupt is lost the job spins for ever and its worker thread
  // would keep this test file from exiting.
  const script = `
    const { ScriptRunner, TimeoutError } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const r = new ScriptRunner({ states: 1 });
    (async () => {
      for (let i = 0; i < 40; i++) {
        const blocker = r.run('local t = os.clock() while os.clock() - t < 0.03 do end return 1');
        const p = r.run('while true do end', { timeoutMs: 10 }).catch((e) => e);
        const res = await Promise.race([p, new Promise((ok) => setTimeout(() => ok('HUNG'), 5000))]);
        await blocker;
        if (res === 'HUNG') { console.log('HUNG at iteration ' + i); process.kill(process.pid, 'SIGKILL'); }
        if (!(res instanceof TimeoutError)) { console.log('WRONG ' + (res && res.name)); process.kill(process.pid, 'SIGKILL'); }
      }
      console.log('all timed out');
      await r.close();
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('killed after 60 s'); }, 60000);
    child.on('exit', (c, s) => { clearTimeout(timer); resolve(s ? `signal ${s}` : c); });
  });
  assert.match(out, 'all timed out', `a queued job's timeout was lost: ${out.trim()} (${code})`);
  assert.is(code, 0);
});

test("MemoryLimitError: code 'ERR_MEMORY_LIMIT'; the state is reused afterwards", async () => {
  const r = new ScriptRunner({ states: 1, memoryLimit: 8 << 20 });
  const e = await rejection(r.run('local t = {} while true do t[#t + 1] = ("x"):rep(64) .. #t end'));
  checkError(e, MemoryLimitError, 'ERR_MEMORY_LIMIT');
  assert.is(await r.run('return #("y"):rep(1000)'), 1000);
  const st = r.stats();
  assert.ok(st.states[0].memoryErrors >= 1 || st.states[0].memoryErrors === undefined);
  await r.close();
});

// ------------------------------------------------------------------------ CancelledError
test('CancelledError: runner.cancel(id) on a queued job rejects at once', async () => {
  const r = new ScriptRunner({ states: 1, sliceMs: 0 }); // the job behind the spinning one stays queued
  const busy = enqueued(r, SPIN);
  await untilRunning(r);
  const queued = enqueued(r, 'return "should not run"');
  assert.is(r.cancel(queued.id), true);
  const e = await withDeadline(queued.settled, 5000, 'the cancelled queued job');
  checkError(e, CancelledError, 'ERR_CANCELLED');
  assert.is(e.jobId, queued.id);
  assert.is(r.cancel(queued.id), false, 'a settled job cannot be cancelled again');
  assert.is(r.cancel(987654), false, 'unknown id');
  assert.is(r.cancel(busy.id), true);
  checkError(await withDeadline(busy.settled, 5000, 'the running job'), CancelledError, 'ERR_CANCELLED');
  await r.close();
});

test('CancelledError: runner.cancel(id) interrupts a running job, even one that catches errors', async () => {
  const r = new ScriptRunner({ states: 1 });
  const job = enqueued(r, 'while true do pcall(function() while true do end end) end');
  await untilRunning(r);
  assert.is(r.cancel(job.id), true);
  const e = await withDeadline(job.settled, 5000, 'the cancelled running job');
  checkError(e, CancelledError, 'ERR_CANCELLED');
  assert.is(await r.run('return "after cancel"'), 'after cancel');
  await r.close();
});

test('CancelledError: an already-aborted AbortSignal rejects at once, the job never runs', async () => {
  const r = new ScriptRunner({ states: 1 });
  const ctx = r.context('abort-check');
  const ac = new AbortController();
  ac.abort();
  const e = await withDeadline(rejection(ctx.run('ran = true return 1', { signal: ac.signal })), 2000, 'aborted job');
  checkError(e, CancelledError, 'ERR_CANCELLED');
  assert.is(await ctx.run('return ran'), undefined, 'the aborted job did not run');
  // the other delivery modes too
  const viaCallback = await new Promise((resolve) => r.enqueue('return 1', { signal: ac.signal, callback: (err) => resolve(err) }));
  checkError(viaCallback, CancelledError, 'ERR_CANCELLED');
  await r.close();
});

test('CancelledError: aborting during the run interrupts the job', async () => {
  const r = new ScriptRunner({ states: 1 });
  const ac = new AbortController();
  const p = rejection(r.run(SPIN, { signal: ac.signal }));
  await untilRunning(r);
  ac.abort();
  const e = await withDeadline(p, 5000, 'the aborted running job');
  checkError(e, CancelledError, 'ERR_CANCELLED');
  assert.is(await r.run('return 7'), 7);
  await r.close();
});

test('CancelledError: aborting a queued job removes it from the queue', async () => {
  // sliceMs: 0: the job stays queued behind the endless loop (with slices it would soon
  // preempt the loop, run and could finish before the abort)
  const r = new ScriptRunner({ states: 1, sliceMs: 0 });
  const busy = enqueued(r, SPIN);
  await untilRunning(r);
  const ac = new AbortController();
  const p = rejection(r.run('return 1', { signal: ac.signal }));
  ac.abort();
  checkError(await withDeadline(p, 2000, 'the aborted queued job'), CancelledError, 'ERR_CANCELLED');
  assert.is(r.stats().queued, 0);
  r.cancel(busy.id);
  await busy.settled;
  await r.close();
});

// --------------------------------------------------------- QueueFullError, AcquireTimeout
test('QueueFullError: maxQueue: 1 with states: 1', async () => {
  // sliceMs: 0: the queued job stays queued behind the endless loop (with slices it soon
  // preempts the loop, and the queue is no longer full)
  const r = new ScriptRunner({ states: 1, maxQueue: 1, sliceMs: 0 });
  const running = enqueued(r, SPIN);
  await untilRunning(r);
  const waiting = rejection(r.run('return "second"'));     // fills the queue
  const e = await rejection(r.run('return "third"'));       // one too many
  checkError(e, QueueFullError, 'ERR_QUEUE_FULL');
  assert.throws(() => r.enqueue('return 1', { callback: () => {} }), (x) => x instanceof QueueFullError && x.code === 'ERR_QUEUE_FULL');
  r.cancel(running.id);
  await running.settled;
  assert.equal(await waiting, { resolved: 'second' });
  await r.close();
});

test('AcquireTimeoutError: acquireTimeoutMs with one busy state', async () => {
  // no time slices: the one thread stays with the spinning job, so the next job cannot start
  const r = new ScriptRunner({ states: 1, sliceMs: 0, acquireTimeoutMs: 100 });
  const busy = enqueued(r, SPIN, { acquireTimeoutMs: 0 });
  await untilRunning(r);
  const t = Date.now();
  const e = await withDeadline(rejection(r.run('return 1')), 5000, 'the waiting job');
  checkError(e, AcquireTimeoutError, 'ERR_ACQUIRE_TIMEOUT');
  assert.ok(Date.now() - t < 5000);
  // per-job override
  const e2 = await withDeadline(rejection(r.run('return 1', { acquireTimeoutMs: 30 })), 5000, 'the waiting job');
  checkError(e2, AcquireTimeoutError, 'ERR_ACQUIRE_TIMEOUT');
  r.cancel(busy.id);
  await busy.settled;
  assert.is(await r.run('return "free again"'), 'free again');
  await r.close();
});

// -------------------------------------------------------------------------- MarshalError
test('MarshalError: unsupported values in args, env and results name their path', async () => {
  const r = new ScriptRunner({ states: 1 });
  let e = await rejection(r.run('return 1', { args: [1, { list: [0, () => 1] }] }));
  checkError(e, MarshalError, 'ERR_MARSHAL');
  assert.is(e.path, 'args[1].list[1]');
  e = await rejection(r.run('return 1', { env: { when: new Date() } }));
  checkError(e, MarshalError, 'ERR_MARSHAL');
  assert.match(e.message, 'env.when');
  e = await rejection(r.run('return { a = { print } }'));
  checkError(e, MarshalError, 'ERR_MARSHAL');
  assert.match(e.message, /result/);
  assert.match(e.message, /function/);
  e = await rejection(r.run('return 1', { args: [10n ** 30n] }));
  assert.ok(e instanceof MarshalError || e instanceof RangeError, `${e.name}: ${e.message}`);
  assert.is(await r.run('return 1'), 1);
  await r.close();
});

test('MarshalError: the documented size limits hold (64 MiB without a memory limit, 4 x memoryLimit with one)', async () => {
  // docs/marshaling.md#limits: a 65 MiB string is too large for a runner without a memory
  // limit, and is returned whole by one whose memoryLimit (160 MiB: string.rep briefly needs
  // two copies) gives a budget of 4 x 160 MiB
  const src = 'return ("s"):rep(65 << 20)';
  const unlimited = new ScriptRunner({ states: 1, memoryLimit: 0 });
  const e = await rejection(unlimited.run(src));
  checkError(e, MarshalError, 'ERR_MARSHAL');
  assert.is(e.path, 'result[0]');
  assert.match(e.message, 'value is too large to convert (more than 64 MiB encoded)');
  await unlimited.close();
  const limited = new ScriptRunner({ states: 1, memoryLimit: 160 << 20 });
  assert.is((await limited.run(src)).length, 65 << 20);
  await limited.close();
});

// ---------------------------------------------------------------------- option bounds
test('every numeric option has an upper bound: a RangeError naming it beyond', () => {
  const tooBig = [
    ['states', 1025], ['memoryLimit', 1e300], ['memoryLimit', 2 ** 64], ['memoryLimit', 2 ** 53],
    ['gcEveryBytes', 1e300], ['gcEveryBytes', 2 ** 64], ['gcEveryJobs', 2 ** 32 + 1], ['gcEveryJobs', 2 ** 32],
    ['chunkCacheSize', 2 ** 32], ['maxQueue', 1e300], ['maxQueue', 2 ** 53], ['timeoutMs', 2 ** 31],
    ['timeoutMs', 1e12], ['acquireTimeoutMs', 2 ** 31],
  ];
  for (const [name, v] of tooBig) {
    assert.throws(() => new ScriptRunner({ [name]: v }),
      (e) => e instanceof RangeError && e.message.includes(`options.${name}`) && /at most/.test(e.message),
      `${name}: ${v}`);
  }
  // the bounds themselves are accepted (nothing is allocated up front)
  const r = new ScriptRunner({
    states: 1, memoryLimit: Number.MAX_SAFE_INTEGER, gcEveryBytes: Number.MAX_SAFE_INTEGER, gcEveryJobs: 2 ** 32 - 1,
    chunkCacheSize: 2 ** 32 - 1, maxQueue: Number.MAX_SAFE_INTEGER, timeoutMs: 2 ** 31 - 1, acquireTimeoutMs: 2 ** 31 - 1,
  });
  return r.close();
});

test('job timeouts have the same upper bound', async () => {
  const r = new ScriptRunner({ states: 1 });
  for (const key of ['timeoutMs', 'acquireTimeoutMs']) {
    const e = await rejection(r.run('return 1', { [key]: 2 ** 31 }));
    assert.ok(e instanceof RangeError && e.message.includes(`options.${key}`), `${e.name}: ${e.message}`);
    assert.throws(() => r.enqueue('return 1', { [key]: 1e300, callback() {} }), RangeError);
  }
  assert.is(await r.run('return 1', { timeoutMs: 2 ** 31 - 1 }), 1);
  await r.close();
});

test('gcEveryJobs and chunkCacheSize near 2^32 keep their meaning', async () => {
  const r = new ScriptRunner({ states: 1, gcEveryJobs: 2 ** 32 - 1, chunkCacheSize: 2 ** 32 - 1 });
  for (let i = 0; i < 20; i++) await r.run(`return ${i}`);
  const st = r.stats().states[0];
  assert.is(st.gcSteps, 0, 'a GC step after 2^32 - 1 jobs, not after every job');
  assert.is(st.jobs, 20);
  await r.close();
});

// -------------------------------------------------------------------- RunnerClosedError
test('RunnerClosedError: every entry point after close()', async () => {
  const r = new ScriptRunner({ states: 1 });
  r.define('m', 'return { f = function() return 1 end }');
  await r.close();
  checkError(await rejection(r.run('return 1')), RunnerClosedError, 'ERR_RUNNER_CLOSED');
  assert.throws(() => r.enqueue('return 1', { callback: () => {} }), (x) => x instanceof RunnerClosedError);
  assert.throws(() => r.context('x'), (x) => x instanceof RunnerClosedError);
  assert.throws(() => r.define('m', 'return {}'), (x) => x instanceof RunnerClosedError);
  const callErr = await rejection(r.call('m', 'f'));
  assert.ok(callErr instanceof RunnerClosedError, `${callErr.name}: ${callErr.message}`);
  await r.close(); // idempotent
});

// -------------------------------------------------------------------------------- close
test('close() with running and queued jobs settles every one of them', async () => {
  const r = new ScriptRunner({ states: 1, sliceMs: 0 }); // queued jobs stay queued until close()
  const running = rejection(r.run('local t = os.clock() while os.clock() - t < 0.2 do end return "finished"'));
  await untilRunning(r);
  const queued = [];
  for (let i = 0; i < 5; i++) queued.push(rejection(r.run(`return ${i}`)));
  const cb = enqueued(r, 'return "cb"');
  await withDeadline(r.close(), 10000, 'close()');
  assert.equal(await running, { resolved: 'finished' }, 'the running job completes normally');
  for (const q of queued) checkError(await q, CancelledError, 'ERR_CANCELLED');
  checkError(await cb.settled, CancelledError, 'ERR_CANCELLED');
  assert.is(r.pending, 0);
});

test('close({ force: true }) interrupts running jobs', async () => {
  const r = new ScriptRunner({ states: 2 });
  const a = rejection(r.run(SPIN));
  const b = rejection(r.run('while true do pcall(function() while true do end end) end'));
  const c = rejection(r.run('return 1'));
  await untilRunning(r, Math.min(2, r.parallelism));
  await withDeadline(r.close({ force: true }), 10000, 'close({ force: true })');
  checkError(await a, CancelledError, 'ERR_CANCELLED');
  checkError(await b, CancelledError, 'ERR_CANCELLED');
  const cv = await c;
  assert.ok(cv instanceof CancelledError || (cv && cv.resolved === 1));
  assert.is(r.pending, 0);
});

test('close() with a job in a context and a timed-out job settles everything', async () => {
  const r = new ScriptRunner({ states: 2, timeoutMs: 100 });
  const ctx = r.context('c');
  const p1 = rejection(ctx.run(SPIN));
  const p2 = rejection(ctx.run('return 2'));
  const p3 = rejection(r.run(SPIN));
  await untilRunning(r, 1);
  await withDeadline(r.close(), 10000, 'close()');
  const results = await Promise.all([p1, p2, p3]);
  for (const v of results) assert.ok(v instanceof LuapoolError || 'resolved' in v, String(v));
  assert.is(r.pending, 0);
});

test('after close() the process exits on its own', async () => {
  const script = `
    const { ScriptRunner } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const r = new ScriptRunner({ states: 2, timeoutMs: 200 });
    const jobs = [];
    for (let i = 0; i < 20; i++) jobs.push(r.run('return ...', { args: [i] }).catch((e) => e));
    jobs.push(r.run('while true do end').catch((e) => e));
    jobs.push(r.run('local t = {} for i = 1, 1e5 do t[i] = i end return #t').catch((e) => e));
    const ctx = r.context('k');
    jobs.push(ctx.run('x = 1 return x').catch((e) => e));
    Promise.all(jobs).then(async (v) => {
      await r.close();
      console.log('closed ' + v.length);
    });`;
  const started = Date.now();
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve('killed: did not exit within 15 s'); }, 15000);
    child.on('exit', (c, s) => { clearTimeout(timer); resolve(s ? `signal ${s}` : c); });
  });
  assert.is(code, 0, `child: ${code}\n${err}`);
  assert.match(out, 'closed 23');
  assert.ok(Date.now() - started < 15000);
});


test('ctx.call checks its arguments exactly like runner.call (same classes, same messages)', async () => {
  const r = new ScriptRunner({ states: 1 });
  try {
    r.define('m', 'return { f = function() return 1 end }');
    const ctx = r.context('k');
    const outcome = (p) => Promise.resolve().then(p).then(
      (v) => ({ v }),
      (e) => ({ cls: e.constructor.name, code: e.code, message: e.message }));
    for (const args of [['nomodule', 'f'], [42, 'f'], ['m', ''], ['m', 42], ['m', 'nofn'], [undefined, 'f']]) {
      const a = await outcome(() => r.call(...args));
      const b = await outcome(() => ctx.call(...args));
      assert.equal(b, a, `call(${args.map((x) => JSON.stringify(x)).join(', ')})`);
      assert.ok(a.cls !== undefined && a.cls !== 'Error', `a typed error: ${JSON.stringify(a)}`);
      if (typeof args[0] !== 'string') assert.match(a.message, 'name');
      if (args[0] === 'm' && typeof args[1] !== 'string' || args[1] === '') assert.match(a.message, 'fn');
    }
    assert.is(await ctx.call('m', 'f'), 1);
  } finally {
    await r.close();
  }
});

test.run();
