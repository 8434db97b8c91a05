// Error classes: every failure of a job maps to one of these, each with a stable `code`.

/**
 * Base class of every error a job can fail with. Test with `instanceof` or `code`.
 * An unexpected internal failure is a plain `LuapoolError` with code `ERR_INTERNAL`.
 */
export class LuapoolError extends Error {
  /** Stable machine-readable code, e.g. `ERR_LUA`. */
  readonly code: string;
  /** Id of the job that failed; set when the error settles a job. */
  jobId?: number;
  /**
   * Milliseconds the job ran before it failed (every slice and host call included; 0 if it
   * never started); set when the error settles a job.
   */
  runMs?: number;
  /**
   * `callMany()`: the index in `argsList` of the call that failed (or was running when the
   * part failed), when known.
   */
  index?: number;
  /** `callColumns()`: the row the call was on when it failed, when known. */
  row?: number;

  /** @param code the stable `code`, e.g. `'ERR_LUA'`. */
  constructor(message: string, code: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * `ERR_LUA`: the script raised an error (or failed to compile). Also thrown by
 * `define()` for a syntax error.
 */
export class LuaError extends LuapoolError {
  /** The message, then Lua's `stack traceback:` of the failed coroutine (also used as `stack`). */
  readonly traceback: string;
  /** Chunk name of the innermost Lua frame (`ai/orc.lua`, `[string "..."]`). */
  readonly chunk?: string;
  /**
   * Current line in that frame, when known: where `error()` was called (with
   * `error(msg, 2)` the message names the caller's line instead).
   */
  readonly line?: number;
  /**
   * The original error value when it was not a string (a table, a number, a boolean),
   * converted like a result; `undefined` for `error(nil)` or when it cannot be converted.
   */
  readonly value?: unknown;

  /** Built by the runner from what the native side reports. */
  constructor(message: string, traceback = '', chunk?: string, line?: number, value?: unknown) {
    super(message, 'ERR_LUA');
    this.traceback = traceback;
    this.chunk = chunk;
    this.line = line;
    this.value = value;
    if (traceback) this.stack = `${this.name}: ${traceback}`;
  }
}

/**
 * `ERR_TIMEOUT`: the job ran past its `timeoutMs` budget (counted from its start,
 * including time in host functions) and was interrupted; its state is reused.
 */
export class TimeoutError extends LuapoolError {
  /** @param message default `'script timed out'`. */
  constructor(message = 'script timed out') {
    super(message, 'ERR_TIMEOUT');
  }
}

/**
 * `ERR_MEMORY_LIMIT`: the job's state hit `memoryLimit` (even if the script caught the
 * memory error); the state is fully collected and reused.
 */
export class MemoryLimitError extends LuapoolError {
  /** @param message default `'script exceeded the memory limit'`. */
  constructor(message = 'script exceeded the memory limit') {
    super(message, 'ERR_MEMORY_LIMIT');
  }
}

/** `ERR_CANCELLED`: the job was cancelled (`cancel()`, an AbortSignal, or `close()`). */
export class CancelledError extends LuapoolError {
  /** @param message default `'job was cancelled'`. */
  constructor(message = 'job was cancelled') {
    super(message, 'ERR_CANCELLED');
  }
}

/**
 * `ERR_EXIT`: a trusted script (`libs: 'all'`) called `os.exit(code)`. The job ends (its
 * state is reused); the process does not. The command line exits with `exitCode`.
 */
export class ExitError extends LuapoolError {
  /** The code given to `os.exit`: `true` (or none) is 0, `false` is 1. */
  readonly exitCode: number;

  /** @param exitCode the code given to os.exit. */
  constructor(exitCode = 0, message = `script called os.exit(${exitCode})`) {
    super(message, 'ERR_EXIT');
    this.exitCode = exitCode;
  }
}

/**
 * `ERR_QUEUE_FULL`: the queue already held `maxQueue` jobs. `run()`/`call()` reject with
 * it, `enqueue()` throws it.
 */
export class QueueFullError extends LuapoolError {
  /** @param message default `'job queue is full'`. */
  constructor(message = 'job queue is full') {
    super(message, 'ERR_QUEUE_FULL');
  }
}

/**
 * `ERR_ACQUIRE_TIMEOUT`: the job waited longer than `acquireTimeoutMs` to start (for a
 * free thread and state); it was removed from the queue and never ran.
 */
export class AcquireTimeoutError extends LuapoolError {
  /** @param message default `'timed out waiting for a free Lua state'`. */
  constructor(message = 'timed out waiting for a free Lua state') {
    super(message, 'ERR_ACQUIRE_TIMEOUT');
  }
}

/**
 * `ERR_MARSHAL`: a value could not cross between JavaScript and Lua (see
 * docs/marshaling.md). `path` names where it sits; `message` is `path: reason`.
 */
export class MarshalError extends LuapoolError {
  /**
   * Where the bad value sits: `args[0].items[3]`, `env.when`, `result[0].list[3]` (below
   * the top level, result paths use Lua keys), `data[0]`, `error`.
   */
  readonly path: string;
  /**
   * @param message the reason; the path is prepended to it.
   * @param path where the value sits.
   */
  constructor(message: string, path = '') {
    super(path ? `${path}: ${message}` : message, 'ERR_MARSHAL');
    this.path = path;
  }
}

/**
 * `ERR_RUNNER_CLOSED`: the runner (or the context) was closed before the job could be
 * submitted.
 */
export class RunnerClosedError extends LuapoolError {
  /** @param message default `'runner is closed'`. */
  constructor(message = 'runner is closed') {
    super(message, 'ERR_RUNNER_CLOSED');
  }
}
