// ActionQueue: what scripts send to the main thread, held until the game loop drains it at
// its frame barrier. Nothing reaches user code before drain().
import type { LuapoolError } from './errors';

/** The result of a job enqueued with `deliver: 'actions'`. */
export interface ResultAction {
  /** Discriminant: `'result'`. */
  type: 'result';
  /** Id of the job, as returned by `enqueue()`. */
  jobId: number;
  /** The `ctx` option given to `enqueue()`. */
  ctx: unknown;
  /** The job's value, as `run()` would resolve it (first return value, or all with `multret`). */
  value: unknown;
}
/** The failure of a job enqueued with `deliver: 'actions'`. */
export interface ErrorAction {
  /** Discriminant: `'error'`. */
  type: 'error';
  /** Id of the job, as returned by `enqueue()`. */
  jobId: number;
  /** The `ctx` option given to `enqueue()`. */
  ctx: unknown;
  /** Why the job failed (`LuaError`, `TimeoutError`, `CancelledError`, ...). */
  error: LuapoolError;
}
/** `engine.post(name, data)` / `engine.post_to_main_thread(fn_id, data)`. */
export interface PostAction {
  /** Discriminant: `'post'`. */
  type: 'post';
  /** Id of the job that posted. */
  jobId: number;
  /** The `ctx` option of that job's `enqueue()` (`undefined` for other jobs). */
  ctx: unknown;
  /** The `name` (or `fn_id`) argument; a Lua number arrives as its string form. */
  name: string;
  /**
   * The `data` argument, converted like a job result with the job's options; the
   * `MarshalError` itself when that conversion failed (e.g. under `strict`).
   */
  data: unknown;
}
/** `engine.log(level, ...)`, and `print`/`warn` in sandboxed states. */
export interface LogAction {
  /** Discriminant: `'log'`. */
  type: 'log';
  /** Id of the job that logged. */
  jobId: number;
  /** The `ctx` option of that job's `enqueue()` (`undefined` for other jobs). */
  ctx: unknown;
  /** The level given to `engine.log` (`'info'` for `print`, `'warn'` for `warn`). */
  level: string;
  /** The other arguments, converted with `tostring` and joined (capped at 64 KiB). */
  message: string;
}

/** Anything a script sends to the main thread; switch on `type`. */
export type Action = ResultAction | ErrorAction | PostAction | LogAction;

/**
 * Holds what scripts send to the main thread (posts, logs, and the outcome of jobs
 * enqueued with `deliver: 'actions'`) until the game loop takes it with `drain()` at its
 * frame barrier. Nothing is delivered before `drain()`. Pass it to a runner as the
 * `actions` option.
 *
 * @example
 * const actions = new ActionQueue();
 * const runner = new ScriptRunner({ actions });
 * runner.enqueue('engine.post("moved", { x = 1 }) return 1', { deliver: 'actions', ctx: entity });
 * // once per frame:
 * for (const a of actions.drain()) if (a.type === 'post') apply(a.ctx, a.name, a.data);
 */
export class ActionQueue {
  #items: Action[] = [];

  /** Number of actions waiting. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * Returns the actions that have arrived, in arrival order, and removes them.
   * With `max`, returns at most that many (the rest stay queued, in order).
   *
   * @param max Most actions to return: a number >= 0 (rounded down; `Infinity` allowed).
   * @throws {RangeError} if `max` is negative, `NaN` or not a number.
   */
  drain(max?: number): Action[] {
    if (max !== undefined && (typeof max !== 'number' || !(max >= 0))) {
      throw new RangeError(`drain(max): max must be a non-negative number, got ${String(max)}`);
    }
    if (max === undefined || max >= this.#items.length) {
      const out = this.#items;
      this.#items = [];
      return out;
    }
    return this.#items.splice(0, Math.floor(max));
  }

  /** @internal */
  push(action: Action): void {
    this.#items.push(action);
  }
}
