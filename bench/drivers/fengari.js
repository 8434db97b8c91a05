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

// Realistic payloads through the C API: the value pushed (a table built field by field, a
// string, an array with lua_rawseti), lua_call, the result read back the same way.
function payloadCalls(p) {
  const { lua, to_luastring } = require('fengari');
  const { payload, source } = require('../lib/payloads');
  const E = require('../lib/entities');
  const L = newState();
  doString(L, `P = (function() ${source()} end)()`);
  const keys = Object.fromEntries(E.FIELDS.map((f) => [f, to_luastring(f)]));
  const push = {
    entity: (en) => {
      lua.lua_createtable(L, 0, 12);
      for (const f of E.FIELDS) {
        if (E.INT_FIELDS.has(f)) lua.lua_pushinteger(L, en[f]); else lua.lua_pushnumber(L, en[f]);
        lua.lua_setfield(L, -2, keys[f]);
      }
    },
    string1k: (s) => lua.lua_pushstring(L, to_luastring(s)),
    array50: (a) => {
      lua.lua_createtable(L, a.length, 0);
      for (let i = 0; i < a.length; i++) { lua.lua_pushnumber(L, a[i]); lua.lua_rawseti(L, -2, i + 1); }
    },
  };
  const read = {
    entity: () => {
      const o = {};
      for (const f of E.WRITTEN) { lua.lua_getfield(L, -1, keys[f]); o[f] = lua.lua_tonumber(L, -1); lua.lua_pop(L, 1); }
      return o;
    },
    string1k: () => lua.lua_tojsstring(L, -1),
    array50: () => {
      const n = lua.lua_rawlen(L, -1);
      const a = new Array(n);
      for (let i = 0; i < n; i++) { lua.lua_rawgeti(L, -1, i + 1); a[i] = lua.lua_tonumber(L, -1); lua.lua_pop(L, 1); }
      return a;
    },
  };
  const out = {};
  for (const kind of p.payloads) {
    const [fn, arg, check] = payload(kind, 100);
    const values = Array.from({ length: 100 }, (_, i) => arg(i));
    lua.lua_getglobal(L, to_luastring('P'));
    lua.lua_getfield(L, -1, to_luastring(fn));
    const fIdx = lua.lua_gettop(L);
    const call = (i) => {
      lua.lua_pushvalue(L, fIdx);
      push[kind](values[i]);
      lua.lua_call(L, 1, 1);
      const v = read[kind]();
      lua.lua_pop(L, 1);
      return v;
    };
    const run = (ms) => {
      const t0 = nowMs();
      let n = 0;
      while (nowMs() - t0 < ms) for (let i = 0; i < 100; i++, n++) check(call(i), i);
      return { n, ms: nowMs() - t0 };
    };
    run(p.warmupMs);
    const r = run(p.durationMs);
    lua.lua_settop(L, 0);
    out[kind] = { callsPerSec: (r.n / r.ms) * 1000, mainUsPerCall: (r.ms * 1000) / r.n, how: 'pushed and read back through the C API, lua_call (main thread)' };
  }
  return out;
}

// nearby(i) from Lua: a JS function pushed with lua_pushjsfunction, called p.hostCalls times.
function hostCalls(p) {
  const { lua, to_luastring } = require('fengari');
  const L = newState();
  lua.lua_pushjsfunction(L, (Ls) => { lua.lua_pushinteger(Ls, lua.lua_tointeger(Ls, 1) + 1); return 1; });
  lua.lua_setglobal(L, to_luastring('nearby'));
  const n = p.hostCalls;
  const src = `local s = 0 for i = 1, ${n} do s = s + nearby(i) end return s`;
  const want = (n * (n + 1)) / 2 + n;
  const ms = [];
  for (let i = 0; i < 6; i++) {
    const t0 = nowMs();
    const v = doString(L, src);
    if (i) ms.push(nowMs() - t0);
    if (v !== want) throw new Error(`CHECKSUM MISMATCH: host calls summed to ${v}`);
  }
  ms.sort((a, b) => a - b);
  const us = (ms[2] * 1000) / n;
  return { usPerCall: us, mainUsPerCall: us, how: 'a JS function pushed with lua_pushjsfunction (main thread)' };
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
    const out = { callsPerSec: (p.n / ms) * 1000, note: 'lua_getglobal + lua_call from JS' };
    if (p.payloads) out.payloads = payloadCalls(p);
    if (p.hostCalls) out.hostCall = hostCalls(p);
    return out;
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
