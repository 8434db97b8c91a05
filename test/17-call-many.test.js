// callMany that tells you what happened: `settled` (one outcome per entry, every entry
// run), the failing entry's `index` otherwise, `multret`, and `keys` (same key, same state,
// so module state per key persists).
const { test } = require('uvu');
const assert = require('uvu/assert');
const { ScriptRunner, LuaError, MarshalError, TimeoutError } = require('luapool');

const MODULE = `
local M = { seen = {}, counts = {} }
function M.f(x)
  M.seen[#M.seen + 1] = x
  if x % 10 == 3 then error("bad " .. x) end
  if x % 10 == 5 then error({ code = x }) end
  if x % 10 == 7 then return print end
  return x * 2
end
function M.many(x) if x == 0 then return end return x, nil, x + 1, nil end
function M.bump(key)
  M.counts[key] = (M.counts[key] or 0) + 1
  return M.counts[key]
end
function M.spin() while true do end end
function M.where(x) if x == 2 then error("here", 2) end return x end
return M`;

function runner(options = {}) {
  const r = new ScriptRunner({ states: 2, ...options });
  r.define('m', MODULE);
  return r;
}

async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

test('settled: one outcome per entry, every entry run, failures with their details and index', async () => {
  const r = runner();
  const list = Array.from({ length: 30 }, (_, i) => [i]);
  const out = await r.callMany('m', 'f', list, { settled: true });
  assert.is(out.length, 30);
  out.forEach((o, i) => {
    if (i % 10 === 3) {
      assert.is(o.status, 'rejected');
      assert.instance(o.reason, LuaError);
      assert.is(o.reason.message, `m:5: bad ${i}`);
      assert.is(o.reason.chunk, 'm');
      assert.is(o.reason.line, 5);
      assert.match(o.reason.traceback, 'stack traceback:');
      assert.is(o.reason.index, i);
    } else if (i % 10 === 5) {
      assert.is(o.status, 'rejected');
      assert.instance(o.reason, LuaError);
      assert.equal(o.reason.value, { code: i });
      assert.is(o.reason.index, i);
    } else if (i % 10 === 7) {
      assert.is(o.status, 'rejected');
      assert.instance(o.reason, MarshalError, 'only this entry fails to convert');
      assert.is(o.reason.path, `result[${i}]`);
      assert.is(o.reason.index, i);
    } else {
      assert.equal(o, { status: 'fulfilled', value: i * 2 }, `entry ${i}`);
    }
  });
  await r.close();
});

test('settled with multret, bytes: buffer and tables: map: the shapes still decode', async () => {
  const r = runner();
  assert.equal(await r.callMany('m', 'many', [[1], [0], [3]], { multret: true, settled: true }), [
    { status: 'fulfilled', value: [1, undefined, 2, undefined] },
    { status: 'fulfilled', value: [] },
    { status: 'fulfilled', value: [3, undefined, 4, undefined] },
  ]);
  const out = await r.callMany('m', 'f', [[1], [3], [7], [5]], { settled: true, multret: true, bytes: 'buffer', tables: 'map' });
  assert.equal(out[0], { status: 'fulfilled', value: [2] });
  assert.is(out[1].reason.message, 'm:5: bad 3');
  assert.instance(out[2].reason, MarshalError);
  assert.is(out[2].reason.path, 'result[2][0]');
  assert.instance(out[3].reason.value, Map);
  assert.equal([...out[3].reason.value].map(([k, v]) => [String(k), v]), [['code', 5]]);
  await r.close();
});

test('without settled, the rejection names the failing entry (index), across parts', async () => {
  const r = runner({ threads: 2 });
  const list = Array.from({ length: 10000 }, (_, i) => [i === 7773 ? 3 : 1]);
  const e = await failure(r.callMany('m', 'f', list));
  assert.instance(e, LuaError);
  assert.is(e.index, 7773);
  assert.is(e.message, 'm:5: bad 3');
  const m = await failure(r.callMany('m', 'f', list.map((a, i) => [i === 6001 ? 7 : 1])));
  assert.instance(m, MarshalError);
  assert.is(m.index, 6001);
  assert.is(m.path, 'result[6001]');
  const t = await failure(r.callMany('m', 'spin', [[], [], []], { timeoutMs: 20 }));
  assert.instance(t, TimeoutError);
  assert.is(t.index, 0);
  await r.close();
});

test('a part that fails as a whole (timeout) rejects each of its entries under settled', async () => {
  const r = runner();
  const out = await r.callMany('m', 'spin', [[], []], { settled: true, timeoutMs: 20 });
  assert.is(out.length, 2);
  for (const o of out) {
    assert.is(o.status, 'rejected');
    assert.instance(o.reason, TimeoutError);
  }
  await r.close();
});

test('multret: each entry is the array of everything it returned', async () => {
  const r = runner();
  assert.equal(await r.callMany('m', 'many', [[1], [0], [5]], { multret: true }),
    [[1, undefined, 2, undefined], [], [5, undefined, 6, undefined]]);
  const list = Array.from({ length: 5000 }, (_, i) => [i + 1]);
  const out = await r.callMany('m', 'many', list, { multret: true });
  assert.ok(out.every((v, i) => v.length === 4 && v[0] === i + 1 && v[2] === i + 2));
  const m = await failure(r.callMany('m', 'f', [[1], [7]], { multret: true }));
  assert.instance(m, MarshalError);
  assert.is(m.index, 1);
  assert.is(m.path, 'result[1][0]');
  await r.close();
});

test('keys: entries with the same key run on the same state on every call, so module state per key persists', async () => {
  const r = runner({ states: 4, threads: 2 });
  const keys = Array.from({ length: 400 }, (_, i) => `entity:${i % 40}`);
  for (let round = 1; round <= 3; round++) {
    const out = await r.callMany('m', 'bump', keys.map((k) => [k]), { keys });
    // each key is bumped 10 times per round, always in the same state's module table
    for (let i = 0; i < 40; i++) {
      const values = out.filter((_, j) => j % 40 === i);
      assert.equal(values, Array.from({ length: 10 }, (_, j) => (round - 1) * 10 + j + 1), `key ${i}, round ${round}`);
    }
  }
  const numeric = await r.callMany('m', 'bump', [[1], [1], [2]], { keys: [1, 1, 2] });
  assert.equal(numeric, [1, 2, 1]);
  assert.equal(await r.callMany('m', 'f', [[1], [3]], { keys: ['a', 'b'], settled: true }).then((o) => o.map((x) => x.status)),
    ['fulfilled', 'rejected']);
  const e = await failure(r.callMany('m', 'f', [[1], [3]], { keys: ['a', 'b'] }));
  assert.is(e.index, 1);
  await r.close();
});

test('the garbage a batch\'s calls make is collected while the batch runs (the collector is held off for its tables only)', async () => {
  // each call leaves 64 KiB of garbage: 2000 entries make 128 MiB of it in one part
  const r = new ScriptRunner({ states: 1, threads: 1 });
  r.define('junk', `local M = {}
    function M.junk(e) local s = string.rep("x", 65536) return { n = #s, id = e.id } end
    return M`);
  const list = Array.from({ length: 2000 }, (_, i) => [{ id: i, x: i * 0.5, y: 1.5, vx: 0.25, vy: 0, kind: i % 3 }]);
  for (let round = 0; round < 2; round++) {
    const out = await r.callMany('junk', 'junk', list);
    assert.ok(out.every((o, i) => o.id === i && o.n === 65536));
  }
  const { peakMemory } = r.stats().states[0];
  assert.ok(peakMemory < 48 << 20, `peak ${peakMemory} bytes`);
  await r.close();
});

test('batch after batch, the collector still runs: each batch gives its allowance back when it ends', async () => {
  // 40 batches whose tables (~1.5 MiB each) are less than their allowance: were it never
  // given back, no collection would ever run and the state would keep every batch's tables
  const r = new ScriptRunner({ states: 1, threads: 1 });
  r.define('rec', 'local M = {} function M.f(e) return { id = e.id, x = e.x + 1 } end return M');
  const list = Array.from({ length: 2000 }, (_, i) => [{ id: i, x: i * 0.5, y: 1.5, vx: 0.25, vy: 0, kind: i % 3 }]);
  for (let round = 0; round < 40; round++) {
    const out = await r.callMany('rec', 'f', list);
    assert.is(out[1999].id, 1999);
  }
  const { peakMemory } = r.stats().states[0];
  assert.ok(peakMemory < 24 << 20, `peak ${peakMemory} bytes`);
  await r.close();
});

test('trusted states report the failing entry too', async () => {
  const r = runner({ libs: 'all', states: 1 });
  const e = await failure(r.callMany('m', 'f', [[1], [2], [13]]));
  assert.is(e.index, 2);
  assert.equal((await r.callMany('m', 'f', [[1], [13]], { settled: true })).map((o) => o.status), ['fulfilled', 'rejected']);
  await r.close();
});

test('callMany options are checked', async () => {
  const r = runner();
  const check = async (p, Class, text) => {
    const e = await failure(p);
    assert.instance(e, Class, e && e.message);
    assert.match(e.message, text);
  };
  await check(r.callMany('m', 'f', [[1]], { settled: 1 }), TypeError, 'options.settled');
  await check(r.callMany('m', 'f', [[1]], { multret: 'yes' }), TypeError, 'options.multret');
  await check(r.callMany('m', 'f', [[1]], { keys: 'a' }), TypeError, 'options.keys must be an array');
  await check(r.callMany('m', 'f', [[1]], { keys: [] }), RangeError, 'options.keys has 0 keys for 1 entries');
  await check(r.callMany('m', 'f', [[1]], { keys: [{}] }), TypeError, 'options.keys[0] must be a string or a finite number');
  await check(r.callMany('m', 'f', [[1]], { keys: [NaN] }), TypeError, 'options.keys[0]');
  await check(r.callMany('m', 'f', [[1]], { args: [] }), TypeError, 'options.args is not allowed');
  await check(r.callMany('m', 'f', [[1]], { details: true }), TypeError, 'options.details');
  await check(r.callMany('m', 'f', [[1]], { nope: 1 }), TypeError, 'options.nope is not a known job option');
  assert.equal(await r.callMany('m', 'f', [], { settled: true }), []);
  await r.close();
});

test.run();
