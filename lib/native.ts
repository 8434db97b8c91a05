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

/** The typed arrays callColumns accepts (native/job.hpp ElementType is derived natively). */
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
  /** 'safe' only: the restricted io and debug. */
  sandboxLibs: readonly string[];
  /** The `modules` option is a function: names it has no answer for are asked for. */
  modulesFunction: boolean;
}

/** @internal HostRecord.fn of the internal call that asks the `modules` function for a source (native/host-call.hpp). */
export const MODULE_LOOKUP = 4294967295;

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
  /** columns: a key of `names` and `readonly` (the native side remembers recent layouts). */
  layout?: string;
  /** Encoded value trees (lib/marshal.ts). */
  args?: Uint8Array | null;
  env?: Uint8Array | null;
  multret: boolean;
  bytesAsBuffer: boolean;
  timeoutMs: number;
  acquireTimeoutMs: number;
  /** Context key (well-formed: keys that differ only in lone surrogates are refused). */
  context?: string;
  /** The state a context is pinned to; -1 for any. */
  state: number;
  /** Fair-sharing group ('' or absent = the default group). */
  group?: string;
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
  /** Index into the runner's host function names, or MODULE_LOOKUP. */
  fn: number;
  /** The encoded arguments (MODULE_LOOKUP: the module name's bytes). */
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

/** @internal The columns of a packed `done` row (native/deliveries.hpp DoneField). */
const enum DoneField { Id, Status, WaitMs, RunMs, Slices, PeakMemory, State, ExitCode, Count }

/**
 * @internal `done` records travel packed (thousands per frame): one row of DoneField
 * numbers per job, and two slots per job in `extras` (its value or error, its actions).
 * This names them again, in the one place that knows the layout.
 */
export function unpackDone(numbers: Float64Array, extras: unknown[], out: NativeDelivery[]): void {
  for (let i = 0, row = 0; row < numbers.length; i++, row += DoneField.Count) {
    const status = numbers[row + DoneField.Status] as Status;
    const first = extras[2 * i];
    const r: DoneRecord = {
      kind: 'done',
      id: numbers[row + DoneField.Id],
      status,
      value: status === Status.Ok ? first : undefined,
      error: status === Status.Ok ? undefined : first as NativeErrorInfo,
      exitCode: numbers[row + DoneField.ExitCode],
      actions: extras[2 * i + 1] as NativeActions | undefined,
      waitMs: numbers[row + DoneField.WaitMs],
      runMs: numbers[row + DoneField.RunMs],
      slices: numbers[row + DoneField.Slices],
      peakMemory: numbers[row + DoneField.PeakMemory],
      state: numbers[row + DoneField.State],
    };
    out.push(r);
  }
}

/** @internal The layout of submit()'s `fields` (native/runner.cpp RequestField). */
const enum RequestField { Id, Kind, Flags, TimeoutMs, AcquireTimeoutMs, State, Mode, First, RowCount, Count }
const KINDS = { run: 0, call: 1, batch: 2, reset: 3, columns: 4 } as const;
const FLAG_MULTRET = 1;
const FLAG_BYTES_AS_BUFFER = 2;
const requestFields = new Float64Array(RequestField.Count); // reused: submit() copies it at once

/** @internal Submits a job request (packed: its numbers in one Float64Array). */
export function submitJob(native: NativeRunner, r: NativeJobRequest): boolean {
  const f = requestFields;
  f[RequestField.Id] = r.id;
  f[RequestField.Kind] = KINDS[r.kind];
  f[RequestField.Flags] = (r.multret ? FLAG_MULTRET : 0) | (r.bytesAsBuffer ? FLAG_BYTES_AS_BUFFER : 0);
  f[RequestField.TimeoutMs] = r.timeoutMs;
  f[RequestField.AcquireTimeoutMs] = r.acquireTimeoutMs;
  f[RequestField.State] = r.state;
  f[RequestField.Mode] = r.mode ?? 0;
  f[RequestField.First] = r.first ?? 0;
  f[RequestField.RowCount] = r.count ?? 0;
  const text = r.kind === 'run' ? r.source : r.module;
  const name = r.kind === 'run' ? r.chunkName : r.fn;
  if (r.kind !== 'columns') return native.submit(f, text, name, r.context, r.group, r.args ?? null, r.env ?? null);
  return native.submit(f, text, name, r.context, r.group, r.args ?? null, r.env ?? null, r, r.layout, ...r.columns!);
}

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
  /** See submitJob(): `fields` is the packed RequestField row, then the texts and trees. */
  submit(fields: Float64Array, text: string | undefined, name: string | undefined, context: string | undefined,
    group: string | undefined, args: Uint8Array | null, env: Uint8Array | null, columns?: NativeJobRequest,
    layout?: string, ...arrays: ColumnArray[]): boolean;
  define(name: string, version: number, source: string): void;
  /** A `modules` source for `name` (null: no such module); `answer`: the function form's (forgetModules drops those). */
  setModule(name: string | Buffer, source: string | Buffer | null, answer: boolean): void;
  /** Drops the function form's answers for `names` (all of them without). */
  forgetModules(names?: (string | Buffer)[]): void;
  /** Publishes engine.shared.<name> (an encoded one-value tree), or removes it (undefined). */
  share(name: string, tree: Uint8Array | undefined): void;
  checkSyntax(source: string, chunkName: string): string | undefined;
  cancel(id: number, reason: Kill): 'settled' | 'interrupting' | undefined;
  answerHost(id: number, ok: boolean, data: Buffer | string): boolean;
  closeJobs(force: boolean): void;
  closeStates(): Promise<void>;
  stats(): NativeStats;
  profileStart(hz: number): void;
  profileStop(): { nodes: { parent: number; name: string; url: string; line: number }[]; samples: Int32Array; deltasUs: Float64Array }[];
}

/** @internal What the native addon exports (native/addon.cpp). */
export interface NativeBinding {
  NativeRunner: new (config: NativeRunnerConfig,
    onDeliver: (records: NativeDelivery[], done: Float64Array, doneExtras: unknown[]) => void) => NativeRunner;
  /** The packed layouts (lib/native.ts checks them against its own). */
  layout: { requestFields: number; doneFields: number };
  /** `LUA_RELEASE`, e.g. "Lua 5.4.7". */
  luaVersion: string;
  /** The Node-API version the addon was built for. */
  napiVersion: number;
  valueFormat: number;
  /** Interrupts every running job of this environment (the process is exiting). */
  processExiting(): void;
  /** Test hooks (native/testing.cpp): only in builds for the test suite (LUAPOOL_TEST_HOOKS). */
  testing?: {
    hammer(slots: number, threads: number, iterations: number): { acquisitions: number; violations: number };
    scenario(name: string): Record<string, unknown>;
    noop(callback: () => void): void;
  };
}

const root = path.join(__dirname, '..', '..');

function load(): NativeBinding {
  const explicit = process.env.LUAPOOL_BINDING;
  try {
    if (explicit) return require(path.resolve(explicit)) as NativeBinding;
    return require('node-gyp-build')(root) as NativeBinding;
  } catch (e) {
    // node-gyp-build's own message names neither the cause nor the cure.
    const cause = String((e as Error)?.message ?? e).split('\n')[0];
    const build = 'Build it with `npm rebuild luapool` (needs Python 3, make and a C++17 compiler: ' +
      'on Debian/Ubuntu `apt-get install python3 make g++`, on macOS `xcode-select --install`).';
    const message = explicit ? `LUAPOOL_BINDING=${explicit} cannot be loaded (unset it to use the package's own addon)`
      : /No native build was found/.test(cause)
        ? `no native addon for ${process.platform}-${process.arch} (Node ${process.versions.node}): no prebuilt ` +
          `binary fits and none was built from source. ${build}`
        : `the native addon cannot be loaded (built for another Node or system?). ${build}`;
    throw Object.assign(new Error(`luapool: ${message}\nCause: ${cause}`, { cause: e }), { code: 'ERR_LUAPOOL_NO_ADDON' });
  }
}

/** The value-tree format lib/marshal.ts speaks (native/value.hpp's kValueFormat). */
const VALUE_FORMAT = 4;

/** @internal The loaded addon. */
export const binding: NativeBinding = load();
if (binding.valueFormat !== VALUE_FORMAT || binding.layout?.requestFields !== RequestField.Count ||
    binding.layout?.doneFields !== DoneField.Count) {
  throw new Error(`luapool: the native addon speaks value format ${binding.valueFormat}, this JavaScript ` +
    `speaks ${VALUE_FORMAT} (or their record layouts differ): rebuild (npm run build) so that both come ` +
    'from the same version');
}

// process.exit() and uncaught exceptions emit 'exit', then Node joins libuv's threads:
// interrupt every running job first so that the process ends promptly.
process.once('exit', () => binding.processExiting());
