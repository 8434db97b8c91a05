// Records through the shape-aware codec's fast paths on the Lua side: the tables of one
// shape decoded as copies of a per-conversion template (no key hashed per table), and
// tables encoded by walking them by position. They must be ordinary tables in every way.
const { test } = require('uvu');
const assert = require('uvu/assert');
const { ScriptRunner } = require('luapool');

const MODULE = `
local M = {}
local function keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = tostring(k) end
  table.sort(ks)
  return table.concat(ks, ",")
end
function M.describe(e) return keys(e) end
function M.grow(e)
  -- new keys past the copied hash part, a removal and a re-insertion, then a read of all
  for i = 1, 40 do e["k" .. i] = i end
  e.b = nil
  e.k7 = nil
  e.a = e.a + 1
  e.b = "again"
  local n = 0
  for _ in pairs(e) do n = n + 1 end
  return { n = n, a = e.a, b = e.b, k40 = e.k40, k7 = e.k7 == nil, len = #e }
end
function M.nested(e) return e.pos.x + e.pos.y + e.vel.x + (e.vel.y or 0), keys(e.pos), keys(e.vel) end
function M.churn(e)
  local junk = {}
  for i = 1, 50 do junk[i] = { i, tostring(i) } end
  collectgarbage("step", 0)
  return { s = e.s .. "!", t = e.t.v, n = #junk }
end
function M.mixed(i)
  local t = { 10, 20, 30, x = i }
  if i % 2 == 0 then t[2] = nil end
  local u = { a = i, b = i * 2, c = i * 3 }
  if i % 3 == 0 then u.b = nil end
  return { t = t, u = u }
end
function M.kinds(e)
  return string.format("%s %s %s %s %s %s", math.type(e.a), math.type(e.b), math.type(e.c),
    tostring(e.d), tostring(e.e), type(e.f)), e.b, e.c
end
local LONG = string.rep("L", 40)
function M.vary(i)
  local k = i % 8
  if k == 0 then return { x = i, y = 2 } end
  if k == 1 then return { x = { i }, y = 2 } end
  if k == 2 then return { x = LONG, y = LONG } end
  if k == 3 then return { x = i, y = 2, z = 3 } end
  if k == 4 then return { x = "s" .. i, y = true } end
  if k == 5 then return { x = i } end
  if k == 6 then return { y = 1, w = i } end
  return { x = print, y = 1 }
end
-- records of numbers and booleans (read in one call), with one in six that is not quite one
function M.scalars(i)
  local t = { i = i, big = 2^40 + i, huge = math.maxinteger - i, f = i + 0.25, neg = -0.0,
    inf = 1/0, nan = 0/0, yes = true, no = false }
  local k = i % 6
  if k == 1 then t.f = nil end                      -- a key fewer (an empty slot)
  if k == 3 then t[1] = "array part" end            -- an entry in the array part
  if k == 5 then t.yes = "short string" end         -- another kind of value
  return t
end
return M`;

function runner(options = {}) {
  const r = new ScriptRunner({ states: 1, ...options });
  r.define('m', MODULE);
  return r;
}

test('tables of one shape with absent (undefined / null) values have exactly the present keys', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 30; i++) {
      list.push([{ a: i, b: i % 3 === 0 ? undefined : i, c: i % 5 === 0 ? null : 'c', d: true }]);
    }
    const out = await r.callMany('m', 'describe', list);
    out.forEach((k, i) => {
      const want = ['a', i % 3 === 0 ? null : 'b', i % 5 === 0 ? null : 'c', 'd'].filter(Boolean).join(',');
      assert.is(k, want, `entry ${i}`);
    });
  } finally {
    await r.close();
  }
});

test('a decoded record grows, loses and regains keys like any table', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 20; i++) list.push([{ a: i, b: 'b', c: [1, 2], d: i / 2 }]);
    const out = await r.callMany('m', 'grow', list);
    out.forEach((o, i) => {
      assert.equal(o, { n: 43, a: i + 1, b: 'again', k40: 40, k7: true, len: 0 }, `entry ${i}`);
    });
  } finally {
    await r.close();
  }
});

test('records nested in records, and a record twice in one entry', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 25; i++) list.push([{ pos: { x: i, y: 1 }, vel: { x: 2, y: i % 2 ? undefined : 3 } }]);
    const out = await r.callMany('m', 'nested', list, { multret: true });
    out.forEach((o, i) => {
      assert.equal(o, [i + 1 + 2 + (i % 2 ? 0 : 3), 'x,y', i % 2 ? 'x' : 'x,y'], `entry ${i}`);
    });
    const shared = { x: 5, y: 6 };
    const same = await r.callMany('m', 'nested', [[{ pos: shared, vel: shared }], [{ pos: { x: 1, y: 1 }, vel: shared }]],
      { multret: true });
    assert.equal(same, [[22, 'x,y', 'x,y'], [13, 'x,y', 'x,y']]);
  } finally {
    await r.close();
  }
});

test('records survive collections while the batch allocates (generational and incremental)', async () => {
  for (const gcMode of ['generational', 'incremental']) {
    const r = runner({ gcMode });
    try {
      const list = [];
      for (let i = 0; i < 400; i++) list.push([{ s: `s${i}`, t: { v: i }, pad: 'x'.repeat(i % 50) }]);
      const out = await r.callMany('m', 'churn', list);
      out.forEach((o, i) => assert.equal(o, { s: `s${i}!`, t: i, n: 50 }, `${gcMode} entry ${i}`));
    } finally {
      await r.close();
    }
  }
});

test('results walked by position: mixed tables, holes, removed keys, records of one shape', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 12; i++) list.push([i]);
    const out = await r.callMany('m', 'mixed', list);
    out.forEach((o, i) => {
      const t = i % 2 === 0 ? { 1: 10, 3: 30, x: i } : { 1: 10, 2: 20, 3: 30, x: i };
      const u = i % 3 === 0 ? { a: i, c: i * 3 } : { a: i, b: i * 2, c: i * 3 };
      assert.equal(o.u, u, `u ${i}`);
      assert.equal(o.t instanceof Map ? Object.fromEntries(o.t) : o.t, t, `t ${i}`);
    });
  } finally {
    await r.close();
  }
});

test('scalars of every kind in records of one shape keep their Lua types', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 10; i++) list.push([{ a: i, b: 2 ** 40 + i, c: i + 0.5, d: true, e: false, f: `s${i}` }]);
    const out = await r.callMany('m', 'kinds', list, { multret: true });
    out.forEach((o, i) => assert.equal(o, ['integer integer float true false string', 2 ** 40 + i, i + 0.5], `entry ${i}`));
  } finally {
    await r.close();
  }
});

test('results of one key list with values of every kind, and one that cannot be converted', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 48; i++) list.push([i]);
    const out = await r.callMany('m', 'vary', list, { settled: true });
    const LONG = 'L'.repeat(40);
    out.forEach((o, i) => {
      const k = i % 8;
      if (k === 7) {
        assert.is(o.status, 'rejected', `entry ${i}`);
        assert.is(o.reason.name, 'MarshalError');
        assert.match(o.reason.message, /result\[\d+\]\.x: cannot convert a Lua function/);
        return;
      }
      const want = [{ x: i, y: 2 }, { x: [i], y: 2 }, { x: LONG, y: LONG }, { x: i, y: 2, z: 3 },
        { x: `s${i}`, y: true }, { x: i }, { y: 1, w: i }][k];
      assert.equal(o, { status: 'fulfilled', value: want }, `entry ${i}`);
    });
    const plain = await r.callMany('m', 'vary', list.filter((_, i) => i % 8 !== 7));
    assert.is(plain.length, 42);
    assert.equal(plain[0], { x: 0, y: 2 });
    assert.equal(plain[7], { x: 8, y: 2 });
    assert.equal(plain[8], { x: [9], y: 2 });
  } finally {
    await r.close();
  }
});

test('records of numbers and booleans keep every value exactly, next to ones that are not quite such records', async () => {
  const r = runner();
  try {
    const list = [];
    for (let i = 0; i < 60; i++) list.push([i]);
    const out = await r.callMany('m', 'scalars', list);
    out.forEach((o, i) => {
      const want = { i, big: 2 ** 40 + i, huge: 2n ** 63n - 1n - BigInt(i), f: i + 0.25, neg: -0, inf: Infinity, nan: NaN, yes: true, no: false };
      const k = i % 6;
      if (k === 1) delete want.f;
      if (k === 3) want[1] = 'array part';
      if (k === 5) want.yes = 'short string';
      assert.equal(Object.keys(o).sort(), Object.keys(want).sort(), `keys ${i}`);
      for (const key of Object.keys(want)) assert.ok(Object.is(o[key], want[key]), `entry ${i}.${key}: ${String(o[key])}`);
    });
  } finally {
    await r.close();
  }
});

test.run();
