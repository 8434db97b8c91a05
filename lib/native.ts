// Loads the native addon (LUAPOOL_BINDING, a sanitizer build for tests, or the prebuilt /
// locally built binary found by node-gyp-build) and types everything that crosses the
// boundary: the requests JS makes and the named records the native side delivers
// (native/deliveries.hpp).
import * as path from 'path';

/** @internal Status of a finished job (native/job.hpp JobStatus). */
export const enum Status {
  Ok = 0, LuaError = 1, Timeout = 2, MemoryLimit = 3, Cancelled = 4, MarshalError = 5, Internal = 6,
  AcquireTimeout = 7, Exit = 8,
}
/** @internal Why a started job is interrupted (native/lua-state.hpp KillReason). */
export const enum Kill { Timeout = 1, Cancelled = 2, Shutdown = 3 }

/** @internal How a batch's results come back (native/job.hpp BatchMode): bit 0 multret, bit 1 settled. */
export const enum BatchMode { Plain = 0, Multret = 1, Settled = 2, SettledMultret = 3 }

/** @internal The typed arrays callColumns accepts (native/job.hpp ElementType is derived natively). */
export type ColumnArray =
  | Float64Array | Float32Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** @internal `new NativeRunner(config, onDeliver)`: the filled runner options the native side needs. */
export interface NativeRunnerConfig {
  states: number;
  threads: number;
  sliceMs: number;
  maxQueue: number;
  trusted: boolean;
  libs: readonly string[];
  memoryLimit: number;
  gcEveryJobs: number;
  gcEveryBytes: number;
  generationalGc: boolean;
  chunkCacheSize: number;
  hostFunctions: readonly string[];
}

/** @internal One job, as submitted (native/runner.cpp Runner::Submit). */
export interface NativeJobRequest {
  id: number;
  kind: 'run' | 'call' | 'batch' | 'columns' | 'reset';
  /** run: the chunk. */
  source?: string;
  /** run: '@name' or '=name'. */
  chunkName?: string;
  /** call/batch/columns: the module and its exported function. */
  module?: string;
  fn?: string;
  /** batch: how the results come back. */
  mode?: BatchMode;
  /** columns: the arrays lent to the job, their names, which are read-only, and the rows. */
  columns?: readonly ColumnArray[];
  names?: readonly string[];
  readonly?: readonly boolean[];
  first?: number;
  count?: number;
  /** Encoded value trees (lib/marshal.ts). */
  args?: Uint8Array | null;
  env?: Uint8Array | null;
  multret: boolean;
  bytesAsBuffer: boolean;
  timeoutMs: number;
  acquireTimeoutMs: number;
  /** Context key (UTF-8 bytes, so keys that differ only in lone surrogates stay apart). */
  context?: Uint8Array;
  /** The state a context is pinned to; -1 for any. */
  state: number;
  /** Fair-sharing group, as UTF-8 bytes ('' = the default group). */
  group?: Uint8Array;
}

/** @internal How a job failed (a `done` record with a status other than Ok). */
export interface NativeErrorInfo {
  message: string;
  traceback: string;
  chunk: string;
  line: number;
  /** The encoded error value when it was not a string. */
  value?: Buffer;
  /** batch: the failing call (0-based in the job); columns: the row it was on. */
  index?: number;
}

/** @internal [type, name, data, ...]: type 0 log (data: text), 1 post (data: value tree). */
export type NativeActions = (number | string | Buffer)[];

/** @internal A job is over: its one settlement. */
export interface DoneRecord {
  kind: 'done';
  id: number;
  status: Status;
  /** Ok: a scalar converted natively, or the encoded values (a Buffer). */
  value?: unknown;
  error?: NativeErrorInfo;
  exitCode?: number;
  actions?: NativeActions;
  waitMs: number;
  runMs: number;
  slices: number;
  peakMemory: number;
  state: number;
}
/** @internal A script called engine.<fn>(...). */
export interface HostRecord {
  kind: 'host';
  id: number;
  /** Index into the runner's host function names. */
  fn: number;
  args: Buffer;
  /** The worker thread waits for the answer (Lua could not yield there). */
  blocking: boolean;
  actions?: NativeActions;
}
/** @internal Logs and posts streamed by a job that is still running. */
export interface ActionsRecord {
  kind: 'actions';
  id: number;
  actions: NativeActions;
}
/** @internal A job still running long after its deadline (its state is replaced later). */
export interface OverrunRecord {
  kind: 'overrun';
  id: number;
  state: number;
  afterMs: number;
}
/** @internal Everything the native side delivers to JavaScript. */
export type NativeDelivery = DoneRecord | HostRecord | ActionsRecord | OverrunRecord;

/** @internal Native pool statistics (RunStats without the JS-side figures). */
export interface NativeStats {
  states: {
    memory: number; peakMemory: number; openJobs: number; jobs: number; gcSteps: number; fullGcs: number;
    memoryErrors: number; timeouts: number; busy: boolean; quarantined: boolean;
  }[];
  queued: number;
  running: number;
  blocked: number;
  suspended: number;
  runnable: number;
  slices: number;
  overruns: number;
  replacedStates: number;
}

/** @internal The native runner (native/runner.cpp). */
export interface NativeRunner {
  submit(request: NativeJobRequest): boolean;
  define(name: string, version: number, source: string): void;
  /** Publishes engine.shared.<name> (an encoded one-value tree), or removes it (undefined). */
  share(name: string, tree: Uint8Array | undefined): void;
  checkSyntax(source: string, chunkName: string): string | undefined;
  cancel(id: number, reason: Kill): 'settled' | 'interrupting' | undefined;
  answerHost(id: number, ok: boolean, data: Buffer | string): boolean;
  closeJobs(force: boolean): void;
  closeStates(): Promise<void>;
  stats(): NativeStats;
}

/** @internal What the native addon exports (native/addon.cpp). */
export interface NativeBinding {
  NativeRunner: new (config: NativeRunnerConfig, onDeliver: (records: NativeDelivery[]) => void) => NativeRunner;
  /** `LUA_RELEASE`, e.g. "Lua 5.4.7". */
  luaVersion: string;
  /** The Node-API version the addon was built for. */
  napiVersion: number;
  valueFormat: number;
  /** Interrupts every running job of this environment (the process is exiting). */
  processExiting(): void;
  /** Test hooks (native/testing.cpp). */
  testing: {
    hammer(slots: number, threads: number, iterations: number): { acquisitions: number; violations: number };
    scenario(name: string): Record<string, unknown>;
    noop(callback: () => void): void;
  };
}

const root = path.join(__dirname, '..', '..');

function load(): NativeBinding {
  const explicit = process.env.LUAPOOL_BINDING;
  if (explicit) return require(path.resolve(explicit)) as NativeBinding;
  return require('node-gyp-build')(root) as NativeBinding;
}

/** The value-tree format lib/marshal.ts speaks (native/value.hpp's kValueFormat). */
const VALUE_FORMAT = 2;

/** @internal The loaded addon. */
export const binding: NativeBinding = load();
if (binding.valueFormat !== VALUE_FORMAT) {
  throw new Error(`luapool: the native addon speaks value format ${binding.valueFormat}, this JavaScript ` +
    `speaks ${VALUE_FORMAT}: rebuild (npm run build) so that both come from the same version`);
}

// process.exit() and uncaught exceptions emit 'exit', then Node joins libuv's threads:
// interrupt every running job first so that the process ends promptly.
process.once('exit', () => binding.processExiting());
