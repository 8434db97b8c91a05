// JavaScript half of the value tree format (native/value.hpp): encodes arguments, env
// values and host results for Lua, decodes results, error values and posts from Lua.
import { isUtf8 } from 'buffer';
import { MarshalError } from './errors';

const NIL = 0, FALSE = 1, TRUE = 2, INT = 3, FLOAT = 4, STR = 5, SEQ = 6, TABLE = 7, REF = 8, INT32 = 9, SREF = 10;
const HAS_REFS = 1, HAS_STR_REFS = 2, KNOWN_FLAGS = 3;
/** Strings of at least this many bytes are written once per tree, then as SREF (native/value.hpp). */
const MIN_SHARED_STRING = 32;
const MAX_DEPTH = 200;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** Most bytes one encoded tree may take (native/value.hpp kMaxEncodeBudget). */
const MAX_ENCODED = 1 << 30;
/** Most top-level values of one tree (a Lua stack holds at most 1000000 values). */
const MAX_VALUES = 1000000;
/** The shared scratch buffer is kept between encodes up to this size. */
const MAX_KEPT_SCRATCH = 16 << 20;

/** How values coming from Lua are converted (the job's bytes/tables/strict options). */
export interface DecodeOptions {
  /** Lua strings come back as JS strings (UTF-8) or as Buffers (byte for byte). */
  bytes: 'string' | 'buffer';
  /** 'auto': sequences become arrays, other tables objects; 'map': every table a Map. */
  tables: 'auto' | 'map';
  /** Refuse conversions that lose information instead of approximating. */
  strict: boolean;
}

// Intrinsics, taken once: a host object cannot fool the encoder by shadowing them.
const TypedArrayProto = Object.getPrototypeOf(Uint8Array.prototype);
const taLength = Object.getOwnPropertyDescriptor(TypedArrayProto, 'length')!.get!;
const taByteLength = Object.getOwnPropertyDescriptor(TypedArrayProto, 'byteLength')!.get!;
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!;
const mapEntries = Map.prototype.entries;
const MapIteratorNext = Object.getPrototypeOf(new Map().entries()).next as () => IteratorResult<[unknown, unknown]>;
const isWellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !/\p{Cs}/u.test(s);

// --------------------------------------------------------------------------------------
// Encoding (JS -> Lua)
// --------------------------------------------------------------------------------------

// One scratch buffer shared by encodes that do not overlap. An encode that starts while
// another is running (a getter that submits a job) gets a buffer of its own, so it can
// never overwrite the outer encode's bytes.
let scratch: Buffer | null = Buffer.allocUnsafe(4096);

/**
 * Every container is read once, when the encoder reaches it: an array's length, an
 * object's keys, a Map's size and entries up to that size. Getters run while their value
 * is encoded; whatever they change (the array or Map being encoded, the scratch buffer
 * through a nested encode), the tree stays consistent with the counts it declares.
 */
class Encoder {
  pos = 0;
  buf: Buffer;
  tables = new Map<object, number>();
  strings: Map<string | object, number> | undefined;
  nextString = 0;
  hasRefs = false;
  hasStrRefs = false;
  path: (string | number)[] = [];
  private readonly sharedBuffer: boolean;

  constructor(private readonly strict: boolean, private readonly root: string) {
    if (scratch !== null) {
      this.buf = scratch;
      scratch = null;
      this.sharedBuffer = true;
    } else {
      this.buf = Buffer.allocUnsafe(1024);
      this.sharedBuffer = false;
    }
  }

  /** Gives the shared buffer back (after the result view was taken). */
  release(): void {
    if (this.sharedBuffer && this.buf.length <= MAX_KEPT_SCRATCH) scratch = this.buf;
    else if (this.sharedBuffer) scratch = Buffer.allocUnsafe(4096);
  }

  finish(): Buffer {
    this.buf[0] = (this.hasRefs ? HAS_REFS : 0) | (this.hasStrRefs ? HAS_STR_REFS : 0);
    return this.buf.subarray(0, this.pos);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    if (this.pos + n > MAX_ENCODED) this.fail(`value is too large to convert (more than ${MAX_ENCODED >> 20} MiB encoded)`);
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(Math.min(size, MAX_ENCODED));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }
  u32(v: number): void { this.ensure(4); this.buf.writeUInt32LE(v, this.pos); this.pos += 4; }

  fail(message: string): never {
    throw new MarshalError(message, formatPath(this.root, this.path));
  }

  /** Writes SREF if `key` (a long string or a Uint8Array) was written before. */
  sharedString(key: string | object): boolean {
    const id = this.strings?.get(key);
    if (id === undefined) return false;
    this.ensure(5);
    this.buf[this.pos] = SREF;
    this.buf.writeUInt32LE(id, this.pos + 1);
    this.pos += 5;
    this.hasStrRefs = true;
    return true;
  }

  /** Counts a STR of `n` bytes just written (decoders number long strings the same way). */
  wroteString(n: number, key: string | object | undefined): void {
    if (n < MIN_SHARED_STRING) return;
    const id = this.nextString++;
    if (key !== undefined) (this.strings ??= new Map()).set(key, id);
  }

  value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'undefined': this.u8(NIL); return;
      case 'boolean': this.u8(v ? TRUE : FALSE); return;
      case 'number': {
        this.ensure(9);
        const b = this.buf;
        if ((v | 0) === v && !Object.is(v, -0)) {
          b[this.pos++] = INT32;
          b.writeInt32LE(v, this.pos);
          this.pos += 4;
          return;
        }
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
          b[this.pos++] = INT;
          // two 32-bit halves: no BigInt allocation on the hot path
          b.writeUInt32LE(v >>> 0, this.pos);
          b.writeInt32LE(Math.floor(v / 4294967296), this.pos + 4);
        } else {
          b[this.pos++] = FLOAT;
          b.writeDoubleLE(v, this.pos);
        }
        this.pos += 8;
        return;
      }
      case 'bigint':
        if (v < INT64_MIN || v > INT64_MAX) this.fail(`BigInt ${v} is out of range for a Lua integer (64-bit)`);
        this.ensure(9);
        this.buf[this.pos++] = INT;
        this.buf.writeBigInt64LE(v, this.pos);
        this.pos += 8;
        return;
      case 'string': {
        const long = v.length >= 11; // at most 3 UTF-8 bytes per UTF-16 unit: shorter ones are < 32 bytes
        if (long && this.sharedString(v)) return;
        if (this.strict && !isWellFormed(v)) {
          this.fail('a string with a lone surrogate cannot be converted to UTF-8 without loss (strict)');
        }
        const max = v.length > 1 << 20 ? Buffer.byteLength(v, 'utf8') : v.length * 3;
        this.ensure(5 + max);
        const b = this.buf;
        b[this.pos] = STR;
        const n = b.write(v, this.pos + 5, 'utf8');
        b.writeUInt32LE(n, this.pos + 1);
        this.pos += 5 + n;
        this.wroteString(n, long ? v : undefined);
        return;
      }
      case 'object':
        if (v === null) { this.u8(NIL); return; }
        if (ArrayBuffer.isView(v) && v instanceof Uint8Array) {
          this.bytes(v);
          return;
        }
        this.table(v, depth);
        return;
      case 'function': this.fail('cannot convert a function to Lua');
      // eslint-disable-next-line no-fallthrough
      case 'symbol': this.fail('cannot convert a symbol to Lua');
    }
  }

  /** A Buffer or Uint8Array: its bytes, read through the typed-array intrinsics. */
  bytes(v: Uint8Array): void {
    if (this.sharedString(v)) return;
    const n = taByteLength.call(v) as number;
    // a typed array of another kind given Uint8Array's prototype would copy converted elements
    if (taLength.call(v) !== n) this.fail(`cannot convert an instance of ${v.constructor?.name ?? 'object'} to Lua (only plain objects, arrays, Maps and Buffers)`);
    this.ensure(5 + n);
    const b = this.buf;
    b[this.pos] = STR;
    b.writeUInt32LE(n, this.pos + 1);
    b.set(v, this.pos + 5);
    this.pos += 5 + n;
    this.wroteString(n, v);
  }

  /** An array length read from a host object (a Proxy may answer anything). */
  length(n: unknown): number {
    if (typeof n !== 'number' || n >>> 0 !== n) this.fail(`array length ${String(n)} is not a valid length`);
    return n;
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
      const n = this.length(v.length); // read once: the count written is the count encoded
      this.tables.set(v, this.tables.size);
      this.u8(SEQ);
      this.u32(n);
      for (let i = 0; i < n; i++) {
        const item = v[i];
        this.path.push(i);
        if (this.strict && (item === undefined || item === null)) {
          this.fail('a hole (undefined/null) in an array would make the Lua sequence ambiguous (strict)');
        }
        this.value(item, depth + 1);
        this.path.pop();
      }
      return;
    }
    if (v instanceof Map) {
      let size: number;
      let it: Iterator<[unknown, unknown]>;
      try {
        size = mapSize.call(v) as number;
        it = mapEntries.call(v);
      } catch {
        this.fail('cannot convert an object that only looks like a Map to Lua');
      }
      this.tables.set(v, this.tables.size);
      this.u8(TABLE);
      const countAt = this.pos;
      this.u32(size);
      // Entries up to the size read above; the count is patched if a getter deleted some.
      let written = 0;
      while (written < size) {
        const step = MapIteratorNext.call(it);
        if (step.done) break;
        const [k, item] = step.value;
        this.path.push(typeof k === 'string' || typeof k === 'number' ? k : `<${typeof k} key>`);
        if (k === undefined || k === null) this.fail('a Lua table key cannot be nil');
        if (typeof k === 'number' && Number.isNaN(k)) this.fail('a Lua table key cannot be NaN');
        this.value(k, depth + 1);
        this.value(item, depth + 1);
        this.path.pop();
        written++;
      }
      if (written !== size) this.buf.writeUInt32LE(written, countAt);
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

/** @internal
 * Encodes a list of values. The result is a view of a shared scratch buffer: the native
 * side copies it synchronously, so it must be used before the next encode.
 */
export function encodeList(values: readonly unknown[], root: string, strict = false): Buffer {
  const e = new Encoder(strict, root);
  try {
    const n = e.length(values.length);
    if (n > MAX_VALUES) e.fail(`too many values (${n}; at most ${MAX_VALUES})`);
    e.u8(0);
    e.u32(n);
    for (let i = 0; i < n; i++) {
      e.path.push(i);
      e.value(values[i], 0);
      e.path.pop();
    }
    return e.finish();
  } finally {
    e.release();
  }
}

/** @internal
 * Encodes calls[from..to) for a batch job as two values: one flat sequence holding, per
 * call, its argument count then its arguments, and the flat sequence's length. One table
 * per batch instead of one per call.
 */
export function encodeBatch(calls: readonly (readonly unknown[])[], from: number, to: number, strict = false): Buffer {
  const e = new Encoder(strict, 'argsList');
  try {
    e.u8(0);
    e.u32(2);
    e.u8(SEQ);
    e.tables.set({}, 0); // the flat sequence is table 0 of the tree (keeps REF ids aligned)
    const lengthAt = e.pos;
    e.u32(0);
    let total = 0;
    for (let i = from; i < to; i++) {
      const args = calls[i];
      e.path.push(i);
      const argc = e.length(args.length); // read once
      if (argc > MAX_VALUES) e.fail(`too many arguments (${argc}; at most ${MAX_VALUES})`);
      e.path.pop();
      e.ensure(5);
      e.buf[e.pos] = INT32;
      e.buf.writeInt32LE(argc, e.pos + 1);
      e.pos += 5;
      for (let j = 0; j < argc; j++) {
        const v = args[j];
        if (typeof v === 'number' && (v | 0) === v && !Object.is(v, -0)) {
          // the common case, inline: a small integer
          e.ensure(5);
          e.buf[e.pos] = INT32;
          e.buf.writeInt32LE(v, e.pos + 1);
          e.pos += 5;
          continue;
        }
        e.path.push(i, j);
        e.value(v, 1);
        e.path.length -= 2;
      }
      total += 1 + argc;
      if (total > 0xFFFFFFFF) e.fail('too many arguments in one batch');
    }
    e.buf.writeUInt32LE(total, lengthAt);
    e.value(total, 0);
    return e.finish();
  } finally {
    e.release();
  }
}

/** @internal Encodes one table-like value (the `env` option) as a single-value tree. */
export function encodeTable(value: object, root: string, strict = false): Buffer {
  const e = new Encoder(strict, root);
  try {
    e.u8(0);
    e.u32(1);
    e.value(value, 0);
    return e.finish();
  } finally {
    e.release();
  }
}

// --------------------------------------------------------------------------------------
// Decoding (Lua -> JS)
// --------------------------------------------------------------------------------------

class Decoder {
  pos = 0;
  tables: unknown[] = [];
  path: (string | number)[] = [];
  inKey = false;
  /** Offsets of the long strings (when the tree has SREFs), and their decoded forms. */
  strings: number[] | undefined;
  stringValues: unknown[] = [];
  stringKeys: unknown[] = [];

  constructor(private readonly buf: Buffer, private readonly opts: DecodeOptions,
              private readonly root: string) {}

  /** Index of the top-level value being decoded (kept apart: no push/pop per value). */
  top = 0;

  fail(message: string): never {
    throw new MarshalError(message, formatPath(`${this.root}[${this.top}]`, this.path));
  }

  malformed(what: string): never {
    return this.fail(`malformed value tree (${what})`);
  }

  /** Checks that `n` more bytes (or values of at least one byte) are there. */
  need(n: number): void {
    if (n > this.buf.length - this.pos) this.malformed('truncated');
  }

  value(): unknown {
    const b = this.buf;
    this.need(1);
    const tag = b[this.pos++];
    switch (tag) {
      case NIL: return undefined;
      case FALSE: return false;
      case TRUE: return true;
      case INT: {
        this.need(8);
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
        this.need(4);
        const v = b.readInt32LE(this.pos);
        this.pos += 4;
        return v;
      }
      case FLOAT: {
        this.need(8);
        const v = b.readDoubleLE(this.pos);
        this.pos += 8;
        return v;
      }
      case STR: {
        this.need(4);
        const n = b.readUInt32LE(this.pos);
        const start = this.pos + 4;
        this.pos = start;
        this.need(n);
        this.pos = start + n;
        let id = -1;
        if (this.strings !== undefined && n >= MIN_SHARED_STRING) id = this.strings.push(start) - 1;
        return this.inKey ? this.keyString(start, n, id) : this.valueString(start, n, id);
      }
      case SREF: {
        this.need(4);
        const id = b.readUInt32LE(this.pos);
        this.pos += 4;
        if (this.strings === undefined || id >= this.strings.length) this.malformed('bad string reference');
        const start = this.strings[id];
        const n = b.readUInt32LE(start - 4);
        return this.inKey ? this.keyString(start, n, id) : this.valueString(start, n, id);
      }
      case SEQ: {
        this.need(4);
        const n = b.readUInt32LE(this.pos);
        this.pos += 4;
        this.need(n); // each value takes at least one byte
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
        this.need(4);
        const n = b.readUInt32LE(this.pos);
        this.pos += 4;
        this.need(n * 2); // each entry takes at least two bytes
        if (this.opts.tables === 'map') {
          const m = new Map<unknown, unknown>();
          this.tables.push(m);
          for (let i = 0; i < n; i++) {
            const k = this.key();
            this.path.push(describeKey(k));
            if (this.opts.strict && m.has(k)) this.fail('two Lua keys map to the same Map key (strict)');
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
        this.need(4);
        const id = b.readUInt32LE(this.pos);
        this.pos += 4;
        if (id >= this.tables.length) this.malformed('bad reference');
        return this.tables[id];
      }
      default:
        this.malformed(`tag ${tag}`);
    }
  }

  /** A Lua string as a value: a JS string (UTF-8) or, with bytes: 'buffer', a Buffer. */
  valueString(start: number, n: number, id: number): unknown {
    if (id >= 0 && this.stringValues[id] !== undefined) return this.stringValues[id];
    const b = this.buf;
    let v: unknown;
    if (this.opts.bytes === 'buffer') {
      v = Buffer.from(b.subarray(start, start + n));
    } else {
      if (this.opts.strict && !isUtf8(b.subarray(start, start + n))) {
        this.fail("a Lua string that is not valid UTF-8 cannot become a JS string without loss; use bytes: 'buffer' (strict)");
      }
      v = b.toString('utf8', start, start + n);
    }
    if (id >= 0) this.stringValues[id] = v;
    return v;
  }

  /**
   * A Lua string as a table key: a JS string when it is valid UTF-8 (property names,
   * `map.get('name')`). Other bytes (binary keys) cannot be a string without loss: with
   * bytes: 'buffer' and tables: 'map' they stay Buffers (distinct keys stay distinct);
   * else strict refuses them, and without strict they decode with U+FFFD.
   */
  keyString(start: number, n: number, id: number): unknown {
    if (id >= 0 && this.stringKeys[id] !== undefined) return this.stringKeys[id];
    const b = this.buf;
    const asBuffer = this.opts.bytes === 'buffer' && this.opts.tables === 'map';
    let k: unknown;
    if ((asBuffer || this.opts.strict) && !isUtf8(b.subarray(start, start + n))) {
      if (asBuffer) {
        k = id >= 0 && this.stringValues[id] !== undefined ? this.stringValues[id] : Buffer.from(b.subarray(start, start + n));
      } else {
        this.path.push('<binary key>');
        this.fail(`a Lua string key that is not valid UTF-8 cannot become a ${this.opts.tables === 'map' ? 'Map key' : 'property'} ` +
          "without loss; use bytes: 'buffer' with tables: 'map' (strict)");
      }
    } else {
      k = b.toString('utf8', start, start + n);
    }
    if (id >= 0) this.stringKeys[id] = k;
    return k;
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
  if (Buffer.isBuffer(k)) return 'string';
  return 'table';
}

function describeKey(k: unknown): string | number {
  if (typeof k === 'string' || typeof k === 'number') return k;
  if (typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  if (Buffer.isBuffer(k)) return '<binary key>';
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

/** @internal Decodes a value tree into its list of values. */
export function decodeList(buf: Buffer, opts: DecodeOptions, root: string): unknown[] {
  const d = new Decoder(buf, opts, root);
  d.need(5);
  const flags = buf[0];
  if (flags & ~KNOWN_FLAGS) d.malformed(`flags ${flags}`);
  if (flags & HAS_STR_REFS) d.strings = [];
  const n = buf.readUInt32LE(1);
  d.pos = 5;
  d.need(n);
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    d.top = i;
    out[i] = d.value();
  }
  if (d.pos !== buf.length) d.malformed('bytes after the last value');
  return out;
}
