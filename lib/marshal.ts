// JavaScript half of the value tree format (native/value.hpp): encodes arguments, env
// values and host results for Lua, decodes results, error values and posts from Lua.
import { isUtf8 } from 'buffer';
import { MarshalError } from './errors';
import { DecodeShape, MAX_SHAPE_KEYS, ValueSink, ValueSource, shapeOf } from './shapes';

const NIL = 0, FALSE = 1, TRUE = 2, INT = 3, FLOAT = 4, STR = 5, SEQ = 6, TABLE = 7, REF = 8, INT32 = 9, SREF = 10;
const SHAPE = 11, SHAPED = 12;
const HAS_REFS = 1, HAS_STR_REFS = 2, HAS_SHAPES = 4, KNOWN_FLAGS = 7;
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
// Failures and their paths
// --------------------------------------------------------------------------------------

/**
 * A conversion refused somewhere below the top level. Containers add their segment to
 * `segs` (inner first) as it passes them, so the hot loops keep no path of their own; the
 * list's entry point turns it into the MarshalError.
 */
class Failure {
  readonly segs: (string | number)[] = [];
  constructor(readonly reason: string) {}
}

function under(e: unknown, seg: string | number): unknown {
  if (e instanceof Failure) e.segs.push(seg);
  return e;
}

function toError(e: unknown, root: string): unknown {
  return e instanceof Failure ? new MarshalError(e.reason, formatPath(root, e.segs.reverse())) : e;
}

const hasOwn = Object.prototype.hasOwnProperty;
const ObjectProto = Object.prototype;

// --------------------------------------------------------------------------------------
// Encoding (JS -> Lua)
// --------------------------------------------------------------------------------------

// One scratch buffer shared by encodes that do not overlap. An encode that starts while
// another is running (a getter that submits a job) gets a buffer of its own, so it can
// never overwrite the outer encode's bytes.
let scratch: Buffer | null = Buffer.allocUnsafe(4096);
// Numbers each encoder: a shape written by one tree is written again (defined) in another.
let epochs = 0;

/**
 * Every container is read once, when the encoder reaches it: an array's length, an
 * object's keys, a Map's size and entries up to that size. Getters run while their value
 * is encoded; whatever they change (the array or Map being encoded, the scratch buffer
 * through a nested encode), the tree stays consistent with the counts it declares.
 */
class Encoder implements ValueSink {
  pos = 0;
  buf: Buffer;
  dv: DataView;
  tables = new Map<object, number>();
  strings: Map<string | object, number> | undefined;
  nextString = 0;
  nextShape = 0;
  hasRefs = false;
  hasStrRefs = false;
  readonly epoch = ++epochs;
  private readonly sharedBuffer: boolean;

  constructor(private readonly strict: boolean) {
    if (scratch !== null) {
      this.buf = scratch;
      scratch = null;
      this.sharedBuffer = true;
    } else {
      this.buf = Buffer.allocUnsafe(1024);
      this.sharedBuffer = false;
    }
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Gives the shared buffer back (after the result view was taken). */
  release(): void {
    if (this.sharedBuffer && this.buf.length <= MAX_KEPT_SCRATCH) scratch = this.buf;
    else if (this.sharedBuffer) scratch = Buffer.allocUnsafe(4096);
  }

  finish(): Buffer {
    this.buf[0] = (this.hasRefs ? HAS_REFS : 0) | (this.hasStrRefs ? HAS_STR_REFS : 0) | (this.nextShape > 0 ? HAS_SHAPES : 0);
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
    this.dv = new DataView(next.buffer, next.byteOffset, next.length);
  }

  u8(v: number): void { this.ensure(1); this.buf[this.pos++] = v; }
  u32(v: number): void { this.ensure(4); this.dv.setUint32(this.pos, v, true); this.pos += 4; }
  /** A tag and a u32 (counts, ids). */
  tagged(tag: number, v: number): void {
    this.ensure(5);
    this.buf[this.pos] = tag;
    this.dv.setUint32(this.pos + 1, v, true);
    this.pos += 5;
  }

  fail(reason: string): never {
    throw new Failure(reason);
  }

  under(e: unknown, seg: string | number): unknown {
    return under(e, seg);
  }

  /** Writes SREF if `key` (a long string or a Uint8Array) was written before. */
  sharedString(key: string | object): boolean {
    const id = this.strings?.get(key);
    if (id === undefined) return false;
    this.tagged(SREF, id);
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
    if (typeof v === 'number') {
      this.num(v);
      return;
    }
    switch (typeof v) {
      case 'undefined': this.u8(NIL); return;
      case 'boolean': this.u8(v ? TRUE : FALSE); return;
      case 'bigint':
        if (v < INT64_MIN || v > INT64_MAX) this.fail(`BigInt ${v} is out of range for a Lua integer (64-bit)`);
        this.ensure(9);
        this.buf[this.pos] = INT;
        this.dv.setBigInt64(this.pos + 1, v, true);
        this.pos += 9;
        return;
      case 'string': this.string(v); return;
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

  /** A number: INT32 where it fits (not -0), INT for other safe integers, else FLOAT; no allocation. */
  num(v: number): void {
    if (this.pos + 9 > this.buf.length) this.ensure(9);
    const at = this.pos;
    if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
      this.buf[at] = INT32;
      this.dv.setInt32(at + 1, v, true);
      this.pos = at + 5;
    } else if (Number.isSafeInteger(v) && v !== 0) {
      this.buf[at] = INT;
      // two 32-bit halves: no BigInt
      this.dv.setUint32(at + 1, v >>> 0, true);
      this.dv.setInt32(at + 5, Math.floor(v / 4294967296), true);
      this.pos = at + 9;
    } else {
      this.buf[at] = FLOAT;
      this.dv.setFloat64(at + 1, v, true);
      this.pos = at + 9;
    }
  }

  string(v: string): void {
    const len = v.length;
    if (len < 11) {
      // short (< 32 bytes: never shared); ASCII, the common case, is copied as it is
      this.ensure(5 + len * 3);
      const b = this.buf;
      const at = this.pos + 5;
      let i = 0;
      for (; i < len; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === len) {
        b[this.pos] = STR;
        this.dv.setUint32(this.pos + 1, len, true);
        this.pos = at + len;
        return;
      }
    }
    const long = len >= 11; // at most 3 UTF-8 bytes per UTF-16 unit: shorter ones are < 32 bytes
    if (long && this.sharedString(v)) return;
    if (this.strict && !isWellFormed(v)) {
      this.fail('a string with a lone surrogate cannot be converted to UTF-8 without loss (strict)');
    }
    const max = len > 1 << 20 ? Buffer.byteLength(v, 'utf8') : len * 3;
    this.ensure(5 + max);
    const b = this.buf;
    b[this.pos] = STR;
    const n = b.write(v, this.pos + 5, 'utf8');
    this.dv.setUint32(this.pos + 1, n, true);
    this.pos += 5 + n;
    this.wroteString(n, long ? v : undefined);
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
    this.dv.setUint32(this.pos + 1, n, true);
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
      this.tagged(REF, seen);
      this.hasRefs = true;
      return;
    }
    if (depth >= MAX_DEPTH) this.fail(`values nested more than ${MAX_DEPTH} deep`);
    let isArray: boolean;
    try {
      isArray = Array.isArray(v);
    } catch {
      this.fail('cannot convert a revoked Proxy to Lua');
    }
    if (isArray) this.array(v as unknown[], depth);
    else if (v instanceof Map) this.map(v, depth);
    else this.object(v, depth);
  }

  array(v: unknown[], depth: number): void {
    const n = this.length(v.length); // read once: the count written is the count encoded
    this.tables.set(v, this.tables.size);
    this.tagged(SEQ, n);
    let i = 0;
    try {
      for (; i < n; i++) {
        const item = v[i];
        if (this.strict && (item === undefined || item === null)) {
          this.fail('a hole (undefined/null) in an array would make the Lua sequence ambiguous (strict)');
        }
        this.value(item, depth + 1);
      }
    } catch (x) {
      throw under(x, i);
    }
  }

  map(v: Map<unknown, unknown>, depth: number): void {
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
      try {
        if (k === undefined || k === null) this.fail('a Lua table key cannot be nil');
        if (typeof k === 'number' && Number.isNaN(k)) this.fail('a Lua table key cannot be NaN');
        this.value(k, depth + 1);
        this.value(item, depth + 1);
      } catch (x) {
        throw under(x, typeof k === 'string' || typeof k === 'number' ? k : `<${typeof k} key>`);
      }
      written++;
    }
    if (written !== size) this.dv.setUint32(countAt, written, true);
  }

  /**
   * A plain object. Its own enumerable string keys (Object.keys) are its shape: written
   * once per tree (SHAPE), then referred to by number (SHAPED) with the values alone.
   * Each property is read once, in key order; one a getter deleted meanwhile is nil
   * (never the inherited property of the same name).
   */
  object(v: object, depth: number): void {
    const proto = Object.getPrototypeOf(v);
    if (proto !== ObjectProto && proto !== null) {
      const name = (proto && proto.constructor && proto.constructor.name) || 'object';
      this.fail(`cannot convert an instance of ${name} to Lua (only plain objects, arrays, Maps and Buffers)`);
    }
    if (Object.getOwnPropertySymbols(v).length > 0) this.fail('cannot convert symbol-keyed properties to Lua');
    this.tables.set(v, this.tables.size);
    const keys = Object.keys(v);
    const n = keys.length;
    const o = v as Record<string, unknown>;
    const shape = n === 0 || n > MAX_SHAPE_KEYS ? undefined : shapeOf(keys);
    if (shape === undefined || (this.strict && !shape.wellFormed)) {
      this.tagged(TABLE, n);
      for (let j = 0; j < n; j++) {
        const k = keys[j];
        try {
          this.string(k);
          this.value(proto !== null && k in ObjectProto && !hasOwn.call(o, k) ? undefined : o[k], depth + 1);
        } catch (x) {
          throw under(x, k);
        }
      }
      return;
    }
    if (shape.epoch === this.epoch) {
      this.tagged(SHAPED, shape.id);
      const reader = shape.reader();
      if (reader) {
        reader(o, this, depth + 1);
        return;
      }
    } else {
      shape.epoch = this.epoch;
      shape.id = this.nextShape++;
      this.tagged(SHAPE, n);
      for (let j = 0; j < n; j++) {
        try {
          this.string(keys[j]);
        } catch (x) {
          throw under(x, keys[j]);
        }
      }
    }
    const own = proto !== null && shape.inherits;
    let j = 0;
    try {
      for (; j < n; j++) {
        const k = keys[j];
        this.value(own && !hasOwn.call(o, k) ? undefined : o[k], depth + 1);
      }
    } catch (x) {
      throw under(x, keys[j]);
    }
  }
}

/** @internal
 * Encodes a list of values. The result is a view of a shared scratch buffer: the native
 * side copies it synchronously, so it must be used before the next encode.
 */
export function encodeList(values: readonly unknown[], root: string, strict = false): Buffer {
  const e = new Encoder(strict);
  let i = 0;
  try {
    const n = e.length(values.length);
    if (n > MAX_VALUES) e.fail(`too many values (${n}; at most ${MAX_VALUES})`);
    e.u8(0);
    e.u32(n);
    try {
      for (; i < n; i++) e.value(values[i], 0);
    } catch (x) {
      throw under(x, i);
    }
    return e.finish();
  } catch (x) {
    throw toError(x, root);
  } finally {
    e.release();
  }
}

/** @internal
 * Encodes calls[from..to) for a batch job as two values: one flat sequence holding, per
 * call, its argument count then its arguments, and the flat sequence's length. One table
 * per batch instead of one per call; one shape per kind of object in it.
 */
export function encodeBatch(calls: readonly (readonly unknown[])[], from: number, to: number, strict = false): Buffer {
  const e = new Encoder(strict);
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
      let argc: number;
      try {
        argc = e.length(args.length); // read once
        if (argc > MAX_VALUES) e.fail(`too many arguments (${argc}; at most ${MAX_VALUES})`);
      } catch (x) {
        throw under(x, i);
      }
      e.value(argc, 0);
      let j = 0;
      try {
        for (; j < argc; j++) e.value(args[j], 1);
      } catch (x) {
        throw under(under(x, j), i);
      }
      total += 1 + argc;
      if (total > 0xFFFFFFFF) e.fail('too many arguments in one batch');
    }
    e.dv.setUint32(lengthAt, total, true);
    e.value(total, 0);
    return e.finish();
  } catch (x) {
    throw toError(x, 'argsList');
  } finally {
    e.release();
  }
}

/** @internal Encodes one table-like value (the `env` option) as a single-value tree. */
export function encodeTable(value: object, root: string, strict = false): Buffer {
  const e = new Encoder(strict);
  try {
    e.u8(0);
    e.u32(1);
    e.value(value, 0);
    return e.finish();
  } catch (x) {
    throw toError(x, root);
  } finally {
    e.release();
  }
}

// --------------------------------------------------------------------------------------
// Decoding (Lua -> JS)
// --------------------------------------------------------------------------------------

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string }).utf8Slice;

class Decoder implements ValueSource {
  pos = 0;
  readonly dv: DataView;
  /** The tree's tables in order of appearance, for its REFs; kept only when it has any (HAS_REFS). */
  tables: unknown[] = [];
  refs = false;
  /** Offsets of the long strings (when the tree has SREFs), and their decoded forms. */
  strings: number[] | undefined;
  stringValues: unknown[] = [];
  stringKeys: unknown[] = [];
  /** The tree's shapes (when it has any), in order of appearance. */
  shapes: DecodeShape[] | undefined;

  constructor(private readonly buf: Buffer, private readonly opts: DecodeOptions) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  }

  fail(reason: string): never {
    throw new Failure(reason);
  }

  under(e: unknown, seg: string | number): unknown {
    return under(e, seg);
  }

  /** Numbers a table for the REFs that may follow (none follow in a tree without HAS_REFS). */
  keep(t: unknown): void {
    if (this.refs) this.tables.push(t);
  }

  malformed(what: string): never {
    return this.fail(`malformed value tree (${what})`);
  }

  /** Checks that `n` more bytes (or values of at least one byte) are there. */
  need(n: number): void {
    if (n > this.buf.length - this.pos) this.malformed('truncated');
  }

  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  value(): unknown {
    this.need(1);
    const tag = this.buf[this.pos++];
    switch (tag) {
      case NIL: return undefined;
      case FALSE: return false;
      case TRUE: return true;
      case INT32: {
        this.need(4);
        const v = this.dv.getInt32(this.pos, true);
        this.pos += 4;
        return v;
      }
      case FLOAT: {
        this.need(8);
        const v = this.dv.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case INT: {
        this.need(8);
        const lo = this.dv.getUint32(this.pos, true);
        const hi = this.dv.getInt32(this.pos + 4, true);
        // within ±2^53: exact as a number, no BigInt needed
        if (hi >= -0x200000 && hi < 0x200000) {
          const v = hi * 4294967296 + lo;
          if (v >= -9007199254740991 && v <= 9007199254740991) { this.pos += 8; return v; }
        }
        const big = this.dv.getBigInt64(this.pos, true);
        this.pos += 8;
        return big;
      }
      case STR: case SREF:
        this.pos--;
        return this.str(false);
      case SEQ: return this.seq();
      case TABLE: return this.table();
      case SHAPE: return this.shape();
      case SHAPED: {
        const id = this.u32();
        if (this.shapes === undefined || id >= this.shapes.length) this.malformed('bad shape reference');
        return this.shaped(this.shapes[id]);
      }
      case REF: {
        const id = this.u32();
        if (!this.refs || id >= this.tables.length) this.malformed('bad reference');
        return this.tables[id];
      }
      default:
        this.malformed(`tag ${tag}`);
    }
  }

  /** A STR or SREF at pos, as a value or as a table key. */
  str(asKey: boolean): unknown {
    const tag = this.buf[this.pos++];
    let start: number, n: number, id = -1;
    if (tag === STR) {
      n = this.u32();
      start = this.pos;
      this.need(n);
      this.pos = start + n;
      if (this.strings !== undefined && n >= MIN_SHARED_STRING) id = this.strings.push(start) - 1;
    } else {
      id = this.u32();
      if (this.strings === undefined || id >= this.strings.length) this.malformed('bad string reference');
      start = this.strings[id];
      n = this.dv.getUint32(start - 4, true);
    }
    return asKey ? this.keyString(start, n, id) : this.valueString(start, n, id);
  }

  seq(): unknown {
    const n = this.u32();
    this.need(n); // each value takes at least one byte
    let i = 0;
    if (this.opts.tables === 'map') {
      const m = new Map<unknown, unknown>();
      this.keep(m);
      try {
        for (; i < n; i++) m.set(i + 1, this.value());
      } catch (x) {
        throw under(x, i + 1);
      }
      return m;
    }
    const arr: unknown[] = new Array(n);
    this.keep(arr);
    try {
      for (; i < n; i++) arr[i] = this.value();
    } catch (x) {
      throw under(x, i + 1);
    }
    return arr;
  }

  table(): unknown {
    const n = this.u32();
    this.need(n * 2); // each entry takes at least two bytes
    if (this.opts.tables === 'map') {
      const m = new Map<unknown, unknown>();
      this.keep(m);
      for (let i = 0; i < n; i++) {
        const k = this.key();
        try {
          if (this.opts.strict && m.has(k)) this.fail('two Lua keys map to the same Map key (strict)');
          m.set(k, this.value());
        } catch (x) {
          throw under(x, describeKey(k));
        }
      }
      return m;
    }
    const obj: Record<string, unknown> = {};
    this.keep(obj);
    for (let i = 0; i < n; i++) {
      const key = this.objectKey(this.key());
      try {
        const item = this.value();
        if (this.opts.strict && hasOwn.call(obj, key)) this.fail(`two Lua keys map to the same property '${key}' (strict)`);
        setProperty(obj, key, item);
      } catch (x) {
        throw under(x, key);
      }
    }
    return obj;
  }

  /** SHAPE: a new shape (its keys, all strings), then a table of that shape. */
  shape(): unknown {
    if (this.shapes === undefined) this.malformed('a shape in a tree without the shapes flag');
    const n = this.u32();
    if (n === 0) this.malformed('empty shape');
    this.need(n * 5); // each key is a STR or SREF: at least five bytes
    const map = this.opts.tables === 'map';
    const keys: unknown[] = new Array(n);
    const seen = this.opts.strict ? new Set<unknown>() : undefined;
    for (let i = 0; i < n; i++) {
      const tag = this.buf[this.pos];
      if (tag !== STR && tag !== SREF) this.malformed('a shape key that is not a string');
      const k = this.str(true);
      const key = map ? k : this.objectKey(k);
      if (seen !== undefined) {
        if (seen.has(key)) {
          throw under(new Failure(map ? 'two Lua keys map to the same Map key (strict)'
            : `two Lua keys map to the same property '${key as string}' (strict)`), map ? describeKey(key) : key as string);
        }
        seen.add(key);
      }
      keys[i] = key;
    }
    const shape = new DecodeShape(keys);
    this.shapes.push(shape);
    return this.shaped(shape);
  }

  /** A table of `shape`: its values, in the shape's key order. */
  shaped(shape: DecodeShape): unknown {
    const keys = shape.keys;
    const n = keys.length;
    this.need(n); // each value takes at least one byte
    let i = 0;
    if (this.opts.tables === 'map') {
      const m = new Map<unknown, unknown>();
      this.keep(m);
      try {
        for (; i < n; i++) m.set(keys[i], this.value());
      } catch (x) {
        throw under(x, describeKey(keys[i]));
      }
      return m;
    }
    const make = shape.maker();
    if (make) return make(this);
    const obj: Record<string, unknown> = {};
    this.keep(obj);
    try {
      for (; i < n; i++) setProperty(obj, keys[i] as string, this.value());
    } catch (x) {
      throw under(x, keys[i] as string);
    }
    return obj;
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
      v = utf8Slice !== undefined ? utf8Slice.call(b, start, start + n) : b.toString('utf8', start, start + n);
    }
    if (id >= 0) this.stringValues[id] = v;
    return v;
  }

  /**
   * A Lua string as a table key: a JS string when it is valid UTF-8 (property names,
   * `map.get('name')`). Other bytes (binary keys) cannot be a string without loss: with
   * bytes: 'buffer' and tables: 'map' they stay Buffers (distinct keys stay distinct; a
   * long one is the same Buffer where the same Lua string is also a value); else strict
   * refuses them, and without strict they decode with U+FFFD.
   */
  keyString(start: number, n: number, id: number): unknown {
    if (id >= 0 && this.stringKeys[id] !== undefined) return this.stringKeys[id];
    const b = this.buf;
    const asBuffer = this.opts.bytes === 'buffer' && this.opts.tables === 'map';
    let k: unknown;
    if ((asBuffer || this.opts.strict) && !isUtf8(b.subarray(start, start + n))) {
      if (asBuffer) {
        k = id >= 0 && this.stringValues[id] !== undefined ? this.stringValues[id] : Buffer.from(b.subarray(start, start + n));
        if (id >= 0) this.stringValues[id] = k;
      } else {
        throw under(new Failure(`a Lua string key that is not valid UTF-8 cannot become a ${this.opts.tables === 'map' ? 'Map key' : 'property'} ` +
          "without loss; use bytes: 'buffer' with tables: 'map' (strict)"), '<binary key>');
      }
    } else {
      k = utf8Slice !== undefined ? utf8Slice.call(b, start, start + n) : b.toString('utf8', start, start + n);
    }
    if (id >= 0) this.stringKeys[id] = k;
    return k;
  }

  /**
   * A table key. Only a string key itself is decoded as a key; a table used as a key is
   * decoded like any value (its strings are values), under the path segment <table key>.
   */
  key(): unknown {
    this.need(1);
    const tag = this.buf[this.pos];
    if (tag === STR || tag === SREF) return this.str(true);
    if (tag === NIL || tag === FALSE || tag === TRUE || tag === INT || tag === INT32 || tag === FLOAT) return this.value();
    try {
      return this.value();
    } catch (x) {
      throw under(x, '<table key>');
    }
  }

  objectKey(k: unknown): string {
    if (typeof k === 'string') return k;
    if (this.opts.strict) {
      throw under(new Failure(`a ${luaKeyType(k)} key cannot become an object property without loss ` +
        `(a sparse or mixed table; use tables: 'map') (strict)`), describeKey(k));
    }
    if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return String(k);
    throw under(new Failure(`a ${luaKeyType(k)} key cannot become an object property; use tables: 'map'`), describeKey(k));
  }
}

/** Sets an own data property, whatever Object.prototype has under that name ('__proto__', a setter). */
function setProperty(obj: Record<string, unknown>, key: string, item: unknown): void {
  if (key in ObjectProto) {
    Object.defineProperty(obj, key, { value: item, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = item;
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
  const d = new Decoder(buf, opts);
  let i = 0;
  try {
    d.need(5);
    const flags = buf[0];
    if (flags & ~KNOWN_FLAGS) d.malformed(`flags ${flags}`);
    if (flags & HAS_REFS) d.refs = true;
    if (flags & HAS_STR_REFS) d.strings = [];
    if (flags & HAS_SHAPES) d.shapes = [];
    const n = d.dv.getUint32(1, true);
    d.pos = 5;
    d.need(n);
    const out: unknown[] = new Array(n);
    for (; i < n; i++) out[i] = d.value();
    if (d.pos !== buf.length) {
      i = n - 1;
      d.malformed('bytes after the last value');
    }
    return out;
  } catch (x) {
    throw toError(x, `${root}[${i}]`);
  }
}
