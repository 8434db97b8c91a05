// JobTable: the JavaScript half of the job lifecycle. It validates a job's options, encodes
// its values and submits it; it keeps one Job record per submitted job until the native
// side delivers that job's completion, runs host functions for it, streams its actions,
// and settles it exactly once. The native half (native/scheduler.hpp) owns the rest.
import type { ScriptRunnerEvents, TypedEmitter } from './events';
import type { Action } from './action-queue';
import {
  AcquireTimeoutError, CancelledError, ExitError, LuaError, LuapoolError, MarshalError, MemoryLimitError,
  QueueFullError, RunnerClosedError, TimeoutError,
} from './errors';
import { Delivery, Job, JobFigures } from './job';
import { DecodeOptions, decodeList, encodeBatch, encodeList, encodeTable } from './marshal';
import {
  BatchMode, binding, ColumnArray, DoneRecord, HostRecord, Kill, MODULE_LOOKUP, NativeActions, NativeDelivery,
  NativeJobRequest, NativeRunner, Status, submitJob, unpackDone,
} from './native';
import {
  AbortSignalLike, FilledRunnerOptions, checkBoolean, checkEnum, checkMs, checkTimer, describe, isPlainObject, moduleSource,
} from './options';
import { Profile } from './profile';
import { RunStats, StatsWindow } from './stats';

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
   * Time budget in milliseconds of running time (host-call time included, time spent
   * waiting for a thread not); overrides the runner's `timeoutMs`. 0 = none.
   */
  timeoutMs?: number;
  /** Cancels the job (CancelledError) when aborted, in whatever state it is. */
  signal?: AbortSignalLike;
  /** How long this job may wait to start; overrides the runner's `acquireTimeoutMs`. */
  acquireTimeoutMs?: number;
  /**
   * Fair-sharing group (e.g. a tenant id): runnable jobs take turns round-robin across
   * groups, in submission order within one. Default: the runner's one default group.
   */
  group?: string;
  /** Resolve with `{ value, runMs, waitMs, slices, peakMemory }` instead of the value. */
  details?: boolean;
  /** How Lua strings come back: 'string' (UTF-8) or 'buffer' (bytes); overrides the runner's. */
  bytes?: DecodeOptions['bytes'];
  /** How Lua tables come back: 'auto' (arrays and objects) or 'map' (Maps); overrides the runner's. */
  tables?: DecodeOptions['tables'];
  /** Refuse lossy conversions with MarshalError; overrides the runner's. */
  strict?: boolean;
}

/** Options of `enqueue()`: a job delivered by callback or through the ActionQueue. */
export type EnqueueOptions = JobOptions & {
  /** Your value, handed back as `ctx` of this job's actions (an entity, a request...). */
  ctx?: unknown;
} & (
  | {
    /** Called on the main thread with `(null, value)` or `(error)`. */
    callback: (err: LuapoolError | null, value?: unknown) => void;
    deliver?: undefined;
  }
  | {
    /** `'actions'`: the result arrives in the runner's ActionQueue as a 'result' or 'error' action. */
    deliver: 'actions';
    callback?: undefined;
  }
);

/** @internal What to run: a chunk, a module function (or a batch of calls, or rows of columns), a context reset. */
export interface JobSpec {
  kind: 'run' | 'call' | 'columns' | 'reset';
  /** run: the chunk. */
  source?: string;
  /** call: the module and its exported function. */
  module?: string;
  fn?: string;
  /**
   * callMany: this job's slice of the argument lists, how its results come back, and the
   * index in the caller's argsList of each of its calls (0-based in the slice).
   */
  batch?: { list: readonly (readonly unknown[])[]; from: number; to: number; mode: BatchMode; index: (i: number) => number };
  /** callColumns: the arrays lent to this job and its rows. */
  columns?: { arrays: readonly ColumnArray[]; names: readonly string[]; readonly: readonly boolean[]; layout: string; first: number; count: number };
  /** The context the job belongs to, if any. */
  context?: { key: string; state: number };
  /** The state the job must run on (callMany's keys); contexts give theirs. */
  state?: number;
}

const JOB_KEYS = new Set(['args', 'env', 'name', 'multret', 'timeoutMs', 'signal', 'acquireTimeoutMs', 'group',
  'details', 'bytes', 'tables', 'strict', 'ctx', 'deliver', 'callback']);

/** @internal Refuses strings that are not well-formed Unicode (they would not stay distinct as UTF-8). */
export function checkName(name: string, v: unknown): string {
  if (typeof v !== 'string') throw new TypeError(`${name} must be a string, got ${describe(v)}`);
  if (!(v as unknown as { isWellFormed(): boolean }).isWellFormed()) throw new TypeError(`${name} must be well-formed Unicode (it has a lone surrogate)`);
  return v;
}

/** Misses of the `modules` function kept at most (docs/api.md, the modules option). */
const MAX_CACHED_MISSES = 4096;

/** What the `modules` function said about a name, or its pending answer. */
interface ModuleAnswer {
  value?: string | Buffer | null;
  pending?: Promise<void>;
}

/** @internal */
export class JobTable {
  readonly #opts: FilledRunnerOptions;
  readonly #events: TypedEmitter<ScriptRunnerEvents>;
  readonly #native: NativeRunner;
  readonly #jobs = new Map<number, Job>();
  readonly #modules = new Map<string, number>();
  readonly #stats = new StatsWindow();
  readonly #hostNames: string[];
  readonly #hostFns: ((...args: unknown[]) => unknown)[];
  // Held here, weakly by the native side: an idle runner that nobody references is collected.
  readonly #onDeliver = (records: NativeDelivery[], done: Float64Array, doneExtras: unknown[]): void => {
    if (done.length > 0) unpackDone(done, doneExtras, records);
    this.#deliver(records);
  };
  // The `modules` function's answers by name (null: no such module), or its pending
  // Promise: it is asked at most once per name until invalidateModules().
  readonly #moduleAnswers = new Map<string, ModuleAnswer>();
  // The names answered with "no such module" (with their bytes, the native catalog's key):
  // a script can ask for any number of names, so at most MAX_CACHED_MISSES stay cached.
  readonly #moduleMisses = new Map<string, Buffer>();
  #nextId = 1;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(opts: FilledRunnerOptions, events: TypedEmitter<ScriptRunnerEvents>) {
    this.#opts = opts;
    this.#events = events;
    this.#hostNames = Object.keys(opts.host);
    this.#hostFns = Object.values(opts.host);
    this.#native = new binding.NativeRunner({
      states: opts.states,
      threads: opts.threads,
      sliceMs: opts.sliceMs,
      maxQueue: opts.maxQueue,
      trusted: opts.trusted,
      libs: opts.libs,
      memoryLimit: opts.memoryLimit,
      gcEveryJobs: opts.gcEveryJobs,
      gcEveryBytes: opts.gcEveryBytes,
      generationalGc: opts.generationalGc,
      chunkCacheSize: opts.chunkCacheSize,
      hostFunctions: this.#hostNames,
      sandboxLibs: opts.sandboxLibs,
      modulesFunction: opts.modules !== undefined && 'fn' in opts.modules,
    }, this.#onDeliver);
    if (opts.modules !== undefined && 'sources' in opts.modules) {
      for (const [name, source] of opts.modules.sources) this.#native.setModule(name, source, false);
    }
  }

  /** Jobs submitted and not yet settled. */
  get pending(): number {
    return this.#jobs.size;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  // --- submission --------------------------------------------------------------------

  /** Runs a job and returns its promise; never throws (bad input rejects). */
  promise(spec: JobSpec, options: JobOptions | undefined, what: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    return new Promise((resolve, reject) => {
      try {
        this.submit(spec, options, { kind: 'promise', resolve, reject }, what);
      } catch (e) {
        reject(e);
      }
    });
  }

  /** Queues a job delivered by callback or as an action; returns its id (throws on bad input). */
  enqueue(spec: JobSpec, options: EnqueueOptions | undefined, what: string): number {
    if (options === undefined) options = {} as EnqueueOptions;
    if (!isPlainObject(options)) throw new TypeError(`${what}(options): options must be an object, got ${describe(options)}`);
    const { callback, deliver } = options as { callback?: unknown; deliver?: unknown };
    if (callback !== undefined && typeof callback !== 'function') {
      throw new TypeError(`options.callback must be a function, got ${describe(callback)}`);
    }
    if (deliver !== undefined && deliver !== 'actions') {
      throw new TypeError(`options.deliver must be 'actions', got ${describe(deliver)}`);
    }
    if ((callback !== undefined) === (deliver === 'actions')) {
      throw new TypeError(`${what}() needs exactly one of options.callback or options.deliver: 'actions'`);
    }
    let delivery: Delivery;
    if (callback !== undefined) {
      delivery = { kind: 'callback', callback: callback as (err: LuapoolError | null, value?: unknown) => void };
    } else {
      if (this.#opts.actions === undefined) {
        throw new TypeError("options.deliver: 'actions' needs an ActionQueue (new ScriptRunner({ actions }))");
      }
      delivery = { kind: 'actions', queue: this.#opts.actions };
    }
    return this.submit(spec, options, delivery, what, options.ctx, true).id;
  }

  /**
   * Validates the job's options, encodes its values and submits it. Throws for bad input
   * and a closed runner; a full queue throws when `throwQueueFull`, else settles the job.
   */
  submit(spec: JobSpec, options: JobOptions | undefined, delivery: Delivery, what: string, ctx?: unknown,
    throwQueueFull = false): Job {
    if (options !== undefined && !isPlainObject(options)) {
      throw new TypeError(`${what}(options): options must be an object, got ${describe(options)}`);
    }
    const o = options ?? {};
    for (const key of Object.keys(o)) {
      if (!JOB_KEYS.has(key)) throw new TypeError(`options.${key} is not a known job option`);
    }
    if (this.closed) throw new RunnerClosedError();
    const base = this.#opts.decode;
    const decode = (o.bytes === undefined && o.tables === undefined && o.strict === undefined) ? base : {
      bytes: o.bytes === undefined ? base.bytes : checkEnum('options.bytes', o.bytes, ['string', 'buffer'] as const),
      tables: o.tables === undefined ? base.tables : checkEnum('options.tables', o.tables, ['auto', 'map'] as const),
      strict: o.strict === undefined ? base.strict : checkBoolean('options.strict', o.strict),
    };
    const multret = o.multret === undefined ? false : checkBoolean('options.multret', o.multret);
    const details = o.details === undefined ? false : checkBoolean('options.details', o.details);
    if (o.args !== undefined && !Array.isArray(o.args)) throw new TypeError(`options.args must be an array, got ${describe(o.args)}`);
    if (o.env !== undefined && !isPlainObject(o.env) && !(o.env instanceof Map)) {
      throw new TypeError(`options.env must be a plain object or a Map, got ${describe(o.env)}`);
    }
    if (o.name !== undefined && typeof o.name !== 'string') throw new TypeError(`options.name must be a string, got ${describe(o.name)}`);
    const group = o.group === undefined ? undefined : checkName('options.group', o.group);
    const timeoutMs = o.timeoutMs === undefined ? this.#opts.timeoutMs : checkMs('options.timeoutMs', o.timeoutMs);
    const acquireTimeoutMs = o.acquireTimeoutMs === undefined ? this.#opts.acquireTimeoutMs
      : checkTimer('options.acquireTimeoutMs', o.acquireTimeoutMs);
    const signal = o.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
    }
    const id = this.#nextId++;
    const job = new Job(id, delivery, decode, multret, details, ctx);
    if (spec.kind !== 'run' && spec.kind !== 'reset') job.module = spec.module;
    if (signal?.aborted) {
      // Settled at once, in the job's own delivery mode; nothing reaches the native side.
      this.#jobs.set(id, job);
      queueMicrotask(() => this.#settleLocally(job, new CancelledError('job was aborted before it started')));
      return job;
    }
    const request: NativeJobRequest = {
      id, kind: spec.kind === 'call' && spec.batch ? 'batch' : spec.kind, multret,
      bytesAsBuffer: decode.bytes === 'buffer', timeoutMs, acquireTimeoutMs,
      state: spec.context ? spec.context.state : spec.state ?? -1,
    };
    if (spec.context) request.context = spec.context.key;
    if (group !== undefined) request.group = group;
    if (spec.kind === 'run') {
      request.source = spec.source;
      // Like Lua's own chunk names: '=...' and '@...' are taken as they are.
      if (o.name !== undefined) request.chunkName = /^[=@]/.test(o.name) ? o.name : '@' + o.name;
      // args are copied out of the shared scratch buffer before env is encoded into it
      const args = o.args && o.args.length > 0 ? encodeList(o.args, 'args', decode.strict) : null;
      request.args = args && o.env !== undefined ? Buffer.from(args) : args;
      request.env = o.env === undefined ? null : encodeTable(o.env, 'env', decode.strict);
    } else if (spec.kind === 'call') {
      request.module = spec.module;
      request.fn = spec.fn;
      const b = spec.batch;
      request.args = b ? encodeBatch(b.list, b.from, b.to, decode.strict)
        : o.args && o.args.length > 0 ? encodeList(o.args, 'args', decode.strict) : null;
      if (b) {
        request.mode = b.mode;
        job.entry = { kind: 'batch', index: b.index };
      }
    } else if (spec.kind === 'columns') {
      const c = spec.columns!;
      request.module = spec.module;
      request.fn = spec.fn;
      request.columns = c.arrays;
      request.names = c.names;
      request.readonly = c.readonly;
      request.first = c.first;
      request.count = c.count;
      request.layout = c.layout;
      request.args = o.args && o.args.length > 0 ? encodeList(o.args, 'args', decode.strict) : null;
      job.entry = { kind: 'columns' };
      job.hold = c.arrays; // the arrays stay alive until the job settles
    }
    if (!submitJob(this.#native, request)) {
      const err = new QueueFullError(`job queue is full (maxQueue ${this.#opts.maxQueue})`);
      if (throwQueueFull) throw err;
      this.#jobs.set(id, job);
      this.#settleLocally(job, err);
      return job;
    }
    this.#jobs.set(id, job);
    if (signal) job.watch(signal, () => this.#native.cancel(id, Kill.Cancelled));
    return job;
  }

  /** Interrupts or dequeues the job; false if it is unknown or has finished. */
  cancel(id: number): boolean {
    const job = this.#jobs.get(id);
    if (!job || job.settled) return false;
    return this.#native.cancel(id, Kill.Cancelled) !== undefined;
  }

  // --- modules ---------------------------------------------------------------------

  /** Defines or redefines a module; throws LuaError for a syntax error (the old version stays). */
  define(name: string, source: string): void {
    if (this.closed) throw new RunnerClosedError();
    const syntaxError = this.#native.checkSyntax(source, '@' + name);
    if (syntaxError !== undefined) {
      const m = /^(.*?):(\d+): /.exec(syntaxError);
      throw new LuaError(syntaxError, syntaxError, m ? m[1] : name, m ? Number(m[2]) : undefined);
    }
    const version = (this.#modules.get(name) ?? 0) + 1;
    this.#native.define(name, version, source);
    this.#modules.set(name, version);
  }

  /** Publishes engine.shared.<name> for the jobs submitted from now on (undefined: removes it). */
  share(name: string, value: unknown): void {
    if (this.closed) throw new RunnerClosedError();
    // one value (any type) as a one-value tree; paths read like engine.shared's: shared.world.nests[2]
    const root = /^[A-Za-z_][\w]*$/.test(name) ? `shared.${name}` : `shared[${JSON.stringify(name)}]`;
    this.#native.share(name, value === undefined ? undefined : encodeTable(value as object, root, this.#opts.decode.strict));
  }

  hasModule(name: unknown): boolean {
    return typeof name === 'string' && this.#modules.has(name);
  }

  /** Forgets the `modules` function's answers (for `names`, or all): the next require asks again. */
  invalidateModules(names: readonly string[]): void {
    if (names.length === 0) {
      this.#moduleAnswers.clear();
      this.#moduleMisses.clear();
      this.#native.forgetModules();
    } else {
      for (const name of names) {
        this.#moduleAnswers.delete(name);
        this.#moduleMisses.delete(name);
      }
      this.#native.forgetModules([...names]);
    }
  }

  // --- closing and stats -----------------------------------------------------------

  /** Settles queued jobs, cancels jobs waiting for the host (all started ones with force), then closes the states. */
  close(force: boolean): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#native.closeJobs(force);
    this.#closing = (async () => {
      if (this.#jobs.size > 0) await new Promise<void>((resolve) => { this.#drained = resolve; });
      await this.#native.closeStates();
      this.#events.emit('close');
    })();
    return this.#closing;
  }

  /** Starts sampling stacks; returns what stops it. */
  profile(hz: number): () => Profile {
    const startUs = Number(process.hrtime.bigint() / 1000n);
    this.#native.profileStart(hz);
    return () => new Profile(this.#native.profileStop(), startUs, Number(process.hrtime.bigint() / 1000n));
  }

  stats(parallelism: number): RunStats {
    const n = this.#native.stats();
    return { ...n, pending: this.#jobs.size, parallelism, ...this.#stats.summary() };
  }

  // --- deliveries (main thread, from the native side) -----------------------------

  #deliver(records: NativeDelivery[]): void {
    let failure: unknown;
    for (const r of records) {
      try {
        switch (r.kind) {
          case 'done': this.#onDone(r); break;
          case 'host': this.#onHostCall(r); break;
          case 'actions': {
            const job = this.#jobs.get(r.id);
            if (job) this.#deliverActions(job, r.actions);
            break;
          }
          case 'overrun':
            this.#events.emit('overrun', { jobId: r.id, state: r.state, afterMs: r.afterMs });
            break;
        }
      } catch (e) {
        failure ??= { e }; // a throwing event listener: the other records are still delivered
      }
    }
    if (failure) throw (failure as { e: unknown }).e;
  }

  #onDone(r: DoneRecord): void {
    const job = this.#jobs.get(r.id);
    if (!job) return;
    this.#jobs.delete(r.id);
    this.#stats.record(r.waitMs, r.runMs);
    if (job.module !== undefined) this.#stats.recordModule(job.module, r.runMs, r.status !== Status.Ok);
    if (r.actions) this.#deliverActions(job, r.actions);
    const figures: JobFigures = { runMs: r.runMs, waitMs: r.waitMs, slices: r.slices, peakMemory: r.peakMemory };
    if (r.status === Status.Ok) {
      let value: unknown;
      try {
        value = decodeResult(r.value, job);
      } catch (e) {
        job.settle(e as LuapoolError, undefined, figures);
        this.#checkDrained();
        return;
      }
      job.settle(null, value, figures);
    } else {
      job.settle(errorFor(r, job), undefined, figures);
    }
    this.#checkDrained();
  }

  #settleLocally(job: Job, err: LuapoolError): void {
    this.#jobs.delete(job.id);
    job.settle(err);
    this.#checkDrained();
  }

  #checkDrained(): void {
    if (this.#jobs.size === 0 && this.#drained) {
      const done = this.#drained;
      this.#drained = undefined;
      queueMicrotask(done);
    }
  }

  // A script called engine.<name>(...): run the host function on this (the main) thread, in
  // the submitter's async context, and answer exactly once whatever it returns or throws.
  #onHostCall(r: HostRecord): void {
    const job = this.#jobs.get(r.id);
    if (job && r.actions) this.#deliverActions(job, r.actions);
    if (r.fn === MODULE_LOOKUP) {
      this.#onModuleLookup(r, job);
      return;
    }
    const name = this.#hostNames[r.fn];
    if (!job || job.settled) {
      this.#native.answerHost(r.id, false, `engine.${name}: job is gone`);
      return;
    }
    let answered = false; // a thenable may call back twice, or after throwing
    const answer = (ok: boolean, data: Buffer | string): void => {
      if (answered) return;
      answered = true;
      this.#native.answerHost(r.id, ok, data);
    };
    const fail = (e: unknown): void => answer(false, `engine.${name}: ${messageOf(e)}`);
    const succeed = (value: unknown): void => {
      let buf: Buffer;
      try {
        buf = encodeList(value === undefined ? [] : [value], `engine.${name}(): result`);
      } catch (e) {
        fail(e);
        return;
      }
      answer(true, buf);
    };
    job.run(() => {
      let result: unknown;
      let then: unknown;
      try {
        const args = decodeList(r.args, job.decode, `engine.${name}(args)`);
        result = this.#hostFns[r.fn].apply(this.#opts.hostThis, args);
        // a getter, a revoked Proxy: reading `then` may throw too
        then = result !== null && (typeof result === 'object' || typeof result === 'function')
          ? (result as { then?: unknown }).then : undefined;
      } catch (e) {
        fail(e);
        return;
      }
      if (typeof then !== 'function') {
        succeed(result);
        return;
      }
      try {
        then.call(result, (v: unknown) => job.run(succeed, undefined, v), (e: unknown) => job.run(fail, undefined, e));
      } catch (e) {
        fail(e);
      }
    }, undefined);
  }

  // require(name) found no define()d module and the `modules` function was never asked
  // about `name`: ask it (once per name: concurrent lookups share one answer), put the
  // answer into the native catalog, where every state finds it from now on, then wake the job.
  #onModuleLookup(r: HostRecord, job: Job | undefined): void {
    const name = r.args.toString('utf8');
    const fn = this.#opts.modules !== undefined && 'fn' in this.#opts.modules ? this.#opts.modules.fn : undefined;
    if (!job || job.settled || !fn) {
      this.#native.answerHost(r.id, false, 'require: job is gone');
      return;
    }
    const answered = (): void => { this.#native.answerHost(r.id, true, ''); };
    const fail = (e: unknown): void => {
      this.#native.answerHost(r.id, false, `options.modules('${name}'): ${messageOf(e)}`);
    };
    const known = this.#moduleAnswers.get(name);
    if (known !== undefined) {
      // asked already: answered meanwhile (this lookup left before the catalog knew), or pending
      if (known.pending) known.pending.then(answered, fail);
      else answered();
      return;
    }
    const entry: ModuleAnswer = {};
    this.#moduleAnswers.set(name, entry);
    const current = (): boolean => this.#moduleAnswers.get(name) === entry; // not invalidated meanwhile
    const settle = (value: unknown): void => {
      const source = value === undefined || value === null ? null : moduleSource(value);
      if (source === undefined) throw new TypeError(`must return a string, a Buffer or undefined, got ${describe(value)}`);
      if (!current()) return;
      entry.pending = undefined;
      entry.value = source;
      if (source === null) this.#cacheMiss(name, r.args);
      this.#native.setModule(r.args, source, true);
    };
    const forget = (e: unknown): never => {
      if (current()) this.#moduleAnswers.delete(name); // errors are not cached
      throw e;
    };
    job.run(() => {
      let result: unknown;
      let then: unknown;
      try {
        result = fn(name);
        then = result !== null && (typeof result === 'object' || typeof result === 'function')
          ? (result as { then?: unknown }).then : undefined;
        if (typeof then !== 'function') {
          settle(result);
          answered();
          return;
        }
      } catch (e) {
        if (current()) this.#moduleAnswers.delete(name);
        fail(e);
        return;
      }
      entry.pending = new Promise<unknown>((resolve, reject) => {
        (then as (ok: (v: unknown) => void, no: (e: unknown) => void) => void).call(result, resolve, reject);
      }).then(settle).catch(forget);
      entry.pending.then(answered, fail);
    }, undefined);
  }

  #cacheMiss(name: string, bytes: Buffer): void {
    if (this.#moduleMisses.size >= MAX_CACHED_MISSES) {
      // forget the misses cached so far (they are asked again when required again)
      for (const miss of this.#moduleMisses.keys()) this.#moduleAnswers.delete(miss);
      this.#native.forgetModules([...this.#moduleMisses.values()]);
      this.#moduleMisses.clear();
    }
    this.#moduleMisses.set(name, bytes);
  }

  #deliverActions(job: Job, actions: NativeActions): void {
    const queue = this.#opts.actions;
    for (let i = 0; i < actions.length; i += 3) {
      const type = actions[i] as number;
      const name = actions[i + 1] as string;
      let action: Action;
      if (type === 0) {
        action = { type: 'log', jobId: job.id, ctx: job.ctx, level: name, message: actions[i + 2] as string };
      } else {
        let data: unknown;
        try {
          data = decodeList(actions[i + 2] as Buffer, job.decode, 'data')[0];
        } catch (e) {
          data = e;
        }
        action = { type: 'post', jobId: job.id, ctx: job.ctx, name, data };
      }
      if (queue) {
        queue.push(action);
      } else if (action.type === 'log' && this.#events.listenerCount('log') === 0) {
        // Nothing is lost silently: without a queue or a listener, logs go to the console.
        const line = `[luapool:${action.level}] ${action.message}`;
        if (action.level === 'warn' || action.level === 'error') console.warn(line);
        else console.log(line);
      } else {
        if (action.type === 'post') this.#events.emit('post', action);
        else this.#events.emit('log', action);
      }
    }
  }
}

// What a thrown value says, even when it is a revoked Proxy or has a throwing toString.
function messageOf(e: unknown): string {
  try {
    return e instanceof Error ? String(e.message) : String(e);
  } catch {
    return 'the host function failed with a value that cannot be described';
  }
}

function decodeResult(value: unknown, job: Job): unknown {
  if (!Buffer.isBuffer(value)) return job.multret ? (value === undefined ? [] : [value]) : value;
  const list = decodeList(value, job.decode, 'result');
  return job.multret ? list : list[0];
}

/** @internal A LuaError as the runner builds it: the position the message names wins. */
export function luaError(message: string, traceback: string, chunk?: string, line?: number, value?: unknown): LuaError {
  // The position the message names (error(msg, level), syntax errors) wins over the
  // innermost frame, so .chunk/.line always agree with what the message says.
  const m = /^(.*?):(\d+): /.exec(message);
  if (m) { chunk = m[1]; line = Number(m[2]); }
  return new LuaError(message, traceback || message, chunk || undefined, line, value);
}

/** @internal Rewrites a batch result path (`result[i]…`, i in the job) to argsList's index. */
export function batchPath(path: string, index: number): string {
  return path.replace(/^result\[\d+\]/, `result[${index}]`);
}

function errorFor(r: DoneRecord, job: Job): LuapoolError {
  const err = r.error;
  const message = err?.message ?? '';
  const at = err?.index;
  const entry = job.entry;
  let e: LuapoolError;
  switch (r.status) {
    case Status.LuaError: {
      let value: unknown;
      if (err?.value) {
        try { value = decodeList(err.value, job.decode, 'error')[0]; } catch { value = undefined; }
      }
      // a columns call names its row (the row view's own errors already do)
      const text = entry?.kind === 'columns' && at !== undefined && !message.includes(`(row ${at})`)
        ? `${message} (row ${at})` : message;
      e = luaError(text, err?.traceback || text, err?.chunk, err && err.line > 0 ? err.line : undefined, value);
      break;
    }
    case Status.Timeout: e = new TimeoutError(); break;
    case Status.MemoryLimit: e = new MemoryLimitError(message ? `memory limit exceeded: ${message}` : undefined); break;
    case Status.Cancelled: e = new CancelledError(message || undefined); break;
    case Status.AcquireTimeout:
      e = new AcquireTimeoutError(`waited ${Math.round(r.waitMs)} ms without starting (acquireTimeoutMs)`);
      break;
    case Status.Exit: e = new ExitError(r.exitCode ?? 0); break;
    case Status.MarshalError: {
      // native sends the path apart (in the chunk slot) and "path: detail" as the message
      let path = err?.chunk || '';
      const detail = path && message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
      if (entry?.kind === 'batch' && at !== undefined) path = batchPath(path, entry.index(at));
      e = new MarshalError(detail, path);
      break;
    }
    default: e = new LuapoolError(message || 'internal error', 'ERR_INTERNAL');
  }
  if (at !== undefined && at >= 0) {
    if (entry?.kind === 'batch') e.index = entry.index(at);
    else if (entry?.kind === 'columns') e.row = at;
  }
  return e;
}
