// callMany: one call per argument list, in a few jobs. Splits the list into parts (by key
// when `keys` routes entries to states), decodes each part's results in the shape its
// mode gives them (native/job.cpp batchHelperSource) and, with `settled`, one outcome per
// entry.
import type { LuapoolError } from './errors';
import { MarshalError } from './errors';
import type { JobOptions, JobTable } from './job-table';
import { batchPath, luaError } from './job-table';
import { BatchMode } from './native';
import { checkBoolean, describe, isPlainObject } from './options';

/** Options of `callMany()`: job options, plus how entries are routed and reported. */
export interface CallManyOptions extends Omit<JobOptions, 'args' | 'details' | 'env' | 'name'> {
  /**
   * Resolve with one `{ status: 'fulfilled', value } | { status: 'rejected', reason }` per
   * entry (like Promise.allSettled); every entry runs, each under its own `pcall`.
   */
  settled?: boolean;
  /**
   * One string or number per entry: entries with the same key run on the same state on
   * every call (the state is a hash of `String(key)`), so module state per key persists.
   */
  keys?: readonly (string | number)[];
  /** Each entry's value is the array of everything its call returned. */
  multret?: boolean;
}

/** One entry's outcome under `callMany(…, { settled: true })`. */
export type SettledResult<T = unknown> =
  | { status: 'fulfilled'; value: T }
  | { status: 'rejected'; reason: LuapoolError };

const MAX_BATCH = 1 << 20; // calls per batch job

/** @internal The state entries with this key go to: FNV-1a (32-bit) of String(key), modulo states. */
export function keyState(key: string | number, states: number): number {
  const s = String(key);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % states;
}

interface Part {
  list: readonly (readonly unknown[])[];
  from: number;
  to: number;
  index: (i: number) => number;
  state?: number;
}

function checkOptions(options: unknown, length: number): { settled: boolean; multret: boolean; keys?: readonly (string | number)[]; job: JobOptions } {
  if (options === undefined) return { settled: false, multret: false, job: {} };
  if (!isPlainObject(options)) throw new TypeError(`callMany(options): options must be an object, got ${describe(options)}`);
  const { settled, keys, ...job } = options as CallManyOptions & Record<string, unknown>;
  if (job.args !== undefined) throw new TypeError('callMany(options): options.args is not allowed');
  if (job.details !== undefined) throw new TypeError('callMany(options): options.details is not supported');
  const s = settled === undefined ? false : checkBoolean('options.settled', settled);
  const m = job.multret === undefined ? false : checkBoolean('options.multret', job.multret);
  delete job.multret;
  if (keys !== undefined) {
    if (!Array.isArray(keys)) throw new TypeError(`options.keys must be an array (one key per entry), got ${describe(keys)}`);
    if (keys.length !== length) throw new RangeError(`options.keys has ${keys.length} keys for ${length} entries`);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (typeof k !== 'string' && !(typeof k === 'number' && Number.isFinite(k))) {
        throw new TypeError(`options.keys[${i}] must be a string or a finite number, got ${describe(k)}`);
      }
    }
  }
  return { settled: s, multret: m, keys, job: job as JobOptions };
}

function split(argsList: readonly (readonly unknown[])[], threads: number, states: number,
  keys: readonly (string | number)[] | undefined): Part[] {
  const n = argsList.length;
  // Several parts per thread Lua may use, so encoding, running and decoding overlap;
  // each part a single job (one round trip), none bigger than MAX_BATCH calls.
  const parts = Math.max(Math.min(threads * 4, Math.ceil(n / 2048)), Math.ceil(n / MAX_BATCH), 1);
  const size = Math.ceil(n / parts);
  const out: Part[] = [];
  if (!keys) {
    for (let i = 0; i < n; i += size) out.push({ list: argsList, from: i, to: Math.min(n, i + size), index: (j) => i + j });
    return out;
  }
  const byState: number[][] = Array.from({ length: states }, () => []);
  for (let i = 0; i < n; i++) byState[keyState(keys[i], states)].push(i);
  byState.forEach((indices, state) => {
    if (indices.length === 0) return;
    const list = indices.map((i) => argsList[i]);
    for (let i = 0; i < list.length; i += size) {
      out.push({ list, from: i, to: Math.min(list.length, i + size), index: (j) => indices[i + j], state });
    }
  });
  return out;
}

function at(record: unknown, i: number): unknown {
  if (Array.isArray(record)) return record[i];
  if (record instanceof Map) return record.get(i + 1);
  return undefined;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v === undefined ? '' : String(v);
}

function list(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v instanceof Map) return [...v.values()];
  return [];
}

// A failure record of a settled batch (native/job.cpp batchFailure, collectBatch).
function recordError(record: unknown, index: number): LuapoolError {
  let e: LuapoolError;
  if (typeof record === 'string' || Buffer.isBuffer(record)) {
    e = luaError(text(record), text(record)); // the message handler itself failed (memory)
  } else if (at(record, 0) === 2) {
    e = new MarshalError(text(at(record, 2)), batchPath(text(at(record, 1)), index));
  } else {
    const line = at(record, 4);
    e = luaError(text(at(record, 1)), text(at(record, 2)), text(at(record, 3)) || undefined,
      typeof line === 'number' && line > 0 ? line : undefined, at(record, 5));
  }
  e.index = index;
  return e;
}

/** @internal Runs a validated callMany; resolves with values, or with outcomes when settled. */
export async function runBatch(jobs: JobTable, threads: number, states: number, name: string, fn: string,
  argsList: readonly (readonly unknown[])[], options: unknown): Promise<unknown[]> {
  const o = checkOptions(options, argsList.length);
  if (argsList.length === 0) return [];
  const mode = (o.settled ? BatchMode.Settled : 0) | (o.multret ? BatchMode.Multret : 0);
  const out: unknown[] = new Array(argsList.length);
  const parts = split(argsList, threads, states, o.keys);
  await Promise.all(parts.map(async (p) => {
    const batch = { list: p.list, from: p.from, to: p.to, mode, index: p.index };
    let values: unknown[];
    try {
      values = await jobs.promise({ kind: 'call', module: name, fn, batch, state: p.state },
        { ...o.job, multret: true }, 'callMany') as unknown[];
    } catch (e) {
      if (!o.settled) throw e;
      // the part failed as a whole (a timeout, a cancel...): so did each of its entries
      for (let i = 0; i < p.to - p.from; i++) out[p.index(i)] = { status: 'rejected', reason: e };
      return;
    }
    fill(out, values, mode, p);
  }));
  return out;
}

function fill(out: unknown[], values: unknown[], mode: BatchMode, p: Part): void {
  switch (mode) {
    case BatchMode.Plain:
      for (let i = 0; i < values.length; i++) out[p.index(i)] = values[i];
      return;
    case BatchMode.Settled: {
      const failed = new Set(list(values[values.length - 1]));
      for (let i = 0; i < values.length - 1; i++) {
        out[p.index(i)] = failed.has(i + 1)
          ? { status: 'rejected', reason: recordError(values[i], p.index(i)) }
          : { status: 'fulfilled', value: values[i] };
      }
      return;
    }
    default: { // flat: count then values per call; a failure is a negative count, then its record
      const settled = mode === BatchMode.SettledMultret;
      for (let pos = 0, e = 0; pos < values.length; e++) {
        const c = values[pos] as number;
        if (c >= 0) {
          const v = values.slice(pos + 1, pos + 1 + c);
          out[p.index(e)] = settled ? { status: 'fulfilled', value: v } : v;
          pos += c + 1;
        } else {
          out[p.index(e)] = { status: 'rejected', reason: recordError(values[pos + 1], p.index(e)) };
          pos += -c + 1;
        }
      }
    }
  }
}
