// Error classes: every failure of a job maps to one of these, each with a stable `code`.

/** Base class of every error a job can fail with. */
export class LuapoolError extends Error {
  /** Stable machine-readable code, e.g. `ERR_LUA`. */
  readonly code: string;
  /** Id of the job that failed, when known. */
  jobId?: number;

  constructor(message: string, code: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The script raised an error (or failed to compile). */
export class LuaError extends LuapoolError {
  /** Lua traceback of the failed coroutine. */
  readonly traceback: string;
  /** Chunk name of the innermost Lua frame (`ai/orc.lua`, `[string "..."]`). */
  readonly chunk?: string;
  /** Line in that chunk, when known. */
  readonly line?: number;
  /** The original error value when it was not a string (a table, a number, nil...). */
  readonly value?: unknown;

  constructor(message: string, traceback = '', chunk?: string, line?: number, value?: unknown) {
    super(message, 'ERR_LUA');
    this.traceback = traceback;
    this.chunk = chunk;
    this.line = line;
    this.value = value;
    if (traceback) this.stack = `${this.name}: ${traceback}`;
  }
}

/** The job ran past its `timeoutMs` budget and was interrupted. */
export class TimeoutError extends LuapoolError {
  constructor(message = 'script timed out') {
    super(message, 'ERR_TIMEOUT');
  }
}

/** The job's state hit `memoryLimit`. */
export class MemoryLimitError extends LuapoolError {
  constructor(message = 'script exceeded the memory limit') {
    super(message, 'ERR_MEMORY_LIMIT');
  }
}

/** The job was cancelled (`cancel()`, an AbortSignal, or `close()`). */
export class CancelledError extends LuapoolError {
  constructor(message = 'job was cancelled') {
    super(message, 'ERR_CANCELLED');
  }
}

/** The queue already held `maxQueue` jobs. */
export class QueueFullError extends LuapoolError {
  constructor(message = 'job queue is full') {
    super(message, 'ERR_QUEUE_FULL');
  }
}

/** The job waited longer than `acquireTimeoutMs` for a free state. */
export class AcquireTimeoutError extends LuapoolError {
  constructor(message = 'timed out waiting for a free Lua state') {
    super(message, 'ERR_ACQUIRE_TIMEOUT');
  }
}

/** A value could not cross between JavaScript and Lua. `path` names where it sits. */
export class MarshalError extends LuapoolError {
  readonly path: string;
  constructor(message: string, path = '') {
    super(path ? `${path}: ${message}` : message, 'ERR_MARSHAL');
    this.path = path;
  }
}

/** The runner was closed before the job could start. */
export class RunnerClosedError extends LuapoolError {
  constructor(message = 'runner is closed') {
    super(message, 'ERR_RUNNER_CLOSED');
  }
}
