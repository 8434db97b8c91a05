// Marshaling fuzzer, part 1: random JavaScript values, described as a *spec* (a small
// graph of plain records) from which the fuzzer builds a fresh live value for every use
// (getters with side effects change what they belong to, so a value is used once) and
// from which the reference model (marshal-model.js) derives what Lua must receive.
//
// Spec nodes:
//   { t: 'prim', v }                                  undefined, null, boolean, number, bigint, string
//   { t: 'bytes', id, data, form }                    a Buffer / Uint8Array (form: how it is made)
//   { t: 'bad', id, what }                            a value the encoder refuses
//   { t: 'array', id, items, frozen, extra }          items: { node } | { hole } | { node, getter }
//   { t: 'object', id, entries, nullProto, frozen, symbol, hidden }
//                                                     entries: { key, node, getter? }
//   { t: 'map', id, entries, ownIterator, ownSize }   entries: [keyNode, valueNode]
//   { t: 'chain', id, len, leaf }                     len nested one-element arrays around leaf
//   { t: 'proxy', id, target, variant, ... }          a Proxy over a fresh container
//   { t: 'ref', to }                                  the node with id `to` again (shared, cyclic)
// A getter is a list of effects, run in order when the property is read:
//   push / pop / setIndex (an array), mapSet / mapDelete (a Map), objSet / objDelete (an
//   object), submit (runs another job while the value is encoded), throw.
'use strict';

/** The name of the non-enumerable property of objects with `hidden` (never one of the generated keys). */
const HIDDEN_KEY = 'hidden\u0001';

const ODD_KEYS = [
  '', '0', '1', '2', '-1', '01', '1.5', '1e3', '4294967294', '4294967295', '9007199254740993',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'length', 'then',
  'a b', 'a.b', '[0]', '"q"', '\\', '\0', 'nul\0in', 'é', '🎮', '\ud800', '\udfff', 'x\ud800y',
  '\ufffd', '\ud83c', 'true', 'NaN', 'Infinity', '<table key>', '<binary key>', 'k'.repeat(100), 'z'.repeat(70),
];
const IDENT = ['a', 'b', 'c', 'x', 'y', 'id', 'name', 'items', 'hp', 'pos', '_', '$', 'k1', 'k2', 'list', 'data'];

const NUMBERS = [
  0, -0, 1, -1, 2, 7, 42, 255, 256, 65535, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 32, 2 ** 32 + 1,
  2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 2 ** 63, -(2 ** 63), 2 ** 64, 1e21, 1e300, -1e300,
  1.5, -1.5, 0.1, 3.0, 1 / 3, 5e-324, Number.MAX_VALUE, Number.EPSILON, NaN, Infinity, -Infinity,
];
const BIGINTS = [
  0n, 1n, -1n, 42n, 2n ** 31n, 2n ** 53n - 1n, -(2n ** 53n - 1n), 2n ** 53n, -(2n ** 53n), 2n ** 53n + 1n,
  2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n,
  2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 100n, // out of range: refused
];

const BAD = ['function', 'arrow', 'asyncFunction', 'class', 'proxyFunction', 'symbol', 'date', 'instance', 'set',
  'weakmap', 'regexp', 'error', 'promise', 'boxedString', 'boxedNumber', 'float64', 'int8', 'uint8clamped', 'dataview',
  'arraybuffer', 'disguised', 'protoChild', 'nullProtoChild'];

class Gen {
  /**
   * @param rng   a Rng (prng.js)
   * @param known also generate values that hit known, reported bugs (see KNOWN in marshal-fuzz.js)
   */
  constructor(rng, { known = false } = {}) {
    this.r = rng;
    this.known = known;
    this.nextId = 0;
    this.nodes = [];        // every node with an id, by id
    this.targets = [];      // ids of containers a getter may change (not frozen, not a proxy target)
    this.getters = [];      // getter records, filled with effects once every node exists
    this.budget = 0;
  }

  node(n) {
    n.id = this.nextId++;
    this.nodes[n.id] = n;
    return n;
  }

  /** The top-level values of one input. */
  values() {
    const r = this.r;
    this.budget = r.weighted([[6, 12], [3, 40], [1, 120]]);
    const count = r.weighted([[1, 0], [8, 1], [4, 2], [2, r.range(3, 5)]]);
    const out = [];
    for (let i = 0; i < count; i++) out.push(this.value(0, []));
    this.fillGetters();
    return out;
  }

  /** One value at `depth`; `stack`: ids of the containers it is inside (for cycles). */
  value(depth, stack) {
    const r = this.r;
    this.budget--;
    const canNest = this.budget > 0 && depth < 7;
    const kind = r.weighted([
      [30, 'prim'], [6, 'bytes'], [2, 'bad'],
      [canNest ? 10 : 0, 'array'], [canNest ? 10 : 0, 'object'], [canNest ? 6 : 0, 'map'],
      [canNest ? 3 : 0, 'proxy'], [this.nodes.length > 0 ? 6 : 0, 'ref'],
      [canNest && r.chance(0.2) ? 1 : 0, 'chain'], [canNest ? 1 : 0, 'big'],
    ]);
    switch (kind) {
      case 'prim': return { t: 'prim', v: this.prim() };
      case 'bytes': return this.bytes();
      case 'bad': return this.bad();
      case 'array': return this.array(depth, stack);
      case 'object': return this.object(depth, stack);
      case 'map': return this.map(depth, stack);
      case 'proxy': return this.proxy(depth, stack);
      case 'chain': return this.chain(depth);
      case 'big': return this.big();
      case 'ref': {
        // an ancestor (a cycle) or any earlier node (a shared reference)
        const pool = stack.length && r.chance(0.4) ? stack : this.nodes.filter((n) => n && n.t !== 'chainLevel');
        const to = r.pick(pool);
        return { t: 'ref', to: typeof to === 'number' ? to : to.id };
      }
    }
    throw new Error(kind);
  }

  prim() {
    const r = this.r;
    switch (r.weighted([[2, 'nil'], [2, 'bool'], [6, 'int'], [4, 'num'], [3, 'big'], [8, 'str']])) {
      case 'nil': return r.chance(0.5) ? undefined : null;
      case 'bool': return r.chance(0.5);
      case 'int': return r.weighted([[3, r.range(-100, 100)], [1, r.range(-(2 ** 31), 2 ** 31)],
        [1, (r.int(2 ** 21) * 2 ** 32 + r.int(2 ** 32)) * (r.chance(0.5) ? -1 : 1)]]);
      case 'num': return r.chance(0.6) ? r.pick(NUMBERS) : (r.next() - 0.5) * 10 ** r.range(-5, 20);
      case 'big': return r.chance(0.8) ? r.pick(BIGINTS.slice(0, 14)) : r.pick(BIGINTS);
      default: return this.string();
    }
  }

  string(max = 300) {
    const r = this.r;
    if (r.chance(0.25)) return r.pick(r.chance(0.5) ? ODD_KEYS : IDENT);
    const n = r.logSize(r.chance(0.05) ? 20000 : max);
    let s = '';
    const alphabet = r.weighted([[4, 'ascii'], [2, 'bmp'], [1, 'astral'], [1, 'mixed']]);
    for (let i = 0; i < n; i++) {
      const kind = alphabet === 'mixed'
        ? r.weighted([[6, 'ascii'], [2, 'bmp'], [1, 'astral'], [1, 'lone'], [1, 'nul']])
        : alphabet;
      switch (kind) {
        case 'ascii': s += String.fromCharCode(r.range(32, 126)); break;
        case 'bmp': s += String.fromCharCode(r.chance(0.5) ? r.range(0xa0, 0x7ff) : r.range(0x800, 0xd7ff)); break;
        case 'astral': s += String.fromCodePoint(r.range(0x10000, 0x10ffff)); break;
        case 'lone': s += String.fromCharCode(r.range(0xd800, 0xdfff)); break;
        case 'nul': s += '\0'; break;
      }
    }
    return s;
  }

  key() {
    const r = this.r;
    return r.weighted([[5, r.pick(IDENT)], [3, r.pick(ODD_KEYS)], [2, this.string(20)], [1, String(r.range(0, 20))]]);
  }

  bytes() {
    const r = this.r;
    const n = r.logSize(r.chance(0.05) ? 100000 : 80);
    let data;
    switch (r.weighted([[3, 'random'], [2, 'utf8'], [1, 'ff'], [1, 'invalid']])) {
      case 'random': data = r.bytes(n); break;
      case 'utf8': data = Buffer.from(this.string(n)); break;
      case 'ff': data = Buffer.alloc(n, 0xff); break;
      default: data = Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x90, 0x28, 0xbc, 0xed, 0xa0, 0x80].slice(0, Math.max(1, n % 15)));
    }
    const form = r.pick(['buffer', 'buffer', 'u8', 'sub', 'lying', 'subclass']);
    return this.node({ t: 'bytes', data, form, offset: r.range(0, 7) });
  }

  bad() {
    let what = this.r.pick(BAD);
    if (this.r.chance(0.2)) what = 'revoked';
    return this.node({ t: 'bad', what });
  }

  array(depth, stack) {
    const r = this.r;
    const n = this.budget > 0 ? r.weighted([[2, 0], [6, r.range(1, 4)], [2, r.range(5, 12)]]) : 0;
    const a = this.node({ t: 'array', items: [], frozen: r.chance(0.1), extra: r.chance(0.15) });
    const inner = [...stack, a.id];
    for (let i = 0; i < n; i++) {
      if (r.chance(0.08)) { a.items.push({ hole: true }); continue; }
      const item = { node: this.value(depth + 1, inner) };
      if (r.chance(0.06)) { item.getter = []; this.getters.push({ owner: a, effects: item.getter }); }
      a.items.push(item);
    }
    if (!a.frozen) this.targets.push(a.id);
    return a;
  }

  object(depth, stack) {
    const r = this.r;
    const n = this.budget > 0 ? r.weighted([[2, 0], [6, r.range(1, 4)], [2, r.range(5, 10)]]) : 0;
    const o = this.node({
      t: 'object', entries: [], nullProto: r.chance(0.15), frozen: r.chance(0.1),
      symbol: r.chance(0.03) ? r.pick(['enumerable', 'hidden']) : null, hidden: r.chance(0.1),
    });
    const inner = [...stack, o.id];
    const seen = new Set();
    for (let i = 0; i < n; i++) {
      const key = this.key();
      if (seen.has(key)) continue;
      seen.add(key);
      const entry = { key, node: this.value(depth + 1, inner) };
      if (r.chance(0.12)) { entry.getter = []; this.getters.push({ owner: o, effects: entry.getter }); }
      o.entries.push(entry);
    }
    if (!o.frozen) this.targets.push(o.id);
    return o;
  }

  mapKey(depth, stack) {
    const r = this.r;
    switch (r.weighted([[4, 'str'], [4, 'num'], [1, 'bool'], [1, 'big'], [1, 'bytes'], [2, 'table'], [1, 'odd']])) {
      case 'str': return { t: 'prim', v: this.key() };
      case 'num': return { t: 'prim', v: r.chance(0.5) ? r.range(-3, 12) : r.pick(NUMBERS) };
      case 'bool': return { t: 'prim', v: r.chance(0.5) };
      case 'big': return { t: 'prim', v: r.pick(BIGINTS) };
      case 'bytes': return this.bytes();
      case 'table': return this.budget > 0 && depth < 6
        ? (r.chance(0.5) ? this.value(depth + 1, stack) : this.object(depth + 1, stack))
        : { t: 'prim', v: 'k' };
      default: {
        const i = r.int(4);
        return i === 3 ? this.bad() : { t: 'prim', v: [undefined, null, NaN][i] };
      }
    }
  }

  map(depth, stack) {
    const r = this.r;
    const n = this.budget > 0 ? r.weighted([[2, 0], [6, r.range(1, 4)], [2, r.range(5, 10)]]) : 0;
    const m = this.node({ t: 'map', entries: [], ownIterator: r.chance(0.05), ownSize: r.chance(0.05) });
    const inner = [...stack, m.id];
    for (let i = 0; i < n; i++) {
      // sequences built from Maps: keys 1..n in any order
      const key = r.chance(0.2) ? { t: 'prim', v: r.range(1, n) } : this.mapKey(depth, inner);
      m.entries.push([key, this.value(depth + 1, inner)]);
    }
    this.targets.push(m.id);
    return m;
  }

  proxy(depth, stack) {
    const r = this.r;
    const kind = r.weighted([[3, 'object'], [2, 'array'], [1, 'map']]);
    // the target is fresh: reachable only through the Proxy
    const saveTargets = this.targets.length;
    const target = kind === 'object' ? this.object(depth, stack) : kind === 'array' ? this.array(depth, stack) : this.map(depth, stack);
    this.targets.length = saveTargets;
    target.frozen = false; // a Proxy over a frozen target may not lie (its traps would break invariants)
    const p = this.node({ t: 'proxy', target, variant: 'plain' });
    if (kind === 'object') {
      p.variant = r.pick(['plain', 'getLie', 'extraKeys', 'hideKeys', 'nonEnum', 'protoLie', 'throw']);
      const keys = target.entries.map((e) => e.key);
      if (p.variant === 'getLie') p.lies = keys.filter(() => r.chance(0.5)).map((k) => ({ key: k, node: { t: 'prim', v: this.prim() } }));
      if (p.variant === 'extraKeys') {
        p.extras = [];
        for (let i = 0, n = r.range(1, 3); i < n; i++) {
          const key = `extra${i}_${this.key()}`;
          p.extras.push({ key, node: { t: 'prim', v: this.prim() } });
        }
      }
      if (p.variant === 'hideKeys' || p.variant === 'nonEnum') p.hidden = keys.filter(() => r.chance(0.5));
      if (p.variant === 'protoLie') p.proto = r.pick(['date', 'map', 'array', 'null']);
      if (p.variant === 'throw') {
        p.trap = r.pick(['getPrototypeOf', 'ownKeys', 'getOwnPropertyDescriptor', 'get']);
        if (p.trap === 'get') p.key = keys.length && r.chance(0.8) ? r.pick(keys) : 'absent';
      }
    } else if (kind === 'array') {
      p.variant = r.pick(['plain', 'getLie', 'lengthLie', 'lengthChanges', 'throw']);
      const n = target.items.length;
      if (p.variant === 'getLie') p.lies = [...Array(n).keys()].filter(() => r.chance(0.5)).map((i) => ({ key: i, node: { t: 'prim', v: this.prim() } }));
      if (p.variant === 'lengthLie') p.length = r.pick([0, 1, n, n + 2, Math.max(0, n - 1), -1, 1.5, NaN, 2 ** 32, '3', undefined, null, 2 ** 32 - 1 > 0 ? r.range(0, 5) : 0]);
      if (p.variant === 'lengthChanges') p.second = r.pick([0, n + 5, -1, 1.5]);
      if (p.variant === 'throw') p.key = r.chance(0.3) || n === 0 ? 'length' : r.int(n);
    }
    return p;
  }

  chain(depth) {
    const r = this.r;
    // around the limit of 200 nested tables (counting from this depth)
    const len = Math.max(1, r.range(190, 205) - depth);
    return this.node({ t: 'chain', len, leaf: { t: 'prim', v: r.chance(0.5) ? 'leaf' : 1 } });
  }

  big() {
    const r = this.r;
    switch (r.int(5)) {
      case 4: {
        // a sparse array: a long run of holes around a few elements
        const a = this.node({ t: 'array', items: [], frozen: false, extra: false });
        const n = r.range(10, 20000);
        for (let i = 0; i < n; i++) a.items.push({ hole: true });
        for (let i = 0, k = r.range(1, 5); i < k; i++) a.items[r.int(n)] = { node: { t: 'prim', v: r.chance(0.5) ? i : this.prim() } };
        return a;
      }
      case 0: {
        const a = this.node({ t: 'array', items: [], frozen: false, extra: false });
        for (let i = 0, n = r.range(100, 3000); i < n; i++) a.items.push({ node: { t: 'prim', v: r.chance(0.5) ? i : `s${i}` } });
        return a;
      }
      case 1: {
        const o = this.node({ t: 'object', entries: [], nullProto: false, frozen: false, symbol: null, hidden: false });
        for (let i = 0, n = r.range(50, 500); i < n; i++) o.entries.push({ key: `key${i}`, node: { t: 'prim', v: i } });
        return o;
      }
      case 2: return { t: 'prim', v: 'L'.repeat(r.range(1000, 100000)) };
      default: {
        // one long string in many slots: written once (SREF)
        const s = { t: 'prim', v: 'shared '.repeat(r.range(5, 200)) };
        const a = this.node({ t: 'array', items: [], frozen: false, extra: false });
        for (let i = 0, n = r.range(10, 200); i < n; i++) a.items.push({ node: s });
        return a;
      }
    }
  }

  /** Gives every getter its effects, now that all containers exist. */
  fillGetters() {
    const r = this.r;
    for (const { effects } of this.getters) {
      for (let i = 0, n = r.weighted([[3, 0], [4, 1], [2, 2]]); i < n; i++) {
        const e = this.effect();
        if (e) effects.push(e);
      }
    }
  }

  effect() {
    const r = this.r;
    const op = r.weighted([[3, 'change'], [1, 'submit'], [this.known ? 0.3 : 0.15, 'throw']]);
    if (op === 'submit') return { op: 'submit', node: { t: 'prim', v: this.prim() }, strict: r.chance(0.3) };
    if (op === 'throw') return { op: 'throw' };
    if (this.targets.length === 0) return null;
    const target = this.nodes[r.pick(this.targets)];
    const small = () => ({ t: 'prim', v: this.prim() });
    if (target.t === 'array') {
      switch (r.int(3)) {
        case 0: return { op: 'push', target: target.id, node: small() };
        case 1: return { op: 'pop', target: target.id };
        default: return { op: 'setIndex', target: target.id, index: r.range(0, target.items.length + 1), node: small() };
      }
    }
    if (target.t === 'map') {
      const keys = target.entries.map(([k]) => k).filter((k) => k.t === 'prim');
      if (keys.length && r.chance(0.5)) return { op: 'mapDelete', target: target.id, key: r.pick(keys).v };
      return { op: 'mapSet', target: target.id, key: keys.length && r.chance(0.5) ? r.pick(keys).v : this.key(), node: small() };
    }
    const keys = target.entries.map((e) => e.key);
    if (keys.length && r.chance(0.5)) return { op: 'objDelete', target: target.id, key: r.pick(keys) };
    return { op: 'objSet', target: target.id, key: keys.length && r.chance(0.5) ? r.pick(keys) : this.key(), node: small() };
  }
}

/** An env for the env carrier: top-level values as entries of a plain object or a Map. */
function envSpec(gen, values) {
  const r = gen.r;
  const form = r.weighted([[6, 'object'], [1, 'nullProto'], [2, 'map']]);
  const entries = values.map((node, i) => {
    const key = r.chance(0.15) ? r.pick(ODD_KEYS) : `v${i}`;
    return { key: form === 'map' && r.chance(0.1) ? i + 1 : key, node };
  });
  if (form === 'map') return gen.node({ t: 'map', entries: entries.map((e) => [{ t: 'prim', v: e.key }, e.node]), env: true });
  // duplicate keys in an object literal: the later one wins (and keeps the first one's place)
  const byKey = new Map();
  for (const e of entries) byKey.set(e.key, e);
  return gen.node({ t: 'object', entries: [...byKey.values()], nullProto: form === 'nullProto', frozen: false, symbol: null, hidden: false, env: true });
}

// ----------------------------------------------------------------------------- building

class MyBytes extends Uint8Array {}
class Thing { constructor() { this.x = 1; } }

/** The registry a build records into: the thrown errors (by token) and the nested jobs started. */
class Built {
  constructor() {
    this.objects = new Map();   // id -> the live object
    this.errors = new Map();    // token -> the Error a getter or trap throws
    this.submits = [];          // { promise, node, strict } for nested jobs
  }
}

/**
 * Builds the live JavaScript values of `nodes` (top-level specs). `hooks.submit(value, strict)`
 * runs a nested job (a getter's `submit` effect) and returns its promise; `index` holds
 * every node by id (for references).
 */
function build(nodes, hooks, index = []) {
  const b = new Built();
  const all = [];
  const collect = (n) => {
    if (n && n.t === 'ref') n = index[n.to]; // a shared node may sit in a part of the spec not used here
    if (!n || n.t === 'prim') return;
    if (b.objects.has(n.id)) return;
    b.objects.set(n.id, null);
    all.push(n);
    const items = n.t === 'array' ? n.items : n.t === 'object' ? n.entries : [];
    for (const it of items) {
      collect(it.node);
      // what a getter changes or returns must exist too, even outside this value
      for (const e of it.getter || []) {
        if (e.node) collect(e.node);
        if (e.target !== undefined) collect(index[e.target]);
      }
    }
    if (n.t === 'map') for (const [k, v] of n.entries) { collect(k); collect(v); }
    if (n.t === 'proxy') { collect(n.target); for (const l of n.lies || []) collect(l.node); for (const x of n.extras || []) collect(x.node); }
  };
  nodes.forEach(collect);

  // 1. shells
  for (const n of all) b.objects.set(n.id, shell(n, b));
  const get = (n) => resolve(n, b);
  // 2. Proxies (over their targets, filled or not), then every container's contents
  for (const n of all) if (n.t === 'proxy') fill(n, b, get, hooks);
  for (const n of all) if (n.t !== 'proxy') fill(n, b, get, hooks);
  // 3. freeze
  for (const n of all) if (n.frozen) Object.freeze(b.objects.get(n.id));
  return { values: nodes.map(get), built: b };
}

function resolve(n, b) {
  if (n.t === 'prim') return n.v;
  if (n.t === 'ref') {
    if (!b.objects.has(n.to)) throw new Error(`ref to unknown node ${n.to}`);
    return b.objects.get(n.to);
  }
  return b.objects.get(n.id);
}

function shell(n, b) {
  switch (n.t) {
    case 'array': return [];
    case 'object': return n.nullProto ? Object.create(null) : {};
    case 'map': return new Map();
    case 'bytes': {
      const d = n.data;
      switch (n.form) {
        case 'u8': return new Uint8Array(d);
        case 'sub': {
          const big = Buffer.alloc(d.length + n.offset + 5, 0xee);
          d.copy(big, n.offset);
          return big.subarray(n.offset, n.offset + d.length);
        }
        case 'lying': {
          const u = new Uint8Array(d);
          Object.defineProperty(u, 'length', { value: d.length + 100 });
          Object.defineProperty(u, 'byteLength', { value: d.length * 2 + 1 });
          return u;
        }
        case 'subclass': return MyBytes.from(d);
        default: return Buffer.from(d);
      }
    }
    case 'bad': return badValue(n.what);
    case 'chain': {
      let v = resolve(n.leaf, b);
      for (let i = 0; i < n.len; i++) v = [v];
      return v;
    }
    case 'proxy': return null; // made in fill (its target must exist)
  }
  throw new Error(`no shell for ${n.t}`);
}

function badValue(what) {
  switch (what) {
    case 'function': return function f() { return 1; };
    case 'arrow': return () => 1;
    case 'asyncFunction': return async () => 1;
    case 'class': return Thing;
    case 'proxyFunction': return new Proxy(function g() {}, {});
    case 'symbol': return Symbol('s');
    case 'date': return new Date(0);
    case 'instance': return new Thing();
    case 'set': return new Set([1]);
    case 'weakmap': return new WeakMap();
    case 'regexp': return /x/;
    case 'error': return new Error('e');
    case 'promise': { const p = Promise.resolve(1); return p; }
    case 'boxedString': return new String('x'); // eslint-disable-line no-new-wrappers
    case 'boxedNumber': return new Number(1); // eslint-disable-line no-new-wrappers
    case 'float64': return new Float64Array([1.5]);
    case 'int8': return new Int8Array([1, 2]);
    case 'uint8clamped': return new Uint8ClampedArray([1, 2]);
    case 'dataview': return new DataView(new ArrayBuffer(4));
    case 'arraybuffer': return new ArrayBuffer(4);
    case 'disguised': return Object.setPrototypeOf(new Float64Array([1.5, 2.5]), Uint8Array.prototype);
    case 'protoChild': return Object.create({ inherited: 1 });
    case 'nullProtoChild': return Object.create(Object.create(null));
    case 'revoked': { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); return proxy; }
  }
  throw new Error(what);
}

function runEffects(effects, b, get, hooks) {
  for (const e of effects) {
    const target = e.target === undefined ? undefined : b.objects.get(e.target);
    switch (e.op) {
      case 'push': target.push(get(e.node)); break;
      // not pop(): it would read (call) the last element's getter
      case 'pop': target.length = Math.max(0, target.length - 1); break;
      // defineProperty, not assignment: an element may be an accessor without a setter
      case 'setIndex': Object.defineProperty(target, e.index, { value: get(e.node), writable: true, enumerable: true, configurable: true }); break;
      case 'mapSet': target.set(e.key, get(e.node)); break;
      case 'mapDelete': target.delete(e.key); break;
      case 'objDelete': delete target[e.key]; break;
      case 'objSet': Object.defineProperty(target, e.key, { value: get(e.node), writable: true, enumerable: true, configurable: true }); break;
      case 'submit': b.submits.push({ node: e.node, strict: e.strict, promise: hooks.submit(get(e.node), e.strict) }); break;
      case 'throw': throw b.errors.get(e);
    }
  }
}

function fill(n, b, get, hooks) {
  const self = b.objects.get(n.id);
  const tokenError = (token, what) => {
    if (!b.errors.has(token)) b.errors.set(token, new Error(`fuzz: ${what} #${n.id}`));
  };
  const getterFor = (item) => {
    for (const e of item.getter) if (e.op === 'throw') tokenError(e, 'getter throws');
    return function getter() { runEffects(item.getter, b, get, hooks); return get(item.node); };
  };
  switch (n.t) {
    case 'array': {
      n.items.forEach((it, i) => {
        if (it.hole) return;
        if (it.getter) Object.defineProperty(self, i, { get: getterFor(it), enumerable: true, configurable: true });
        else self[i] = get(it.node);
      });
      self.length = n.items.length; // trailing holes
      if (n.extra) { self.extra = 'ignored'; self[Symbol('s')] = 'ignored'; }
      return;
    }
    case 'object': {
      for (const e of n.entries) {
        if (e.getter) Object.defineProperty(self, e.key, { get: getterFor(e), enumerable: true, configurable: true });
        else Object.defineProperty(self, e.key, { value: get(e.node), writable: true, enumerable: true, configurable: true });
      }
      if (n.hidden) Object.defineProperty(self, HIDDEN_KEY, { value: () => 'not sent', enumerable: false, configurable: true });
      if (n.symbol === 'enumerable') self[Symbol('k')] = 1;
      if (n.symbol === 'hidden') Object.defineProperty(self, Symbol('k'), { value: 1, enumerable: false });
      return;
    }
    case 'map': {
      for (const [k, v] of n.entries) self.set(get(k), get(v));
      if (n.ownIterator) {
        self[Symbol.iterator] = function* lie() { yield ['lie', 1]; };
        self.entries = self[Symbol.iterator];
        self.forEach = () => {};
      }
      if (n.ownSize) Object.defineProperty(self, 'size', { value: 1000 });
      return;
    }
    case 'proxy': b.objects.set(n.id, makeProxy(n, b, get, tokenError)); return;
    default:
  }
}

function makeProxy(n, b, get, tokenError) {
  const target = b.objects.get(n.target.id);
  const lies = new Map((n.lies || []).map((l) => [String(l.key), l.node]));
  const extras = new Map((n.extras || []).map((x) => [x.key, x.node]));
  const hidden = new Set(n.hidden || []);
  if (n.variant === 'throw') tokenError(n, `trap ${n.trap || 'get'} throws`);
  const fail = () => { throw b.errors.get(n); };
  const h = {};
  switch (n.variant) {
    case 'getLie':
      h.get = (t, k, r) => (typeof k === 'string' && lies.has(k) ? get(lies.get(k)) : Reflect.get(t, k, r));
      break;
    case 'extraKeys':
      h.ownKeys = (t) => [...Reflect.ownKeys(t), ...extras.keys()];
      h.getOwnPropertyDescriptor = (t, k) => (extras.has(k)
        ? { value: get(extras.get(k)), writable: true, enumerable: true, configurable: true }
        : Reflect.getOwnPropertyDescriptor(t, k));
      h.get = (t, k, r) => (extras.has(k) ? get(extras.get(k)) : Reflect.get(t, k, r));
      break;
    case 'hideKeys':
      h.ownKeys = (t) => Reflect.ownKeys(t).filter((k) => !hidden.has(k));
      break;
    case 'nonEnum':
      h.getOwnPropertyDescriptor = (t, k) => {
        const d = Reflect.getOwnPropertyDescriptor(t, k);
        return d && hidden.has(k) ? { ...d, enumerable: false } : d;
      };
      break;
    case 'protoLie':
      h.getPrototypeOf = () => ({ date: Date.prototype, map: Map.prototype, array: Array.prototype, null: null })[n.proto];
      break;
    case 'lengthLie':
      h.get = (t, k, r) => (k === 'length' ? n.length : Reflect.get(t, k, r));
      break;
    case 'lengthChanges': {
      let reads = 0;
      h.get = (t, k, r) => (k === 'length' ? (++reads === 1 ? t.length : n.second) : Reflect.get(t, k, r));
      break;
    }
    case 'throw':
      if (n.trap === 'getPrototypeOf') h.getPrototypeOf = fail;
      else if (n.trap === 'ownKeys') h.ownKeys = fail;
      else if (n.trap === 'getOwnPropertyDescriptor') h.getOwnPropertyDescriptor = fail;
      else h.get = (t, k, r) => (k === String(n.key) ? fail() : Reflect.get(t, k, r));
      break;
    default:
  }
  return new Proxy(target, h);
}

// ----------------------------------------------------------------------------- printing

/** A readable, deterministic description of a spec (what a failure prints). */
function describeSpec(nodes, max = 6000) {
  const seen = new Set();
  const lines = [];
  const fmtPrim = (v) => (typeof v === 'bigint' ? `${v}n` : typeof v === 'string'
    ? (v.length > 60 ? `${JSON.stringify(v.slice(0, 40))}…(${v.length} chars)` : JSON.stringify(v))
    : Object.is(v, -0) ? '-0' : String(v));
  const d = (n, ind) => {
    const pad = '  '.repeat(ind);
    if (n.t === 'prim') return fmtPrim(n.v);
    if (n.t === 'ref') return `<ref #${n.to}>`;
    if (seen.has(n.id)) return `<#${n.id}>`;
    seen.add(n.id);
    const tag = `#${n.id}`;
    switch (n.t) {
      case 'bytes': return `${tag} ${n.form}(${n.data.length} bytes: ${n.data.subarray(0, 24).toString('hex')}${n.data.length > 24 ? '…' : ''})`;
      case 'bad': return `${tag} <${n.what}>`;
      case 'chain': return `${tag} chain(${n.len} nested arrays around ${fmtPrim(n.leaf.v)})`;
      case 'array': {
        if (n.items.length > 20) {
          const present = n.items.map((it, i) => [i, it]).filter(([, it]) => !it.hole);
          return `${tag} array(${n.items.length} items, ${n.items.length - present.length} holes; ${present.slice(0, 8).map(([i, it]) => `[${i}] ${d(it.node, ind)}`).join(', ')}${present.length > 8 ? ', …' : ''})`;
        }
        const items = n.items.map((it) => (it.hole ? 'HOLE' : `${it.getter ? `get${effects(it.getter)}: ` : ''}${d(it.node, ind + 1)}`));
        return `${tag} [${n.frozen ? 'frozen ' : ''}${n.extra ? '+extra props ' : ''}\n${items.map((s) => `${pad}  ${s}`).join(',\n')}\n${pad}]`;
      }
      case 'object': {
        if (n.entries.length > 20) return `${tag} object(${n.entries.length} keys)`;
        const flags = [n.nullProto && 'null-proto', n.frozen && 'frozen', n.symbol && `symbol key (${n.symbol})`, n.hidden && 'non-enumerable prop'].filter(Boolean).join(' ');
        const es = n.entries.map((e) => `${pad}  ${JSON.stringify(e.key)}${e.getter ? ` (getter${effects(e.getter)})` : ''}: ${d(e.node, ind + 1)}`);
        return `${tag} {${flags ? ` ${flags}` : ''}\n${es.join(',\n')}\n${pad}}`;
      }
      case 'map': {
        const es = n.entries.map(([k, v]) => `${pad}  ${d(k, ind + 1)} => ${d(v, ind + 1)}`);
        return `${tag} Map {${n.ownIterator ? ' own iterator' : ''}${n.ownSize ? ' own size' : ''}\n${es.join(',\n')}\n${pad}}`;
      }
      case 'proxy': {
        const extra = { lies: n.lies && n.lies.map((l) => `${l.key}=${d(l.node, 0)}`).join(' '), extras: n.extras && n.extras.map((x) => `${JSON.stringify(x.key)}=${d(x.node, 0)}`).join(' '), hidden: n.hidden && JSON.stringify(n.hidden), proto: n.proto, trap: n.trap, key: n.key, length: n.length === undefined ? undefined : String(n.length), second: n.second };
        const desc = Object.entries(extra).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}: ${v}`).join(', ');
        return `${tag} Proxy(${n.variant}${desc ? `; ${desc}` : ''}) of ${d(n.target, ind)}`;
      }
    }
    return `?${n.t}`;
  };
  const effects = (list) => (list.length ? ` [${list.map((e) => `${e.op}${e.target !== undefined ? ` #${e.target}` : ''}${e.key !== undefined ? ` ${JSON.stringify(String(e.key))}` : ''}${e.index !== undefined ? ` [${e.index}]` : ''}${e.node ? ` ${d(e.node, 0)}` : ''}`).join('; ')}]` : '');
  nodes.forEach((n, i) => lines.push(`[${i}] ${d(n, 0)}`));
  const text = lines.join('\n');
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text;
}

module.exports = { Gen, envSpec, build, describeSpec, HIDDEN_KEY, ODD_KEYS };
