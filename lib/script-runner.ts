// ScriptRunner: the public pool. A thin facade: it validates arguments, fills defaults and
// delegates to the JobTable (lib/job-table.ts), which owns the jobs' lifecycle.
import { RunnerEmitter } from './events';
import { RunnerClosedError } from './errors';
import { ScriptContext } from './context';
import type { JobFigures } from './job';
import { CallManyOptions, SettledResult, runBatch } from './batch';
import { CallColumnsOptions, Columns, checkColumns, runColumns } from './columns';
import { EnqueueOptions, JobOptions, JobTable, checkName } from './job-table';
import { FilledRunnerOptions, ScriptRunnerOptions, describe, fillRunnerOptions, isPlainObject } from './options';
import type { RunStats } from './stats';
import type { Profile } from './profile';

export type { EnqueueOptions, JobOptions } from './job-table';
export type { CallManyOptions, SettledResult } from './batch';
export type { CallColumnsOptions, Columns } from './columns';

/** What a job resolves with under `details: true`. */
/**
 * What `run<T>()`, `call<T>()` and `callMany<T>()` resolve with: `T`, written so that
 * TypeScript never infers `T` from where the result goes (`const s: string = await
 * runner.run(src)` does not compile: the result is `unknown` unless the caller says `<T>`).
 */
export type Result<T> = [T][T extends unknown ? 0 : never];

export interface JobDetails<T = unknown> extends JobFigures {
  /** What the job resolves with otherwise. */
  value: T;
}

/**
 * A pool of lua_States running Lua jobs off the main thread.
 *
 * Events (an EventEmitter):
 * - `'log'` `(action: LogAction)`: engine.log / print / warn, when no ActionQueue is given
 *   (without a listener either, logs go to the console).
 * - `'post'` `(action: PostAction)`: engine.post, when no ActionQueue is given.
 * - `'overrun'` `({ jobId, state, afterMs })`: a job still running 2 s after its deadline
 *   (code no interrupt check reaches); its state is replaced once no job is open on it.
 * - `'close'` `()`: close() has settled every job and closed every state.
 *
 * @example
 * const runner = new ScriptRunner({ states: 4, timeoutMs: 1000 });
 * await runner.run('local a, b = ...; return a * b', { args: [6, 7] });   // 42
 * await runner.close();
 */
export class ScriptRunner extends RunnerEmitter {
  readonly #opts: FilledRunnerOptions;
  readonly #jobs: JobTable;
  readonly #contexts = new Map<string, ScriptContext>();
  #nextState = 0;

  /**
   * Creates the pool (every state at once). See docs/api.md for every option.
   *
   * @throws {TypeError} an unknown option, or an option of the wrong type.
   * @throws {RangeError} an option out of range (e.g. `states: 0`, `memoryLimit: 10`).
   */
  constructor(options?: ScriptRunnerOptions) {
    super();
    this.#opts = fillRunnerOptions(options);
    this.#jobs = new JobTable(this.#opts, this);
  }

  /** Number of states in the pool (the `states` option or its default). */
  get states(): number {
    return this.#opts.states;
  }

  /** Lua jobs that may run at once (the `threads` option or its default). */
  get parallelism(): number {
    return this.#opts.threads;
  }

  /** Jobs submitted and not yet settled. */
  get pending(): number {
    return this.#jobs.pending;
  }

  /** True once close() was called (before its promise resolves). */
  get closed(): boolean {
    return this.#jobs.closed;
  }

  /**
   * Runs a chunk; resolves with its first return value (all of them with `multret`, the
   * figures too with `details`). Rejects with LuaError, TimeoutError, MemoryLimitError,
   * CancelledError, QueueFullError, AcquireTimeoutError, MarshalError, ExitError,
   * RunnerClosedError, or TypeError/RangeError for a bad argument; never throws.
   */
  run<T = unknown>(source: string, options: JobOptions & { details: true }): Promise<JobDetails<Result<T>>>;
  run<T = unknown>(source: string, options?: JobOptions): Promise<Result<T>>;
  run(source: string, options?: JobOptions): Promise<unknown> {
    if (typeof source !== 'string') return Promise.reject(new TypeError(`run(source): source must be a string, got ${describe(source)}`));
    return this.#jobs.promise({ kind: 'run', source }, options, 'run');
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
  enqueue(source: string, options: EnqueueOptions): number {
    if (typeof source !== 'string') throw new TypeError(`enqueue(source): source must be a string, got ${describe(source)}`);
    return this.#jobs.enqueue({ kind: 'run', source }, options, 'enqueue');
  }

  /**
   * Cancels a job in whatever state it is (queued, running, blocked in or waiting for a
   * host function, sliced out); it settles with CancelledError (a started job first
   * unwinds: its `<close>` variables run). Returns false if the id is unknown or the job
   * has already finished.
   *
   * @throws {TypeError} if `id` is not a number.
   */
  cancel(id: number): boolean {
    if (typeof id !== 'number') throw new TypeError(`cancel(id): id must be a number, got ${describe(id)}`);
    return this.#jobs.cancel(id);
  }

  /**
   * A context: jobs pinned to one state, with a persistent environment, run one at a
   * time in submission order. The same key returns the same object until it is closed.
   *
   * @throws {TypeError} for an empty, non-string or ill-formed key.
   * @throws {RunnerClosedError} after close().
   */
  context(key: string): ScriptContext {
    checkName('context(key): key', key);
    if (key.length === 0) throw new TypeError('context(key): key must be a non-empty string');
    if (this.closed) throw new RunnerClosedError();
    let ctx = this.#contexts.get(key);
    if (!ctx) {
      const state = this.#nextState++ % this.#opts.states;
      ctx = new ScriptContext(this.#jobs, key, state, () => this.#contexts.delete(key));
      this.#contexts.set(key, ctx);
    }
    return ctx;
  }

  /**
   * Defines (or redefines) a named module. For `call()`/`callMany()` its chunk must return
   * a table of functions, run once per state and version; `require(name)` in a job runs
   * it in that job (its return value is what require returns) and finds it before any
   * `modules` source of the same name. Compiled lazily once per state; later calls and
   * requires use the newest version.
   *
   * @throws {LuaError} a syntax error (the previous version stays in force).
   * @throws {TypeError} an empty or ill-formed name, or a non-string source.
   * @throws {RunnerClosedError} after close().
   */
  define(name: string, source: string): void {
    checkName('define(name): name', name);
    if (name.length === 0) throw new TypeError('define(name): name must be a non-empty string');
    if (typeof source !== 'string') throw new TypeError(`define(source): source must be a string, got ${describe(source)}`);
    this.#jobs.define(name, source);
  }

  /**
   * Forgets what the `modules` function answered for `names` (for every name without
   * arguments), misses included: the next `require` of such a name asks the function
   * again. Jobs that already required a module keep what they have; the object form of
   * `modules` is not affected (use `define()` to replace one of its sources).
   *
   * @throws {TypeError} a name that is not a string.
   * @throws {RunnerClosedError} after close().
   */
  invalidateModules(...names: string[]): void {
    for (const [i, name] of names.entries()) checkName(`invalidateModules(names[${i}])`, name);
    if (this.closed) throw new RunnerClosedError();
    this.#jobs.invalidateModules(names);
  }

  /**
   * Calls an exported function of a defined module, on any state; resolves with its first
   * result (all of them with `multret`). `options.env` and `options.name` are not used.
   * Rejects with TypeError if no module `name` is defined.
   */
  call<T = unknown>(name: string, fn: string, args: readonly unknown[], options: JobOptions & { details: true }): Promise<JobDetails<Result<T>>>;
  call<T = unknown>(name: string, fn: string, args?: readonly unknown[], options?: JobOptions): Promise<Result<T>>;
  call(name: string, fn: string, args: readonly unknown[] = [], options?: JobOptions): Promise<unknown> {
    const bad = checkCall(this.#jobs, 'call', name, fn, args);
    if (bad) return Promise.reject(bad);
    return this.#jobs.promise({ kind: 'call', module: name, fn }, { ...options, args }, 'call');
  }

  /**
   * Calls an exported function once per argument list in a few round trips: the list is
   * split across the states and each part runs as one job. Resolves with one result per
   * call, in order (each an array of every returned value with `multret`). A failing call
   * rejects with its error, whose `index` is the failing entry's; with `settled: true`
   * every entry runs and the promise resolves with one `{ status, value | reason }` per
   * entry. `keys` routes entries with the same key to the same state on every call.
   * `timeoutMs` applies to each part, not to each call.
   */
  callMany<T = unknown>(name: string, fn: string, argsList: readonly (readonly unknown[])[],
    options: CallManyOptions & { settled: true }): Promise<SettledResult<Result<T>>[]>;
  callMany<T = unknown>(name: string, fn: string, argsList: readonly (readonly unknown[])[], options?: CallManyOptions): Promise<Result<T>[]>;
  async callMany(name: string, fn: string, argsList: readonly (readonly unknown[])[], options?: CallManyOptions): Promise<unknown[]> {
    const bad = checkCall(this.#jobs, 'callMany', name, fn, []);
    if (bad) throw bad;
    if (!Array.isArray(argsList)) throw new TypeError(`callMany(argsList): argsList must be an array of arrays, got ${describe(argsList)}`);
    for (let i = 0; i < argsList.length; i++) {
      if (!Array.isArray(argsList[i])) throw new TypeError(`callMany(argsList): argsList[${i}] must be an array, got ${describe(argsList[i])}`);
    }
    return runBatch(this.#jobs, this.#opts.threads, this.#opts.states, name, fn, argsList, options);
  }

  /**
   * Calls `fn(e, ...options.args)` of module `name` once per row of typed-array columns,
   * with `e` a row view: `e.x` reads `columns.x[row]`, `e.x = v` writes it (converted to
   * the element type). Nothing is copied and the main thread does no work per row: the
   * arrays are lent to the call until its promise settles (do not write them meanwhile,
   * nor detach their buffers). Rows are split across the states like callMany. Rejects
   * with the first failing part's error, whose `row` is the row it failed on.
   */
  async callColumns(name: string, fn: string, columns: Columns, options?: CallColumnsOptions): Promise<void> {
    const bad = checkCall(this.#jobs, 'callColumns', name, fn, []);
    if (bad) throw bad;
    const checked = checkColumns(columns, options);
    if (this.closed) throw new RunnerClosedError();
    return runColumns(this.#jobs, this.#opts.threads, name, fn, checked);
  }

  /**
   * Publishes `value` to every job as the read-only `engine.shared.<name>`, converted once
   * per state (lazily, when the state's next job starts), not once per call. Sharing the
   * same name again replaces it for jobs submitted afterwards; `undefined` removes it.
   *
   * @throws {TypeError} an empty or ill-formed name.
   * @throws {MarshalError} a value that cannot be converted.
   * @throws {RunnerClosedError} after close().
   */
  share(name: string, value: unknown): void {
    checkName('share(name): name', name);
    if (name.length === 0) throw new TypeError('share(name): name must be a non-empty string');
    this.#jobs.share(name, value);
  }

  /**
   * Starts a profile of the Lua code the runner runs: `sampleHz` times a second (default
   * 1000, 1–10000), the stack of every job running Lua is recorded at its next interrupt
   * check (no hook is installed). `stop()` resolves with the Profile: `.cpuprofile` for
   * Chrome DevTools, VS Code or speedscope, and `summary()`. One profile at a time: a new
   * call restarts the sampling.
   *
   * @throws {TypeError} / {RangeError} for a bad `sampleHz`; {RunnerClosedError} after close().
   */
  profile(options: { sampleHz?: number } = {}): { stop(): Promise<Profile> } {
    if (!isPlainObject(options)) throw new TypeError(`profile(options) must be an object, got ${describe(options)}`);
    const hz = options.sampleHz ?? 1000;
    if (typeof hz !== 'number' || Number.isNaN(hz)) throw new TypeError(`options.sampleHz must be a number, got ${describe(hz)}`);
    if (!Number.isInteger(hz) || hz < 1 || hz > 10000) throw new RangeError(`options.sampleHz must be an integer 1-10000, got ${hz}`);
    if (this.closed) throw new RunnerClosedError();
    const finish = this.#jobs.profile(hz);
    let done: Promise<Profile> | undefined;
    return { stop: () => (done ??= Promise.resolve().then(finish)) };
  }

  /** Pool statistics: per-state memory/jobs/GC, queue depth, wait/run-time percentiles. */
  stats(): RunStats {
    return this.#jobs.stats(this.#opts.threads);
  }

  /**
   * Rejects queued jobs with CancelledError, cancels jobs waiting for a host function,
   * waits for running ones, then closes every state. With `{ force: true }` running jobs
   * are interrupted too. Later calls fail with RunnerClosedError; calling close() again
   * returns the same promise. Emits 'close' before resolving.
   */
  close(options: { force?: boolean } = {}): Promise<void> {
    if (this.closed) return this.#jobs.close(false);
    if (!isPlainObject(options)) return Promise.reject(new TypeError(`close(options) must be an object, got ${describe(options)}`));
    if (options.force !== undefined && typeof options.force !== 'boolean') {
      return Promise.reject(new TypeError(`close(options): options.force must be a boolean, got ${describe(options.force)}`));
    }
    return this.#jobs.close(options.force === true);
  }
}

/** @internal The argument errors of call()/callMany() (shared with ScriptContext.call). */
export function checkCall(jobs: JobTable, what: string, name: unknown, fn: unknown, args: unknown): TypeError | undefined {
  if (typeof name !== 'string') return new TypeError(`${what}(name): name must be a string, got ${describe(name)}`);
  if (!jobs.hasModule(name)) return new TypeError(`${what}(name): no module named ${describe(name)} is defined`);
  if (typeof fn !== 'string' || fn.length === 0) return new TypeError(`${what}(fn): fn must be a non-empty string, got ${describe(fn)}`);
  if (!Array.isArray(args)) return new TypeError(`${what}(args): args must be an array, got ${describe(args)}`);
  return undefined;
}
