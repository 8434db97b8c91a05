// Object shapes of the value tree (SHAPE/SHAPED nodes, native/value.hpp): the key list of a
// plain object or a string-keyed Lua table, written once per tree and referred to by
// number afterwards. This file keeps the JavaScript side's shapes between trees: the
// encoder finds an object's shape from its keys without re-encoding them, and a shape
// used often gets generated code with its keys compiled in (a reader that encodes an
// object's values, a maker that builds a result object), so neither side touches a key
// string per object.

/** Objects with more keys than this are written as TABLE (dictionaries, not records). */
export const MAX_SHAPE_KEYS = 64;
/** Uses of a shape before its reader or maker is generated (a generated function costs tens of µs). */
const COMPILE_AFTER = 16;
/** Trie nodes kept for the encoder; beyond this the registry starts afresh. */
const MAX_NODES = 1 << 14;
/** Makers kept for the decoder; beyond this the cache starts afresh. */
const MAX_MAKERS = 1024;

const ObjectProto = Object.prototype;
const isWellFormed = (s: string): boolean => !/\p{Cs}/u.test(s);

/** What a generated reader or maker reports a failure through (lib/marshal.ts). */
export interface PathSink {
  /** Adds `seg` to a conversion failure's path (inner to outer) and returns it to rethrow. */
  under(error: unknown, seg: string | number): unknown;
}

/** Writes values (lib/marshal.ts Encoder). */
export interface ValueSink extends PathSink {
  value(v: unknown, depth: number): void;
  num(v: number): void;
}

/** Reads values (lib/marshal.ts Decoder). */
export interface ValueSource extends PathSink {
  /** Numbers a table (before its values are read) for the references that may follow. */
  keep(table: unknown): void;
  value(): unknown;
}

type Reader = (o: object, e: ValueSink, depth: number) => void;
type Maker = (d: ValueSource) => Record<string, unknown>;

/** Generated code; null where the platform refuses code generation (it then runs the generic loop). */
function generate<T>(params: string, body: string, keys: readonly string[]): T | null {
  try {
    return new Function('keys', `return function (${params}) {\n${body}\n};`)(keys) as T;
  } catch {
    return null; // --disallow-code-generation-from-strings
  }
}

// ------------------------------------------------------------------------- encoding

/** One key list, in Object.keys order. */
export class EncodeShape {
  /**
   * Some key is also a property of Object.prototype ('constructor', 'toString',
   * '__proto__'...): a getter may delete it before it is read, and reading it then must
   * not find the inherited one, so every read checks that the property is still own.
   */
  readonly inherits: boolean;
  /** No key has a lone surrogate (else strict refuses a key: that object takes the TABLE path, keys and values in turn). */
  readonly wellFormed: boolean;
  /** The encoder (tree) that last wrote this shape's keys, and the shape's number in that tree. */
  epoch = 0;
  id = 0;
  #uses = 0;
  #reader: Reader | null | undefined;

  constructor(readonly keys: readonly string[]) {
    this.inherits = keys.some((k) => k in ObjectProto);
    this.wellFormed = keys.every(isWellFormed);
  }

  /** The generated reader once the shape is used often (never for `inherits` shapes). */
  reader(): Reader | null | undefined {
    if (this.#reader !== undefined || this.inherits || ++this.#uses < COMPILE_AFTER) return this.#reader;
    // reads each property once, in key order, like the generic loop; j names the failing key
    let body = 'var j = 0, v;\ntry {\n';
    this.keys.forEach((k, i) => {
      body += `  j = ${i}; v = o[${JSON.stringify(k)}]; if (typeof v === 'number') e.num(v); else e.value(v, d);\n`;
    });
    body += '} catch (x) { throw e.under(x, keys[j]); }';
    this.#reader = generate<Reader>('o, e, d', body, this.keys);
    return this.#reader;
  }
}

interface Node {
  next: Map<string, Node> | undefined;
  shape: EncodeShape | undefined;
}

let root: Node = { next: undefined, shape: undefined };
let nodes = 0;
// The last shape found per key count: records of one kind hit it every time.
let lastByCount: (EncodeShape | undefined)[] = new Array(MAX_SHAPE_KEYS + 1);

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The shape of `keys` (1 ≤ length ≤ MAX_SHAPE_KEYS); `keys` may be kept by it. */
export function shapeOf(keys: string[]): EncodeShape {
  const n = keys.length;
  const last = lastByCount[n];
  if (last !== undefined && sameKeys(last.keys, keys)) return last;
  if (nodes + n > MAX_NODES) {
    // many distinct key lists (not records after all): forget them; shapes in use stay valid
    root = { next: undefined, shape: undefined };
    nodes = 0;
    lastByCount = new Array(MAX_SHAPE_KEYS + 1);
  }
  let node = root;
  for (let i = 0; i < n; i++) {
    node.next ??= new Map();
    let next = node.next.get(keys[i]);
    if (next === undefined) {
      next = { next: undefined, shape: undefined };
      node.next.set(keys[i], next);
      nodes++;
    }
    node = next;
  }
  node.shape ??= new EncodeShape(keys);
  lastByCount[n] = node.shape;
  return node.shape;
}

// ------------------------------------------------------------------------- decoding

interface MakerEntry {
  uses: number;
  make: Maker | null | undefined;
}

let makers = new Map<string, MakerEntry>();

/** One shape of a tree being decoded: its keys (as the table's property names or Map keys). */
export class DecodeShape {
  #entry: MakerEntry | undefined;

  constructor(readonly keys: readonly unknown[]) {}

  /**
   * The generated maker of a plain object with these keys, once the key list has been
   * used often (in this tree or earlier ones); undefined until then. Only for property
   * names: `keys` must be strings, and a '__proto__' key takes the generic path (an
   * object literal would set the prototype).
   */
  maker(): Maker | null | undefined {
    let entry = this.#entry;
    if (entry === undefined) {
      const keys = this.keys as string[];
      if (keys.length > MAX_SHAPE_KEYS || keys.includes('__proto__')) {
        entry = { uses: 0, make: null };
      } else {
        const sig = JSON.stringify(keys);
        entry = makers.get(sig);
        if (entry === undefined) {
          if (makers.size >= MAX_MAKERS) makers = new Map();
          entry = { uses: 0, make: undefined };
          makers.set(sig, entry);
        }
      }
      this.#entry = entry;
    }
    if (entry.make !== undefined || ++entry.uses < COMPILE_AFTER) return entry.make;
    const keys = this.keys as string[];
    // the object exists (and is numbered, for REFs) before its values are decoded
    let body = `var o = {${keys.map((k) => `${JSON.stringify(k)}: undefined`).join(', ')}};\n`;
    body += 'd.keep(o);\nvar j = 0;\ntry {\n';
    keys.forEach((k, i) => { body += `  j = ${i}; o[${JSON.stringify(k)}] = d.value();\n`; });
    body += '} catch (x) { throw d.under(x, keys[j]); }\nreturn o;';
    entry.make = generate<Maker>('d', body, keys);
    return entry.make;
  }
}
