// ActionQueue: what scripts send to the main thread, held until the game loop drains it at
// its frame barrier. Nothing reaches user code before drain().
import type { LuapoolError } from './errors';

/** The result of a job enqueued with `deliver: 'actions'`. */
export interface ResultAction { type: 'result'; jobId: number; ctx: unknown; value: unknown }
/** The failure of a job enqueued with `deliver: 'actions'`. */
export interface ErrorAction { type: 'error'; jobId: number; ctx: unknown; error: LuapoolError }
/** `engine.post(name, data)` / `engine.post_to_main_thread(fn_id, data)`. */
export interface PostAction { type: 'post'; jobId: number; ctx: unknown; name: string; data: unknown }
/** `engine.log(level, ...)`, and `print`/`warn` in sandboxed states. */
export interface LogAction { type: 'log'; jobId: number; ctx: unknown; level: string; message: string }

export type Action = ResultAction | ErrorAction | PostAction | LogAction;

export class ActionQueue {
  #items: Action[] = [];

  /** Number of actions waiting. */
  get size(): number {
    return this.#items.length;
  }

  /**
   * Returns the actions that have arrived, in arrival order, and removes them.
   * With `max`, returns at most that many (the rest stay queued, in order).
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
