// luapool: genuine Lua 5.4 for Node.js on a pool of native lua_States.
import { availableParallelism } from 'os';

// Lua jobs run on libuv's thread pool and always leave one of its threads free. If the
// application has not chosen a size, make room for the default number of states (this
// works only before the pool's first use; see docs/design.md).
if (process.env.UV_THREADPOOL_SIZE === undefined) {
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism() + 1));
}

import { binding } from './native';

export { ScriptRunner } from './script-runner';
export type {
  JobOptions, EnqueueOptions, JobDetails, CallManyOptions, SettledResult, CallColumnsOptions, Columns,
} from './script-runner';
export { ScriptContext } from './context';
export { ActionQueue } from './action-queue';
export type { Action, ResultAction, ErrorAction, PostAction, LogAction } from './action-queue';
export type { ScriptRunnerOptions, LibName, HostFunction, ModuleSources, AbortSignalLike } from './options';
export type { ScriptRunnerEvents, OverrunInfo, TypedEmitter } from './events';
export { Profile } from './profile';
export type { CpuProfile, CpuProfileNode, ProfileEntry, ProfileSummary } from './profile';
export type { RunStats, StateStats, Percentiles, ModuleStats } from './stats';
export { luaTypes, writeLuaTypes } from './lua-types';
export type { LuaTypesOptions } from './lua-types';
export {
  LuapoolError, LuaError, TimeoutError, MemoryLimitError, CancelledError, QueueFullError, AcquireTimeoutError,
  MarshalError, RunnerClosedError, ExitError,
} from './errors';

// The addon's test hooks (binding.testing) are not exported: tests reach them through
// dist/cjs/native.js, which the package's "exports" map does not publish.

/** The Lua release compiled into the addon, e.g. "Lua 5.4.7". */
export const luaVersion: string = binding.luaVersion;
/** The Node-API version the addon was built for. */
export const napiVersion: number = binding.napiVersion;
