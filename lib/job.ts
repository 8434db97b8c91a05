// Job: the JavaScript record of one submitted job. It settles exactly once, in the async
// context of whoever submitted it (host functions and callbacks run there too), clears
// what it holds (its abort listener) and delivers as a promise, a callback or an action.
import { AsyncResource } from 'async_hooks';
import type { ActionQueue } from './action-queue';
import type { LuapoolError } from './errors';
import type { DecodeOptions } from './marshal';

/** How a job's outcome reaches the caller. */
export type Delivery =
  | { kind: 'promise'; resolve: (value: unknown) => void; reject: (err: unknown) => void }
  | { kind: 'callback'; callback: (err: LuapoolError | null, value?: unknown) => void }
  | { kind: 'actions'; queue: ActionQueue };

/** What the native side measured for a job (`details: true` resolves with them). */
export interface JobFigures {
  /** Milliseconds it ran: every slice and every host call included. */
  runMs: number;
  /** Milliseconds from submission to its first step. */
  waitMs: number;
  /** Times its time slice ended and it gave its thread to another job. */
  slices: number;
  /** The highest memory use (bytes) of its state while it ran. */
  peakMemory: number;
}

const NO_FIGURES: JobFigures = { runMs: 0, waitMs: 0, slices: 0, peakMemory: 0 };

/** @internal One submitted job; lives in the JobTable until it settles. */
export class Job extends AsyncResource {
  readonly id: number;
  /** enqueue()'s `ctx`, handed back with the job's actions. */
  readonly ctx: unknown;
  /** How its values are converted back (the runner's defaults and the job's options). */
  readonly decode: DecodeOptions;
  readonly multret: boolean;
  /** Resolve with `{ value, ...figures }`. */
  readonly details: boolean;
  /**
   * Where a failure happened: a batch job maps its call number (0-based in the job) to the
   * index in callMany's argsList; a columns job reports rows as they are.
   */
  entry: { kind: 'batch'; index: (i: number) => number } | { kind: 'columns' } | undefined;
  /** What the job lends to the native side (callColumns' typed arrays), held until it settles. */
  hold: unknown;
  /** call/callMany/callColumns: the module it calls (for the per-module figures of stats()). */
  module: string | undefined;
  readonly #delivery: Delivery;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  #settled = false;

  constructor(id: number, delivery: Delivery, decode: DecodeOptions, multret: boolean, details: boolean, ctx: unknown) {
    super('luapool.Job', { requireManualDestroy: true });
    this.id = id;
    this.#delivery = delivery;
    this.decode = decode;
    this.multret = multret;
    this.details = details;
    this.ctx = ctx;
  }

  get settled(): boolean {
    return this.#settled;
  }

  /** Calls `onAbort` (once) when the signal aborts; the listener goes when the job settles. */
  watch(signal: AbortSignal, onAbort: () => void): void {
    this.#signal = signal;
    this.#onAbort = onAbort;
    signal.addEventListener('abort', onAbort, { once: true });
  }

  /** Runs host code (a host function, a thenable's `then`) in the submitter's async context. */
  run<A extends unknown[], R>(fn: (...args: A) => R, thisArg: unknown, ...args: A): R {
    return this.runInAsyncScope(fn, thisArg, ...args);
  }

  /** Settles the job: the first call wins, later ones return false and do nothing. */
  settle(err: LuapoolError | null, value?: unknown, figures: JobFigures = NO_FIGURES): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    if (this.#signal && this.#onAbort) this.#signal.removeEventListener('abort', this.#onAbort);
    this.#signal = undefined;
    this.#onAbort = undefined;
    this.hold = undefined;
    if (err) {
      err.jobId = this.id;
      err.runMs = figures.runMs;
    } else if (this.details) {
      value = { value, runMs: figures.runMs, waitMs: figures.waitMs, slices: figures.slices, peakMemory: figures.peakMemory };
    }
    this.runInAsyncScope(deliver, this, this.#delivery, err, value);
    this.emitDestroy();
    return true;
  }
}

function deliver(this: Job, d: Delivery, err: LuapoolError | null, value: unknown): void {
  switch (d.kind) {
    case 'promise':
      if (err) d.reject(err);
      else d.resolve(value);
      return;
    case 'callback':
      try {
        if (err) d.callback(err);
        else d.callback(null, value);
      } catch (e) {
        // A throwing user callback must not stop the delivery of other jobs.
        process.nextTick(() => { throw e; });
      }
      return;
    case 'actions':
      d.queue.push(err
        ? { type: 'error', jobId: this.id, ctx: this.ctx, error: err }
        : { type: 'result', jobId: this.id, ctx: this.ctx, value });
  }
}
