// callColumns: typed arrays lent to Lua as row views (zero copy). Every element type read
// and written with its conversion rules, read-only columns, unknown fields, non-numbers,
// the row in errors, first/count, several states writing one SharedArrayBuffer at once
// (also run under the sanitizers: `node scripts/sanitize.js --only=js -- 15-columns`),
// sliced-out jobs, cancels and timeouts, and every argument check.
const { test } = require('uvu');
const assert = require('uvu/assert');
const { ScriptRunner, LuaError, TimeoutError, CancelledError } = require('luapool');

const TYPES = [Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array];
const INT_TYPES = TYPES.filter((T) => T !== Float64Array && T !== Float32Array);

const MODULE = `
local M = {}
-- the row of a view, from a read-only column holding 0..n-1
function M.copy(e) e.out = e.v end
function M.kind(e) e.out = math.type(e.v) == "integer" and 1 or 2 end
function M.put(e, vals, float)
  local v = vals[e.idx + 1]
  if float then v = v + 0.0 end
  e.v = v
end
function M.step(e, dt)
  e.x = e.x + e.vx * dt
  if e.x > 10 then e.vx = -e.vx end
  e.hp = e.hp - 1
  return e
end
function M.write(e, k, v) e[k] = v end
function M.read(e, k) local _ = e[k] end
function M.fail_at(e, row) if e.idx == row then error("boom") end end
function M.args(e, ...) e.out = select("#", ...) * 1000 + (... or 0) + (select(2, ...) or 0) + (select(3, ...) or 0) end
function M.inspect(e)
  local names = {}
  for k, v in pairs(e) do names[#names + 1] = k .. "=" .. v end
  table.sort(names)
  e.out = #names
  M.last = table.concat(names, ",") .. " " .. type(e) .. " " .. tostring(getmetatable(e))
end
function M.last_seen() return M.last end
function M.keep(e) M.kept = e end
function M.use_kept() return M.kept.idx end
function M.spin(e) while true do end end
function M.renil(e) e.v = nil; local was = e.v; e.v = 7; e.out = was == nil and 1 or 0 end
function M.leave_nil(e) e.v = nil end
function M.work(e, n)
  if e.idx == 0 then engine.started() end
  local s = 0
  for i = 1, n do s = s + i % 7 end
  e.out = s + e.idx
end
function M.fill(e, salt)
  local i = e.idx
  e.f64 = i * 0.5 + salt
  e.f32 = i * 0.25
  e.i32 = -i * 3
  e.u32 = i * 7
  e.i16 = -i
  e.u16 = i * 2
  e.i8 = i
  e.u8 = i + 1
end
local first_row = setmetatable({}, { __mode = "k" })  -- row views that reached the barrier
function M.fill_after_barrier(e, salt)
  if first_row[e] == nil then first_row[e] = true; engine.barrier() end
  M.fill(e, salt)
end
-- every column: c_i = c_i + r_i (r: read-only columns beside them)
function M.sum_wide(e, n)
  for i = 1, n do e["c" .. i] = e["c" .. i] + e["r" .. i] end
end
function M.touch_ro(e, k, v) if e.idx == 3 then e[k] = v end e.out = e.idx end
-- the view's table changes under the row transfer: a field set to nil across a full
-- collection (its key may be cleared), keys rawset into the view (its nodes rehashed)
function M.churn(e, long)
  local i = e.idx
  e.v = nil
  if i % 3 == 0 then collectgarbage() end
  if i % 4 == 1 then for k = 1, 40 do rawset(e, "extra" .. k, k) end end
  if i % 4 == 3 then for k = 1, 40 do rawset(e, "extra" .. k, nil) end end
  e.v = i * 2
  e.out = e.v + e[long]
  e[long] = e[long] + 1
end
return M`;

function runner(options = {}) {
  const r = new ScriptRunner({ states: 2, ...options });
  r.define('m', MODULE);
  return r;
}

function iota(n) {
  return Int32Array.from({ length: n }, (_, i) => i);
}

async function failure(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

test('reads every element type, integers as Lua integers and floats as floats', async () => {
  const r = runner();
  for (const T of TYPES) {
    const v = T === Float64Array ? new T([0, -1.5, 1e300, -0.0, 2 ** 53])
      : T === Float32Array ? new T([0, -1.5, 3.4e38, 0.1, -2])
        : new T([0, 1, -1, 2 ** 31, -(2 ** 31)]);
    const out = new Float64Array(v.length);
    await r.callColumns('m', 'copy', { v, out });
    assert.equal(Array.from(out), Array.from(v), T.name);
    await r.callColumns('m', 'kind', { v, out });
    const integer = INT_TYPES.includes(T);
    assert.ok(out.every((k) => k === (integer ? 1 : 2)), `${T.name}: ${out}`);
  }
  await r.close();
});

test('writes convert like a JavaScript typed-array assignment (truncate, wrap, round to float32)', async () => {
  const r = runner();
  const values = [0, 1, -1, 1.5, -1.5, 2.9, -2.9, 127, 128, 255, 256, -128, -129, 32767, 32768, 65535, 65536,
    2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 5, -(2 ** 31) - 1, 1e10, -1e10, 2 ** 53 - 1, 2 ** 64, -(2 ** 70) - 3,
    NaN, Infinity, -Infinity, 3.4e38, 3.4028235677973366e38, 3.4028235677973367e38, 1e39, -1e39, 1e-50, 0.1, 1 / 3];
  const n = values.length;
  const idx = iota(n);
  for (const T of TYPES) {
    for (const float of [false, true]) {
      const v = new T(n);
      await r.callColumns('m', 'put', { v, idx }, { args: [values, float], readonly: ['idx'] });
      const expect = new T(n);
      values.forEach((x, i) => { expect[i] = x; });
      assert.equal(Array.from(v), Array.from(expect), `${T.name}${float ? ' (Lua floats)' : ''}`);
    }
  }
  // Lua integers beyond 2^53 (BigInt arguments) keep their low bits in integer columns
  const big = [2n ** 62n + 3n, -(2n ** 63n), 2n ** 63n - 1n, -5n];
  const bidx = iota(big.length);
  for (const T of TYPES) {
    const v = new T(big.length);
    await r.callColumns('m', 'put', { v, idx: bidx }, { args: [big] });
    const bits = 8 * T.BYTES_PER_ELEMENT;
    const expect = big.map((b) => {
      if (T === Float64Array) return Number(b);
      if (T === Float32Array) return Math.fround(Number(b));
      return Number(T.name.startsWith('Int') ? BigInt.asIntN(bits, b) : BigInt.asUintN(bits, b));
    });
    assert.equal(Array.from(v), expect, `${T.name} from 64-bit integers`);
  }
  await r.close();
});

test('the same behaviour runs on a table through callMany and on a row view through callColumns', async () => {
  const r = runner();
  const entities = Array.from({ length: 50 }, (_, i) => ({ x: i * 0.5, vx: 1 + i / 10, hp: 100 + i }));
  const viaTables = await r.callMany('m', 'step', entities.map((e) => [e, 0.25]));
  const x = Float64Array.from(entities, (e) => e.x);
  const vx = Float64Array.from(entities, (e) => e.vx);
  const hp = Int32Array.from(entities, (e) => e.hp);
  await r.callColumns('m', 'step', { x, vx, hp }, { args: [0.25] });
  viaTables.forEach((e, i) => {
    assert.is(x[i], e.x, `x[${i}]`);
    assert.is(vx[i], e.vx, `vx[${i}]`);
    assert.is(hp[i], e.hp, `hp[${i}]`);
  });
  await r.close();
});

test('options.args: extra arguments after the row view, any number of them', async () => {
  const r = runner();
  const out = new Float64Array(3);
  await r.callColumns('m', 'args', { out });
  assert.equal(Array.from(out), [0, 0, 0]);
  await r.callColumns('m', 'args', { out }, { args: [5] });
  assert.equal(Array.from(out), [1005, 1005, 1005]);
  await r.callColumns('m', 'args', { out }, { args: [5, 6] });
  assert.equal(Array.from(out), [2011, 2011, 2011]);
  await r.callColumns('m', 'args', { out }, { args: [5, 6, 7, 8] });
  assert.equal(Array.from(out), [4018, 4018, 4018]);
  await r.close();
});

test('first and count select the rows; count defaults to the rest of the shortest column', async () => {
  const r = runner();
  const x = new Float64Array(10), vx = new Float64Array(10).fill(1), hp = new Int32Array(12);
  await r.callColumns('m', 'step', { x, vx, hp }, { first: 3, count: 4, args: [1] });
  assert.equal(Array.from(x), [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]);
  assert.equal(Array.from(hp.subarray(0, 10)), [0, 0, 0, -1, -1, -1, -1, 0, 0, 0]);
  await r.callColumns('m', 'step', { x, vx, hp }, { first: 8, args: [1] });
  assert.equal(Array.from(x), [0, 0, 0, 1, 1, 1, 1, 0, 1, 1]);
  assert.equal(Array.from(hp.subarray(10)), [0, 0], 'beyond the shortest column: untouched');
  await r.callColumns('m', 'step', { x, vx, hp }, { first: 10, args: [1] }); // no rows left: nothing runs
  await r.callColumns('m', 'step', { x, vx, hp }, { count: 0, args: [1] });
  assert.equal(Array.from(x), [0, 0, 0, 1, 1, 1, 1, 0, 1, 1]);
  await r.close();
});

test('read-only columns, unknown fields and non-numbers are Lua errors naming the field and the row', async () => {
  const r = runner({ states: 1 });
  const idx = iota(5), v = new Float64Array(5);
  let e = await failure(r.callColumns('m', 'step', { x: v, vx: v, hp: idx }, { readonly: ['hp'], args: [1] }));
  assert.instance(e, LuaError);
  assert.is(e.message, "row view: column 'hp' is read-only (row 0)", 'checked when the row\'s call returns');
  assert.is(e.row, 0);
  e = await failure(r.callColumns('m', 'read', { v }, { args: ['nope'] }));
  assert.match(e.message, /^m:\d+: row view: no column named 'nope' \(row 0\)$/, 'raised where the field is read');
  e = await failure(r.callColumns('m', 'write', { v }, { args: ['nope', 1] }));
  assert.match(e.message, "no column named 'nope'");
  e = await failure(r.callColumns('m', 'read', { v }, { args: [3] }));
  assert.match(e.message, 'no column named by a number key');
  for (const [bad, type] of [['5', 'string'], [true, 'boolean'], [{}, 'table'], [undefined, 'nil']]) {
    e = await failure(r.callColumns('m', 'write', { v }, { args: ['v', bad] }));
    assert.instance(e, LuaError);
    assert.match(e.message, `row view: column 'v' takes a number, got ${type} (row 0)`);
  }
  assert.equal(Array.from(v), [0, 0, 0, 0, 0], 'nothing written');
  // like a table: a column set to nil reads nil and may be set again within the row's call
  const out = new Float64Array(5);
  await r.callColumns('m', 'renil', { v, out });
  assert.equal(Array.from(v), [7, 7, 7, 7, 7]);
  assert.equal(Array.from(out), [1, 1, 1, 1, 1]);
  e = await failure(r.callColumns('m', 'leave_nil', { v }, { first: 2 }));
  assert.is(e.message, "row view: column 'v' takes a number, got nil (row 2)");
  assert.is(e.row, 2);
  await r.close();
});

test('any error of a row carries the row: e.row, and the message says it', async () => {
  const r = runner();
  const idx = iota(2000);
  const e = await failure(r.callColumns('m', 'fail_at', { idx }, { args: [1234] }));
  assert.instance(e, LuaError);
  assert.is(e.row, 1234);
  assert.match(e.message, /^m:\d+: boom \(row 1234\)$/);
  assert.is(e.chunk, 'm');
  const t = await failure(r.callColumns('m', 'spin', { idx }, { first: 700, count: 3, timeoutMs: 30 }));
  assert.instance(t, TimeoutError);
  assert.is(t.row, 700);
  await r.close();
});

test('a row view is a table: pairs() sees the columns; a view kept after its call has ended is refused', async () => {
  const r = runner({ states: 1 });
  const idx = iota(3), out = new Float64Array(3);
  await r.callColumns('m', 'inspect', { idx, out }, { first: 2 });
  assert.is(out[2], 2);
  assert.is(await r.call('m', 'last_seen'), 'idx=2,out=0.0 table false');
  await r.callColumns('m', 'keep', { idx });
  const e = await failure(r.call('m', 'use_kept'));
  assert.match(e.message, 'its callColumns call has ended');
  await r.close();
});

test('several states write every column type of one SharedArrayBuffer at once, on disjoint rows', async () => {
  // Every part waits in a host call on its first row until all four have started, so each
  // is open on its own state (a new job goes to a state with no open job) whatever the
  // machine's load; then they write at once, two threads at a time.
  let arrived = 0;
  let release;
  const all = new Promise((resolve) => { release = resolve; });
  const barrier = () => {
    if (++arrived === 4) release();
    return all;
  };
  const r = new ScriptRunner({ states: 4, threads: 2, host: { barrier } });
  r.define('m', MODULE);
  const n = 20000;
  const sab = new SharedArrayBuffer(n * (8 + 4 + 4 + 4 + 2 + 2 + 1 + 1 + 4));
  let at = 0;
  const view = (T) => { const a = new T(sab, at, n); at += n * T.BYTES_PER_ELEMENT; return a; };
  const c = {
    f64: view(Float64Array), f32: view(Float32Array), i32: view(Int32Array), u32: view(Uint32Array),
    idx: view(Int32Array), i16: view(Int16Array), u16: view(Uint16Array), i8: view(Int8Array), u8: view(Uint8Array),
  };
  c.idx.set(iota(n));
  const before = r.stats().states.map((s) => s.jobs);
  // two calls of two parts each (one part per thread)
  await Promise.all([
    r.callColumns('m', 'fill_after_barrier', c, { readonly: ['idx'], args: [1], count: n / 2 }),
    r.callColumns('m', 'fill_after_barrier', c, { readonly: ['idx'], args: [1], first: n / 2 }),
  ]);
  assert.is(arrived, 4, 'four parts');
  const used = r.stats().states.filter((s, i) => s.jobs > before[i]).length;
  assert.is(used, 4, `the parts ran on ${used} state(s)`);
  const ref = {
    f64: new Float64Array(n), f32: new Float32Array(n), i32: new Int32Array(n), u32: new Uint32Array(n),
    i16: new Int16Array(n), u16: new Uint16Array(n), i8: new Int8Array(n), u8: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    ref.f64[i] = i * 0.5 + 1; ref.f32[i] = i * 0.25; ref.i32[i] = -i * 3; ref.u32[i] = i * 7;
    ref.i16[i] = -i; ref.u16[i] = i * 2; ref.i8[i] = i; ref.u8[i] = i + 1;
  }
  for (const k of Object.keys(ref)) {
    for (let i = 0; i < n; i++) {
      if (c[k][i] !== ref[k][i]) assert.unreachable(`${k}[${i}] = ${c[k][i]}, expected ${ref[k][i]}`);
    }
  }
  await r.close();
});

test('read-only columns: left alone (NaN included) they pass, changed they fail naming the column and row', async () => {
  const r = runner({ states: 1 });
  for (const T of TYPES) {
    const ro = new T(6).fill(3);
    if (T === Float64Array || T === Float32Array) ro[2] = NaN;
    const idx = iota(6), out = new Float64Array(6);
    await r.callColumns('m', 'touch_ro', { idx, ro, out }, { readonly: ['idx', 'ro'], args: ['out', 0] });
    assert.equal(Array.from(out), [0, 1, 2, 3, 4, 5], T.name);
    // the same number in another representation is no change (as `==` in Lua)
    await r.callColumns('m', 'touch_ro', { idx, ro, out }, { readonly: ['idx', 'ro'], args: ['ro', 3.0] });
    for (const [bad, what] of [[4, 'another number'], ['3', 'a string'], [undefined, 'nil']]) {
      const e = await failure(r.callColumns('m', 'touch_ro', { idx, ro, out }, { readonly: ['idx', 'ro'], args: ['ro', bad] }));
      assert.instance(e, LuaError, `${T.name}, ${what}`);
      assert.is(e.message, "row view: column 'ro' is read-only (row 3)", `${T.name}, ${what}`);
      assert.is(e.row, 3);
    }
    assert.is(ro[3], 3, T.name);
  }
  await r.close();
});

test('the row transfer survives a view whose table changes: nil fields across a collection, rehashes, long names', async () => {
  const r = runner({ states: 1 });
  const long = 'a_column_name_longer_than_forty_bytes_is_a_long_string_' + 'x'.repeat(20);
  const n = 64;
  const v = new Float64Array(n), out = new Float64Array(n), l = new Int32Array(n).fill(5);
  await r.callColumns('m', 'churn', { idx: iota(n), v, out, [long]: l }, { readonly: ['idx'], args: [long] });
  assert.equal(Array.from(v), Array.from({ length: n }, (_, i) => i * 2));
  assert.equal(Array.from(out), Array.from({ length: n }, (_, i) => i * 2 + 5));
  assert.equal(Array.from(l), new Array(n).fill(6));
  // and the state's next call, on the same cached loop, is unaffected
  await r.callColumns('m', 'copy', { v, out });
  assert.equal(Array.from(out), Array.from(v));
  await r.close();
});

test('calls submitted back to back in one task each run on their own arrays', async () => {
  const r = runner({ states: 2, threads: 2 });
  const n = 2000;
  const calls = [Float64Array, Int32Array, Float32Array, Uint8Array].map((T, k) => ({ k, v: new T(n), out: new Float64Array(n) }));
  await Promise.all(calls.map(({ k, v, out }) => r.callColumns('m', 'put', { idx: iota(n), v, out }, { readonly: ['idx'], args: [[k + 1, k + 2], false], count: 2 })
    .then(() => r.callColumns('m', 'copy', { v, out }, { first: 0, count: n }))));
  for (const { k, v, out } of calls) {
    assert.equal([v[0], v[1], v[2]], [k + 1, k + 2, 0], `call ${k}`);
    assert.equal([out[0], out[1]], [k + 1, k + 2], `call ${k}`);
  }
  // the same object of columns in two calls at once, with other arrays swapped in between
  const cols = { idx: iota(n), v: new Float64Array(n), out: new Float64Array(n) };
  const first = r.callColumns('m', 'copy', { v: cols.idx, out: cols.out });
  const other = new Float64Array(n).fill(9);
  const second = r.callColumns('m', 'copy', { v: other, out: cols.v });
  await Promise.all([first, second]);
  assert.equal(cols.out[n - 1], n - 1);
  assert.equal(cols.v[n - 1], 9);
  await r.close();
});

test('layouts: the same names in another order or with other read-only flags, and many layouts in turn, each read right', async () => {
  const r = runner({ states: 1 });
  const n = 4;
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 24; k++) { // more layouts than the native side remembers
      const a = new Float64Array(n), b = new Float64Array(n);
      const cols = k % 2 ? { v: a, out: b } : { out: b, v: a };
      if (k % 3 === 0) cols[`extra${k}`] = new Int8Array(n);
      cols[`p${'q'.repeat(k)}`] = new Float64Array(n); // names that are prefixes of others
      a.fill(k);
      await r.callColumns('m', 'copy', cols);
      assert.equal(Array.from(b), new Array(n).fill(k), `layout ${k}`);
      b.fill(-1);
      const e = await failure(r.callColumns('m', 'copy', cols, { readonly: ['out'] }));
      assert.is(e.message, "row view: column 'out' is read-only (row 0)", `layout ${k}, out read-only`);
      b.fill(0);
      await r.callColumns('m', 'copy', cols, { readonly: ['v'] });
      assert.equal(Array.from(b), new Array(n).fill(k), `layout ${k}, v read-only`);
    }
  }
  await r.close();
});

test('many columns: 40 and 70 read, write and check alike', async () => {
  const r = runner({ states: 2 });
  for (const width of [40, 70]) {
    const n = 600;
    const cols = {}, ref = [];
    const half = width / 2;
    for (let i = 1; i <= half; i++) {
      cols[`c${i}`] = Float64Array.from({ length: n }, (_, k) => k + i);
      cols[`r${i}`] = Int16Array.from({ length: n }, (_, k) => i * 2 - (k % 3));
      ref.push(Float64Array.from({ length: n }, (_, k) => k + i + i * 2 - (k % 3)));
    }
    const readonly = Object.keys(cols).filter((k) => k[0] === 'r');
    await r.callColumns('m', 'sum_wide', cols, { readonly, args: [half] });
    for (let i = 1; i <= half; i++) assert.equal(cols[`c${i}`], ref[i - 1], `${width} columns: c${i}`);
    const idx = iota(n), out = new Float64Array(n);
    const e = await failure(r.callColumns('m', 'touch_ro', { ...cols, idx, out }, { readonly, args: [`r${half}`, 1000] }));
    assert.is(e.message, `row view: column 'r${half}' is read-only (row 3)`, `${width} columns`);
    const t = await failure(r.callColumns('m', 'touch_ro', { ...cols, idx, out }, { readonly, args: [`c${half}`, 'x'] }));
    assert.is(t.message, `row view: column 'c${half}' takes a number, got string (row 3)`, `${width} columns`);
    assert.is(t.row, 3);
  }
  await r.close();
});

test('a call runs as one part per thread (no part waits for a thread and slices the others)', async () => {
  const r = runner({ states: 4, threads: 2 });
  const n = 10000;
  const idx = iota(n), out = new Float64Array(n);
  const jobs = () => r.stats().states.reduce((s, x) => s + x.jobs, 0);
  const before = jobs();
  await r.callColumns('m', 'copy', { v: idx, out }, { readonly: ['v'] });
  assert.is(jobs() - before, 2, 'parts of a 10,000-row call on 2 threads');
  assert.is(out[n - 1], n - 1);
  const small = jobs();
  await r.callColumns('m', 'copy', { v: idx, out }, { readonly: ['v'], count: 300 });
  assert.is(jobs() - small, 1, 'a call of fewer than 2 × 256 rows is one part');
  await r.close();
});

test('a columns job is time-sliced like any job: another job overtakes it, the rows are still right', async () => {
  const order = [];
  let short;
  // answered at once; the short job then queues behind the resumed columns job and can only
  // finish first if the columns job gives its thread up
  const started = () => { setImmediate(() => { short = r.run('return "short"').then((v) => { order.push(v); }); }); };
  const r = new ScriptRunner({ states: 2, threads: 1, sliceMs: 1, host: { started } });
  r.define('m', MODULE);
  const n = 200, idx = iota(n), out = new Float64Array(n);
  await r.callColumns('m', 'work', { idx, out }, { args: [2e5] }).then(() => order.push('columns'));
  await short;
  assert.equal(order, ['short', 'columns']);
  let s = 0;
  for (let i = 1; i <= 2e5; i++) s += i % 7;
  for (let i = 0; i < n; i++) assert.is(out[i], s + i, `out[${i}]`);
  assert.ok(r.stats().slices >= 1);
  await r.close();
});

test('cancel (signal) and timeout mid-call settle the call; the runner carries on', async () => {
  const r = runner({ threads: 2 });
  const idx = iota(4000);
  const ac = new AbortController();
  const p = r.callColumns('m', 'spin', { idx }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 30);
  const e = await failure(p);
  assert.instance(e, CancelledError);
  assert.type(e.row, 'number');
  const t = await failure(r.callColumns('m', 'spin', { idx }, { timeoutMs: 20 }));
  assert.instance(t, TimeoutError);
  assert.is(r.pending, 0, 'every part settled before the call did');
  const out = new Float64Array(4);
  await r.callColumns('m', 'args', { out }, { args: [1] });
  assert.equal(Array.from(out), [1001, 1001, 1001, 1001]);
  await r.close();
});

test('a buffer detached while the call runs makes the call reject once every part is done', async () => {
  const started = () => {
    // transfer the buffer away mid-call (the clone keeps its memory alive)
    clone = structuredClone(out.buffer, { transfer: [out.buffer] });
  };
  let clone;
  const r = new ScriptRunner({ states: 1, host: { started } });
  r.define('m', MODULE);
  const idx = iota(10), out = new Float64Array(10);
  const e = await failure(r.callColumns('m', 'work', { idx, out }, { args: [10] }));
  assert.instance(e, TypeError);
  assert.match(e.message, 'columns.out: its ArrayBuffer was detached while callColumns ran');
  assert.is(new Float64Array(clone)[9], 9 + [1, 2, 3, 4, 5, 6, 0, 1, 2, 3].reduce((a, b) => a + b), 'the rows went to the memory it had');
  await r.close();
});

test('trusted states (libs: all) run columns jobs too', async () => {
  const r = runner({ libs: 'all', states: 1 });
  const x = new Float64Array(3), vx = new Float64Array(3).fill(2), hp = new Int32Array(3);
  await r.callColumns('m', 'step', { x, vx, hp }, { args: [1] });
  assert.equal(Array.from(x), [2, 2, 2]);
  const e = await failure(r.callColumns('m', 'fail_at', { idx: iota(5) }, { args: [3] }));
  assert.is(e.row, 3);
  assert.match(e.message, '(row 3)');
  await r.close();
});

test('every argument is checked and named (TypeError / RangeError)', async () => {
  const r = runner();
  const x = new Float64Array(4);
  const check = async (p, Class, text) => {
    const e = await failure(p);
    assert.instance(e, Class, `${e && e.message}`);
    assert.match(e.message, text);
  };
  await check(r.callColumns('nope', 'f', { x }), TypeError, 'no module named');
  await check(r.callColumns('m', '', { x }), TypeError, 'callColumns(fn)');
  await check(r.callColumns('m', 'step', null), TypeError, 'callColumns(columns): columns must be an object');
  await check(r.callColumns('m', 'step', [x]), TypeError, 'callColumns(columns)');
  await check(r.callColumns('m', 'step', {}), TypeError, 'columns has no column');
  await check(r.callColumns('m', 'step', { x: [1, 2] }), TypeError, 'columns.x must be a typed array');
  await check(r.callColumns('m', 'step', { x: new DataView(new ArrayBuffer(8)) }), TypeError, 'columns.x must be a typed array');
  await check(r.callColumns('m', 'step', { x: new BigInt64Array(2) }), TypeError, 'columns.x must be a typed array');
  await check(r.callColumns('m', 'step', { x: new Uint8ClampedArray(2) }), TypeError, 'columns.x must be a typed array');
  await check(r.callColumns('m', 'step', { x, y: new Float64Array(2) }, { count: 3 }), RangeError,
    'columns.y has 2 elements, fewer than first + count (3)');
  await check(r.callColumns('m', 'step', { x }, { first: 2, count: 3 }), RangeError, 'columns.x has 4 elements');
  await check(r.callColumns('m', 'step', { x }, { first: -1 }), RangeError, 'options.first');
  await check(r.callColumns('m', 'step', { x }, { first: 5 }), RangeError, 'options.first (5) is beyond the end of the shortest column (4 elements)');
  await check(r.callColumns('m', 'step', { x }, { count: 1.5 }), RangeError, 'options.count');
  await check(r.callColumns('m', 'step', { x }, { count: '1' }), TypeError, 'options.count');
  await check(r.callColumns('m', 'step', { x }, { readonly: ['y'] }), TypeError, "options.readonly: 'y' is not a column");
  await check(r.callColumns('m', 'step', { x }, { readonly: 'x' }), TypeError, 'options.readonly must be an array');
  await check(r.callColumns('m', 'step', { x }, { multret: true }), TypeError, 'options.multret is not an option of callColumns()');
  await check(r.callColumns('m', 'step', { x }, { args: 1 }), TypeError, 'options.args must be an array');
  await check(r.callColumns('m', 'step', { x }, { timeoutMs: -1 }), RangeError, 'options.timeoutMs');
  const moved = new Float64Array(4);
  structuredClone(moved.buffer, { transfer: [moved.buffer] });
  await check(r.callColumns('m', 'step', { moved }), TypeError, 'columns.moved: its ArrayBuffer is detached');
  if (typeof ArrayBuffer.prototype.resize === 'function') {
    const rs = new Float64Array(new ArrayBuffer(32, { maxByteLength: 64 }));
    await check(r.callColumns('m', 'step', { rs }), TypeError, 'columns.rs: a resizable ArrayBuffer is not supported');
  }
  const buf = new ArrayBuffer(64);
  await check(r.callColumns('m', 'step', { a: new Float64Array(buf, 0, 4), b: new Float64Array(buf, 8, 4) }), TypeError,
    'columns.a overlaps columns.b');
  await check(r.callColumns('m', 'step', { a: new Float64Array(buf, 0, 4), b: new Int32Array(buf, 0, 4) }), TypeError,
    'overlaps');
  // read-only columns may share memory; the same elements under two names too
  const same = new Float64Array(buf, 0, 4);
  await r.callColumns('m', 'copy', { v: new Int32Array(buf, 0, 4), out: new Float64Array(buf, 32, 4) }, { readonly: ['v'] });
  await r.callColumns('m', 'copy', { v: same, out: same });
  await r.close();
  await check(r.callColumns('m', 'step', { x }), Error, 'closed');
});

test.run();
