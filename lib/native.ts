// Loads the native addon: LUAPOOL_BINDING (a sanitizer build, for tests) or the prebuilt /
// locally built binary found by node-gyp-build.
import * as path from 'path';

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface NativeBinding {
  NativeRunner: any;
  luaVersion: string;
  napiVersion: number;
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

export const binding: NativeBinding = load();

/** Status codes reported by the native side (native/job.hpp). */
export const enum Status { Ok = 0, LuaError = 1, Timeout = 2, MemoryLimit = 3, Cancelled = 4, MarshalError = 5, Internal = 6 }
/** Why a job is interrupted (native/lua-state.hpp). */
export const enum Kill { QueuedOnly = 0, Timeout = 1, Cancelled = 2, Shutdown = 3 }
