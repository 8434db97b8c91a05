// The engine bridge: ActionQueue, host functions, contexts, modules and hot reload, batching.
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { execFileSync } = require('child_process');
const {
  ScriptRunner, ActionQueue, LuaError, TimeoutError, CancelledError, RunnerClosedError,
} = require('luapool');

const tick = () => new Promise((r) => setImmediate(r));

test('ActionQueue: nothing arrives before drain; drain(max) and size', async () => {
  const actions = new ActionQueue();
  const r = new ScriptRunner({ states: 1, actions });
  await r.run('for i = 1, 5 do engine.post("p", i) end');
  assert.is(actions.size, 5);
  assert.equal(actions.drain(2).map((a) => a.data), [1, 2]);
  assert.is(actions.size, 3);
  assert.equal(actions.drain().map((a) => a.data), [3, 4, 5]);
  assert.equal(actions.drain(), []);
  assert.throws(() => actions.drain(-1), RangeError);
  await r.close();
});

test('engine.log levels, print and warn become log actions', async () => {
  const actions = new ActionQueue();
  const r = new ScriptRunner({ states: 1, actions });
  await r.run('engine.log("warn", "a", 1, true, nil) print("x", 2) warn("w", "!") engine.post_to_main_thread(7, {1, 2})');
  const list = actions.drain();
  assert.equal(list.map((a) => [a.type, a.level ?? a.name, a.message ?? a.data]), [
    ['log', 'warn', 'a 1 true nil'], ['log', 'info', 'x\t2'], ['log', 'warn', 'w!'], ['post', '7', [1, 2]],
  ]);
  const e = await r.run('engine.log({})').catch((x) => x);
  assert.instance(e, LuaError);
  const e2 = await r.run('engine.post("f", print)').catch((x) => x);
  assert.match(e2.message, 'engine.post: data');
  await r.close();
});

test("a long job's actions stream to the queue before the job ends", async () => {
  const actions = new ActionQueue();
  const r = new ScriptRunner({ states: 1, actions });
  const job = r.run('engine.log("info", "early") local t = os.clock() while os.clock() - t < 0.5 do end engine.post("late", 1) return 1');
  let early = null;
  while (early === null && r.pending > 0) {
    await new Promise((res) => setTimeout(res, 10));
    const got = actions.drain();
    if (got.length) early = { got, pending: r.pending };
  }
  assert.ok(early, 'something arrived');
  assert.is(early.pending, 1, 'it arrived while the job was still running');
  assert.equal(early.got.map((a) => a.message), ['early']);
  await job;
  assert.equal(actions.drain().map((a) => a.name), ['late']);
  await r.close();
});

test('a million actions from every state: none lost, none duplicated, order per job kept', async () => {
  const actions = new ActionQueue();
  const r = new ScriptRunner({ states: 3, actions });
  const jobs = 100;
  const perJob = 10000;
  const ids = [];
  for (let j = 0; j < jobs; j++) {
    ids.push(r.enqueue(`for i = 1, ${perJob} do engine.post("n", i) end return "end"`, { deliver: 'actions', ctx: j }));
  }
  const next = new Map(ids.map((id) => [id, 1]));
  let results = 0;
  let total = 0;
  while (results < jobs) {
    await new Promise((res) => setTimeout(res, 16)); // one simulated frame
    for (const a of actions.drain()) {
      total++;
      if (a.type === 'post') {
        assert.is(a.data, next.get(a.jobId), 'in order, no gap, no duplicate');
        next.set(a.jobId, a.data + 1);
      } else {
        assert.is(a.type, 'result');
        assert.is(next.get(a.jobId), perJob + 1, 'result after everything the job posted');
        results++;
      }
    }
  }
  assert.is(total, jobs * perJob + jobs);
  await r.close();
});

test('each job settles exactly once, in the delivery mode it asked for', async () => {
  const actions = new ActionQueue();
  const r = new ScriptRunner({ states: 2, actions });
  let callbacks = 0;
  const promises = [];
  for (let i = 0; i < 300; i++) {
    if (i % 3 === 0) promises.push(r.run('return 1'));
    else if (i % 3 === 1) r.enqueue('return 2', { callback: () => { callbacks++; } });
    else r.enqueue('return 3', { deliver: 'actions' });
  }
  await Promise.all(promises);
  while (r.pending > 0) await tick();
  await new Promise((res) => setTimeout(res, 20));
  assert.is(callbacks, 100);
  assert.is(actions.drain().filter((a) => a.type === 'result').length, 100);
  await r.close();
});

test('host functions: values, promises, errors a script can pcall', async () => {
  const calls = [];
  const r = new ScriptRunner({
    states: 2,
    host: {
      spawn_entity(template) { calls.push(template); return calls.length; },
      later: async (x) => { await new Promise((res) => setTimeout(res, 5)); return { doubled: x * 2 }; },
      fail() { throw new Error('no such entity'); },
      reject: async () => { throw new RangeError('bad'); },
      nothing() {},
    },
  });
  assert.is(await r.run('return engine.spawn_entity({ kind = "orc", hp = 10 })'), 1);
  assert.equal(calls, [{ kind: 'orc', hp: 10 }]);
  assert.equal(await r.run('return engine.later(21)'), { doubled: 42 });
  assert.equal(await r.run('local ok, e = pcall(engine.fail) return { ok, e }'), [false, 'engine.fail: no such entity']);
  assert.equal(await r.run('local ok, e = pcall(engine.reject) return { ok, e }'), [false, 'engine.reject: bad']);
  assert.is(await r.run('return select("#", engine.nothing())'), 0);
  const e = await r.run('engine.fail()', { name: 'h.lua' }).catch((x) => x);
  assert.instance(e, LuaError);
  assert.is(e.line, 1);
  await r.close();
});

test('host functions work where Lua cannot yield (comparator, gsub callback, metamethod)', async () => {
  const r = new ScriptRunner({ states: 1, host: { key: async (v) => -v, up: (s) => s.toUpperCase() } });
  assert.equal(await r.run('local t = {1, 3, 2} table.sort(t, function(a, b) return engine.key(a) < engine.key(b) end) return t'), [3, 2, 1]);
  assert.is(await r.run('return (string.gsub("abc", "%w", function(c) return engine.up(c) end))'), 'ABC');
  assert.is(await r.run('local t = setmetatable({}, { __index = function(_, k) return engine.up(k) end }) return t.hi'), 'HI');
  assert.is(await r.run('return coroutine.wrap(function() return engine.up("co") end)()'), 'CO');
  await r.close();
});

test('host calls count against timeoutMs; cancel and close settle suspended jobs', async () => {
  const never = () => new Promise(() => {});
  const r = new ScriptRunner({ states: 1, host: { never } });
  assert.instance(await r.run('return engine.never()', { timeoutMs: 50 }).catch((x) => x), TimeoutError);
  assert.instance(await r.run('table.sort({1, 2}, function(a, b) engine.never() return a < b end)', { timeoutMs: 50 }).catch((x) => x), TimeoutError);
  assert.is(await r.run('return "state still works"'), 'state still works');
  const ac = new AbortController();
  const aborted = r.run('return engine.never()', { signal: ac.signal });
  while (r.stats().suspended === 0) await tick();
  ac.abort();
  assert.instance(await aborted.catch((x) => x), CancelledError);
  const byId = new Promise((res) => {
    const id = r.enqueue('return engine.never()', { callback: (err) => res(err) });
    const t = setInterval(() => { if (r.stats().suspended > 0) { clearInterval(t); r.cancel(id); } }, 1);
  });
  assert.instance(await byId, CancelledError);
  const left = r.run('return engine.never()').catch((x) => x);
  while (r.stats().suspended === 0) await tick();
  await r.close();
  assert.instance(await left, CancelledError);
});

test('every state suspended on fs reads: no deadlock with UV_THREADPOOL_SIZE=2 and 4 states', () => {
  const script = `
    const { ScriptRunner } = require('luapool');
    const fs = require('fs');
    (async () => {
      const r = new ScriptRunner({ states: 4, host: { read: async (f) => (await fs.promises.readFile(f)).length } });
      const jobs = [];
      for (let i = 0; i < 40; i++) jobs.push(r.run('local n = 0 for i = 1, 5 do n = n + engine.read("package.json") end return n'));
      const out = await Promise.all(jobs);
      const size = fs.statSync('package.json').size;
      console.log(JSON.stringify({ ok: out.every((n) => n === size * 5), parallelism: r.parallelism }));
      await r.close();
    })();`;
  const out = execFileSync(process.execPath, ['-e', script], {
    cwd: path.join(__dirname, '..'), env: { ...process.env, UV_THREADPOOL_SIZE: '2' }, timeout: 60000,
  });
  assert.equal(JSON.parse(String(out).trim()), { ok: true, parallelism: 1 });
});

test('contexts: persistent globals, FIFO, isolated from each other and from plain jobs', async () => {
  const r = new ScriptRunner({ states: 2 });
  const a = r.context('entity:1');
  const b = r.context('entity:2');
  assert.is(r.context('entity:1'), a);
  const order = [];
  for (let i = 0; i < 20; i++) order.push(a.run('count = (count or 0) + 1 return count'));
  assert.equal(await Promise.all(order), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.is(await b.run('return count'), undefined);
  assert.is(await r.run('return count'), undefined);
  await a.reset();
  assert.is(await a.run('return count'), undefined);
  await a.close();
  assert.instance(await a.run('return 1').catch((x) => x), RunnerClosedError);
  assert.is(await r.context('entity:1').run('return count'), undefined);
  assert.throws(() => r.context(''), TypeError);
  await r.close();
});

test('different contexts run in parallel', async () => {
  // A barrier in a sort comparator (where Lua cannot yield): each job holds its thread until
  // both have arrived, so the barrier opens only if the two run at the same time.
  let arrived = 0;
  let open;
  const opened = new Promise((res) => { open = res; });
  const meet = () => { if (++arrived === 2) open(); return opened; };
  const r = new ScriptRunner({ states: 2, threads: 2, host: { meet } });
  const src = 'table.sort({2, 1}, function(a, b) engine.meet() return a < b end) return true';
  let timer;
  const hung = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error('the two contexts never ran at once')), 20000); });
  const jobs = Promise.all([r.context('a').run(src), r.context('b').run(src)]);
  assert.equal(await Promise.race([jobs, hung]), [true, true]);
  clearTimeout(timer);
  await r.close();
});

test('modules: define, call, hot reload, syntax errors reported at once', async () => {
  const r = new ScriptRunner({ states: 2, host: { hold: (ms) => new Promise((res) => setTimeout(res, ms)) } });
  r.define('ai/orc', 'local M = {} function M.update(e) return e.hp - 1 end function M.slow() engine.hold(100) return "old" end return M');
  assert.is(await r.call('ai/orc', 'update', [{ hp: 10 }]), 9);
  const running = r.call('ai/orc', 'slow');
  while (r.stats().suspended === 0) await tick();
  r.define('ai/orc', 'return { update = function(e) return e.hp - 2 end, slow = function() return "new" end }');
  assert.is(await running, 'old', 'a call already running finishes on the old version');
  assert.is(await r.call('ai/orc', 'slow'), 'new');
  for (let i = 0; i < 10; i++) assert.is(await r.call('ai/orc', 'update', [{ hp: 10 }]), 8);
  let e;
  try { r.define('ai/orc', 'return {\n  update = function( end\n}'); } catch (x) { e = x; }
  assert.instance(e, LuaError);
  assert.is(e.line, 2);
  assert.is(await r.call('ai/orc', 'update', [{ hp: 10 }]), 8, 'the old version stays in force');
  const missing = await r.call('ai/orc', 'nope').catch((x) => x);
  assert.match(missing.message, "has no function 'nope'");
  assert.instance(await r.call('nope', 'f').catch((x) => x), TypeError);
  r.define('bad', 'return 42');
  assert.match((await r.call('bad', 'f').catch((x) => x)).message, 'must return a table');
  await r.close();
});

test('callMany: one round trip per state, results in order', async () => {
  const r = new ScriptRunner({ states: 2 });
  r.define('m', 'return { f = function(x, y) return x * (y or 1) end, none = function() end }');
  const list = Array.from({ length: 10000 }, (_, i) => [i, 2]);
  const out = await r.callMany('m', 'f', list);
  assert.is(out.length, 10000);
  assert.ok(out.every((v, i) => v === i * 2));
  assert.equal(await r.callMany('m', 'none', [[], []]), [undefined, undefined]);
  assert.equal(await r.callMany('m', 'f', []), []);
  await r.callMany('m', 'f', [1]).then(assert.unreachable, (x) => assert.instance(x, TypeError));
  await r.close();
});

test.run();
