'use strict';
// Driver "fengari": Lua 5.3 written in JavaScript (lauxlib.luaL_dostring), main thread.
// Fengari's integers are 32-bit; the workloads keep integer math below 2^31 for it.
const { driverMain, loadWorkload, wrapVararg, verifyChecksum, closedLoop, nowMs, timedIterations } = require('../lib/common');

function newState() {
  const { lauxlib, lualib } = require('fengari');
  const L = lauxlib.luaL_newstate();
  lualib.luaL_openlibs(L);
  return L;
}
function doString(L, src) {
  const { lua, lauxlib, to_luastring } = require('fengari');
  const top = lua.lua_gettop(L);
  if (lauxlib.luaL_dostring(L, to_luastring(src)) !== lua.LUA_OK) {
    const msg = lua.lua_tojsstring(L, -1);
    lua.lua_settop(L, top);
    throw new Error(`fengari: ${msg}`);
  }
  const v = lua.lua_type(L, top + 1) === lua.LUA_TNUMBER ? lua.lua_tonumber(L, top + 1) : lua.lua_tojsstring(L, top + 1);
  lua.lua_settop(L, top);
  return v;
}

driverMain('fengari', {
  async cpu(p) {
    const L = newState();
    const chunk = wrapVararg(loadWorkload(p.workload), [p.n]);
    const { ms, last, warmupTotalMs } = await timedIterations(() => doString(L, chunk), {
      ...p, check: (v) => verifyChecksum('fengari', p.workload, p.n, v),
    });
    return { checksum: String(last), ms, warmupTotalMs };
  },
  async trivial(p) {
    const L = newState();
    return closedLoop(() => doString(L, 'return 1 + 1'), {
      concurrency: p.concurrency, durationMs: p.durationMs, warmupMs: p.warmupMs,
      check: (v) => { if (v !== 2) throw new Error(`CHECKSUM MISMATCH: trivial returned ${v}`); },
    });
  },
  async calls(p) {
    const { lua } = require('fengari');
    const L = newState();
    doString(L, loadWorkload('calls').replace(/^local M = \{\}/m, 'M = {}'));
    doString(L, 'add = M.add');
    const call = (s) => {
      lua.lua_getglobal(L, 'add');
      lua.lua_pushinteger(L, s);
      lua.lua_pushinteger(L, 1);
      lua.lua_call(L, 2, 1);
      const v = lua.lua_tointeger(L, -1);
      lua.lua_pop(L, 1);
      return v;
    };
    let s = 0;
    const w0 = nowMs();
    while (nowMs() - w0 < (p.warmupMs || 0)) for (let i = 0; i < 1000; i++) s = call(s);
    s = 0;
    const t0 = nowMs();
    for (let i = 0; i < p.n; i++) s = call(s);
    const ms = nowMs() - t0;
    if (s !== p.n) throw new Error(`CHECKSUM MISMATCH: calls returned ${s}`);
    return { callsPerSec: (p.n / ms) * 1000, note: 'lua_getglobal + lua_call from JS' };
  },
  // The gameloop section: per entity, the 12 fields pushed as a new table (lua_createtable +
  // lua_setfield), M.update called with lua_call, the 6 fields of its result read back with
  // lua_getfield — fengari's C API from JavaScript, its documented way.
  async entities(p) {
    const E = require('../lib/entities');
    const { lua, to_luastring } = require('fengari');
    const L = newState();
    doString(L, `M = (function() ${E.behaviour()} end)()`);
    lua.lua_getglobal(L, to_luastring('M'));
    lua.lua_getfield(L, -1, to_luastring('update'));
    const fnIdx = lua.lua_gettop(L);
    const keys = Object.fromEntries(E.FIELDS.map((f) => [f, to_luastring(f)]));
    const es = E.makeEntities(p.entities);
    const t = await E.timeFrames(() => {
      for (let i = 0; i < es.length; i++) {
        const en = es[i];
        lua.lua_pushvalue(L, fnIdx);
        lua.lua_createtable(L, 0, 12);
        for (const f of E.FIELDS) {
          if (E.INT_FIELDS.has(f)) lua.lua_pushinteger(L, en[f]); else lua.lua_pushnumber(L, en[f]);
          lua.lua_setfield(L, -2, keys[f]);
        }
        lua.lua_pushnumber(L, E.DT);
        lua.lua_call(L, 2, 1);
        for (const f of E.WRITTEN) {
          lua.lua_getfield(L, -1, keys[f]);
          en[f] = lua.lua_tonumber(L, -1);
          lua.lua_pop(L, 1);
        }
        lua.lua_pop(L, 1);
      }
    }, p);
    const checksum = E.verify('fengari', p.entities, t.framesRun, E.checksumOf(es.length, (i, f) => es[i][f]));
    return E.frameResult(p.entities, t, { checksum, mainMs: t.frameMs,
      how: 'per entity: a table built with lua_createtable/lua_setfield, lua_call, 6 lua_getfield back (main thread)' });
  },
  async memory(p) {
    global.gc && global.gc();
    newState(); // load the module first
    global.gc && global.gc();
    const h0 = process.memoryUsage();
    const states = [];
    for (let i = 0; i < p.count; i++) states.push(newState());
    global.gc && global.gc();
    const h1 = process.memoryUsage();
    let heapKB = null; // fengari does not implement lua_gc: collectgarbage("count") raises
    try { heapKB = doString(states[0], 'return collectgarbage("count")'); } catch { heapKB = null; }
    return { states: p.count, rssKBPerState: (h1.rss - h0.rss) / 1024 / p.count,
      jsHeapKBPerState: (h1.heapUsed - h0.heapUsed) / 1024 / p.count, heapKBPerState: heapKB };
  },
});
