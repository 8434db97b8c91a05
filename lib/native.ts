// Loads the native addon: LUAPOOL_BINDING (a sanitizer build, for tests) or the prebuilt /
// locally built binary found by node-gyp-build.
import * as path from 'path';

/* eslint-disable @typescript-eslint/no-explicit-any */
/** @internal What the native addon exports (native/addon.cpp). */
export interface NativeBinding {
  /** The native runner class behind ScriptRunner (native/runner.cpp). */
  NativeRunner: any;
  /** `LUA_RELEASE`, e.g. "Lua 5.4.7". */
  luaVersion: string;
  /** The Node-API version the addon was built for. */
  napiVersion: number;
  valueFormat: number;
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
  if (explicit) return require(path.resolve(explicit));
  return require('node-gyp-build')(root);
}

/** @internal The loaded addon. */
/** The value-tree format lib/marshal.ts speaks (native/value.hpp's kValueFormat). */
const VALUE_FORMAT = 3;

export const binding: NativeBinding = load();
if (binding.valueFormat !== VALUE_FORMAT) {
  throw new Error(`luapool: the native addon speaks value format ${binding.valueFormat}, this JavaScript ` +
    `speaks ${VALUE_FORMAT}: rebuild (npm run build) so that both come from the same version`);
}

/** Status codes reported by the native side (native/job.hpp). */
export const enum Status { Ok = 0, LuaError = 1, Timeout = 2, MemoryLimit = 3, Cancelled = 4, MarshalError = 5, Internal = 6 }
/** Why a job is interrupted (native/lua-state.hpp). */
export const enum Kill { QueuedOnly = 0, Timeout = 1, Cancelled = 2, Shutdown = 3 }
