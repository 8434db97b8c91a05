// Values crossing between JavaScript and Lua: every type, both directions, the options.
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { ScriptRunner, MarshalError, LuaError, ActionQueue } = require('luapool');
// The addon itself (LUAPOOL_BINDING when set), for its value-tree test hook.
const { binding } = require(path.join(__dirname, '..', 'dist', 'cjs', 'native'));

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

// -------------------------------------------------- host objects that change while encoded
// Each container is read once (length, keys, Map size and entries): whatever a getter or
// a Proxy does meanwhile, the tree matches the counts it declares, and every other
// argument of the job arrives intact.

const argsOf = (args, src = 'return select("#", ...), ...') => runner.run(src, { args, multret: true });

test('an array Proxy whose length changes between reads is encoded from one read', async () => {
  let reads = 0;
  const grows = new Proxy([1, 2, 3], {
    get(t, k, r) { if (k === 'length') return ++reads === 1 ? 3 : 5; return Reflect.get(t, k, r); },
  });
  assert.equal(await argsOf([grows, 'after']), [2, [1, 2, 3], 'after']);
  reads = 0;
  const shrinks = new Proxy([1, 2, 3], {
    get(t, k, r) { if (k === 'length') return ++reads === 1 ? 3 : 1; return Reflect.get(t, k, r); },
  });
  assert.equal(await argsOf([shrinks, 'after']), [2, [1, 2, 3], 'after']);
});

test('an array Proxy with an impossible length is a MarshalError naming it', async () => {
  for (const len of [-1, 1.5, 2 ** 32, NaN, '3', undefined]) {
    const p = new Proxy([], { get(t, k, r) { return k === 'length' ? len : Reflect.get(t, k, r); } });
    const e = await argsOf([1, { list: p }]).catch((x) => x);
    assert.instance(e, MarshalError, String(len));
    assert.is(e.path, 'args[1].list');
    assert.match(e.message, 'length');
  }
  // the argument list itself: a length read once, and never more values than Lua can take
  let reads = 0;
  const args = new Proxy([1], {
    get(t, k, r) { if (k === 'length') return ++reads === 2 ? 2 ** 32 - 1 : 1; return Reflect.get(t, k, r); },
  });
  const e = await argsOf(args).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.match(e.message, 'too many values');
  assert.equal(await argsOf(['still fine']), [1, 'still fine']);
});

test('a getter that grows or shrinks the array or Map being encoded', async () => {
  const arr = [1, 2];
  arr.push({ get x() { arr.push('pushed'); return 'x'; } });
  assert.equal(await argsOf([arr, 'after']), [2, [1, 2, { x: 'x' }], 'after']);
  assert.is(arr.length, 4);

  const grow = new Map([['a', 1]]);
  grow.set('o', { get x() { grow.set('late', 2); return 'x'; } });
  assert.equal(await argsOf([grow, 'after']), [2, { a: 1, o: { x: 'x' } }, 'after']);

  const shrink = new Map();
  shrink.set('o', { get x() { shrink.delete('b'); shrink.delete('c'); return 'x'; } });
  shrink.set('b', 2);
  shrink.set('c', 3);
  assert.equal(await argsOf([shrink, 'after']), [2, { o: { x: 'x' } }, 'after']);

  const obj = { get a() { delete obj.b; return 1; }, b: 2, c: 3 };
  assert.equal(await argsOf([obj, 'after']), [2, { a: 1, c: 3 }, 'after']);
});

test('a getter that submits another job while the arguments are encoded', async () => {
  const inner = [];
  const sneaky = {
    get x() {
      inner.push(runner.run('return ...', { args: ['inner ' + 'y'.repeat(40), { deep: [1, 2, 3] }], multret: true }));
      inner.push(runner.run('return ...', { args: [1], env: { e: 'v' } }));
      return 'outer x';
    },
  };
  const outer = await argsOf(['a', 'long string '.repeat(10), sneaky, [4, 5, 6], 'b']);
  assert.equal(outer, [5, 'a', 'long string '.repeat(10), { x: 'outer x' }, [4, 5, 6], 'b']);
  assert.equal(await inner[0], ['inner ' + 'y'.repeat(40), { deep: [1, 2, 3] }]);
  assert.is(await inner[1], 1);
  // in env too: env is encoded after args (both once shared one scratch buffer)
  const envGetter = { get v() { inner.push(runner.run('return ...', { args: ['z'.repeat(5000)] })); return 'env v'; } };
  assert.equal(await runner.run('return v.v, ...', { args: ['arg', 'q'.repeat(100)], env: { v: envGetter }, multret: true }),
    ['env v', 'arg', 'q'.repeat(100)]);
  assert.is(await inner[2], 'z'.repeat(5000));
});

test('typed arrays are read through their intrinsics (own properties and prototypes cannot lie)', async () => {
  const lying = new Uint8Array([1, 2, 3]);
  Object.defineProperty(lying, 'byteLength', { value: 100 });
  Object.defineProperty(lying, 'length', { value: 100 });
  assert.equal(await runner.run('local s = ... return #s, s:byte(1, -1)', { args: [lying], multret: true }), [3, 1, 2, 3]);
  const disguised = Object.setPrototypeOf(new Float64Array([1.5, 2.5]), Uint8Array.prototype);
  const e = await echo(disguised).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.is(e.path, 'args[0]');
  const ownIterator = new Map([['a', 1]]);
  ownIterator[Symbol.iterator] = function* () { yield ['x', 1]; yield ['y', 2]; };
  ownIterator.entries = ownIterator[Symbol.iterator];
  assert.equal(await argsOf([ownIterator, 'after']), [2, { a: 1 }, 'after']);
});

// ----------------------------------------------------------- the native decoder, directly
// binding.testing.decodeTree(buf) decodes a tree as a job decodes its arguments. Every
// malformed tree must fail with "malformed value tree", never read past the buffer (the
// sanitizer run checks that), whatever the counts say.

const NIL = 0, TRUE = 2, INT32 = 9, STR = 5, SEQ = 6, TABLE = 7, REF = 8, SREF = 10, SHAPE = 11, SHAPED = 12;
const u32 = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return [...b]; };
const tree = (flags, count, ...bytes) => Buffer.from([flags, ...u32(count), ...bytes.flat()]);
const decode = (buf, asEnv) => binding.testing.decodeTree(buf, asEnv);

test('native decoder: valid trees decode and encode back byte for byte', () => {
  const long = 'L'.repeat(40);
  const valid = [
    tree(0, 0),
    tree(0, 2, [TRUE], [INT32, ...u32(7)]),
    tree(0, 1, [STR, ...u32(3)], [...Buffer.from('abc')]),
    tree(0, 1, [SEQ, ...u32(2), TRUE, TRUE]),
    tree(1, 1, [SEQ, ...u32(2), SEQ, ...u32(1), TRUE, REF, ...u32(1)]),
    tree(2, 2, [STR, ...u32(40), ...Buffer.from(long)], [SREF, ...u32(0)]),
    // two tables with the key "a": the first defines the shape, the second refers to it
    tree(4, 2, [SHAPE, ...u32(1), STR, ...u32(1), 97, TRUE], [SHAPED, ...u32(0), INT32, ...u32(7)]),
    // a shape key that is a long string written before
    tree(6, 2, [STR, ...u32(40), ...Buffer.from(long)], [SHAPE, ...u32(1), SREF, ...u32(0), TRUE]),
  ];
  for (const t of valid) {
    const r = decode(t);
    assert.ok(r.ok, `${t.toString('hex')}: ${r.error}`);
    assert.ok(r.tree.equals(t), `${t.toString('hex')} came back as ${r.tree && r.tree.toString('hex')}`);
  }
});

// malformed shapes, for both decoders
const SHAPE_TREES = [
  [tree(0, 1, [SHAPE, ...u32(1), STR, ...u32(1), 97, TRUE]), 'without the shapes flag'],
  [tree(4, 1, [SHAPE, ...u32(0)]), 'empty shape'],
  [tree(4, 1, [SHAPE, ...u32(2), STR, ...u32(1), 97, TRUE]), 'truncated|count larger than the tree'],
  [tree(4, 1, [SHAPE, ...u32(0xffffffff), STR, ...u32(1), 97, TRUE]), 'truncated|count larger than the tree'],
  [tree(4, 1, [SHAPE, ...u32(1), INT32, ...u32(1), TRUE, TRUE]), 'shape key that is not a string'],
  [tree(4, 1, [SHAPE, ...u32(1), STR, ...u32(9), 97, TRUE]), 'truncated'],
  [tree(4, 1, [SHAPED, ...u32(0)]), 'bad shape reference'],
  [tree(0, 1, [SHAPED, ...u32(0)]), 'bad shape reference'],
  [tree(4, 2, [SHAPE, ...u32(1), STR, ...u32(1), 97, TRUE], [SHAPED, ...u32(1), TRUE]), 'bad shape reference'],
  [tree(4, 2, [SHAPE, ...u32(1), STR, ...u32(1), 97, TRUE], [SHAPED, ...u32(0)]), 'truncated|count larger than the tree'],
  // a shape cannot be used inside its own definition's keys
  [tree(4, 1, [SHAPE, ...u32(1), SHAPED, ...u32(0), TRUE]), 'shape key that is not a string'],
];

test('JS decoder: malformed shapes are MarshalErrors', () => {
  const { decodeList } = require(path.join(__dirname, '..', 'dist', 'cjs', 'marshal'));
  for (const opts of [{ bytes: 'string', tables: 'auto', strict: false }, { bytes: 'buffer', tables: 'map', strict: true }]) {
    for (const [buf, why] of SHAPE_TREES) {
      const e = (() => { try { decodeList(buf, opts, 'result'); } catch (x) { return x; } })();
      assert.instance(e, MarshalError, buf.toString('hex'));
      assert.match(e.message, 'malformed value tree');
      assert.match(e.message, new RegExp(why.replace(/ /g, ' ')), e.message);
    }
  }
});

test('JS decoder: REFs only in a tree with the references flag (without it, tables are not numbered)', () => {
  const { decodeList } = require(path.join(__dirname, '..', 'dist', 'cjs', 'marshal'));
  const opts = { bytes: 'string', tables: 'auto', strict: false };
  const cyclic = decodeList(tree(1, 1, [SEQ, ...u32(2), TRUE, REF, ...u32(0)]), opts, 'result')[0];
  assert.is(cyclic[1], cyclic);
  for (const buf of [tree(0, 1, [SEQ, ...u32(2), TRUE, REF, ...u32(0)]), tree(1, 1, [SEQ, ...u32(1), REF, ...u32(1)])]) {
    const e = (() => { try { decodeList(buf, opts, 'result'); } catch (x) { return x; } })();
    assert.instance(e, MarshalError, buf.toString('hex'));
    assert.match(e.message, 'malformed value tree (bad reference)');
  }
});

test('native decoder: malformed trees are errors, not memory corruption', () => {
  const bad = [
    [Buffer.from([0, 1, 0]), 'truncated'],
    [tree(0, 1), 'more values than bytes'],
    [tree(0, 0xffffffff, [NIL]), 'more values than bytes'],
    [tree(0, 0x80000001, ...new Array(8).fill([NIL])), 'more values than bytes'],
    [tree(8, 0), 'unknown flags'],
    [tree(0, 1, [STR, ...u32(0xffffffff), 1, 2]), 'truncated'],
    [tree(0, 1, [SEQ, ...u32(0x7fffffff), NIL]), 'count larger than the tree'],
    [tree(0, 1, [SEQ, ...u32(3), NIL]), 'count larger than the tree'],
    [tree(0, 1, [SEQ, ...u32(3), NIL, NIL, INT32, 0]), 'truncated'],
    [tree(0, 1, [TABLE, ...u32(2), NIL, NIL, NIL]), 'count larger than the tree'],
    [tree(0, 1, [REF, ...u32(0)]), 'bad reference'],
    [tree(1, 1, [SEQ, ...u32(1), REF, ...u32(1)]), 'bad reference'],
    [tree(0, 1, [SREF, ...u32(0)]), 'bad string reference'],
    [tree(2, 2, [STR, ...u32(3), 97, 98, 99], [SREF, ...u32(0)]), 'bad string reference'], // short: not numbered
    [tree(0, 1, [42]), 'unknown tag'],
    [tree(0, 1, [NIL, NIL]), 'bytes after the last value'],
    [tree(0, 1, ...new Array(2000).fill([SEQ, ...u32(1)]), [NIL]), 'nested too deeply'],
    ...SHAPE_TREES,
  ];
  for (const [buf, why] of bad) {
    const r = decode(buf);
    assert.not.ok(r.ok, `${buf.toString('hex').slice(0, 40)} decoded`);
    assert.match(r.error, 'malformed value tree', r.error);
    assert.match(r.error, new RegExp(why), r.error);
  }
  assert.not.ok(decode(tree(0, 1, [TRUE]), true).ok, 'env must be a table');
});

test('native decoder: every truncation and random corruption of real trees fails cleanly', async () => {
  const { encodeList } = require(path.join(__dirname, '..', 'dist', 'cjs', 'marshal'));
  const shared = { s: 'shared '.repeat(10) };
  const samples = [
    [1, -2, 3.5, 2 ** 40, 10n, true, null, 'héllo', Buffer.from([0xff, 0])],
    [{ a: [1, 2, { b: 'c' }], m: new Map([[1, 'x'], [true, [shared, shared]]]) }, shared.s, shared.s],
  ];
  let seed = 12345;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (const values of samples) {
    const good = Buffer.from(encodeList(values, 'args'));
    assert.ok(decode(good).ok);
    for (let cut = 0; cut < good.length; cut++) {
      const r = decode(good.subarray(0, cut));
      assert.not.ok(r.ok && cut > 0 && cut < good.length && r.count === values.length && r.tree.equals(good));
      if (!r.ok) assert.match(r.error, 'malformed value tree');
    }
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(good);
      for (let k = 0, n = 1 + rand(3); k < n; k++) b[rand(b.length)] = rand(4) === 0 ? 0xff : rand(256);
      const r = decode(b);
      if (!r.ok) assert.match(r.error, /malformed value tree|stack overflow|env must be a table/, r.error);
    }
  }
  assert.is(await runner.run('return 1 + 1'), 2);
});

// ------------------------------------------------------------------------ binary keys
test("binary (invalid UTF-8) keys stay distinct: Buffers with bytes: 'buffer', tables: 'map'", async () => {
  const src = 'return { ["\\xff"] = 1, ["\\xfe"] = 2, ["\\xc3\\x28"] = 3, name = 4, ["é"] = 5 }';
  for (const strict of [false, true]) {
    const m = await runner.run(src, { bytes: 'buffer', tables: 'map', strict });
    assert.is(m.size, 5);
    assert.is(m.get('name'), 4); // valid UTF-8 keys are strings: map.get works
    assert.is(m.get('é'), 5);
    const binary = [...m.keys()].filter((k) => Buffer.isBuffer(k)).map((k) => k.toString('hex')).sort();
    assert.equal(binary, ['c328', 'fe', 'ff']);
    for (const [k, v] of m) if (Buffer.isBuffer(k)) assert.is(v, { ff: 1, fe: 2, c328: 3 }[k.toString('hex')]);
  }
  // a binary key goes back into Lua as the same bytes
  const m = await runner.run('return { ["\\xff\\x00"] = "v" }', { bytes: 'buffer', tables: 'map' });
  assert.is(await runner.run('local t = ... return t["\\xff\\x00"]', { args: [m] }), 'v');
});

test('strict refuses lossy key conversion; without strict binary keys decode with U+FFFD', async () => {
  const src = 'return { ["\\xff"] = 1, ["\\xfe"] = 2 }';
  for (const opts of [{ tables: 'map' }, { tables: 'auto' }, { tables: 'auto', bytes: 'buffer' }]) {
    const e = await runner.run(src, { ...opts, strict: true }).catch((x) => x);
    assert.instance(e, MarshalError, JSON.stringify(opts));
    assert.match(e.message, 'not valid UTF-8');
    assert.match(e.path, 'result[0]');
  }
  const lossy = await runner.run(src, { tables: 'map' });
  assert.equal([...lossy.keys()], ['\ufffd']); // documented: both keys become '\ufffd', the later wins
  assert.equal(Object.keys(await runner.run(src)), ['\ufffd']);
});

test('strict refuses lossy strings too: invalid UTF-8 coming back, lone surrogates going in', async () => {
  const e = await runner.run('return { s = "\\xff" }', { strict: true }).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.is(e.path, 'result[0].s');
  assert.match(e.message, "bytes: 'buffer'");
  assert.ok((await runner.run('return "\\xff"', { strict: true, bytes: 'buffer' })).equals(Buffer.from([0xff])));
  assert.is(await runner.run('return "é✓"', { strict: true }), 'é✓');
  const e2 = await echo({ s: 'a\ud800b' }, { strict: true }).catch((x) => x);
  assert.instance(e2, MarshalError);
  assert.is(e2.path, 'args[0].s');
  assert.match(e2.message, 'surrogate');
  assert.is(await echo('a\ud800b'), 'a\ufffdb'); // without strict: U+FFFD, as documented
  assert.is(await echo('🎮', { strict: true }), '🎮');
});

// ----------------------------------------------- shared strings are written once per tree
const LONG = 600000;

test('a long string shared by many table slots is encoded once (results)', async () => {
  const r = new ScriptRunner({ states: 1, memoryLimit: 2e6 });
  try {
    // 120 x 600 KB = 72 MB as separate copies: more than any budget of this state
    const v = await r.run(`local s = ("x"):rep(${LONG}) local t = {} for i = 1, 120 do t[i] = s end return t`);
    assert.is(v.length, 120);
    assert.ok(v.every((s) => s.length === LONG));
    const b = await r.run(`local s = ("\\xff"):rep(${LONG}) return { s, s, k = s, [s] = 1 }`, { bytes: 'buffer', tables: 'map' });
    const one = b.get(1);
    assert.ok(Buffer.isBuffer(one) && one.length === LONG);
    assert.is(b.get(2), one); // one Lua string reached twice: one Buffer reached twice
    assert.is(b.get('k'), one);
    assert.is(b.get(one), 1); // the same string as a (binary) key
    // multret values, keys and values, nested tables, all in one tree
    const many = await r.run(`local s = ("k"):rep(100) return s, { [s] = s }, { { s } }`, { multret: true });
    assert.equal(many, ['k'.repeat(100), { ['k'.repeat(100)]: 'k'.repeat(100) }, [['k'.repeat(100)]]]);
  } finally {
    await r.close();
  }
});

test('a long string shared by many slots is encoded once (arguments, env, host calls, posts, errors)', async () => {
  const actions = new ActionQueue();
  const seen = [];
  const r = new ScriptRunner({ states: 1, memoryLimit: 4e6, actions, host: { take: (t) => { seen.push(t); return [t[0], t[0]]; } } });
  try {
    const s = 'y'.repeat(LONG);
    const list = new Array(120).fill(s);
    // 120 separate Lua copies would need 72 MB in a 4 MB state
    assert.equal(await r.run('local t, e = ... return #t, t[1] == t[120], #t[1], #env_list', {
      args: [list], env: { env_list: list }, multret: true,
    }), [120, true, LONG, 120]);
    const src = `local s = ("z"):rep(${LONG}) local t = {} for i = 1, 120 do t[i] = s end `;
    const back = await r.run(src + 'local a = engine.take(t) return #a, a[1] == a[2], #a[1]', { multret: true });
    assert.equal(back, [2, true, LONG]);
    assert.is(seen[0].length, 120);
    await r.run(src + 'engine.post("big", t)');
    const post = actions.drain().find((a) => a.type === 'post');
    assert.is(post.data.length, 120);
    const e = await r.run(src + 'error(t)').catch((x) => x);
    assert.instance(e, LuaError);
    assert.ok(Array.isArray(e.value) && e.value.length === 120 && e.value[119].length === LONG, 'error value kept');
  } finally {
    await r.close();
  }
});

test('without a memory limit, a value encoding to more than 64 MiB is a MarshalError naming its path', async () => {
  const r = new ScriptRunner({ states: 1, memoryLimit: 0, host: { f: () => 1 } });
  try {
    const big = 'local s = ("x"):rep(65 << 20) ';
    let e = await r.run(big + 'return { ok = 1, big = s }').catch((x) => x);
    assert.instance(e, MarshalError);
    assert.is(e.path, 'result[0].big');
    assert.match(e.message, 'more than 64 MiB encoded');
    e = await r.run(big + 'engine.f(s)').catch((x) => x);
    assert.instance(e, LuaError);
    assert.match(e.message, 'engine.f: args[0]: value is too large');
    e = await r.run(big + 'local ok, m = pcall(engine.post, "x", { s }) return m');
    assert.match(e, 'engine.post: data[0][1]: value is too large');
    assert.is(await r.run('return 1'), 1);
  } finally {
    await r.close();
  }
});

test('with a memory limit, what the state can hold always fits the budget (4 x memoryLimit)', async () => {
  // the densest trees Lua memory can produce: short strings (< 32 bytes: not shared) in
  // every slot, or as keys and values of many tables (up to 45% of the memory limit: a
  // growing table briefly needs its old and its new part)
  const limit = 1 << 20;
  const r = new ScriptRunner({ states: 1, memoryLimit: limit });
  try {
    const full = `collectgarbage() local budget = ${limit} * 0.45 / 1024
      local function full() return collectgarbage("count") > budget end`;
    const seq = await r.run(full + ' local s, t = ("q"):rep(31), {} repeat t[#t + 1] = s until full() return t');
    assert.ok(seq.length > 10000, `${seq.length} slots`);
    const tables = await r.run(full + ` local keys = {} for i = 1, 64 do keys[i] = ("%031d"):format(i) end
      local v, all = ("v"):rep(31), {}
      repeat local t = {} for i = 1, 64 do t[keys[i]] = v end all[#all + 1] = t until full()
      return all`);
    assert.ok(tables.length > 50, `${tables.length} tables`);
  } finally {
    await r.close();
  }
});

// ----------------------------------------------------- shapes: each key list once per tree
// Records of one kind (the same keys in the same order) are written with their keys once
// per tree; from the 16th use of a key list on, generated code reads and builds them. These
// tests use enough records to reach that code, in both directions.
const RECORDS = 40;
const records = (n = RECORDS) => Array.from({ length: n }, (_, i) => ({ id: i, x: i + 0.5, name: `e${i}`, alive: i % 2 === 0 }));

test('shapes: records keep their values and number types, both ways, many times', async () => {
  for (let round = 0; round < 3; round++) {
    const list = records();
    const back = await echo(list);
    assert.equal(back, list);
    assert.equal(Object.keys(back[RECORDS - 1]).sort(), ['alive', 'id', 'name', 'x']); // in Lua's traversal order
    const types = await runner.run('local t = ... local out = {} for i, e in ipairs(t) do out[i] = math.type(e.id) .. math.type(e.x) end return out', { args: [list] });
    assert.ok(types.every((t) => t === 'integerfloat'), types.join());
    const made = await runner.run(`local out = {} for i = 1, ${RECORDS} do out[i] = { id = i, x = i + 0.5, tag = "t" .. i } end return out`);
    assert.is(made.length, RECORDS);
    made.forEach((e, i) => assert.equal(e, { id: i + 1, x: i + 1.5, tag: `t${i + 1}` }));
    const maps = await runner.run(`local out = {} for i = 1, ${RECORDS} do out[i] = { id = i, x = i + 0.5 } end return out`, { tables: 'map' });
    assert.equal([...maps.get(RECORDS)].sort(), [['id', RECORDS], ['x', RECORDS + 0.5]]);
  }
});

test('shapes: the keys are written once per tree (the encoded size does not grow with them)', () => {
  const { encodeList } = require(path.join(__dirname, '..', 'dist', 'cjs', 'marshal'));
  const long = 'a_rather_long_property_name_';
  const list = Array.from({ length: 1000 }, (_, i) => ({ [`${long}1`]: i, [`${long}2`]: i, [`${long}3`]: i }));
  const bytes = encodeList([list], 'args').length;
  assert.ok(bytes < 1000 * 3 * 10 + 1000, `${bytes} bytes for 1000 records`); // ~5 bytes per value, ~5 per record
  const r = binding.testing.decodeTree(Buffer.from(encodeList([list], 'args')));
  assert.ok(r.ok, r.error);
  assert.ok(r.tree.length < 1000 * 3 * 10 + 1000, `Lua wrote ${r.tree.length} bytes`);
});

test('shapes: cycles and shared records, a record holding one of its own kind', async () => {
  const list = records();
  for (const e of list) e.self = e;
  list[5].next = list[6];
  const back = await echo(list);
  assert.ok(back.every((e) => e.self === e));
  assert.is(back[5].next, back[6]);
  // nested tables with the same keys as the table they are in (the shape is in use while defined)
  const nested = await runner.run(`local out = {} for i = 1, ${RECORDS} do local t = { a = i } t.b = { a = -i, b = false } out[i] = t end out[1].b.b = out[1] return out`);
  assert.equal(nested[RECORDS - 1], { a: RECORDS, b: { a: -RECORDS, b: false } });
  assert.is(nested[0].b.b, nested[0]);
  const deep = await runner.run('local t = { a = 1, b = 2 } for i = 1, 50 do t = { a = t, b = i } end return t');
  let d = deep, depth = 0;
  while (typeof d.a === 'object') { d = d.a; depth++; }
  assert.is(depth, 50);
});

test("shapes: keys named like Object.prototype's members stay own properties", async () => {
  const list = Array.from({ length: RECORDS }, (_, i) => JSON.parse(`{"constructor": ${i}, "toString": "s", "__proto__": [${i}], "hasOwnProperty": true}`));
  const back = await echo(list);
  for (let i = 0; i < RECORDS; i++) {
    assert.is(Object.getPrototypeOf(back[i]), Object.prototype);
    assert.equal(Object.keys(back[i]).sort(), ['__proto__', 'constructor', 'hasOwnProperty', 'toString']);
    assert.is(back[i].constructor, i);
    assert.equal(Object.getOwnPropertyDescriptor(back[i], '__proto__').value, [i]);
  }
  const fromLua = await runner.run(`local out = {} for i = 1, ${RECORDS} do out[i] = { constructor = i, __proto__ = "p", valueOf = 1 } end return out`);
  assert.is(Object.getPrototypeOf(fromLua[RECORDS - 1]), Object.prototype);
  assert.is(fromLua[RECORDS - 1].__proto__, 'p');
  assert.is(fromLua[RECORDS - 1].constructor, RECORDS);
});

test('shapes: getters, deleted properties and Proxies in a run of records', async () => {
  const list = records();
  let calls = 0;
  Object.defineProperty(list[30], 'x', { get() { calls++; delete list[30].name; return 7; }, enumerable: true, configurable: true });
  list[31] = new Proxy(list[31], {});
  const back = await echo(list);
  assert.is(calls, 1); // each property read once
  assert.equal(back[30], { id: 30, x: 7, alive: true });
  assert.equal(back[31], list[31]);
  assert.equal(back[32], list[32]);
});

test('shapes: errors inside records name their path, both ways', async () => {
  const list = records();
  list[35].name = () => 1;
  const e = await echo(list).catch((x) => x);
  assert.instance(e, MarshalError);
  assert.is(e.path, 'args[0][35].name');
  const e2 = await runner.run(`local out = {} for i = 1, ${RECORDS} do out[i] = { a = i, s = "ok" } end out[36].s = print return out`).catch((x) => x);
  assert.instance(e2, MarshalError);
  assert.is(e2.path, 'result[0][36].s');
  const e3 = await runner.run(`local out = {} for i = 1, ${RECORDS} do out[i] = { a = i, s = "ok" } end out[36].s = "\\xff" return out`, { strict: true }).catch((x) => x);
  assert.instance(e3, MarshalError);
  assert.is(e3.path, 'result[0][36].s');
  const many = Array.from({ length: RECORDS }, (_, i) => ({ k: i, ['x\ud800y']: 1 }));
  const e4 = await echo(many, { strict: true }).catch((x) => x);
  assert.instance(e4, MarshalError);
  assert.is(e4.path, `args[0][0]${JSON.stringify(['x\ud800y'])}`);
});

test('shapes: many distinct key lists (dictionaries, not records) still convert', async () => {
  const list = Array.from({ length: 20000 }, (_, i) => ({ [`k${i}`]: i }));
  const back = await echo(list);
  assert.is(back.length, 20000);
  assert.equal(back[19999], { k19999: 19999 });
  const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`f${i}`, i]));
  assert.equal(await echo([wide, wide, { ...wide }]), [wide, wide, wide]);
  assert.equal(await runner.run('local t = {} for i = 1, 100 do t["f" .. (i - 1)] = i - 1 end return t'), wide);
});

test('shapes: without code generation (--disallow-code-generation-from-strings) records still convert', () => {
  const { spawnSync } = require('child_process');
  const script = `
    const { ScriptRunner } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const r = new ScriptRunner({ states: 1 });
    const list = Array.from({ length: 40 }, (_, i) => ({ id: i, x: i + 0.5 }));
    r.run('local t = ... local out = {} for i, e in ipairs(t) do out[i] = { id = e.id, x = e.x } end return out', { args: [list] })
      .then((back) => { console.log(back.every((e, i) => e.id === i && e.x === i + 0.5 && Object.keys(e).length === 2) ? 'same' : 'different'); return r.close(); });`;
  const out = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8', env: process.env });
  assert.is(out.stdout.trim(), 'same', out.stderr);
});

test.after(() => runner.close());
test.run();
