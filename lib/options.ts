// Options of ScriptRunner and of each job: validated once, filled with defaults, typed.
import { availableParallelism } from 'os';
import { ActionQueue } from './action-queue';
import type { DecodeOptions } from './marshal';

/**
 * A standard library for `libs: [...]`. In a list, `'os'` is restricted to
 * time/clock/date/difftime; `'io'`, `'debug'` and `'package'` are added unrestricted and
 * give up the sandbox's protection (trusted code only).
 */
export type LibName = 'base' | 'string' | 'table' | 'math' | 'utf8' | 'coroutine' | 'os' | 'io' | 'debug' | 'package';
/** @internal */
export const LIB_NAMES: readonly LibName[] = ['base', 'string', 'table', 'math', 'utf8', 'coroutine', 'os', 'io', 'debug', 'package'];
const SAFE_LIBS: readonly LibName[] = ['base', 'string', 'table', 'math', 'utf8', 'coroutine', 'os'];

/**
 * The `modules` option: where `require(name)` finds modules after `runner.define()`. An
 * object of sources by module name, or a function asked (on the main thread, at most once
 * per name until `runner.invalidateModules()`) for a name's source: a string or bytes, or
 * `undefined`/`null` for "no such module". It may return a Promise. See docs/api.md.
 */
export type ModuleSources =
  | Readonly<Record<string, string | Uint8Array>>
  | ((name: string) => string | Uint8Array | undefined | null | PromiseLike<string | Uint8Array | undefined | null>);

/**
 * A host function callable from Lua as `engine.<name>(...)`. Runs on the main thread with
 * the converted Lua arguments; may return a value (`undefined` = no values) or a Promise.
 * A throw or rejection becomes the Lua error `engine.<name>: <message>`.
 */
export type HostFunction = (...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * What job options take as `signal`: an `AbortSignal` (`new AbortController().signal`,
 * `AbortSignal.timeout(ms)`). Declared by its shape, so the package's types need neither
 * `@types/node` nor the DOM library; at run time it must be a real `AbortSignal`.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Options of `new ScriptRunner(options)`; every one is optional. See docs/api.md. */
export interface ScriptRunnerOptions {
  /**
   * lua_States in the pool, 1-1024. Default: twice `threads`, so a job that is sliced out
   * or waits for a host function never keeps a new job from a state of its own.
   */
  states?: number;
  /**
   * Lua jobs that run at once (libuv thread-pool threads Lua may use), 1 to `states` and at
   * most UV_THREADPOOL_SIZE - 1. Default: max(1, availableParallelism() - 1) without
   * `states`, else min(states, UV_THREADPOOL_SIZE - 1).
   */
  threads?: number;
  /**
   * Time slice in milliseconds: a job that has run this long while other jobs wait for a
   * thread gives its thread up at the next point where Lua can yield and goes to the back
   * of the run queue (its state and environment stay). 0 = no slicing. Default 2.
   */
  sliceMs?: number;
  /**
   * What scripts see: 'safe' (default: the sandbox), 'all' (plain Lua with every library and
   * the state's global table, for trusted code), or the sandbox with a list of libraries.
   */
  libs?: 'safe' | 'all' | readonly LibName[];
  /**
   * Default per-job time budget in milliseconds of running time (host-call time included,
   * time waiting for a thread not); 0 = none, at most 2147483647. Default: 10000 in the
   * sandbox (safe by default means bounded by default), 0 with `libs: 'all'`.
   */
  timeoutMs?: number;
  /**
   * Bytes each state may hold in total; 0 = none, else 65536 to 2^53 - 1. A job that hits
   * it fails with MemoryLimitError. Default: 256 MiB in the sandbox, 0 with `libs: 'all'`.
   */
  memoryLimit?: number;
  /** Milliseconds a job may wait for a free state (else AcquireTimeoutError); 0 = forever, at most 2147483647. Default 0. */
  acquireTimeoutMs?: number;
  /**
   * Most jobs that may wait for a state; more are rejected with QueueFullError (every job
   * passes through the queue, so 0 refuses all). Integer 0 to 2^53 - 1, or Infinity. Default Infinity.
   */
  maxQueue?: number;
  /**
   * Where engine.post / engine.log / print / warn and `deliver: 'actions'` results go.
   * Without it, logs and posts are emitted as 'log' / 'post' events.
   */
  actions?: ActionQueue;
  /**
   * Functions callable from Lua as engine.<name>(...). Keys must be Lua names other than
   * log, post and post_to_main_thread.
   */
  host?: Record<string, HostFunction>;
  /** How Lua strings come back: 'string' (UTF-8, default) or 'buffer' (bytes). */
  bytes?: DecodeOptions['bytes'];
  /** How Lua tables come back: 'auto' (default) or 'map'. */
  tables?: DecodeOptions['tables'];
  /**
   * Refuse lossy conversions with MarshalError (holes in arrays going in; non-string keys
   * and key collisions coming back as objects). Default false.
   */
  strict?: boolean;
  /** Run a GC step on a state after this many jobs (0 = never), at most 2^32 - 1. Default 1000. */
  gcEveryJobs?: number;
  /** ... or after this many bytes were allocated since the last step (0 = never), at most 2^53 - 1. Default 64 MiB. */
  gcEveryBytes?: number;
  /** 'generational' (default) or 'incremental'. */
  gcMode?: 'generational' | 'incremental';
  /**
   * Compiled chunks cached per state, keyed by chunk name and source: bounds the number of
   * distinct chunk names; when reached, the state's cache is dropped. 1 to 2^32 - 1. Default 256.
   */
  chunkCacheSize?: number;
  /**
   * Modules `require` finds after `runner.define()` ones: `{ [name]: source }`, or a
   * function `(name) => source | undefined` called on the main thread (its answers are
   * cached per runner, misses too, until `runner.invalidateModules()`). Never files.
   */
  modules?: ModuleSources;
}

/** @internal The runner options, validated and filled with defaults. */
export interface FilledRunnerOptions {
  /** See ScriptRunnerOptions.states. */
  states: number;
  /** See ScriptRunnerOptions.threads (runner.parallelism). */
  threads: number;
  /** See ScriptRunnerOptions.sliceMs. */
  sliceMs: number;
  /** The libraries to open ('safe' and 'all' expanded to their lists). */
  libs: readonly LibName[];
  /** libs: 'all': plain Lua, jobs in the state's global table. */
  trusted: boolean;
  /** See ScriptRunnerOptions.timeoutMs. */
  timeoutMs: number;
  /** See ScriptRunnerOptions.memoryLimit. */
  memoryLimit: number;
  /** See ScriptRunnerOptions.acquireTimeoutMs. */
  acquireTimeoutMs: number;
  /** See ScriptRunnerOptions.maxQueue. */
  maxQueue: number;
  /** See ScriptRunnerOptions.actions. */
  actions: ActionQueue | undefined;
  /** The host functions, copied from ScriptRunnerOptions.host. */
  host: Record<string, HostFunction>;
  /** `this` for host functions: the object the user passed as options.host. */
  hostThis: unknown;
  /** The runner's bytes/tables/strict defaults. */
  decode: DecodeOptions;
  /** See ScriptRunnerOptions.gcEveryJobs. */
  gcEveryJobs: number;
  /** See ScriptRunnerOptions.gcEveryBytes. */
  gcEveryBytes: number;
  /** gcMode === 'generational'. */
  generationalGc: boolean;
  /** See ScriptRunnerOptions.chunkCacheSize. */
  chunkCacheSize: number;
  /** The restricted libraries of 'safe' (an explicit list names only unrestricted ones). */
  sandboxLibs: readonly ('io' | 'debug')[];
  /** ScriptRunnerOptions.modules: the object form's sources, or the function form. */
  modules: { sources: ReadonlyMap<string, string | Buffer> } | { fn: (name: string) => unknown } | undefined;
}

/** @internal True for objects whose prototype is Object.prototype or null. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** @internal Largest value of a 32-bit count (gcEveryJobs, chunkCacheSize). */
export const MAX_UINT32 = 4294967295;
/** @internal Largest time in milliseconds (timeoutMs, acquireTimeoutMs): what setTimeout can wait, about 24.8 days. */
export const MAX_MS = 2147483647;

/**
 * @internal Validates an integer in min..max (or Infinity when allowed); throws
 * TypeError/RangeError naming `name`. Every count has an upper bound: the native side
 * converts it to a fixed-size integer, where a larger value would wrap or be undefined.
 */
export function checkCount(name: string, v: unknown, min: number, allowInfinity = false,
                           max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || Number.isNaN(v)) {
    throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  }
  if (v === Infinity && allowInfinity) return v;
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be an integer >= ${min}${allowInfinity ? ' or Infinity' : ''}, got ${v}`);
  }
  if (v > max) throw new RangeError(`${name} must be at most ${max}${allowInfinity ? ' (or Infinity)' : ''}, got ${v}`);
  return v;
}

/**
 * @internal Validates a time in milliseconds: a number in 0..2147483647 (about 24.8
 * days); throws TypeError/RangeError naming `name`.
 */
export function checkMs(name: string, v: unknown): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new TypeError(`${name} must be a number, got ${describe(v)}`);
  if (v < 0 || !Number.isFinite(v)) throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  if (v > MAX_MS) throw new RangeError(`${name} must be at most ${MAX_MS} (about 24.8 days), got ${v}`);
  return v;
}

/** A duration for setTimeout, which cannot wait longer than 2^31-1 ms (the same bound as checkMs). */
export function checkTimer(name: string, v: unknown): number {
  return checkMs(name, v);
}

/** @internal Validates one of `allowed`; throws TypeError naming `name`. */
export function checkEnum<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(v)}`);
  }
  return v as T;
}

/** @internal Validates a boolean; throws TypeError naming `name`. */
export function checkBoolean(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(v)}`);
  return v;
}

/** @internal Describes a value for an error message (`an array`, `number 3`, `'text'`). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}'`;
  if (typeof v === 'object') return `an instance of ${(v as object).constructor?.name ?? 'Object'}`;
  return typeof v === 'function' ? 'a function' : `${typeof v} ${String(v)}`;
}

/** The libuv thread pool size the process runs with (read before the pool starts). */
export function threadPoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/** The budget and cap a sandboxed runner has when its options give none (`0` opts out). */
export const SAFE_DEFAULTS = { timeoutMs: 10000, memoryLimit: 256 * 1024 * 1024 } as const;

const KNOWN = new Set(['states', 'threads', 'sliceMs', 'libs', 'timeoutMs', 'memoryLimit', 'acquireTimeoutMs', 'maxQueue', 'actions',
  'host', 'bytes', 'tables', 'strict', 'gcEveryJobs', 'gcEveryBytes', 'gcMode', 'chunkCacheSize', 'modules']);

/** @internal A module source as the native side takes it: a string, or bytes as a Buffer. */
export function moduleSource(v: unknown): string | Buffer | undefined {
  if (typeof v === 'string' || Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

function fillModules(v: unknown): FilledRunnerOptions['modules'] {
  if (v === undefined) return undefined;
  if (typeof v === 'function') return { fn: v as (name: string) => unknown };
  if (!isPlainObject(v)) {
    throw new TypeError(`options.modules must be an object of module sources or a function, got ${describe(v)}`);
  }
  const sources = new Map<string, string | Buffer>();
  for (const [name, source] of Object.entries(v)) {
    const s = moduleSource(source);
    if (s === undefined) throw new TypeError(`options.modules['${name}'] must be a string or a Buffer, got ${describe(source)}`);
    sources.set(name, s);
  }
  return { sources };
}

/** @internal Validates an object of host functions (`options.host`, `luaTypes({ host })`), naming `name`. */
export function fillHost(v: unknown, name: string): Record<string, HostFunction> {
  const host: Record<string, HostFunction> = {};
  if (v === undefined) return host;
  if (!isPlainObject(v)) throw new TypeError(`${name} must be an object of functions, got ${describe(v)}`);
  for (const [key, fn] of Object.entries(v)) {
    if (typeof fn !== 'function') throw new TypeError(`${name}.${key} must be a function, got ${describe(fn)}`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new TypeError(`${name}.${key}: not a valid Lua name`);
    if (['log', 'post', 'post_to_main_thread', 'shared'].includes(key)) {
      throw new TypeError(`${name}.${key} would replace the built-in engine.${key}`);
    }
    host[key] = fn as HostFunction;
  }
  return host;
}

/** @internal Validates `new ScriptRunner()` options and fills in the defaults. */
export function fillRunnerOptions(options: ScriptRunnerOptions | undefined): FilledRunnerOptions {
  if (options === undefined) options = {};
  if (!isPlainObject(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`options.${key} is not a known option`);
  }
  const o = options;
  // Lua never occupies every libuv thread: one always stays free for fs, dns, crypto, zlib.
  const pool = threadPoolSize();
  const maxThreads = Math.max(1, pool - 1);
  let states = o.states === undefined ? undefined : checkCount('options.states', o.states, 1, false, 1024);
  let threads: number;
  if (o.threads !== undefined) {
    threads = checkCount('options.threads', o.threads, 1);
    if (threads > maxThreads) {
      throw new RangeError(`options.threads must be at most UV_THREADPOOL_SIZE - 1 = ${maxThreads}, got ${threads}`);
    }
    if (states !== undefined && threads > states) {
      throw new RangeError(`options.threads must be at most options.states (${states}), got ${threads}`);
    }
  } else {
    threads = Math.min(states ?? Math.max(1, availableParallelism() - 1), maxThreads);
  }
  if (states === undefined) states = Math.min(1024, Math.max(2, 2 * threads));
  const sliceMs = o.sliceMs === undefined ? 2 : checkCount('options.sliceMs', o.sliceMs, 0, false, 60000);
  let libs: readonly LibName[] = SAFE_LIBS;
  let sandboxLibs: readonly ('io' | 'debug')[] = ['io', 'debug'];
  let trusted = false;
  if (o.libs === 'all') {
    trusted = true;
    libs = LIB_NAMES;
    sandboxLibs = [];
  } else if (Array.isArray(o.libs)) {
    sandboxLibs = [];
    for (const [i, name] of o.libs.entries()) {
      if (!LIB_NAMES.includes(name)) {
        throw new TypeError(`options.libs[${i}] must be one of ${LIB_NAMES.join(', ')}, got ${describe(name)}`);
      }
    }
    libs = [...o.libs];
  } else if (o.libs !== undefined && o.libs !== 'safe') {
    throw new TypeError(`options.libs must be 'safe', 'all' or an array of library names, got ${describe(o.libs)}`);
  }
  if (o.actions !== undefined && !(o.actions instanceof ActionQueue)) {
    throw new TypeError(`options.actions must be an ActionQueue, got ${describe(o.actions)}`);
  }
  const host = fillHost(o.host, 'options.host');
  // The sandbox is bounded by default (SAFE_DEFAULTS); trusted code runs like the standalone lua.
  const memoryLimit = o.memoryLimit === undefined ? (trusted ? 0 : SAFE_DEFAULTS.memoryLimit)
    : checkCount('options.memoryLimit', o.memoryLimit, 0);
  if (memoryLimit !== 0 && memoryLimit < 64 * 1024) {
    throw new RangeError(`options.memoryLimit must be 0 (none) or at least 65536 bytes, got ${memoryLimit}`);
  }
  return {
    states,
    threads,
    sliceMs,
    libs,
    trusted,
    timeoutMs: o.timeoutMs === undefined ? (trusted ? 0 : SAFE_DEFAULTS.timeoutMs) : checkMs('options.timeoutMs', o.timeoutMs),
    memoryLimit,
    acquireTimeoutMs: o.acquireTimeoutMs === undefined ? 0 : checkTimer('options.acquireTimeoutMs', o.acquireTimeoutMs),
    maxQueue: o.maxQueue === undefined ? Infinity : checkCount('options.maxQueue', o.maxQueue, 0, true),
    actions: o.actions,
    host,
    hostThis: o.host,
    decode: {
      bytes: o.bytes === undefined ? 'string' : checkEnum('options.bytes', o.bytes, ['string', 'buffer'] as const),
      tables: o.tables === undefined ? 'auto' : checkEnum('options.tables', o.tables, ['auto', 'map'] as const),
      strict: o.strict === undefined ? false : checkBoolean('options.strict', o.strict),
    },
    gcEveryJobs: o.gcEveryJobs === undefined ? 1000 : checkCount('options.gcEveryJobs', o.gcEveryJobs, 0, false, MAX_UINT32),
    gcEveryBytes: o.gcEveryBytes === undefined ? 64 << 20 : checkCount('options.gcEveryBytes', o.gcEveryBytes, 0),
    generationalGc: (o.gcMode === undefined ? 'generational'
      : checkEnum('options.gcMode', o.gcMode, ['generational', 'incremental'] as const)) === 'generational',
    chunkCacheSize: o.chunkCacheSize === undefined ? 256 : checkCount('options.chunkCacheSize', o.chunkCacheSize, 1, false, MAX_UINT32),
    sandboxLibs,
    modules: fillModules(o.modules),
  };
}
