// Values crossing between JavaScript and Lua: every type, both directions, the options.
const { test } = require('uvu');
const assert = require('uvu/assert');
const { ScriptRunner, MarshalError } = require('luapool');

const runner = new ScriptRunner({ states: 1 });
const echo = (v, opts = {}) => runner.run('return ...', { args: [v], ...opts });
const luaType = (v) => runner.run('local v = ...; return math.type(v) or type(v)', { args: [v] });

test('nil, booleans', async () => {
  assert.is(await echo(undefined), undefined);
  assert.is(await echo(null), undefined);
  assert.is(await echo(true), true);
  assert.is(await echo(false), false);
  assert.is(await luaType(null), 'nil');
});

test('integers and floats keep their Lua type', async () => {
  assert.is(await luaType(3), 'integer');
  assert.is(await luaType(3.5), 'float');
  assert.is(await luaType(-0), 'float');
  assert.is(await luaType(2 ** 53), 'float');              // not a safe integer
  assert.is(await luaType(Number.MAX_SAFE_INTEGER), 'integer');
  assert.is(await luaType(-Number.MAX_SAFE_INTEGER), 'integer');
  assert.is(await echo(-123456789012), -123456789012);
  assert.is(await runner.run('return 7 // 2'), 3);
  assert.is(await runner.run('return 7 / 2'), 3.5);
});

test('special floats survive: -0, NaN, ±Infinity', async () => {
  assert.ok(Object.is(await echo(-0), -0));
  assert.ok(Number.isNaN(await echo(NaN)));
  assert.is(await echo(Infinity), Infinity);
  assert.is(await echo(-Infinity), -Infinity);
  assert.ok(Object.is(await runner.run('return -0.0'), -0));
  assert.ok(Number.isNaN(await runner.run('return 0/0')));
  assert.is(await runner.run('return math.huge'), Infinity);
});

test('Lua integers beyond 2^53 come back as BigInt; BigInt goes in as an integer', async () => {
  assert.is(await runner.run('return math.maxinteger'), 9223372036854775807n);
  assert.is(await runner.run('return math.mininteger'), -9223372036854775808n);
  assert.is(await runner.run('return 2^53 // 1 | 0'), 9007199254740992n);
  assert.is(await runner.run('return (1 << 53) - 1'), 9007199254740991);
  assert.is(await luaType(10n), 'integer');
  assert.is(await echo(9223372036854775807n), 9223372036854775807n);
  assert.is(await runner.run('local v = ...; return v + 1 == math.mininteger', { args: [9223372036854775807n] }), true);
  const e = await echo(2n ** 63n).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.is(e.code, 'ERR_MARSHAL');
  assert.match(e.message, 'args[0]');
  assert.match(e.message, 'out of range');
});

test('strings: UTF-8, NUL bytes, Buffers as bytes, lossless bytes option', async () => {
  assert.is(await echo('héllo ✓ 🎮'), 'héllo ✓ 🎮');
  assert.is(await runner.run('return #...', { args: ['é'] }), 2);
  assert.is(await echo('a\0b'), 'a\0b');
  assert.is(await runner.run('return #...', { args: ['a\0b'] }), 3);
  const bytes = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0x80]);
  assert.is(await runner.run('return #...', { args: [bytes] }), 5);
  const back = await echo(bytes, { bytes: 'buffer' });
  assert.ok(Buffer.isBuffer(back));
  assert.ok(back.equals(bytes));
  const u8 = new Uint8Array([1, 2, 3]);
  assert.ok((await echo(u8, { bytes: 'buffer' })).equals(Buffer.from(u8)));
  const invalid = await runner.run('return "\\xff\\xfe"', { bytes: 'buffer' });
  assert.ok(invalid.equals(Buffer.from([0xff, 0xfe])));
  assert.is(await runner.run('return "\\xff"'), '\ufffd'); // 'string' mode decodes as UTF-8
  assert.is(await echo(''), '');
});

test('arrays <-> sequences, objects <-> tables, nested, empty', async () => {
  assert.equal(await echo([1, 'two', [3, [4]]]), [1, 'two', [3, [4]]]);
  assert.equal(await echo({ a: 1, b: { c: [true, false] } }), { a: 1, b: { c: [true, false] } });
  assert.is(await runner.run('local t = ...; return #t, t[1], t[3]', { args: [[10, 20, 30]], multret: true }).then((r) => r.join()), '3,10,30');
  assert.equal(await runner.run('return {}'), {});
  assert.equal(await echo([]), {}); // an empty table has no array-ness: it comes back as {}
  assert.equal(await echo({}), {});
  assert.equal(await runner.run('return { n = 1, [1] = "a", [2] = "b" }'), { 1: 'a', 2: 'b', n: 1 });
});

test('sparse tables and non-string keys become object properties unless strict', async () => {
  assert.equal(await runner.run('return { [1] = "a", [3] = "c" }'), { 1: 'a', 3: 'c' });
  assert.equal(await runner.run('return { [1.5] = "f", [true] = "t" }'), { '1.5': 'f', true: 't' });
  const e = await runner.run('return { [1] = "a", [3] = "c" }', { strict: true }).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.match(e.message, 'strict');
  const collision = await runner.run('return { [1] = "int", ["1"] = "str", x = {} }', { strict: true }).catch((x) => x);
  assert.instance(collision, MarshalError);
  const table = await runner.run('return { [{}] = 1 }').catch((x) => x);
  assert.instance(table, MarshalError);
  assert.match(table.message, "tables: 'map'");
});

test("tables: 'map' keeps Lua key types", async () => {
  const m = await runner.run('return { [1] = "a", ["1"] = "b", [true] = "c", [2.5] = "d", list = { 7, 8 } }', { tables: 'map' });
  assert.instance(m, Map);
  assert.is(m.get(1), 'a');
  assert.is(m.get('1'), 'b');
  assert.is(m.get(true), 'c');
  assert.is(m.get(2.5), 'd');
  assert.equal([...m.get('list').entries()], [[1, 7], [2, 8]]);
  const keyed = await runner.run('local k = {1}; return { [k] = "v" }', { tables: 'map' });
  const [k, v] = [...keyed.entries()][0];
  assert.instance(k, Map);
  assert.is(v, 'v');
  const inMap = new Map([[1, 'int'], ['1', 'str'], [2.5, 'float'], [true, 'bool']]);
  assert.is(await runner.run('local t = ...; return t[1] .. t["1"] .. t[2.5] .. t[true]', { args: [inMap] }), 'intstrfloatbool');
});

test('cycles and shared references are preserved in both directions', async () => {
  const a = { name: 'a' };
  a.self = a;
  const shared = [1];
  const graph = { x: shared, y: shared, a };
  assert.is(await runner.run('local g = ...; return g.x == g.y and g.a.self == g.a', { args: [graph] }), true);
  const back = await echo(graph);
  assert.is(back.x, back.y);
  assert.is(back.a.self, back.a);
  const fromLua = await runner.run('local t = {}; t.me = t; local s = {}; return { t, t, s, s }');
  assert.is(fromLua[0], fromLua[1]);
  assert.is(fromLua[0].me, fromLua[0]);
  assert.is(fromLua[2], fromLua[3]);
  assert.is.not(fromLua[0], fromLua[2]);
  const map = await runner.run('local t = {}; t[t] = t; return t', { tables: 'map' });
  assert.is(map.get(map), map);
});

test('a DAG with 2^64 paths is linear thanks to shared references', async () => {
  const r = await runner.run('local t = {} for i = 1, 64 do t = { t, t } end return t');
  let node = r;
  for (let i = 0; i < 64; i++) { assert.is(node[0], node[1]); node = node[0]; }
});

test('unsupported JS values give MarshalError naming the path', async () => {
  const cases = [
    [{ items: [1, 2, 3, () => 1] }, 'args[0].items[3]', 'function'],
    [Symbol('s'), 'args[0]', 'symbol'],
    [new Date(), 'args[0]', 'Date'],
    [{ m: new (class Foo {})() }, 'args[0].m', 'Foo'],
    [{ [Symbol('k')]: 1 }, 'args[0]', 'symbol'],
  ];
  for (const [value, path, what] of cases) {
    const e = await echo(value).catch((x) => x);
    assert.instance(e, MarshalError, path);
    assert.is(e.path, path);
    assert.match(e.message, what);
  }
  const e = await runner.run('return 1', { env: { ok: 1, bad: { f() {} } } }).catch((x) => x);
  assert.is(e.path, 'env.bad.f');
  const strictHole = await echo([1, undefined, 3], { strict: true }).catch((x) => x);
  assert.instance(strictHole, MarshalError);
  assert.is(strictHole.path, 'args[0][1]');
});

test('unsupported Lua values give MarshalError naming the path', async () => {
  let e = await runner.run('return { list = { 1, 2, print } }').catch((x) => x);
  assert.instance(e, MarshalError);
  assert.is(e.path, 'result[0].list[3]');
  assert.match(e.message, 'function');
  e = await runner.run('return coroutine.create(print)').catch((x) => x);
  assert.match(e.message, 'thread');
});

test('nesting deeper than the limit is refused, not a crash', async () => {
  let deep = [];
  for (let i = 0; i < 1000; i++) deep = [deep];
  const e = await echo(deep).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.match(e.message, 'nested');
  const e2 = await runner.run('local t = {} for i = 1, 100000 do t = { t } end return t').catch((x) => x);
  assert.instance(e2, MarshalError);
  assert.match(e2.message, 'nested');
});

test('object keys named __proto__ stay own properties', async () => {
  const r = await runner.run('return { ["__proto__"] = { polluted = true } }');
  assert.is(Object.getPrototypeOf(r), Object.prototype);
  assert.equal(Object.keys(r), ['__proto__']);
  assert.is(({}).polluted, undefined);
});

test('large values round-trip', async () => {
  const big = Array.from({ length: 100000 }, (_, i) => ({ i, s: 'x' + i }));
  const back = await echo(big);
  assert.is(back.length, 100000);
  assert.equal(back[99999], { i: 99999, s: 'x99999' });
  const s = 'z'.repeat(5 << 20);
  assert.is((await echo(s)).length, 5 << 20);
});

test.after(() => runner.close());
test.run();
