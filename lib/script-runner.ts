// ScriptRunner: the public pool. Validates and defaults options, turns each call into a
// native job, and settles every job exactly once (promise, callback or ActionQueue).
import { EventEmitter } from 'events';
import type { Action } from './action-queue';
import {
  AcquireTimeoutError, CancelledError, LuaError, LuapoolError, MarshalError, MemoryLimitError, QueueFullError,
  RunnerClosedError, TimeoutError,
} from './errors';
import { DecodeOptions, decodeList, encodeBatch, encodeList, encodeTable } from './marshal';
import { binding, Kill, Status } from './native';
import {
  FilledRunnerOptions, HostFunction, ScriptRunnerOptions, checkBoolean, checkEnum, checkMs, checkTimer, describe,
  fillRunnerOptions,
  isPlainObject,
} from './options';
import { RunStats, StatsWindow } from './stats';
import { ScriptContext } from './context';

/** Options of one job (run, call, callMany, and the same methods of a ScriptContext). */
export interface JobOptions {
  /** Values passed to the chunk as `...`. */
  args?: readonly unknown[];
  /**
   * Extra globals for this job (a plain object or a Map), written into its environment
   * before it runs; in a context, into the context's persistent environment. Not used by
   * call()/callMany().
   */
  env?: Record<string, unknown> | Map<unknown, unknown>;
  /**
   * Chunk name used in error messages and tracebacks, e.g. 'ai/orc.lua' (default: Lua's
   * `[string "..."]` form of the source). Not used by call().
   */
  name?: string;
  /** Resolve with every returned value as an array (default: the first value). */
  multret?: boolean;
  /**
   * Time budget in milliseconds, counted from when the job starts running and including
   * time in host functions; overrides the runner's `timeoutMs`. 0 = none.
   */
  timeoutMs?: number;
  /** Cancels the job (CancelledError) when aborted: queued, running or waiting for a host function. */
  signal?: AbortSignal;
  /** How long this job may wait for a state; overrides the runner's `acquireTimeoutMs`. */
  acquireTimeoutMs?: number;
  /** How Lua strings come back: 'string' (UTF-8) or 'buffer' (bytes); overrides the runner's. */
  bytes?: DecodeOptions['bytes'];
  /** How Lua tables come back: 'auto' (arrays and objects) or 'map' (Maps); overrides the runner's. */
  tables?: DecodeOptions['tables'];
  /** Refuse lossy conversions with MarshalError; overrides the runner's. */
  strict?: boolean;
}

/** Options of `enqueue()`: a job delivered by callback or through the ActionQueue. */
export interface EnqueueOptions extends JobOptions {
  /** Your value, handed back as `ctx` of this job's actions (an entity, a request...). */
  ctx?: unknown;
  /** `'actions'`: the result arrives in the runner's ActionQueue as a 'result' or 'error' action. */
  deliver?: 'actions';
  /**
   * Called on the main thread with `(null, value)` or `(error)`. Exactly one of
   * `callback` and `deliver` must be given.
   */
  callback?: (err: LuapoolError | null, value?: unknown) => void;
}

type Delivery = 0 | 1 | 2; // promise, callback, actions

interface Pending {
  delivery: Delivery;
  resolve?: (v: unknown) => void;
  reject?: (e: unknown) => void;
  callback?: (err: LuapoolError | null, value?: unknown) => void;
  ctx: unknown;
  decode: DecodeOptions;
  multret: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
  acquireTimer?: NodeJS.Timeout;
  settled: boolean;
  context?: ScriptContext;
}

const JOB_KEYS = new Set(['args', 'env', 'name', 'multret', 'timeoutMs', 'signal', 'acquireTimeoutMs', 'bytes',
  'tables', 'strict', 'ctx', 'deliver', 'callback']);

const FLAG_MULTRET = 1;
const MAX_BATCH = 1 << 20; // calls per batch job
const FLAG_BYTES_AS_BUFFER = 2;

/** @internal Description of a job, shared by run/enqueue/call/context. */
export interface JobSpec {
  /** Run a chunk, or call a module function. */
  kind: 'run' | 'call';
  /** run: the chunk; call: the module name. */
  source: string;
  /** call: the exported function. */
  fn?: string;
  /** callMany: this job's slice of the argument lists. */
  batch?: { list: readonly (readonly unknown[])[]; from: number; to: number };
  /** The context the job belongs to, if any. */
  context?: ScriptContext;
}

/**
 * A pool of lua_States running Lua jobs off the main thread, one job per state at a time.
 *
 * Events (an EventEmitter):
 * - `'log'` `(action: LogAction)`: engine.log / print / warn, when no ActionQueue is given
 *   (without a listener either, logs go to the console).
 * - `'post'` `(action: PostAction)`: engine.post, when no ActionQueue is given.
 * - `'overrun'` `({ jobId, state, afterMs })`: a job still running 2 s after its deadline;
 *   its state is replaced once the job ends.
 * - `'close'` `()`: close() has settled every job and closed every state.
 *
 * @example
 * const runner = new ScriptRunner({ states: 4, timeoutMs: 1000 });
 * await runner.run('local a, b = ...; return a * b', { args: [6, 7] });   // 42
 * await runner.close();
 */
export class ScriptRunner extends EventEmitter {
  readonly #opts: FilledRunnerOptions;
  readonly #native: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly #pending = new Map<number, Pending>();
  readonly #contexts = new Map<string, ScriptContext>();
  readonly #modules = new Map<string, number>();
  readonly #stats = new StatsWindow();
  readonly #hostNames: string[];
  readonly #hostFns: HostFunction[];
  #nextId = 1;
  #nextState = 0;
  #closing: Promise<void> | undefined;
  #closed = false;
  #drained: (() => void) | undefined;

  /**
   * Creates the pool (every state at once). See docs/api.md for every option.
   *
   * @throws {TypeError} an unknown option, or an option of the wrong type.
   * @throws {RangeError} an option out of range (e.g. `states: 0`, `memoryLimit: 10`).
   */
  constructor(options?: ScriptRunnerOptions) {
    super();
    this.#opts = fillRunnerOptions(options);
    const o = this.#opts;
    this.#hostNames = Object.keys(o.host);
    this.#hostFns = Object.values(o.host);
    this.#native = new binding.NativeRunner({
      states: o.states,
      maxWorkers: o.maxWorkers,
      maxQueue: o.maxQueue,
      trusted: o.trusted,
      libs: o.libs,
      memoryLimit: o.memoryLimit,
      gcEveryJobs: o.gcEveryJobs,
      gcEveryBytes: o.gcEveryBytes,
      generationalGc: o.generationalGc,
      chunkCacheSize: o.chunkCacheSize,
      hostFunctions: this.#hostNames,
    }, this.#onComplete);
  }

  /** Number of states in the pool (the `states` option or its default). */
  get states(): number {
    return this.#opts.states;
  }

  /** Lua jobs that may run at once: min(states, UV_THREADPOOL_SIZE - 1), at least 1. */
  get parallelism(): number {
    return this.#opts.maxWorkers;
  }

  /** Jobs submitted and not yet settled. */
  get pending(): number {
    return this.#pending.size;
  }

  /** True once close() was called (before its promise resolves). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs a chunk; resolves with its first return value (or all of them with `multret`).
   * Rejects with LuaError, TimeoutError, MemoryLimitError, CancelledError, QueueFullError,
   * AcquireTimeoutError, MarshalError, RunnerClosedError, or TypeError/RangeError for a bad
   * argument; never throws.
   */
  run(source: string, options?: JobOptions): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return new Promise((resolve, reject) => {
      try {
        if (typeof source !== 'string') throw new TypeError(`run(source): source must be a string, got ${describe(source)}`);
        const p = this.#newPending(0, options, 'run');
        p.resolve = resolve;
        p.reject = reject;
        this.#submit({ kind: 'run', source }, options, p);
      } catch (e) {
        reject(e);
      }
    });
  }

  /**
   * Queues a chunk and returns its job id. The result goes to `callback` or, with
   * `deliver: 'actions'`, to the ActionQueue as a 'result' or 'error' action.
   *
   * @throws {TypeError} neither or both of callback/deliver, or a bad option.
   * @throws {MarshalError} an argument or env value that cannot be converted.
   * @throws {QueueFullError} `maxQueue` jobs are already waiting.
   * @throws {RunnerClosedError} after close().
   */
  enqueue(source: string, options: EnqueueOptions = {}): number {
    if (typeof source !== 'string') throw new TypeError(`enqueue(source): source must be a string, got ${describe(source)}`);
    return this.#enqueueSpec({ kind: 'run', source }, options);
  }

  /** @internal */
  _enqueueSpec(spec: JobSpec, options: EnqueueOptions): number {
    return this.#enqueueSpec(spec, options);
  }

  #enqueueSpec(spec: JobSpec, options: EnqueueOptions): number {
    if (!isPlainObject(options)) throw new TypeError(`options must be an object, got ${describe(options)}`);
    const hasCallback = options.callback !== undefined;
    if (hasCallback && typeof options.callback !== 'function') {
      throw new TypeError(`options.callback must be a function, got ${describe(options.callback)}`);
    }
    if (options.deliver !== undefined && options.deliver !== 'actions') {
      throw new TypeError(`options.deliver must be 'actions', got ${describe(options.deliver)}`);
    }
    if (hasCallback === (options.deliver === 'actions')) {
      throw new TypeError("enqueue() needs exactly one of options.callback or options.deliver: 'actions'");
    }
    if (options.deliver === 'actions' && this.#opts.actions === undefined) {
      throw new TypeError("options.deliver: 'actions' needs an ActionQueue (new ScriptRunner({ actions }))");
    }
    const p = this.#newPending(hasCallback ? 1 : 2, options, 'enqueue');
    p.callback = options.callback as Pending["callback"];
    p.ctx = options.ctx;
    const id = this.#submit(spec, options, p, true);
    return id;
  }

  /** @internal Runs a job spec and resolves like run(). */
  _runSpec(spec: JobSpec, options: JobOptions | undefined): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return new Promise((resolve, reject) => {
      try {
        const p = this.#newPending(0, options, spec.kind);
        p.resolve = resolve;
        p.reject = reject;
        this.#submit(spec, options, p);
      } catch (e) {
        reject(e);
      }
    });
  }

  /**
   * Cancels a queued, running or suspended job; it settles with CancelledError. Returns
   * false if the id is unknown or the job has already finished.
   *
   * @throws {TypeError} if `id` is not a number.
   */
  cancel(id: number): boolean {
    if (typeof id !== 'number') throw new TypeError(`cancel(id): id must be a number, got ${describe(id)}`);
    return this.#cancel(id, new CancelledError());
  }

  /**
   * A context: jobs pinned to one state, with a persistent environment, run one at a
   * time in submission order. The same key returns the same object until it is closed.
   *
   * @throws {TypeError} for an empty or non-string key.
   * @throws {RunnerClosedError} after close().
   */
  context(key: string): ScriptContext {
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError(`context(key): key must be a non-empty string, got ${describe(key)}`);
    }
    if (this.#closed) throw new RunnerClosedError();
    let ctx = this.#contexts.get(key);
    if (!ctx) {
      const state = this.#nextState++ % this.#opts.states;
      ctx = new ScriptContext(this, key, state);
      this.#contexts.set(key, ctx);
    }
    return ctx;
  }

  /** @internal */
  _forgetContext(key: string): void {
    this.#contexts.delete(key);
  }

  /** @internal Queues a context reset (runs after the context's earlier jobs). */
  _resetContext(ctx: ScriptContext): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#closed) {
        reject(new RunnerClosedError());
        return;
      }
      const id = this.#nextId++;
      const p = this.#newPending(0, undefined, 'reset');
      p.resolve = () => resolve();
      p.reject = reject;
      this.#pending.set(id, p);
      if (!this.#native.resetContext(id, ctx.key, ctx.state)) {
        this.#pending.delete(id);
        reject(new QueueFullError());
      }
    });
  }

  /**
   * Defines (or redefines) a named module: `source` must return a table of functions.
   * Compiled lazily once per state; later calls use the newest version.
   *
   * @throws {LuaError} a syntax error (the previous version stays in force).
   * @throws {TypeError} an empty name or a non-string source.
   * @throws {RunnerClosedError} after close().
   */
  define(name: string, source: string): void {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`define(name): name must be a non-empty string, got ${describe(name)}`);
    }
    if (typeof source !== 'string') throw new TypeError(`define(source): source must be a string, got ${describe(source)}`);
    if (this.#closed) throw new RunnerClosedError();
    const syntaxError: string | undefined = this.#native.checkSyntax(source, '@' + name);
    if (syntaxError !== undefined) {
      // The previous version (if any) stays in force.
      const m = /^(.*?):(\d+): /.exec(syntaxError);
      throw new LuaError(syntaxError, syntaxError, m ? m[1] : name, m ? Number(m[2]) : undefined);
    }
    const version = (this.#modules.get(name) ?? 0) + 1;
    this.#native.define(name, version, source);
    this.#modules.set(name, version);
  }

  /**
   * Calls an exported function of a defined module, on any state; resolves with its first
   * result (all of them with `multret`). `options.env` and `options.name` are not used.
   * Rejects with TypeError if no module `name` is defined.
   */
  call(name: string, fn: string, args: readonly unknown[] = [], options?: JobOptions): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (typeof name !== 'string' || !this.#modules.has(name)) {
      return Promise.reject(new TypeError(`call(name): no module named ${describe(name)} is defined`));
    }
    if (typeof fn !== 'string' || fn.length === 0) {
      return Promise.reject(new TypeError(`call(fn): fn must be a non-empty string, got ${describe(fn)}`));
    }
    if (!Array.isArray(args)) return Promise.reject(new TypeError(`call(args): args must be an array, got ${describe(args)}`));
    return this._runSpec({ kind: 'call', source: name, fn }, { ...options, args });
  }

  /**
   * Calls an exported function once per argument list in a few round trips: the list is
   * split across the states and each part runs as one job. Resolves with one result per
   * call, in order. `timeoutMs` applies to each part, not to each call.
   */
  async callMany(name: string, fn: string, argsList: readonly (readonly unknown[])[], options?: JobOptions): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (typeof name !== 'string' || !this.#modules.has(name)) {
      throw new TypeError(`callMany(name): no module named ${describe(name)} is defined`);
    }
    if (typeof fn !== 'string' || fn.length === 0) throw new TypeError(`callMany(fn): fn must be a non-empty string, got ${describe(fn)}`);
    if (!Array.isArray(argsList)) throw new TypeError(`callMany(argsList): argsList must be an array of arrays, got ${describe(argsList)}`);
    for (let i = 0; i < argsList.length; i++) {
      if (!Array.isArray(argsList[i])) throw new TypeError(`callMany(argsList): argsList[${i}] must be an array, got ${describe(argsList[i])}`);
    }
    if (options !== undefined && (options as JobOptions).args !== undefined) throw new TypeError('callMany(options): options.args is not allowed');
    if (argsList.length === 0) return [];
    // Several parts per thread Lua may use, so encoding, running and decoding overlap;
    // each part a single job (one round trip), none bigger than MAX_BATCH calls.
    const parts = Math.max(Math.min(this.#opts.maxWorkers * 4, Math.ceil(argsList.length / 2048)),
      Math.ceil(argsList.length / MAX_BATCH), 1);
    const size = Math.ceil(argsList.length / parts);
    const jobs: Promise<unknown[]>[] = [];
    for (let i = 0; i < argsList.length; i += size) {
      jobs.push(this._runSpec({ kind: 'call', source: name, fn, batch: { list: argsList, from: i, to: Math.min(argsList.length, i + size) } },
        { ...options, multret: true }));
    }
    return (await Promise.all(jobs)).flat();
  }

  /** Pool statistics: per-state memory/jobs/GC, queue depth, wait/run-time percentiles. */
  stats(): RunStats {
    const n = this.#native.stats();
    return {
      states: n.states,
      queued: n.queued,
      running: n.running,
      suspended: n.suspended,
      overruns: n.overruns,
      replacedStates: n.replacedStates,
      pending: this.#pending.size,
      parallelism: this.#opts.maxWorkers,
      ...this.#stats.summary(),
    };
  }

  /**
   * Rejects queued jobs with CancelledError, waits for running ones, then closes every
   * state. With `{ force: true }` running jobs are interrupted too. Jobs waiting for a host
   * function are cancelled. Later calls fail with RunnerClosedError; calling close() again
   * returns the same promise. Emits 'close' before resolving.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    if (!isPlainObject(options)) return Promise.reject(new TypeError(`close(options) must be an object, got ${describe(options)}`));
    this.#closed = true;
    for (const id of this.#native.takeQueued() as number[]) {
      this.#settleError(id, new CancelledError('runner closed before the job started'));
    }
    // Jobs waiting for a host function would wait for ever: they are cancelled.
    this.#native.cancelSuspended(Kill.Cancelled);
    if (options.force) this.#native.interruptAll(Kill.Cancelled);
    this.#closing = (async () => {
      if (this.#pending.size > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
      await this.#native.close();
      this.emit('close');
    })();
    return this.#closing;
  }

  // ------------------------------------------------------------------------------------

  #newPending(delivery: Delivery, options: JobOptions | undefined, what: string): Pending {
    if (options !== undefined && !isPlainObject(options)) {
      throw new TypeError(`${what}(options): options must be an object, got ${describe(options)}`);
    }
    const o = options ?? {};
    for (const key of Object.keys(o)) {
      if (!JOB_KEYS.has(key)) throw new TypeError(`options.${key} is not a known job option`);
    }
    const base = this.#opts.decode;
    const decode = (o.bytes === undefined && o.tables === undefined && o.strict === undefined) ? base : {
      bytes: o.bytes === undefined ? base.bytes : checkEnum('options.bytes', o.bytes, ['string', 'buffer'] as const),
      tables: o.tables === undefined ? base.tables : checkEnum('options.tables', o.tables, ['auto', 'map'] as const),
      strict: o.strict === undefined ? base.strict : checkBoolean('options.strict', o.strict),
    };
    return {
      delivery,
      ctx: undefined,
      decode,
      multret: o.multret === undefined ? false : checkBoolean('options.multret', o.multret),
      settled: false,
    };
  }

  #submit(spec: JobSpec, options: JobOptions | undefined, p: Pending, throwErrors = false): number {
    const o = options ?? {};
    if (this.#closed) throw new RunnerClosedError();
    if (o.args !== undefined && !Array.isArray(o.args)) throw new TypeError(`options.args must be an array, got ${describe(o.args)}`);
    if (o.env !== undefined && !isPlainObject(o.env) && !(o.env instanceof Map)) {
      throw new TypeError(`options.env must be a plain object or a Map, got ${describe(o.env)}`);
    }
    if (o.name !== undefined && typeof o.name !== 'string') throw new TypeError(`options.name must be a string, got ${describe(o.name)}`);
    const timeoutMs = o.timeoutMs === undefined ? this.#opts.timeoutMs : checkMs('options.timeoutMs', o.timeoutMs);
    const acquireMs = o.acquireTimeoutMs === undefined ? this.#opts.acquireTimeoutMs : checkTimer('options.acquireTimeoutMs', o.acquireTimeoutMs);
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
    }
    const strict = p.decode.strict;
    const id = this.#nextId++;
    const flags = (p.multret ? FLAG_MULTRET : 0) | (p.decode.bytes === 'buffer' ? FLAG_BYTES_AS_BUFFER : 0);
    if (signal?.aborted) {
      // Settled at once, in the job's own delivery mode.
      this.#pending.set(id, p);
      queueMicrotask(() => this.#settleError(id, new CancelledError('job was aborted before it started')));
      return id;
    }
    const args = o.args && o.args.length > 0 ? encodeList(o.args, 'args', strict) : null;
    let queued: boolean;
    const ctx = spec.context;
    const contextKey = ctx ? ctx.key : null;
    const pinned = ctx ? ctx.state : -1;
    if (spec.kind === 'run') {
      // Like Lua's own chunk names: '=...' and '@...' are taken as they are.
      const chunkName = o.name === undefined ? null : /^[=@]/.test(o.name) ? o.name : '@' + o.name;
      // env is encoded after args: both views share one scratch buffer, so copy args first
      const argsCopy = args && o.env !== undefined ? Buffer.from(args) : args;
      const env = o.env === undefined ? null : encodeTable(o.env, 'env', strict);
      queued = this.#native.run(id, spec.source, chunkName, argsCopy, env, flags, timeoutMs, contextKey, pinned);
    } else {
      const batch = spec.batch;
      const encoded = batch ? encodeBatch(batch.list, batch.from, batch.to, strict) : args;
      queued = this.#native.call(id, spec.source, spec.fn, encoded, batch !== undefined, flags, timeoutMs, contextKey, pinned);
    }
    if (!queued) {
      const err = new QueueFullError(`job queue is full (maxQueue ${this.#opts.maxQueue})`);
      if (throwErrors) throw err;
      this.#pending.set(id, p);
      this.#settleError(id, err);
      return id;
    }
    p.context = ctx;
    this.#pending.set(id, p);
    if (signal) {
      p.signal = signal;
      p.onAbort = () => this.#cancel(id, new CancelledError('job was aborted'));
      signal.addEventListener('abort', p.onAbort, { once: true });
    }
    if (acquireMs > 0) {
      p.acquireTimer = setTimeout(() => {
        if (this.#native.cancel(id, Kill.QueuedOnly) === 'dequeued') {
          this.#settleError(id, new AcquireTimeoutError(`waited more than ${acquireMs} ms for a free Lua state`));
        }
      }, acquireMs);
      p.acquireTimer.unref?.();
    }
    return id;
  }

  #cancel(id: number, err: LuapoolError): boolean {
    const p = this.#pending.get(id);
    if (!p || p.settled) return false;
    const r = this.#native.cancel(id, Kill.Cancelled);
    if (r === 'dequeued') {
      this.#settleError(id, err);
      return true;
    }
    return r === 'interrupted';
  }

  // Called by the native side once per finished job (main thread).
  #onComplete = (id: number, status: number, value: unknown, err: unknown[] | undefined,
                 actions: unknown[] | undefined, waitMs: number, runMs: number): void => {
    if (status === -1) {
      this.#onHostCall(id, value as Buffer, err as unknown as number, actions);
      return;
    }
    if (status === -3) {
      // what a long job logged/posted so far, streamed before it ends
      const p = this.#pending.get(id);
      if (p && value) this.#deliverActions(id, p, value as unknown[]);
      return;
    }
    if (status === -2) {
      // Still running long after its deadline: code no interrupt check reaches. Its state
      // is replaced by a fresh one as soon as the job ends.
      this.emit('overrun', { jobId: id, state: value as number, overrunMs: err as unknown as number });
      return;
    }
    const p = this.#pending.get(id);
    if (!p) return;
    this.#stats.record(waitMs, runMs);
    if (actions) this.#deliverActions(id, p, actions);
    if (status === Status.Ok) {
      let result: unknown;
      try {
        result = this.#decodeResult(value, p);
      } catch (e) {
        this.#settleError(id, e as LuapoolError);
        return;
      }
      this.#settleValue(id, result);
      return;
    }
    this.#settleError(id, this.#errorFor(status, err, p));
  };

  // A script called engine.<name>(...): run the host function on this (the main) thread.
  #onHostCall(id: number, argsBuf: Buffer, index: number, actions: unknown[] | undefined): void {
    const p = this.#pending.get(id);
    if (actions && p) this.#deliverActions(id, p, actions);
    const name = this.#hostNames[index];
    if (!p || p.settled) {
      this.#native.answerHost(id, false, `engine.${name}: job is gone`);
      return;
    }
    let result: unknown;
    try {
      const args = decodeList(argsBuf, p.decode, `engine.${name}(args)`);
      result = this.#hostFns[index].apply(this.#opts.hostThis, args);
    } catch (e) {
      this.#answerHostError(id, name, e);
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(
        (v) => this.#answerHostValue(id, name, v),
        (e) => this.#answerHostError(id, name, e));
    } else {
      this.#answerHostValue(id, name, result);
    }
  }

  #answerHostValue(id: number, name: string, value: unknown): void {
    let buf: Buffer;
    try {
      buf = encodeList(value === undefined ? [] : [value], `engine.${name}(): result`);
    } catch (e) {
      this.#answerHostError(id, name, e);
      return;
    }
    this.#native.answerHost(id, true, buf);
  }

  #answerHostError(id: number, name: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.#native.answerHost(id, false, `engine.${name}: ${message}`);
  }

  #decodeResult(value: unknown, p: Pending): unknown {
    if (!Buffer.isBuffer(value)) return p.multret ? (value === undefined ? [] : [value]) : value;
    const list = decodeList(value, p.decode, 'result');
    return p.multret ? list : list[0];
  }

  #errorFor(status: number, err: unknown[] | undefined, p: Pending): LuapoolError {
    const message = (err?.[0] as string) || '';
    switch (status) {
      case Status.LuaError: {
        let value: unknown;
        if (Buffer.isBuffer(err?.[4])) {
          try { value = decodeList(err![4] as Buffer, p.decode, 'error')[0]; } catch { value = undefined; }
        }
        let chunk = (err?.[2] as string) || undefined;
        let line = (err?.[3] as number) > 0 ? (err![3] as number) : undefined;
        // The position the message names (error(msg, level), syntax errors) wins over the
        // innermost frame, so .chunk/.line always agree with what the message says.
        const m = /^(.*?):(\d+): /.exec(message);
        if (m) { chunk = m[1]; line = Number(m[2]); }
        return new LuaError(message, (err?.[1] as string) || message, chunk, line, value);
      }
      case Status.Timeout: return new TimeoutError();
      case Status.MemoryLimit: return new MemoryLimitError(message ? `memory limit exceeded: ${message}` : undefined);
      case Status.Cancelled: return new CancelledError();
      case Status.MarshalError: {
        // native sends the path apart (in the chunk slot) and "path: detail" as the message
        const path = (err?.[2] as string) || '';
        const detail = path && message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
        return new MarshalError(detail, path);
      }
      default: return new LuapoolError(message || 'internal error', 'ERR_INTERNAL');
    }
  }

  #deliverActions(id: number, p: Pending, actions: unknown[]): void {
    const queue = this.#opts.actions;
    for (let i = 0; i < actions.length; i += 3) {
      const type = actions[i] as number;
      const name = actions[i + 1] as string;
      let action: Action;
      if (type === 0) {
        action = { type: 'log', jobId: id, ctx: p.ctx, level: name, message: actions[i + 2] as string };
      } else {
        let data: unknown;
        try {
          data = decodeList(actions[i + 2] as Buffer, p.decode, 'data')[0];
        } catch (e) {
          data = e;
        }
        action = { type: 'post', jobId: id, ctx: p.ctx, name, data };
      }
      if (queue) {
        queue.push(action);
      } else if (action.type === 'log' && this.listenerCount('log') === 0) {
        // Nothing is lost silently: without a queue or a listener, logs go to the console.
        const line = `[luapool:${action.level}] ${action.message}`;
        if (action.level === 'warn' || action.level === 'error') console.warn(line);
        else console.log(line);
      } else {
        this.emit(action.type, action);
      }
    }
  }

  #finish(id: number): Pending | undefined {
    const p = this.#pending.get(id);
    if (!p || p.settled) return undefined;
    p.settled = true;
    this.#pending.delete(id);
    if (p.acquireTimer) clearTimeout(p.acquireTimer);
    if (p.signal && p.onAbort) p.signal.removeEventListener('abort', p.onAbort);
    if (this.#pending.size === 0 && this.#drained) {
      const done = this.#drained;
      this.#drained = undefined;
      queueMicrotask(done);
    }
    return p;
  }

  #settleValue(id: number, value: unknown): void {
    const p = this.#finish(id);
    if (!p) return;
    if (p.delivery === 0) p.resolve!(value);
    else if (p.delivery === 1) invokeCallback(p.callback!, null, value);
    else this.#opts.actions!.push({ type: 'result', jobId: id, ctx: p.ctx, value });
  }

  #settleError(id: number, err: LuapoolError): void {
    const p = this.#finish(id);
    if (!p) return;
    err.jobId = id;
    if (p.delivery === 0) p.reject!(err);
    else if (p.delivery === 1) invokeCallback(p.callback!, err);
    else this.#opts.actions!.push({ type: 'error', jobId: id, ctx: p.ctx, error: err });
  }
}

// A throwing user callback must not stop delivery of other jobs: rethrow it on its own tick.
function invokeCallback(cb: (err: LuapoolError | null, value?: unknown) => void, err: LuapoolError | null, value?: unknown): void {
  try {
    cb(err, value);
  } catch (e) {
    process.nextTick(() => { throw e; });
  }
}
