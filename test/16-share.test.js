// runner.share(name, value): read-only engine.shared.<name> in every job, converted once
// per state per version (lazily), replaced by sharing again, removed with undefined.
const { test } = require('uvu');
const assert = require('uvu/assert');
const { ScriptRunner, LuaError, MarshalError, MemoryLimitError, RunnerClosedError } = require('luapool');

async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const WORLD = { w: 160, h: 60, name: 'arena', nests: [{ x: 1, y: 2 }, { x: 5, y: 8 }], flags: [true, false] };

test('every job sees engine.shared.<name>: run, call, contexts, nested values, any type', async () => {
  const r = new ScriptRunner({ states: 2 });
  r.share('world', WORLD);
  r.share('dt', 0.016);
  r.share('title', 'Orcs');
  r.define('m', 'return { area = function() local w = engine.shared.world return w.w * w.h, #w.nests end }');
  assert.is(await r.run('return engine.shared.world.nests[2].y + engine.shared.dt'), 8.016);
  assert.equal(await r.call('m', 'area', [], { multret: true }), [9600, 2]);
  assert.is(await r.context('c').run('return engine.shared.title .. engine.shared.world.name'), 'Orcsarena');
  assert.equal(await r.run(`
    local out = {}
    for _, n in ipairs(engine.shared.world.nests) do out[#out + 1] = n.x end
    local keys = {}
    for k in pairs(engine.shared.world) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do out[#out + 1] = k end
    return out`), [1, 5, ...Object.keys(WORLD).sort()]);
  assert.is(await r.run('return engine.shared.nothing'), undefined);
  assert.is(await r.run('return type(engine.shared)'), 'table');
  await r.close();
});

test('pairs, ipairs, # and table.concat read through; shared references and cycles keep their shape', async () => {
  const r = new ScriptRunner({ states: 1 });
  const point = { x: 3 };
  const ring = { name: 'ring' };
  ring.self = ring;
  r.share('g', { a: point, b: point, ring, list: ['a', 'b', 'c'] });
  assert.equal(await r.run(`
    local g = engine.shared.g
    local keys = {}
    for k in pairs(g) do keys[#keys + 1] = k end
    table.sort(keys)
    local n = 0
    for _ in ipairs(g.list) do n = n + 1 end
    return { table.concat(keys, ","), #g.list, n, table.concat(g.list, "-"), g.a == g.b, g.ring.self == g.ring }`),
  ['a,b,list,ring', 3, 3, 'a-b-c', true, true]);
  await r.close();
});

test('shared values are read-only at every depth, whatever a script tries', async () => {
  const r = new ScriptRunner({ states: 1 });
  r.share('world', WORLD);
  const attempts = {
    'engine.shared.world.w = 1': 'attempt to modify engine.shared.world (shared values are read-only)',
    'engine.shared.world.nests[1].x = 9': 'attempt to modify engine.shared.world',
    'engine.shared.world.extra = {}': 'attempt to modify engine.shared.world',
    'engine.shared.other = 1': 'attempt to modify engine.shared (it is read-only)',
    'table.insert(engine.shared.world.nests, 1)': 'attempt to modify engine.shared.world',
    'rawset(engine.shared.world, "w", 1)': 'attempt to modify a read-only table',
    'rawset(engine.shared.world.nests[1], "x", 1)': 'attempt to modify a read-only table',
    'setmetatable(engine.shared.world, {})': 'attempt to modify a read-only table',
    'engine.shared = {}': "attempt to modify read-only table 'engine'",
  };
  for (const [src, message] of Object.entries(attempts)) {
    const e = await failure(r.run(src));
    assert.instance(e, LuaError, src);
    assert.match(e.message, message, src);
  }
  assert.is(await r.run('return getmetatable(engine.shared.world)'), false);
  assert.is(await r.run('return engine.shared.world.w + engine.shared.world.nests[1].x'), 161, 'unchanged');
  await r.close();
});

test('converted once per state and version, lazily; sharing again replaces, undefined removes', async () => {
  const r = new ScriptRunner({ states: 2 });
  const big = { cells: Array.from({ length: 20000 }, (_, i) => ({ i, v: i * 0.5 })) };
  const before = r.stats().states.map((s) => s.memory);
  r.share('big', big);
  assert.equal(r.stats().states.map((s) => s.memory), before, 'nothing is converted before a job runs');
  const ctx = r.context('probe');
  assert.is(await ctx.run('seen = engine.shared.big; return #seen.cells'), 20000);
  const other = r.stats().states.filter((_, i) => i !== ctx.state).map((s) => s.memory);
  assert.equal(other, before.filter((_, i) => i !== ctx.state), 'only the state that ran a job converted it');
  assert.ok(r.stats().states[ctx.state].memory > before[ctx.state] + 1e6);
  // the same tables for every later job on the state: nothing is converted again
  assert.is(await ctx.run('return rawequal(seen, engine.shared.big)'), true);
  assert.is(await ctx.run('return rawequal(seen, engine.shared.big)'), true);
  r.share('big', { cells: [{ i: -1 }] });
  assert.equal(await ctx.run('return { rawequal(seen, engine.shared.big), #engine.shared.big.cells, engine.shared.big.cells[1].i }'),
    [false, 1, -1]);
  r.share('big', undefined);
  assert.is(await ctx.run('return engine.shared.big'), undefined);
  assert.is(await r.run('return engine.shared.big'), undefined);
  r.share('big', undefined); // removing what is not there is fine
  await r.close();
});

test('trusted states (libs: all) see engine.shared too', async () => {
  const r = new ScriptRunner({ states: 1, libs: 'all' });
  r.share('k', { v: 42 });
  assert.is(await r.run('return engine.shared.k.v'), 42);
  assert.match((await failure(r.run('engine.shared.k.v = 1'))).message, 'read-only');
  await r.close();
});

test('a shared value over the memory limit fails the jobs of that state with MemoryLimitError until it is removed', async () => {
  const r = new ScriptRunner({ states: 1, memoryLimit: 4 << 20 });
  r.share('huge', { s: Array.from({ length: 100000 }, (_, i) => ({ i })) });
  assert.instance(await failure(r.run('return 1')), MemoryLimitError);
  r.share('huge', undefined);
  assert.is(await r.run('return 1'), 1);
  await r.close();
});

test('share() checks its arguments', async () => {
  const r = new ScriptRunner({ states: 1 });
  assert.throws(() => r.share(1, 2), (e) => e instanceof TypeError && /share\(name\)/.test(e.message));
  assert.throws(() => r.share('', 2), (e) => e instanceof TypeError && /non-empty/.test(e.message));
  assert.throws(() => r.share('\ud800', 2), (e) => e instanceof TypeError && /well-formed/.test(e.message));
  let e;
  try { r.share('world', { nests: [{ f: () => 1 }] }); } catch (x) { e = x; }
  assert.instance(e, MarshalError);
  assert.is(e.path, 'shared.world.nests[0].f');
  assert.throws(() => new ScriptRunner({ host: { shared: () => 1 } }), (x) => x instanceof TypeError && /engine\.shared/.test(x.message));
  await r.close();
  assert.throws(() => r.share('a', 1), (x) => x instanceof RunnerClosedError);
});

test.run();
