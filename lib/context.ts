// ScriptContext: jobs pinned to one state with a persistent environment, run one at a time
// in submission order. Different contexts run in parallel on different states.
import type { EnqueueOptions, JobOptions, ScriptRunner } from './script-runner';
import { RunnerClosedError } from './errors';
import { describe } from './options';

export class ScriptContext {
  #closed = false;

  /** @internal */
  constructor(private readonly runner: ScriptRunner, readonly key: string, readonly state: number) {}

  /** Runs a chunk in this context's environment (globals persist between runs). */
  run(source: string, options?: JobOptions): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (this.#closed) return Promise.reject(new RunnerClosedError(`context '${this.key}' is closed`));
    if (typeof source !== 'string') return Promise.reject(new TypeError(`run(source): source must be a string, got ${describe(source)}`));
    return this.runner._runSpec({ kind: 'run', source, context: this }, options);
  }

  /** Like ScriptRunner.enqueue(), in this context. */
  enqueue(source: string, options: EnqueueOptions = {}): number {
    if (this.#closed) throw new RunnerClosedError(`context '${this.key}' is closed`);
    if (typeof source !== 'string') throw new TypeError(`enqueue(source): source must be a string, got ${describe(source)}`);
    return this.runner._enqueueSpec({ kind: 'run', source, context: this }, options);
  }

  /** Calls an exported function of a defined module, in this context's order. */
  call(name: string, fn: string, args: readonly unknown[] = [], options?: JobOptions): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (this.#closed) return Promise.reject(new RunnerClosedError(`context '${this.key}' is closed`));
    if (!Array.isArray(args)) return Promise.reject(new TypeError(`call(args): args must be an array, got ${describe(args)}`));
    return this.runner._runSpec({ kind: 'call', source: name, fn, context: this }, { ...options, args });
  }

  /** Forgets this context's globals (after the jobs already submitted to it). */
  reset(): Promise<void> {
    if (this.#closed) return Promise.reject(new RunnerClosedError(`context '${this.key}' is closed`));
    return this.runner._resetContext(this);
  }

  /** Resets the context and releases its key; later calls on it fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    const done = this.reset();
    this.#closed = true;
    this.runner._forgetContext(this.key);
    await done;
  }
}
