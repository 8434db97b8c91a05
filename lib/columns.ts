// callColumns: typed arrays lent to Lua as row views. Validates the call (every check
// names the argument), splits the rows into parts (one job each, spread over the states
// like callMany) and settles once every part is done: until then worker threads may write
// into the arrays, so the call's promise never settles early.
import { types } from 'util';
import type { JobOptions, JobTable } from './job-table';
import { checkName } from './job-table';
import type { ColumnArray } from './native';
import { AbortSignalLike, describe, isPlainObject } from './options';

/** The typed arrays `callColumns()` reads and writes, by column name. */
export type Columns = Record<string, ColumnArray>;

/** Options of `callColumns()`. */
export interface CallColumnsOptions {
  /** Values passed to the function after the row view: `fn(e, ...args)`. */
  args?: readonly unknown[];
  /** The first row (default 0). */
  first?: number;
  /** How many rows (default: the shortest column's length minus `first`). */
  count?: number;
  /** Columns Lua may read but not write (`e.id = 1` raises a Lua error). */
  readonly?: readonly string[];
  /** Budget of each part (one part per thread), not of one row; see JobOptions. */
  timeoutMs?: number;
  /** Cancels every part (CancelledError). */
  signal?: AbortSignalLike;
  acquireTimeoutMs?: number;
  group?: string;
}

const OPTION_KEYS = new Set(['args', 'first', 'count', 'readonly', 'timeoutMs', 'signal', 'acquireTimeoutMs', 'group']);
const MIN_ROWS_PER_PART = 256;

// The element size of each kind of typed array we lend, by %TypedArray%.prototype's own
// Symbol.toStringTag getter (the original, captured here): it reads the array's internal
// slot, so it names every real typed array and nothing else, whatever the object's own
// properties or prototype say.
const typedArrayTag = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;
const ELEMENT_SIZE: Record<string, number> = {
  Float64Array: 8, Float32Array: 4, Int32Array: 4, Uint32Array: 4, Int16Array: 2, Uint16Array: 2, Int8Array: 1, Uint8Array: 1,
};
const KIND_NAMES = 'Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array or Uint8Array';

/** Whether an ArrayBuffer is detached (`buffer.detached` where Node has it; Node 20 refuses a view over one). */
function isDetached(buffer: ArrayBufferLike): boolean {
  if (buffer.byteLength !== 0) return false; // a detached buffer has no bytes
  const d = (buffer as ArrayBuffer & { detached?: boolean }).detached;
  if (typeof d === 'boolean') return d;
  if (types.isSharedArrayBuffer(buffer)) return false;
  try {
    new Uint8Array(buffer, 0, 0); // eslint-disable-line no-new
    return false;
  } catch {
    return true;
  }
}

function checkRowNumber(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${v}`);
  return v;
}

interface Checked {
  arrays: ColumnArray[];
  /** A key of the names and read-only flags (each name length-prefixed: no two layouts share one). */
  layout: string;
  buffers: ArrayBufferLike[];
  names: string[];
  readonly: boolean[];
  first: number;
  count: number;
  jobOptions: JobOptions;
}

/** @internal Validates callColumns' columns and options; throws TypeError/RangeError naming the argument. */
export function checkColumns(columns: unknown, options: unknown): Checked {
  if (!isPlainObject(columns)) {
    throw new TypeError(`callColumns(columns): columns must be an object of typed arrays, got ${describe(columns)}`);
  }
  const names = Object.keys(columns);
  if (names.length === 0) throw new TypeError('callColumns(columns): columns has no column');
  if (options !== undefined && !isPlainObject(options)) {
    throw new TypeError(`callColumns(options): options must be an object, got ${describe(options)}`);
  }
  const o = (options ?? {}) as CallColumnsOptions & Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`options.${key} is not an option of callColumns()`);
  }
  const arrays: ColumnArray[] = [];
  const sizes: number[] = [];
  // each array's buffer, offset and length, read once (on shared buffers these getters cost
  // up to a microsecond each)
  const buffers: ArrayBufferLike[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  let shortest = Infinity;
  for (const name of names) {
    if (!(name as unknown as { isWellFormed(): boolean }).isWellFormed()) checkName(`callColumns(columns): the column name '${name}'`, name); // throws
    const a = columns[name];
    const size = ELEMENT_SIZE[typedArrayTag.call(a) as string];
    if (size === undefined) throw new TypeError(`columns.${name} must be a typed array (${KIND_NAMES}), got ${describe(a)}`);
    const arr = a as ColumnArray;
    const buffer = arr.buffer as ArrayBuffer & { resizable?: boolean };
    const length = arr.length;
    // a view over a detached buffer has no elements: only then is the (costly) check needed
    if (length === 0 && isDetached(buffer)) throw new TypeError(`columns.${name}: its ArrayBuffer is detached`);
    if (buffer.resizable === true) {
      throw new TypeError(`columns.${name}: a resizable ArrayBuffer is not supported (it could shrink while Lua writes to it)`);
    }
    arrays.push(arr);
    sizes.push(size);
    buffers.push(buffer);
    offsets.push(arr.byteOffset);
    lengths.push(length);
    if (length < shortest) shortest = length;
  }
  const first = o.first === undefined ? 0 : checkRowNumber('options.first', o.first);
  if (first > shortest) throw new RangeError(`options.first (${first}) is beyond the end of the shortest column (${shortest} elements)`);
  const count = o.count === undefined ? Math.max(0, shortest - first) : checkRowNumber('options.count', o.count);
  for (let i = 0; i < names.length; i++) {
    if (lengths[i] < first + count) {
      throw new RangeError(`columns.${names[i]} has ${lengths[i]} elements, fewer than first + count (${first + count})`);
    }
  }
  const readonly = names.map(() => false);
  if (o.readonly !== undefined) {
    if (!Array.isArray(o.readonly)) throw new TypeError(`options.readonly must be an array of column names, got ${describe(o.readonly)}`);
    for (const r of o.readonly) {
      const at = typeof r === 'string' ? names.indexOf(r) : -1;
      if (at < 0) throw new TypeError(`options.readonly: ${describe(r)} is not a column`);
      readonly[at] = true;
    }
  }
  if (o.args !== undefined && !Array.isArray(o.args)) throw new TypeError(`options.args must be an array, got ${describe(o.args)}`);
  // Parts run on several threads at once, each on its own rows. A column that Lua writes
  // must not share memory with another column (other rows of it could be another part's).
  if (count > 0) {
    for (let i = 0; i < names.length; i++) {
      if (readonly[i]) continue;
      const s1 = offsets[i] + first * sizes[i], e1 = offsets[i] + (first + count) * sizes[i];
      for (let j = 0; j < names.length; j++) {
        if (j === i || buffers[j] !== buffers[i]) continue;
        const same = offsets[j] === offsets[i] && sizes[j] === sizes[i] && typedArrayTag.call(arrays[j]) === typedArrayTag.call(arrays[i]);
        if (same) continue; // the same elements under two names: every row stays with one part
        const s2 = offsets[j] + first * sizes[j], e2 = offsets[j] + (first + count) * sizes[j];
        if (s1 < e2 && s2 < e1) {
          throw new TypeError(`columns.${names[i]} overlaps columns.${names[j]} in memory (a column Lua writes may not share bytes with another one)`);
        }
      }
    }
  }
  const jobOptions: JobOptions = {};
  if (o.args !== undefined) jobOptions.args = o.args;
  if (o.timeoutMs !== undefined) jobOptions.timeoutMs = o.timeoutMs;
  if (o.signal !== undefined) jobOptions.signal = o.signal;
  if (o.acquireTimeoutMs !== undefined) jobOptions.acquireTimeoutMs = o.acquireTimeoutMs;
  if (o.group !== undefined) jobOptions.group = o.group;
  let layout = '';
  for (let i = 0; i < names.length; i++) layout += `${names[i].length}:${names[i]}${readonly[i] ? 'r' : 'w'}`;
  return { arrays, buffers, layout, names, readonly, first, count, jobOptions };
}

/** @internal Runs a validated callColumns call as parts and settles once all of them are done. */
export async function runColumns(jobs: JobTable, threads: number, name: string, fn: string, c: Checked): Promise<void> {
  if (c.count === 0) return;
  // One part per thread: every part starts at once, so none waits for a thread. More parts
  // than threads made the waiting ones time-slice the running ones (a state switch every
  // few ms, each part's completion a main-thread wake-up): at 20,000 rows on 2 threads the
  // frame took 16-20 ms instead of 10 and 1.6-8 ms of main-thread CPU instead of 0.3-0.7.
  const parts = Math.max(1, Math.min(threads, Math.floor(c.count / MIN_ROWS_PER_PART)));
  const size = Math.ceil(c.count / parts);
  const pending: Promise<unknown>[] = [];
  for (let first = c.first; first < c.first + c.count; first += size) {
    const count = Math.min(size, c.first + c.count - first);
    const columns = { arrays: c.arrays, names: c.names, readonly: c.readonly, layout: c.layout, first, count };
    pending.push(jobs.promise({ kind: 'columns', module: name, fn, columns }, c.jobOptions, 'callColumns'));
  }
  const outcomes = await Promise.allSettled(pending);
  for (let i = 0; i < c.arrays.length; i++) {
    if (isDetached(c.buffers[i])) {
      throw new TypeError(`columns.${c.names[i]}: its ArrayBuffer was detached while callColumns ran (the arrays are lent to the call until it settles)`);
    }
  }
  for (const o of outcomes) {
    if (o.status === 'rejected') throw o.reason;
  }
}
