// ScriptContext: jobs pinned to one state with a persistent environment, run one at a time
// in submission order. Different contexts run in parallel on different states.
import type { EnqueueOptions, JobOptions, JobTable } from './job-table';
import { RunnerClosedError } from './errors';
import { describe } from './options';
import { checkCall, type JobDetails, type Result } from './script-runner';

/**
 * Jobs pinned to one state, run one at a time in submission order, sharing a persistent
 * global environment that other jobs and other contexts do not see. Get one with
 * `runner.context(key)`; different contexts run in parallel on different states.
 *
 * @example
 * const ctx = runner.context('entity:42');
 * await ctx.run('count = (count or 0) + 1; return count');   // 1
 * await ctx.run('count = (count or 0) + 1; return count');   // 2
 */
export class ScriptContext {
  #closed = false;
  readonly #jobs: JobTable;
  readonly #forget: () => void;
  /** The key given to `runner.context(key)`. */
  readonly key: string;
  /** Index of the state this context is pinned to (`0 .. runner.states - 1`). */
  readonly state: number;

  /** @internal */
  constructor(jobs: JobTable, key: string, state: number, forget: () => void) {
    this.#jobs = jobs;
    this.#forget = forget;
    this.key = key;
    this.state = state;
  }

  /**
   * Runs a chunk in this context's environment (globals persist between runs); resolves
   * like `ScriptRunner.run()`. `options.env` values are written into the persistent
   * environment. Rejects with `RunnerClosedError` once the context or runner is closed.
   */
  run<T = unknown>(source: string, options: JobOptions & { details: true }): Promise<JobDetails<Result<T>>>;
  run<T = unknown>(source: string, options?: JobOptions): Promise<Result<T>>;
  run(source: string, options?: JobOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RunnerClosedError(`context '${this.key}' is closed`));
    if (typeof source !== 'string') return Promise.reject(new TypeError(`run(source): source must be a string, got ${describe(source)}`));
    return this.#jobs.promise({ kind: 'run', source, context: this }, options, 'run');
  }

  /**
   * Like `ScriptRunner.enqueue()`, in this context: returns the job id; the outcome goes
   * to `options.callback` or, with `deliver: 'actions'`, to the ActionQueue.
   *
   * @throws {RunnerClosedError} once the context or runner is closed.
   */
  enqueue(source: string, options: EnqueueOptions): number {
    if (this.#closed) throw new RunnerClosedError(`context '${this.key}' is closed`);
    if (typeof source !== 'string') throw new TypeError(`enqueue(source): source must be a string, got ${describe(source)}`);
    return this.#jobs.enqueue({ kind: 'run', source, context: this }, options, 'enqueue');
  }

  /**
   * Calls an exported function of a defined module on this context's state, in this
   * context's order. The function runs in the module's own environment, not in the
   * context's (it does not see the context's globals). Fails like `runner.call()`.
   */
  call<T = unknown>(name: string, fn: string, args: readonly unknown[], options: JobOptions & { details: true }): Promise<JobDetails<Result<T>>>;
  call<T = unknown>(name: string, fn: string, args?: readonly unknown[], options?: JobOptions): Promise<Result<T>>;
  call(name: string, fn: string, args: readonly unknown[] = [], options?: JobOptions): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RunnerClosedError(`context '${this.key}' is closed`));
    const bad = checkCall(this.#jobs, 'call', name, fn, args);
    if (bad) return Promise.reject(bad);
    return this.#jobs.promise({ kind: 'call', module: name, fn, context: this }, { ...options, args }, 'call');
  }

  /**
   * Forgets this context's globals. Queued like a job: jobs submitted before still see the
   * old globals, later ones start empty. Rejects with `QueueFullError` if the queue is full.
   */
  reset(): Promise<void> {
    if (this.#closed) return Promise.reject(new RunnerClosedError(`context '${this.key}' is closed`));
    return this.#jobs.promise({ kind: 'reset', context: this }, undefined, 'reset').then(() => undefined);
  }

  /**
   * Resets the context and releases its key; later calls on this object fail with
   * `RunnerClosedError`, and `runner.context(key)` creates a new, empty context.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    const done = this.reset();
    this.#closed = true;
    this.#forget();
    await done;
  }
}
