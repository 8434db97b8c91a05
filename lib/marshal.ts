// JavaScript half of the value tree format (native/value.hpp): encodes arguments, env
// values and host results for Lua, decodes results, error values and posts from Lua.
import { MarshalError } from './errors';

const NIL = 0, FALSE = 1, TRUE = 2, INT = 3, FLOAT = 4, STR = 5, SEQ = 6, TABLE = 7, REF = 8, INT32 = 9;
const HAS_REFS = 1;
const MAX_DEPTH = 200;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** How values coming from Lua are converted (the job's bytes/tables/strict options). */
export interface DecodeOptions {
  /** Lua strings come back as JS strings (UTF-8) or as Buffers (byte for byte). */
  bytes: 'string' | 'buffer';
  /** 'auto': sequences become arrays, other tables objects; 'map': every table a Map. */
  tables: 'auto' | 'map';
  /** Refuse conversions that lose information instead of approximating. */
  strict: boolean;
}

// --------------------------------------------------------------------------------------
// Encoding (JS -> Lua)
// --------------------------------------------------------------------------------------

let scratch = Buffer.allocUnsafe(4096);

class Encoder {
  pos = 0;
  tables = new Map<object, number>();
  hasRefs = false;
  path: (string | number)[] = [];

  constructor(private readonly strict: boolean, private readonly root: string) {}

  ensure(n: number): void {
    if (this.pos + n <= scratch.length) return;
    let size = scratch.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    scratch.copy(next, 0, 0, this.pos);
    scratch = next;
  }

  u8(v: number): void { this.ensure(1); scratch[this.pos++] = v; }
  u32(v: number): void { this.ensure(4); scratch.writeUInt32LE(v, this.pos); this.pos += 4; }

  fail(message: string): never {
    throw new MarshalError(message, formatPath(this.root, this.path));
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'undefined': this.u8(NIL); return;
      case 'boolean': this.u8(v ? TRUE : FALSE); return;
      case 'number':
        this.ensure(9);
        if ((v | 0) === v && !Object.is(v, -0)) {
          scratch[this.pos++] = INT32;
          scratch.writeInt32LE(v, this.pos);
          this.pos += 4;
          return;
        }
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
          scratch[this.pos++] = INT;
          // two 32-bit halves: no BigInt allocation on the hot path
          scratch.writeUInt32LE(v >>> 0, this.pos);
          scratch.writeInt32LE(Math.floor(v / 4294967296), this.pos + 4);
        } else {
          scratch[this.pos++] = FLOAT;
          scratch.writeDoubleLE(v, this.pos);
        }
        this.pos += 8;
        return;
      case 'bigint':
        if (v < INT64_MIN || v > INT64_MAX) this.fail(`BigInt ${v} is out of range for a Lua integer (64-bit)`);
        this.ensure(9);
        scratch[this.pos++] = INT;
        scratch.writeBigInt64LE(v, this.pos);
        this.pos += 8;
        return;
      case 'string': {
        const max = v.length * 3;
        this.ensure(5 + max);
        scratch[this.pos] = STR;
        const n = scratch.write(v, this.pos + 5, 'utf8');
        scratch.writeUInt32LE(n, this.pos + 1);
        this.pos += 5 + n;
        return;
      }
      case 'object':
        if (v === null) { this.u8(NIL); return; }
        if (v instanceof Uint8Array) {
          this.ensure(5 + v.byteLength);
          scratch[this.pos] = STR;
          scratch.writeUInt32LE(v.byteLength, this.pos + 1);
          scratch.set(v, this.pos + 5);
          this.pos += 5 + v.byteLength;
          return;
        }
        this.table(v, depth);
        return;
      case 'function': this.fail('cannot convert a function to Lua');
      // eslint-disable-next-line no-fallthrough
      case 'symbol': this.fail('cannot convert a symbol to Lua');
    }
  }

  table(v: object, depth: number): void {
    const seen = this.tables.get(v);
    if (seen !== undefined) {
      this.u8(REF);
      this.u32(seen);
      this.hasRefs = true;
      return;
    }
    if (depth >= MAX_DEPTH) this.fail(`values nested more than ${MAX_DEPTH} deep`);
    if (Array.isArray(v)) {
      this.tables.set(v, this.tables.size);
      this.u8(SEQ);
      this.u32(v.length);
      for (let i = 0; i < v.length; i++) {
        const item = v[i];
        if (this.strict && (item === undefined || item === null)) {
          this.path.push(i);
          this.fail('a hole (undefined/null) in an array would make the Lua sequence ambiguous (strict)');
        }
        this.path.push(i);
        this.value(item, depth + 1);
        this.path.pop();
      }
      return;
    }
    if (v instanceof Map) {
      this.tables.set(v, this.tables.size);
      this.u8(TABLE);
      this.u32(v.size);
      for (const [k, item] of v) {
        this.path.push(typeof k === 'string' || typeof k === 'number' ? k : `<${typeof k} key>`);
        if (k === undefined || k === null) this.fail('a Lua table key cannot be nil');
        if (typeof k === 'number' && Number.isNaN(k)) this.fail('a Lua table key cannot be NaN');
        this.value(k, depth + 1);
        this.value(item, depth + 1);
        this.path.pop();
      }
      return;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      const name = (proto && proto.constructor && proto.constructor.name) || 'object';
      this.fail(`cannot convert an instance of ${name} to Lua (only plain objects, arrays, Maps and Buffers)`);
    }
    if (Object.getOwnPropertySymbols(v).length > 0) this.fail('cannot convert symbol-keyed properties to Lua');
    this.tables.set(v, this.tables.size);
    const keys = Object.keys(v);
    this.u8(TABLE);
    this.u32(keys.length);
    for (const k of keys) {
      this.path.push(k);
      this.value(k, depth + 1);
      this.value((v as Record<string, unknown>)[k], depth + 1);
      this.path.pop();
    }
  }
}

/**
 * Encodes a list of values. The result is a view of a shared scratch buffer: the native
 * side copies it synchronously, so it must be used before the next encode.
 */
export function encodeList(values: readonly unknown[], root: string, strict = false): Buffer {
  const e = new Encoder(strict, root);
  e.u8(0);
  e.u32(values.length);
  for (let i = 0; i < values.length; i++) {
    e.path.push(i);
    e.value(values[i], 0);
    e.path.pop();
  }
  if (e.hasRefs) scratch[0] = HAS_REFS;
  return scratch.subarray(0, e.pos);
}

/**
 * Encodes calls[from..to) for a batch job as two values: one flat sequence holding, per
 * call, its argument count then its arguments, and the flat sequence's length. One table
 * per batch instead of one per call.
 */
export function encodeBatch(calls: readonly (readonly unknown[])[], from: number, to: number, strict = false): Buffer {
  const e = new Encoder(strict, 'argsList');
  e.u8(0);
  e.u32(2);
  e.u8(SEQ);
  e.tables.set({}, 0); // the flat sequence is table 0 of the tree (keeps REF ids aligned)
  const lengthAt = e.pos;
  e.u32(0);
  let total = 0;
  for (let i = from; i < to; i++) {
    const args = calls[i];
    const argc = args.length;
    e.ensure(5);
    scratch[e.pos] = INT32;
    scratch.writeInt32LE(argc, e.pos + 1);
    e.pos += 5;
    for (let j = 0; j < argc; j++) {
      const v = args[j];
      if (typeof v === 'number' && (v | 0) === v && !Object.is(v, -0)) {
        // the common case, inline: a small integer
        e.ensure(5);
        scratch[e.pos] = INT32;
        scratch.writeInt32LE(v, e.pos + 1);
        e.pos += 5;
        continue;
      }
      e.path.push(i, j);
      e.value(v, 1);
      e.path.length -= 2;
    }
    total += 1 + argc;
  }
  scratch.writeUInt32LE(total, lengthAt);
  e.value(total, 0);
  if (e.hasRefs) scratch[0] = HAS_REFS;
  return scratch.subarray(0, e.pos);
}

/** Encodes one table-like value (the `env` option) as a single-value tree. */
export function encodeTable(value: object, root: string, strict = false): Buffer {
  const e = new Encoder(strict, root);
  e.u8(0);
  e.u32(1);
  e.value(value, 0);
  if (e.hasRefs) scratch[0] = HAS_REFS;
  return scratch.subarray(0, e.pos);
}

// --------------------------------------------------------------------------------------
// Decoding (Lua -> JS)
// --------------------------------------------------------------------------------------

class Decoder {
  pos = 0;
  tables: unknown[] = [];
  path: (string | number)[] = [];
  inKey = false;

  constructor(private readonly buf: Buffer, private readonly opts: DecodeOptions,
              private readonly root: string) {}

  /** Index of the top-level value being decoded (kept apart: no push/pop per value). */
  top = 0;

  fail(message: string): never {
    throw new MarshalError(message, formatPath(`${this.root}[${this.top}]`, this.path));
  }

  value(): unknown {
    const b = this.buf;
    const tag = b[this.pos++];
    switch (tag) {
      case NIL: return undefined;
      case FALSE: return false;
      case TRUE: return true;
      case INT: {
        const lo = b.readUInt32LE(this.pos);
        const hi = b.readInt32LE(this.pos + 4);
        // within ±2^53: exact as a number, no BigInt needed
        if (hi >= -0x200000 && hi < 0x200000) {
          const v = hi * 4294967296 + lo;
          if (v >= -9007199254740991 && v <= 9007199254740991) { this.pos += 8; return v; }
        }
        const big = b.readBigInt64LE(this.pos);
        this.pos += 8;
        return big;
      }
      case INT32: {
        const v = b.readInt32LE(this.pos);
        this.pos += 4;
        return v;
      }
      case FLOAT: {
        const v = b.readDoubleLE(this.pos);
        this.pos += 8;
        return v;
      }
      case STR: {
        const n = b.readUInt32LE(this.pos);
        const start = this.pos + 4;
        this.pos = start + n;
        // table keys stay strings: they name properties (or Map keys compared by value)
        if (this.opts.bytes === 'buffer' && !this.inKey) return Buffer.from(b.subarray(start, start + n));
        return b.toString('utf8', start, start + n);
      }
      case SEQ: {
        const n = b.readUInt32LE(this.pos);
        this.pos += 4;
        if (this.opts.tables === 'map') {
          const m = new Map<unknown, unknown>();
          this.tables.push(m);
          for (let i = 1; i <= n; i++) {
            this.path.push(i);
            m.set(i, this.value());
            this.path.pop();
          }
          return m;
        }
        const arr: unknown[] = new Array(n);
        this.tables.push(arr);
        for (let i = 0; i < n; i++) {
          this.path.push(i + 1);
          arr[i] = this.value();
          this.path.pop();
        }
        return arr;
      }
      case TABLE: {
        const n = b.readUInt32LE(this.pos);
        this.pos += 4;
        if (this.opts.tables === 'map') {
          const m = new Map<unknown, unknown>();
          this.tables.push(m);
          for (let i = 0; i < n; i++) {
            const k = this.key();
            this.path.push(describeKey(k));
            m.set(k, this.value());
            this.path.pop();
          }
          return m;
        }
        const obj: Record<string, unknown> = {};
        this.tables.push(obj);
        for (let i = 0; i < n; i++) {
          const k = this.key();
          const key = this.objectKey(k);
          this.path.push(key);
          const item = this.value();
          if (this.opts.strict && Object.prototype.hasOwnProperty.call(obj, key)) {
            this.fail(`two Lua keys map to the same property '${key}' (strict)`);
          }
          // defineProperty: a key named __proto__ must stay an own property
          Object.defineProperty(obj, key, { value: item, writable: true, enumerable: true, configurable: true });
          this.path.pop();
        }
        return obj;
      }
      case REF: {
        const id = b.readUInt32LE(this.pos);
        this.pos += 4;
        return this.tables[id];
      }
      default:
        this.fail(`malformed value tree (tag ${tag})`);
    }
  }

  key(): unknown {
    const was = this.inKey;
    this.inKey = true;
    const k = this.value();
    this.inKey = was;
    return k;
  }

  objectKey(k: unknown): string {
    if (typeof k === 'string') return k;
    if (this.opts.strict) {
      this.path.push(describeKey(k));
      this.fail(`a ${luaKeyType(k)} key cannot become an object property without loss ` +
        `(a sparse or mixed table; use tables: 'map') (strict)`);
    }
    if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
    this.path.push(describeKey(k));
    return this.fail(`a ${luaKeyType(k)} key cannot become an object property; use tables: 'map'`);
  }
}

function luaKeyType(k: unknown): string {
  if (typeof k === 'number' || typeof k === 'bigint') return Number.isInteger(Number(k)) ? 'integer' : 'float';
  if (typeof k === 'boolean') return 'boolean';
  return 'table';
}

function describeKey(k: unknown): string | number {
  if (typeof k === 'string' || typeof k === 'number') return k;
  if (typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  return '<table key>';
}

/** @internal Formats an error path: `root`, then `[n]` for numbers, `.key` or `["key"]` for strings. */
export function formatPath(root: string, path: readonly (string | number)[]): string {
  let s = root;
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(seg)) s += `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

/** Decodes a value tree into its list of values. */
export function decodeList(buf: Buffer, opts: DecodeOptions, root: string): unknown[] {
  const d = new Decoder(buf, opts, root);
  d.pos = 1;
  const n = buf.readUInt32LE(1);
  d.pos = 5;
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    d.top = i;
    out[i] = d.value();
  }
  return out;
}
