// The events a ScriptRunner emits, typed: `runner.on('overrun', (info) => …)` knows `info`,
// and a misspelt event name does not compile.
import { EventEmitter } from 'events';
import type { LogAction, PostAction } from './action-queue';

/** `'overrun'`: a job still running long (2 s) after its deadline. */
export interface OverrunInfo {
  /** Id of the job. */
  jobId: number;
  /** Index of its state (replaced by a fresh one once no job is open on it). */
  state: number;
  /** Milliseconds since its deadline passed (about 2000). */
  afterMs: number;
}

/** Every event of a ScriptRunner and the arguments of its listeners. */
export interface ScriptRunnerEvents {
  /** engine.log / print / warn, when the runner has no ActionQueue. */
  log: [action: LogAction];
  /** engine.post, when the runner has no ActionQueue. */
  post: [action: PostAction];
  /** A job still running 2 s after its deadline. */
  overrun: [info: OverrunInfo];
  /** close() has settled every job and closed every state. */
  close: [];
}

type Listener<E, K extends keyof E> = E[K] extends unknown[] ? (...args: E[K]) => void : never;

/** EventEmitter's methods, restricted to the events `E` names. */
export interface TypedEmitter<E> {
  on<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  once<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  off<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  addListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  prependListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  removeListener<K extends keyof E>(event: K, listener: Listener<E, K>): this;
  removeAllListeners(event?: keyof E): this;
  emit<K extends keyof E>(event: K, ...args: E[K] extends unknown[] ? E[K] : never): boolean;
  listenerCount(event: keyof E): number;
  listeners<K extends keyof E>(event: K): Listener<E, K>[];
}

/** An EventEmitter typed for ScriptRunner's events. */
export const RunnerEmitter = EventEmitter as unknown as new () => TypedEmitter<ScriptRunnerEvents>;
