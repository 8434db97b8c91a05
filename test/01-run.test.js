// ScriptRunner basics: results, arguments, env, chunk names, errors, delivery modes.
const { test } = require('uvu');
const assert = require('uvu/assert');
const {
  ScriptRunner, ActionQueue, LuaError, LuapoolError, RunnerClosedError, luaVersion, napiVersion,
} = require('luapool');

const runner = new ScriptRunner({ states: 2 });

test('reports the Lua and Node-API versions it was built with', () => {
  assert.is(luaVersion, 'Lua 5.4.7');
  assert.is(napiVersion, 9);
});

test('run() resolves with the first return value', async () => {
  assert.is(await runner.run('return 1 + 1'), 2);
  assert.is(await runner.run('return "a", "b"'), 'a');
  assert.is(await runner.run('local x = 1'), undefined);
});

test('args are passed as varargs', async () => {
  assert.is(await runner.run('local a, b = ...; return a * b', { args: [6, 7] }), 42);
  assert.is(await runner.run('return select("#", ...)', { args: [1, undefined, 3] }), 3);
});

test('env adds globals for one job; multret returns every value', async () => {
  assert.equal(await runner.run('return x, y', { env: { x: 1, y: 2 }, multret: true }), [1, 2]);
  assert.equal(await runner.run('return', { multret: true }), []);
  assert.equal(await runner.run('return nil, 2', { multret: true }), [undefined, 2]);
  const env = new Map([['k', 'v']]);
  assert.is(await runner.run('return k', { env }), 'v');
});

test('a Lua error rejects with LuaError: message, chunk, line, traceback', async () => {
  try {
    await runner.run('local x = 1\nerror("boom")', { name: 'ai/orc.lua' });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, LuaError);
    assert.instance(e, LuapoolError);
    assert.is(e.code, 'ERR_LUA');
    assert.is(e.message, 'ai/orc.lua:2: boom');
    assert.is(e.chunk, 'ai/orc.lua');
    assert.is(e.line, 2);
    assert.match(e.traceback, 'stack traceback:');
    assert.match(e.traceback, 'ai/orc.lua:2: in main chunk');
    assert.type(e.jobId, 'number');
  }
});

test('a syntax error is a LuaError with its position', async () => {
  const e = await runner.run('return +', { name: 'bad.lua' }).catch((x) => x);
  assert.instance(e, LuaError);
  assert.is(e.chunk, 'bad.lua');
  assert.is(e.line, 1);
  assert.match(e.message, "unexpected symbol near '+'");
});

test('non-string error values are kept in .value', async () => {
  let e = await runner.run('error({ code = 42 })').catch((x) => x);
  assert.equal(e.value, { code: 42 });
  assert.is(e.message, '(error object is a table value)');
  e = await runner.run('error(7)').catch((x) => x);
  assert.is(e.value, 7);
  assert.is(e.message, '7');
  e = await runner.run('error()').catch((x) => x);
  assert.is(e.message, '(error object is a nil value)');
  e = await runner.run('error(setmetatable({}, { __tostring = function() return "custom" end }))').catch((x) => x);
  assert.is(e.message, 'custom');
  e = await runner.run('error(setmetatable({}, { __tostring = function() error("nope") end }))').catch((x) => x);
  assert.is(e.message, '(error object is a table value)');
});

test('enqueue with a callback settles once on the main thread', async () => {
  const got = await new Promise((resolve) => {
    const id = runner.enqueue('return ...', { args: ['x'], callback: (err, v) => resolve({ err, v, id }) });
    assert.type(id, 'number');
  });
  assert.is(got.err, null);
  assert.is(got.v, 'x');
  const failed = await new Promise((resolve) => runner.enqueue('error("e")', { callback: (err) => resolve(err) }));
  assert.instance(failed, LuaError);
});

test("enqueue with deliver: 'actions' goes to the ActionQueue with ctx", async () => {
  const actions = new ActionQueue();
  const r = new ScriptRunner({ states: 1, actions });
  const entity = { id: 42 };
  const id = r.enqueue('engine.log("info", "hello", 1); engine.post("moved", { x = 1 }); return "done"', {
    ctx: entity, deliver: 'actions',
  });
  const id2 = r.enqueue('error("bad")', { deliver: 'actions', ctx: 7 });
  await r.run('return 1'); // one state, FIFO: both jobs above have settled
  await r.close();
  const list = actions.drain();
  assert.is(actions.size, 0);
  assert.equal(list.map((a) => a.type), ['log', 'post', 'result', 'error']);
  assert.is(list[0].message, 'hello 1');
  assert.is(list[0].level, 'info');
  assert.equal(list[1].data, { x: 1 });
  assert.is(list[1].name, 'moved');
  assert.is(list[2].jobId, id);
  assert.is(list[2].ctx, entity);
  assert.is(list[2].value, 'done');
  assert.is(list[3].jobId, id2);
  assert.instance(list[3].error, LuaError);
});

test('bad arguments throw TypeError/RangeError naming the argument', async () => {
  assert.throws(() => new ScriptRunner({ states: 0 }), (e) => e instanceof RangeError && /options\.states/.test(e.message));
  assert.throws(() => new ScriptRunner({ states: 'x' }), (e) => e instanceof TypeError && /options\.states/.test(e.message));
  assert.throws(() => new ScriptRunner({ libs: 'none' }), /options\.libs/);
  assert.throws(() => new ScriptRunner({ libs: ['base', 'sockets'] }), /options\.libs\[1\]/);
  assert.throws(() => new ScriptRunner({ timeoutMs: -1 }), /options\.timeoutMs/);
  assert.throws(() => new ScriptRunner({ memoryLimit: 10 }), /options\.memoryLimit/);
  assert.throws(() => new ScriptRunner({ bogus: 1 }), /options\.bogus is not a known option/);
  assert.throws(() => new ScriptRunner({ actions: [] }), /options\.actions/);
  assert.throws(() => new ScriptRunner({ host: { f: 1 } }), /options\.host\.f/);
  await runner.run(42).then(assert.unreachable, (e) => { assert.instance(e, TypeError); assert.match(e.message, 'source'); });
  await runner.run('x', { args: 5 }).then(assert.unreachable, (e) => assert.match(e.message, 'options.args'));
  await runner.run('x', { timeoutMs: NaN }).then(assert.unreachable, (e) => assert.match(e.message, 'options.timeoutMs'));
  await runner.run('x', { nope: 1 }).then(assert.unreachable, (e) => assert.match(e.message, 'options.nope'));
  await runner.run('x', { signal: {} }).then(assert.unreachable, (e) => assert.match(e.message, 'options.signal'));
  assert.throws(() => runner.enqueue('x'), /exactly one of options\.callback/);
  assert.throws(() => runner.enqueue('x', { deliver: 'actions' }), /needs an ActionQueue/);
  assert.throws(() => runner.enqueue('x', { callback: 1 }), /options\.callback/);
  assert.throws(() => runner.cancel('1'), /cancel\(id\)/);
});

test('close() settles queued jobs and later calls reject with RunnerClosedError', async () => {
  // no time slices: the jobs behind the running one stay queued until close()
  const r = new ScriptRunner({ states: 1, sliceMs: 0 });
  const jobs = [r.run('local s = 0 for i = 1, 3e6 do s = s + i end return s')];
  while (r.stats().running === 0) await new Promise((res) => setImmediate(res));
  for (let i = 0; i < 50; i++) jobs.push(r.run('local s = 0 for i = 1, 1e5 do s = s + i end return s'));
  const closing = r.close();
  const settled = await Promise.allSettled(jobs);
  await closing;
  assert.ok(settled.every((s) => s.status === 'fulfilled' || s.reason.code === 'ERR_CANCELLED'));
  assert.is(settled[0].status, 'fulfilled'); // the running job finishes
  assert.ok(settled.slice(1).every((s) => s.status === 'rejected')); // queued ones are cancelled
  const late = await r.run('return 1').catch((e) => e);
  assert.instance(late, RunnerClosedError);
  assert.is(await r.close(), undefined); // idempotent
});

test.after(() => runner.close());
test.run();
