// Marshaling fuzzer, part 2: the reference model of docs/marshaling.md.
//
// encode(): what Lua receives for a spec (marshal-gen.js), following the documented rules
//   for JavaScript -> Lua: which values are refused (and the path and reason), how numbers,
//   strings, arrays, objects, Maps become Lua values, shared references, the nesting limit,
//   and what getters and Proxies may change (every container read once, when reached).
//   The result is a graph of model Lua values: { lt: 'nil' | 'bool' | 'int' | 'float' | 'str'
//   | 'table' }, with rawset semantics (a nil value is no entry, float keys with an integral
//   value are integer keys, later entries replace earlier ones).
// checkBack(): whether what came back from Lua (a result, host-function arguments, post
//   data, an error value) is what the documented Lua -> JavaScript rules give for those Lua
//   values under bytes/tables/strict: the same shape (cycles and shared tables included),
//   or the MarshalError the rules demand, with a path that names where the bad value is.
//   Lua's traversal order is not specified, so where the rules depend on it (which of two
//   colliding keys wins, which path a shared table is first reached by, whether a shared
//   table is first reached deeper than the nesting limit) the model accepts every answer
//   some order gives.
'use strict';

const { isUtf8 } = require('buffer');

const MAX_DEPTH = 200;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const SAFE = 2n ** 53n - 1n;
const MAX_SHORT = 40;          // LUAI_MAXSHORTLEN: shorter Lua strings are interned
const MIN_SHARED = 32;         // strings of this many bytes are written once per tree (SREF)

const NIL = Object.freeze({ lt: 'nil' });

class LTable {
  constructor(id) {
    this.lt = 'table';
    this.id = id;
    this.entries = new Map(); // canon(key) -> { k, v }
  }

  set(k, v) {
    k = normalizeKey(k);
    const c = canon(k);
    if (v.lt === 'nil') this.entries.delete(c);
    else this.entries.set(c, { k, v });
  }
}

function normalizeKey(k) {
  if (k.lt === 'float' && Number.isInteger(k.v) && k.v >= -(2 ** 63) && k.v < 2 ** 63) return { lt: 'int', v: BigInt(k.v) };
  return k;
}

function canon(k) {
  switch (k.lt) {
    case 'int': return `i${k.v}`;
    case 'float': return `f${k.v}`;
    case 'bool': return `b${k.v}`;
    case 'str': return `s${k.b.toString('hex')}`;
    case 'table': return `t${k.id}`;
    default: throw new Error(`bad key ${k.lt}`);
  }
}

class ModelError extends Error {
  /** kind 'marshal' (a MarshalError: reason, path) or 'throw' (a getter's or trap's own error: token). */
  constructor(kind, { reason, path, token, reasonRe }) {
    super(kind === 'marshal' ? `${path}: ${reason}` : `thrown: ${token && token.op ? 'getter' : 'trap'}`);
    this.kind = kind;
    this.reason = reason;
    this.reasonRe = reasonRe;
    this.path = path;
    this.token = token;
  }
}

/** Formats a path as docs/marshaling.md says: `[n]` for numbers, `.key`, or `["key"]`. */
function formatPath(root, segs) {
  let s = root;
  for (const seg of segs) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) s += `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

const wellFormed = (s) => !/\p{Cs}/u.test(s);

const INSTANCE = {
  date: 'Date', instance: 'Thing', set: 'Set', weakmap: 'WeakMap', regexp: 'RegExp', error: 'Error',
  promise: 'Promise', boxedString: 'String', boxedNumber: 'Number', float64: 'Float64Array', int8: 'Int8Array',
  uint8clamped: 'Uint8ClampedArray', dataview: 'DataView', arraybuffer: 'ArrayBuffer', disguised: 'Uint8Array',
  protoChild: 'Object', nullProtoChild: 'object',
};
const FUNCTIONS = new Set(['function', 'arrow', 'asyncFunction', 'class', 'proxyFunction']);
const instanceOf = (name) => `cannot convert an instance of ${name} to Lua (only plain objects, arrays, Maps and Buffers)`;

/** The live state of the containers of one build: what getters change, the model changes too. */
class World {
  constructor(nodes, { known = false } = {}) {
    this.known = known;       // follow the documented rules even where the code is known to differ
    this.hits = new Set();    // known deviations the model followed
    this.nodes = nodes;       // id -> spec node
    this.live = new Map();    // id -> { items } | { entries } | { list }
    this.reads = new Set();   // Proxies whose length was read
  }

  node(n) { return n.t === 'ref' ? this.nodes[n.to] : n; }

  state(n) {
    let s = this.live.get(n.id);
    if (s) return s;
    if (n.t === 'array') s = { items: n.items.slice() };
    else if (n.t === 'object') s = { entries: n.entries.map((e) => ({ ...e })) };
    else if (n.t === 'map') {
      s = { list: [] };
      for (const [k, v] of n.entries) this.mapSet(s, k, v);
    } else throw new Error(`no state for ${n.t}`);
    this.live.set(n.id, s);
    return s;
  }

  /** SameValueZero identity of a Map key. */
  keyId(k) {
    k = this.node(k);
    if (k.t !== 'prim') return `o${k.id}`;
    const v = k.v;
    return `${typeof v}:${typeof v === 'number' && Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '0' : String(v)}`;
  }

  mapSet(s, k, v) {
    const id = this.keyId(k);
    const e = s.list.find((x) => !x.deleted && x.id === id);
    if (e) { e.node = v; return; }
    if (k.t === 'prim' && Object.is(k.v, -0)) k = { t: 'prim', v: 0 }; // a Map stores -0 as +0
    s.list.push({ id, key: k, node: v, deleted: false });
  }

  effects(list, sim) {
    for (const e of list) {
      const target = e.target === undefined ? undefined : this.nodes[e.target];
      switch (e.op) {
        case 'push': this.state(target).items.push({ node: e.node }); break;
        case 'pop': this.state(target).items.pop(); break;
        case 'setIndex': {
          const items = this.state(target).items;
          while (items.length < e.index) items.push({ hole: true });
          items[e.index] = { node: e.node };
          break;
        }
        case 'mapSet': this.mapSet(this.state(target), { t: 'prim', v: e.key }, e.node); break;
        case 'mapDelete': {
          const id = this.keyId({ t: 'prim', v: e.key });
          const x = this.state(target).list.find((y) => !y.deleted && y.id === id);
          if (x) x.deleted = true;
          break;
        }
        case 'objDelete': {
          const s = this.state(target);
          s.entries = s.entries.filter((x) => x.key !== e.key);
          break;
        }
        case 'objSet': {
          const s = this.state(target);
          const x = s.entries.find((y) => y.key === e.key);
          if (x) { x.node = e.node; delete x.getter; } else s.entries.push({ key: e.key, node: e.node });
          break;
        }
        case 'submit': sim.submits.push(e); break;
        case 'throw': throw new ModelError('throw', { token: e });
      }
    }
  }
}

/** The order Object.keys gives for own keys created in this order. */
function keyOrder(keys) {
  const o = Object.create(null);
  for (const k of keys) Object.defineProperty(o, k, { value: 1, enumerable: true, configurable: true });
  return Object.keys(o);
}

let tableIds = 0;

/** Simulates one encode (one value tree) of the JavaScript encoder and the Lua decoder. */
class EncodeSim {
  constructor(world, { strict, root, enc }) {
    this.w = world;
    this.strict = strict;
    this.root = root;
    this.enc = enc;              // distinguishes the long strings of separate trees
    this.path = [];
    this.tables = new Map();     // JS object (node id, or chain level) -> LTable
    this.submits = [];
  }

  fail(reason) {
    throw new ModelError('marshal', { reason, path: formatPath(this.root, this.path) });
  }

  newTable(key) {
    const t = new LTable(tableIds++);
    this.tables.set(key, t);
    return t;
  }

  list(nodes) {
    const out = [];
    nodes.forEach((n, i) => {
      this.path.push(i);
      out.push(this.value(n, 0));
      this.path.pop();
    });
    return out;
  }

  str(b, sid) { return { lt: 'str', b, sid: b.length <= MAX_SHORT ? `c${b.toString('hex')}` : sid }; }

  value(n, depth) {
    if (n.t === 'prim') return this.prim(n.v);
    if (n.t === 'objectPrototype') return this.tables.get('Object.prototype') || this.newTable('Object.prototype');
    n = this.w.node(n);
    switch (n.t) {
      case 'bytes': return this.str(Buffer.from(n.data), `b${this.enc}:${n.id}`);
      case 'bad':
        if (FUNCTIONS.has(n.what)) this.fail('cannot convert a function to Lua');
        if (n.what === 'symbol') this.fail('cannot convert a symbol to Lua');
        if (n.what === 'revoked') this.fail('cannot convert a revoked Proxy to Lua');
        this.fail(instanceOf(INSTANCE[n.what]));
      // eslint-disable-next-line no-fallthrough
      default: return this.table(n, depth);
    }
  }

  prim(v) {
    switch (typeof v) {
      case 'undefined': return NIL;
      case 'boolean': return { lt: 'bool', v };
      case 'number':
        return Number.isSafeInteger(v) && !Object.is(v, -0) ? { lt: 'int', v: BigInt(v) } : { lt: 'float', v };
      case 'bigint':
        if (v < INT64_MIN || v > INT64_MAX) this.fail(`BigInt ${v} is out of range for a Lua integer (64-bit)`);
        return { lt: 'int', v };
      case 'string':
        if (this.strict && !wellFormed(v)) this.fail('a string with a lone surrogate cannot be converted to UTF-8 without loss (strict)');
        return this.str(Buffer.from(v, 'utf8'), `s${this.enc}:${v}`);
      case 'object': return NIL; // null
    }
    throw new Error(`prim ${typeof v}`);
  }

  table(n, depth) {
    const seen = this.tables.get(n.id);
    if (seen) return seen;
    if (depth >= MAX_DEPTH) this.fail(`values nested more than ${MAX_DEPTH} deep`);
    switch (n.t) {
      case 'array': return this.array(n, this.w.state(n).items, n.id, depth, null);
      case 'object': return this.object(n, n.id, depth, null);
      case 'map': return this.map(n, depth);
      case 'chain': return this.chain(n, depth);
      case 'proxy': return this.proxy(n, depth);
    }
    throw new Error(`table ${n.t}`);
  }

  /** `items` is read once for its length; `read(i)` (a Proxy) answers for element i. */
  array(n, items, key, depth, proxy) {
    const len = proxy && proxy.length !== undefined ? proxy.length : items.length;
    const t = this.newTable(key);
    for (let i = 0; i < len; i++) {
      let node;
      if (proxy && proxy.throwAt === i) throw new ModelError('throw', { token: proxy.node });
      if (proxy && proxy.lies.has(String(i))) node = proxy.lies.get(String(i));
      else {
        const it = items[i];
        if (it === undefined || it.hole) node = { t: 'prim', v: undefined };
        else {
          node = it.node;
          if (it.getter) this.w.effects(it.getter, this);
        }
      }
      this.path.push(i);
      if (this.strict && node.t === 'prim' && (node.v === undefined || node.v === null)) {
        this.fail('a hole (undefined/null) in an array would make the Lua sequence ambiguous (strict)');
      }
      t.set({ lt: 'int', v: BigInt(i + 1) }, this.value(node, depth + 1));
      this.path.pop();
    }
    return t;
  }

  object(n, key, depth, proxy) {
    const s = this.w.state(n);
    if (n.symbol) this.fail('cannot convert symbol-keyed properties to Lua');
    let keys = keyOrder(s.entries.map((e) => e.key));
    if (proxy) {
      keys = keys.filter((k) => !proxy.hidden.has(k)).concat([...proxy.extras.keys()]);
      if (proxy.throwGopd && (keys.length > 0 || n.hidden)) throw new ModelError('throw', { token: proxy.node });
    }
    const t = this.newTable(key);
    for (const k of keys) {
      this.path.push(k);
      const kv = this.prim(k);
      let node;
      if (proxy && proxy.throwKey === k) throw new ModelError('throw', { token: proxy.node });
      if (proxy && proxy.lies.has(k)) node = proxy.lies.get(k);
      else if (proxy && proxy.extras.has(k)) node = proxy.extras.get(k);
      else {
        const e = s.entries.find((x) => x.key === k); // as it is now (a getter may have deleted it)
        if (!e) node = { t: 'prim', v: undefined }; // deleted by a getter meanwhile: nil, whatever its name
        else {
          node = e.node; // what the getter returns, even if its effects replace the property
          if (e.getter) this.w.effects(e.getter, this);
        }
      }
      t.set(kv, this.value(node, depth + 1));
      this.path.pop();
    }
    return t;
  }

  map(n, depth) {
    const s = this.w.state(n);
    const size = s.list.filter((e) => !e.deleted).length;
    const t = this.newTable(n.id);
    let written = 0;
    let i = 0;
    while (written < size) {
      while (i < s.list.length && s.list[i].deleted) i++;
      if (i >= s.list.length) break;
      const e = s.list[i++];
      const k = this.w.node(e.key);
      const v = e.node;
      const jsKey = k.t === 'prim' ? k.v : undefined;
      const type = k.t === 'prim' ? typeof jsKey
        : k.t === 'bad' ? (k.what === 'symbol' ? 'symbol' : FUNCTIONS.has(k.what) ? 'function' : 'object') : 'object';
      this.path.push(type === 'string' || type === 'number' ? jsKey : `<${type === 'object' && jsKey === null ? 'object' : type} key>`);
      if (k.t === 'prim' && (jsKey === undefined || jsKey === null)) this.fail('a Lua table key cannot be nil');
      if (type === 'number' && Number.isNaN(jsKey)) this.fail('a Lua table key cannot be NaN');
      const kl = this.value(e.key, depth + 1);
      const vl = this.value(v, depth + 1);
      t.set(kl, vl);
      this.path.pop();
      written++;
    }
    return t;
  }

  chain(n, depth) {
    const outer = this.newTable(n.id);
    let t = outer;
    let d = depth;
    for (let level = 1; level < n.len; level++) {
      this.path.push(0);
      d++;
      if (d >= MAX_DEPTH) this.fail(`values nested more than ${MAX_DEPTH} deep`);
      const inner = this.newTable(`${n.id}/${level}`);
      t.set({ lt: 'int', v: 1n }, inner);
      t = inner;
    }
    this.path.push(0);
    t.set({ lt: 'int', v: 1n }, this.value(n.leaf, d + 1));
    this.path.length -= n.len;
    return outer;
  }

  proxy(p, depth) {
    const target = p.target;
    const lies = new Map((p.lies || []).map((l) => [String(l.key), l.node]));
    if (target.t === 'array') {
      const items = this.w.state(target).items;
      let length = items.length;
      if (p.variant === 'throw' && p.key === 'length') throw new ModelError('throw', { token: p });
      // lengthChanges: the first read (of any encode) answers the real length, later ones p.second
      if (p.variant === 'lengthChanges' && this.w.reads.has(p.id)) length = p.second;
      this.w.reads.add(p.id);
      if (p.variant === 'lengthLie' || (p.variant === 'lengthChanges' && length !== items.length)) {
        if (p.variant === 'lengthLie') length = p.length;
        if (typeof length !== 'number' || length >>> 0 !== length) this.fail(`array length ${String(length)} is not a valid length`);
      }
      return this.array(target, items, p.id, depth, {
        length, lies, throwAt: p.variant === 'throw' && typeof p.key === 'number' ? p.key : -1, node: p,
      });
    }
    if (target.t === 'map') this.fail('cannot convert an object that only looks like a Map to Lua');
    // an object: `instanceof Map` and Object.getPrototypeOf ask the getPrototypeOf trap
    if (p.variant === 'throw' && p.trap === 'getPrototypeOf') throw new ModelError('throw', { token: p });
    if (p.variant === 'protoLie') {
      if (p.proto === 'map') this.fail('cannot convert an object that only looks like a Map to Lua');
      if (p.proto === 'date') this.fail(instanceOf('Date'));
      if (p.proto === 'array') this.fail(instanceOf('Array'));
    }
    // Object.getOwnPropertySymbols asks ownKeys
    if (p.variant === 'throw' && p.trap === 'ownKeys') throw new ModelError('throw', { token: p });
    return this.object(target, p.id, depth, {
      hidden: new Set(p.variant === 'hideKeys' || p.variant === 'nonEnum' ? p.hidden : []),
      extras: new Map(p.variant === 'extraKeys' ? p.extras.map((x) => [x.key, x.node]) : []),
      lies,
      throwGopd: p.variant === 'throw' && p.trap === 'getOwnPropertyDescriptor',
      throwKey: p.variant === 'throw' && p.trap === 'get' ? p.key : undefined,
      node: p,
    });
  }
}

let encodes = 0;

/**
 * What Lua receives for top-level spec nodes encoded as one tree (args, a host result) or
 * for one table whose entries become globals (env: `asTable`). Returns { values } (model
 * Lua values) or { error: ModelError }, and the nested jobs the getters submitted.
 */
function encode(world, nodes, { strict, root, asTable = false }) {
  const sim = new EncodeSim(world, { strict, root, enc: encodes++ });
  try {
    const values = asTable ? [sim.value(nodes[0], 0)] : sim.list(nodes);
    return { values, submits: sim.submits };
  } catch (e) {
    if (!(e instanceof ModelError)) throw e;
    return { error: e, submits: sim.submits };
  }
}

// ======================================================================== Lua -> JavaScript

const lossy = (b) => b.toString('utf8');
const isSeq = (t) => {
  const n = t.entries.size;
  if (n === 0) return false;
  for (const { k } of t.entries.values()) if (k.lt !== 'int' || k.v < 1n || k.v > BigInt(n)) return false;
  return true;
};
const jsNumber = (v) => (v >= -SAFE && v <= SAFE ? Number(v) : v);
const keyTypeWord = (k) => ({ int: 'integer', float: 'float', bool: 'boolean', table: 'table', str: 'string' })[k.lt];

/** The property name a Lua key becomes in tables: 'auto' (or null for a table key). */
function propertyName(k) {
  switch (k.lt) {
    case 'str': return lossy(k.b);
    case 'int': return String(jsNumber(k.v));
    case 'float': return String(k.v);
    case 'bool': return String(k.v);
    default: return null;
  }
}

/** Every table reachable from `values` (through keys and values), with its shortest depth and an upper bound. */
function tableGraph(values) {
  const depth = new Map();
  const queue = [];
  for (const v of values) if (v.lt === 'table' && !depth.has(v)) { depth.set(v, 0); queue.push(v); }
  for (let i = 0; i < queue.length; i++) {
    const t = queue[i];
    for (const { k, v } of t.entries.values()) {
      for (const x of [k, v]) {
        if (x.lt === 'table' && !depth.has(x)) { depth.set(x, depth.get(t) + 1); queue.push(x); }
      }
    }
  }
  const tables = queue;
  let maxShortest = 0;
  for (const d of depth.values()) maxShortest = Math.max(maxShortest, d);
  // Upper bound of the depth at which an encoder may first reach a table, whatever order it
  // walks the entries in: the longest simple path, bounded through the strongly connected
  // components (every table of a component on the way may be on the path).
  let upper = tables.length - 1;
  if (upper >= MAX_DEPTH) upper = longestPathBound(tables, values);
  return { tables, maxShortest, upper };
}

function longestPathBound(tables, values) {
  // Tarjan's SCC (iterative), then the heaviest path in the condensation.
  const index = new Map(); const low = new Map(); const comp = new Map();
  const stack = []; const onStack = new Set(); let next = 0; let comps = 0;
  const succ = (t) => {
    const out = [];
    for (const { k, v } of t.entries.values()) { if (k.lt === 'table') out.push(k); if (v.lt === 'table') out.push(v); }
    return out;
  };
  for (const root of tables) {
    if (index.has(root)) continue;
    const work = [[root, succ(root), 0]];
    index.set(root, next); low.set(root, next); next++; stack.push(root); onStack.add(root);
    while (work.length) {
      const frame = work[work.length - 1];
      const [t, out] = frame;
      if (frame[2] < out.length) {
        const u = out[frame[2]++];
        if (!index.has(u)) {
          index.set(u, next); low.set(u, next); next++; stack.push(u); onStack.add(u);
          work.push([u, succ(u), 0]);
        } else if (onStack.has(u)) low.set(t, Math.min(low.get(t), index.get(u)));
      } else {
        work.pop();
        if (work.length) { const p = work[work.length - 1][0]; low.set(p, Math.min(low.get(p), low.get(t))); }
        if (low.get(t) === index.get(t)) {
          let u;
          do { u = stack.pop(); onStack.delete(u); comp.set(u, comps); } while (u !== t);
          comps++;
        }
      }
    }
  }
  const size = new Array(comps).fill(0);
  for (const c of comp.values()) size[c]++;
  const edges = Array.from({ length: comps }, () => new Set());
  for (const t of tables) for (const u of succ(t)) if (comp.get(u) !== comp.get(t)) edges[comp.get(t)].add(comp.get(u));
  // Tarjan numbers components in reverse topological order: successors first
  const best = new Array(comps).fill(0);
  for (let c = 0; c < comps; c++) {
    let m = 0;
    for (const d of edges[c]) m = Math.max(m, best[d]);
    best[c] = size[c] + m;
  }
  let top = 0;
  for (const v of values) if (v.lt === 'table') top = Math.max(top, best[comp.get(v)]);
  return top - 1;
}

/**
 * What the decoding rules refuse in `values` under `opts`, whatever the traversal order:
 * { sites: [{ kind, ... }], depth: 'none' | 'maybe' | 'sure' }.
 */
function refusals(values, opts) {
  const { tables, maxShortest, upper } = tableGraph(values);
  const sites = [];
  const badValue = (v) => v.lt === 'str' && opts.strict && opts.bytes === 'string' && !isUtf8(v.b);
  for (const v of values) if (badValue(v)) sites.push({ kind: 'badValue' });
  for (const t of tables) {
    const props = new Map();
    const seq = isSeq(t); // a sequence is an array or a Map with keys 1..n: no key is converted
    for (const e of t.entries.values()) {
      const { k, v } = e;
      if (badValue(v)) sites.push({ kind: 'badValue' });
      if (k.lt === 'str' && !isUtf8(k.b) && opts.strict && !(opts.bytes === 'buffer' && opts.tables === 'map')) sites.push({ kind: 'badKey' });
      if (opts.tables === 'auto' && !seq) {
        if (k.lt !== 'str' && opts.strict) sites.push({ kind: 'strictKey' });
        else if (k.lt === 'table') sites.push({ kind: 'tableKey' });
        const p = propertyName(k);
        if (p !== null) props.set(p, (props.get(p) || 0) + 1);
      }
    }
    if (opts.strict) for (const n of props.values()) if (n > 1) sites.push({ kind: 'collision' });
  }
  const depth = maxShortest >= MAX_DEPTH ? 'sure' : upper >= MAX_DEPTH ? 'maybe' : 'none';
  return { sites, depth };
}

// --- error paths -------------------------------------------------------------------------

/** A quoted key: JSON (the JS side), or as it is with only `"` and `\` escaped (the native encoder writes control characters raw). */
function quoted(q) {
  try {
    return JSON.parse(q);
  } catch {
    return q.slice(1, -1).replace(/\\(.)/gs, '$1');
  }
}

/** Splits `root[i]…` into the top index and segments; null if it does not parse. */
function parsePath(path, root) {
  if (!path.startsWith(root)) return null;
  let s = path.slice(root.length);
  const segs = [];
  const re = /^(?:\.([A-Za-z_$][\w$]*)|\[("(?:[^"\\]|\\.)*")\]|\[([^\]"]+)\])/;
  while (s.length) {
    const m = re.exec(s);
    if (!m) return null;
    if (m[1] !== undefined) segs.push({ str: m[1] });
    else if (m[2] !== undefined) segs.push({ str: quoted(m[2]) });
    else segs.push({ num: m[3] });
    s = s.slice(m[0].length);
  }
  if (!segs.length || segs[0].num === undefined || !/^\d+$/.test(segs[0].num)) return null;
  return { top: Number(segs[0].num), segs: segs.slice(1) };
}

/** Whether a path segment may name Lua key `k` (the conventions of both encoders and the JS decoder). */
function segNames(seg, k) {
  if (seg.num !== undefined) {
    if (k.lt === 'int') return String(k.v) === seg.num;
    if (k.lt === 'float') return String(k.v) === seg.num;
    return false;
  }
  const s = seg.str;
  switch (k.lt) {
    case 'str':
      if (s === '<binary key>' && !isUtf8(k.b)) return true;
      return lossy(k.b) === s || (k.b.length > 64 && lossy(k.b.subarray(0, 64)) === s);
    case 'bool': return s === String(k.v) || s === '<boolean key>';
    case 'float': return s === '<number key>' || s === String(k.v);
    case 'int': return s === String(k.v) || s === '<number key>';
    case 'table': return s === '<table key>';
  }
  return false;
}

/** Every place a path may name: [{ val, last: { t, e, via } | null, inKey }]. */
function resolvePath(parsed, values) {
  if (!parsed || parsed.top >= values.length) return [];
  let states = [{ val: values[parsed.top], last: null, inKey: false }];
  for (const seg of parsed.segs) {
    const next = [];
    for (const st of states) {
      if (st.val.lt !== 'table') continue;
      for (const e of st.val.entries.values()) {
        if (segNames(seg, e.k)) next.push({ val: e.v, last: { t: st.val, e, via: 'value' }, inKey: st.inKey });
        if (seg.str === '<table key>' && e.k.lt === 'table') next.push({ val: e.k, last: { t: st.val, e, via: 'key' }, inKey: true });
      }
      if (next.length > 20000) break;
    }
    states = next;
    if (!states.length) break;
  }
  return states;
}

const REASONS = [
  ['depth', /^tables nested more than 200 deep$/],
  ['badValue', /^a Lua string that is not valid UTF-8 cannot become a JS string without loss; use bytes: 'buffer' \(strict\)$/],
  ['badKey', /^a Lua string key that is not valid UTF-8 cannot become a (Map key|property) without loss; use bytes: 'buffer' with tables: 'map' \(strict\)$/],
  ['strictKey', /^a (integer|float|boolean|table) key cannot become an object property without loss \(a sparse or mixed table; use tables: 'map'\) \(strict\)$/],
  ['tableKey', /^a table key cannot become an object property; use tables: 'map'$/],
  ['collision', /^two Lua keys map to the same (property '.*'|Map key) \(strict\)$/s],
];

/**
 * Whether a refusal (path and reason) names a real bad spot in `values`: the reason is one
 * the rules give, the path leads to a place where that reason applies.
 */
function checkRefusal(path, reason, values, opts, root) {
  const r = REASONS.find(([, re]) => re.test(reason));
  if (!r) return `unexpected reason ${JSON.stringify(reason)}`;
  const kind = r[0];
  const m = r[1].exec(reason);
  const parsed = parsePath(path, root);
  if (!parsed) return `path ${JSON.stringify(path)} does not parse (root ${root})`;
  const states = resolvePath(parsed, values);
  if (!states.length) return `path ${JSON.stringify(path)} names no value`;
  const ok = states.some((st) => {
    const k = st.last && st.last.e.k;
    switch (kind) {
      case 'depth': return parsed.segs.length === MAX_DEPTH && st.val.lt === 'table';
      case 'badValue': return opts.strict && opts.bytes === 'string' && st.last?.via !== 'key' && st.val.lt === 'str' && !isUtf8(st.val.b);
      case 'badKey': return opts.strict && !(opts.bytes === 'buffer' && opts.tables === 'map') && k && k.lt === 'str' && !isUtf8(k.b)
        && (m[1] === 'Map key') === (opts.tables === 'map');
      // (a float key with an integral value, 1e300, is called an integer key: see the report)
      case 'strictKey': return opts.strict && opts.tables === 'auto' && k && st.last.t && !isSeq(st.last.t)
        && (keyTypeWord(k) === m[1] || (m[1] === 'integer' && k.lt === 'float' && Number.isInteger(k.v)));
      case 'tableKey': return !opts.strict && opts.tables === 'auto' && k && st.last.t && !isSeq(st.last.t) && k.lt === 'table';
      case 'collision': {
        if (!opts.strict || !k || opts.tables !== 'auto' || !st.last.t || isSeq(st.last.t)) return false;
        const p = propertyName(k);
        let n = 0;
        for (const e of st.last.t.entries.values()) if (propertyName(e.k) === p) n++;
        return n > 1;
      }
    }
    return false;
  });
  return ok ? null : `path ${JSON.stringify(path)} does not name a place where "${reason}" applies`;
}

// --- comparing a decoded value -----------------------------------------------------------

class Mismatch extends Error {}

class Compare {
  /**
   * known: hold the implementation to the documented rules where it is known to differ
   * (KNOWN in marshal-fuzz.js); else accept the known deviation and note it in `hits`.
   */
  constructor(opts, { known = false } = {}) {
    this.opts = opts;
    this.known = known;
    this.keyBuffers = true;  // also check that a long binary key and value of one Lua string are one Buffer
    this.ctx = [];
    this.hits = new Set();
    this.t2j = new Map();
    this.j2t = new Map();
    this.sid2buf = new Map();
    this.buf2sid = new Map();
    this.shortBufs = new Set();
  }

  clone() {
    const c = new Compare(this.opts, { known: this.known });
    c.ctx = this.ctx.slice();
    c.hits = new Set(this.hits);
    c.t2j = new Map(this.t2j); c.j2t = new Map(this.j2t);
    c.sid2buf = new Map(this.sid2buf); c.buf2sid = new Map(this.buf2sid); c.shortBufs = new Set(this.shortBufs);
    return c;
  }

  adopt(c) {
    this.t2j = c.t2j; this.j2t = c.j2t; this.sid2buf = c.sid2buf; this.buf2sid = c.buf2sid; this.shortBufs = c.shortBufs;
  }

  fail(path, msg) { throw new Mismatch(`${path}: ${msg}`); }

  /** Tries `fn(compare)` on a copy; keeps its bookkeeping if it matched. */
  attempt(fn) {
    const c = this.clone();
    try { fn(c); } catch (e) { if (e instanceof Mismatch) return false; throw e; }
    this.adopt(c);
    this.hits = c.hits;
    return true;
  }

  list(actual, values, path) {
    if (!Array.isArray(actual)) this.fail(path, `expected an array of ${values.length} values, got ${describe(actual)}`);
    if (actual.length !== values.length) this.fail(path, `expected ${values.length} values, got ${actual.length}`);
    values.forEach((v, i) => this.value(actual[i], v, `${path}[${i}]`));
  }

  buffer(actual, lv, path, asKey) {
    if (!Buffer.isBuffer(actual)) this.fail(path, `expected a Buffer, got ${describe(actual)}`);
    if (!actual.equals(lv.b)) this.fail(path, `expected bytes ${hex(lv.b)}, got ${hex(actual)}`);
    if (asKey && !this.keyBuffers) return;
    if (lv.b.length >= MIN_SHARED) {
      const had = this.sid2buf.get(lv.sid);
      if (had !== undefined && had !== actual) this.fail(path, 'one long Lua string reached twice came back as two Buffers');
      const sid = this.buf2sid.get(actual);
      if (sid !== undefined && sid !== lv.sid) this.fail(path, 'two Lua strings came back as one Buffer');
      this.sid2buf.set(lv.sid, actual);
      this.buf2sid.set(actual, lv.sid);
    } else if (!asKey) {
      if (this.shortBufs.has(actual) || this.buf2sid.has(actual)) this.fail(path, 'a short string came back as a Buffer seen before');
      this.shortBufs.add(actual);
    }
  }

  value(actual, lv, path) {
    switch (lv.lt) {
      case 'nil': if (actual !== undefined) this.fail(path, `expected undefined, got ${describe(actual)}`); return;
      case 'bool': if (actual !== lv.v) this.fail(path, `expected ${lv.v}, got ${describe(actual)}`); return;
      case 'int': {
        const want = jsNumber(lv.v);
        if (actual !== want) this.fail(path, `expected ${describe(want)}, got ${describe(actual)}`);
        return;
      }
      case 'float':
        if (typeof actual !== 'number' || !Object.is(actual, lv.v)) this.fail(path, `expected ${describe(lv.v)}, got ${describe(actual)}`);
        return;
      case 'str':
        if (this.opts.bytes === 'buffer') this.buffer(actual, lv, path, false);
        else if (actual !== lossy(lv.b)) this.fail(path, `expected ${describe(lossy(lv.b))}, got ${describe(actual)}`);
        return;
      case 'table': return this.table(actual, lv, path);
    }
    throw new Error(lv.lt);
  }

  table(actual, t, path) {
    if (this.t2j.has(t)) {
      if (this.t2j.get(t) !== actual) this.fail(path, 'a Lua table reached twice came back as two objects (or a cycle was broken)');
      return;
    }
    if (actual === null || typeof actual !== 'object') this.fail(path, `expected a table, got ${describe(actual)}`);
    if (this.j2t.has(actual)) this.fail(path, 'two Lua tables came back as one object');
    this.t2j.set(t, actual);
    this.j2t.set(actual, t);
    this.ctx.push(t);
    try {
      this.structure(actual, t, path);
    } finally {
      this.ctx.pop();
    }
  }

  structure(actual, t, path) {
    if (this.opts.tables === 'map') return this.asMap(actual, t, path);
    if (isSeq(t)) {
      if (!Array.isArray(actual) || Object.getPrototypeOf(actual) !== Array.prototype) this.fail(path, `expected an array (a sequence of ${t.entries.size}), got ${describe(actual)}`);
      if (actual.length !== t.entries.size) this.fail(path, `expected length ${t.entries.size}, got ${actual.length}`);
      if (Reflect.ownKeys(actual).length !== actual.length + 1) this.fail(path, 'the array has other own properties');
      for (let i = 0; i < actual.length; i++) {
        if (!Object.prototype.hasOwnProperty.call(actual, i)) this.fail(`${path}[${i}]`, 'a hole');
        this.value(actual[i], t.entries.get(`i${i + 1}`).v, `${path}[${i}]`);
      }
      return;
    }
    if (Array.isArray(actual) || Object.getPrototypeOf(actual) !== Object.prototype) this.fail(path, `expected a plain object, got ${describe(actual)}`);
    const groups = new Map();
    for (const e of t.entries.values()) {
      const p = propertyName(e.k);
      if (p === null) this.fail(path, 'model: a table key should have been refused');
      if (!groups.has(p)) groups.set(p, []);
      groups.get(p).push(e);
    }
    const own = Reflect.ownKeys(actual);
    if (own.length !== groups.size || own.some((k) => typeof k !== 'string' || !groups.has(k))) {
      this.fail(path, `expected properties ${JSON.stringify([...groups.keys()].sort())}, got ${JSON.stringify(own.map(String).sort())}`);
    }
    for (const [p, cands] of groups) {
      const d = Object.getOwnPropertyDescriptor(actual, p);
      const sub = `${path}[${JSON.stringify(p)}]`;
      if (!('value' in d) || !d.enumerable || !d.writable || !d.configurable) this.fail(sub, 'not an ordinary data property');
      this.candidates(d.value, cands, sub);
    }
  }

  candidates(actual, cands, path) {
    if (cands.length === 1) return this.value(actual, cands[0].v, path);
    // colliding keys: the later one in Lua's (unspecified) traversal order wins
    if (!cands.some((c) => this.attempt((cmp) => cmp.value(actual, c.v, path)))) {
      this.fail(path, `matches none of the ${cands.length} colliding entries`);
    }
  }

  asMap(actual, t, path) {
    if (!(actual instanceof Map) || Object.getPrototypeOf(actual) !== Map.prototype) this.fail(path, `expected a Map, got ${describe(actual)}`);
    const simple = new Map();   // JS key -> [entries]
    const buffers = [];
    const tableKeys = [];
    const bufferKeys = this.opts.bytes === 'buffer';
    for (const e of t.entries.values()) {
      const k = e.k;
      if (k.lt === 'table') { tableKeys.push(e); continue; }
      if (k.lt === 'str' && bufferKeys && !isUtf8(k.b)) { buffers.push(e); continue; }
      const jk = k.lt === 'str' ? lossy(k.b) : k.lt === 'int' ? jsNumber(k.v) : k.v;
      if (!simple.has(jk)) simple.set(jk, []);
      simple.get(jk).push(e);
    }
    const expected = simple.size + buffers.length + tableKeys.length;
    if (actual.size !== expected) this.fail(path, `expected a Map of ${expected} entries, got ${actual.size}`);
    for (const [jk, cands] of simple) {
      if (!actual.has(jk)) this.fail(path, `no key ${describe(jk)}`);
      this.candidates(actual.get(jk), cands, `${path}[${describe(jk)}]`);
    }
    const objectKeys = [...actual.keys()].filter((k) => k !== null && typeof k === 'object');
    for (const e of buffers) {
      const found = objectKeys.filter((k) => Buffer.isBuffer(k) && k.equals(e.k.b));
      if (found.length !== 1) this.fail(path, `expected one Buffer key ${hex(e.k.b)}, found ${found.length}`);
      this.buffer(found[0], e.k, `${path}<binary key>`, true);
      this.value(actual.get(found[0]), e.v, `${path}[<${hex(e.k.b)}>]`);
    }
    const free = objectKeys.filter((k) => !Buffer.isBuffer(k));
    for (const e of tableKeys) {
      const sub = `${path}[<table key>]`;
      const known = this.t2j.get(e.k);
      if (known !== undefined) {
        if (!actual.has(known)) this.fail(sub, 'the key table came back as another object');
        this.value(actual.get(known), e.v, sub);
        free.splice(free.indexOf(known), 1);
        continue;
      }
      const i = free.findIndex((k) => this.attempt((cmp) => { cmp.value(k, e.k, sub); cmp.value(actual.get(k), e.v, sub); }));
      if (i < 0) this.fail(sub, 'no key of the Map matches this table key and its value');
      free.splice(i, 1);
    }
  }
}

function hex(b) { return b.length > 32 ? `${b.subarray(0, 32).toString('hex')}…(${b.length} bytes)` : b.toString('hex'); }

function describe(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string') return v.length > 50 ? `${JSON.stringify(v.slice(0, 40))}…(${v.length})` : JSON.stringify(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (Buffer.isBuffer(v)) return `<Buffer ${hex(v)}>`;
  if (v instanceof Map) return `Map(${v.size})`;
  if (Array.isArray(v)) return `array(${v.length})`;
  if (v && typeof v === 'object') return `object{${Object.keys(v).slice(0, 5).join(',')}}`;
  return String(v);
}

/**
 * Checks an outcome of the Lua -> JS direction against the model values.
 * outcome: { ok: true, value } (the decoded list of values) or { ok: false, path, reason }.
 * Returns null if it is right, else a description of what is wrong.
 */
function checkBack(outcome, values, opts, root, { known = false } = {}) {
  const { sites, depth } = refusals(values, opts);
  const mustFail = sites.length > 0 || depth === 'sure';
  if (outcome.ok) {
    if (mustFail) return { problem: `expected a MarshalError (${depth === 'sure' ? 'nested more than 200 deep' : sites.map((s) => s.kind).join(', ')}), got success` };
    const cmp = new Compare(opts, { known });
    try {
      cmp.list(outcome.value, values, root);
    } catch (e) {
      if (e instanceof Mismatch) return { problem: e.message };
      throw e;
    }
    return { problem: null, known: [...cmp.hits][0] };
  }
  if (!mustFail && depth === 'none') return { problem: `expected success, got a MarshalError: ${outcome.path}: ${outcome.reason}` };
  if (depth === 'sure' && !/nested more than/.test(outcome.reason)) {
    return { problem: `expected the nesting limit first (the whole tree is encoded before it is decoded), got ${outcome.reason}` };
  }
  return { problem: checkRefusal(outcome.path, outcome.reason, values, opts, root) };
}

/** A short text form of model Lua values (for failure reports). */
function describeLua(values, max = 3000) {
  const seen = new Set();
  const d = (v) => {
    switch (v.lt) {
      case 'nil': return 'nil';
      case 'bool': return String(v.v);
      case 'int': return `${v.v}`;
      case 'float': return `${Object.is(v.v, -0) ? '-0.0' : v.v}f`;
      case 'str': return isUtf8(v.b) && v.b.length < 60 ? JSON.stringify(lossy(v.b)) : `bytes(${hex(v.b)})`;
      case 'table': {
        if (seen.has(v)) return `<table ${v.id}>`;
        seen.add(v);
        const es = [...v.entries.values()].slice(0, 30).map(({ k, v: x }) => `[${d(k)}]=${d(x)}`);
        return `T${v.id}{${es.join(', ')}${v.entries.size > 30 ? ', …' : ''}}`;
      }
    }
    return '?';
  };
  const s = values.map(d).join(', ');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

module.exports = {
  World, encode, checkBack, checkRefusal, refusals, formatPath, describeLua, describe, ModelError, NIL, LTable,
  propertyName, lossy,
};
