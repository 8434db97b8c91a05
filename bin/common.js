// Pieces shared by the two faces of the luapool command line: the lua-compatible one
// (bin/lua-mode.js) and the `run` / `repl` subcommands (bin/luapool.js).
'use strict';
const { isUtf8 } = require('buffer');

// Exit codes of luapool's own failure classes. A Lua error, a bad lua-style option or a
// file that cannot be opened exit with 1, as with `lua`; the subcommands keep 2 for a bad
// command line and 6 for an unreadable file.
const EXIT = {
  ok: 0,
  lua: 1,          // LuaError: the script raised an error or does not compile
  usage: 2,        // bad command line (run / repl)
  timeout: 3,      // TimeoutError: --timeout spent
  memory: 4,       // MemoryLimitError: --memory reached
  marshal: 5,      // MarshalError: a result could not be converted
  noinput: 6,      // the file could not be read (run)
  internal: 8,     // any other luapool error
  interrupted: 130, // Ctrl-C (SIGINT) cancelled the running script (run)
};

class UsageError extends Error {}

const LIB_NAMES = ['base', 'string', 'table', 'math', 'utf8', 'coroutine', 'os', 'io', 'debug', 'package'];

function parseTimeout(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(text).trim());
  if (!m) throw new UsageError(`--timeout must be milliseconds (e.g. 500, 500ms, 2s), got '${text}'`);
  return Number(m[1]) * (m[2] === 's' ? 1000 : 1);
}

function parseBytes(text) {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?$/i.exec(String(text).trim());
  if (!m) throw new UsageError(`--memory must be bytes with an optional k/m/g suffix (e.g. 64m), got '${text}'`);
  const n = Math.floor(Number(m[1]) * 1024 ** ' kmg'.indexOf(m[2].toLowerCase() || ' '));
  if (n !== 0 && n < 65536) throw new UsageError(`--memory must be 0 (none) or at least 64k, got '${text}'`);
  return n;
}

function parseLibs(text) {
  if (text === 'safe' || text === 'all') return text;
  const list = String(text).split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of list) {
    if (!LIB_NAMES.includes(name)) {
      throw new UsageError(`--libs: unknown library '${name}' (expected safe, all or a list of ${LIB_NAMES.join(', ')})`);
    }
  }
  if (!list.includes('base')) throw new UsageError('--libs: the list must include base (the CLI needs load, select, tostring)');
  return list;
}

function utf8OrNull(buf) {
  return isUtf8(buf) ? buf.toString('utf8') : null;
}

function keyString(k) {
  if (Buffer.isBuffer(k)) return utf8OrNull(k) ?? `$base64:${k.toString('base64')}`;
  if (k instanceof Map) return '[table]';
  return String(k);
}

/** A Lua value (decoded with bytes: 'buffer', tables: 'map') as plain JSON data. */
function toJsonData(v, stack = new Set()) {
  if (v === undefined || v === null) return null;
  switch (typeof v) {
    case 'boolean': return v;
    case 'number':
      if (Number.isNaN(v)) return 'nan';
      if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
      return v;
    case 'bigint': return `${v}n`;
    case 'string': return v;
    default: break;
  }
  if (Buffer.isBuffer(v)) {
    const s = utf8OrNull(v);
    return s ?? { $base64: v.toString('base64') };
  }
  if (stack.has(v)) return '[circular]';
  stack.add(v);
  try {
    if (v instanceof Map) {
      let seq = v.size > 0;
      for (let i = 1; seq && i <= v.size; i++) seq = v.has(i);
      if (seq) return Array.from({ length: v.size }, (_, i) => toJsonData(v.get(i + 1), stack));
      const entries = [...v.entries()].map(([k, x]) => [k, keyString(k), x]);
      entries.sort((a, b) => {
        const an = typeof a[0] === 'number';
        const bn = typeof b[0] === 'number';
        if (an !== bn) return an ? -1 : 1;
        if (an) return a[0] - b[0];
        return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
      });
      const obj = {};
      for (const [, k, x] of entries) {
        Object.defineProperty(obj, k, { value: toJsonData(x, stack), enumerable: true, writable: true, configurable: true });
      }
      return obj;
    }
    if (Array.isArray(v)) return v.map((x) => toJsonData(x, stack));
    const obj = {};
    for (const [k, x] of Object.entries(v)) obj[k] = toJsonData(x, stack);
    return obj;
  } finally {
    stack.delete(v);
  }
}

/** The values a chunk returned, as JSON Lines. */
function jsonLines(n, list, pretty) {
  let text = '';
  for (let i = 1; i <= n; i++) {
    text += JSON.stringify(toJsonData(list.get(i)), null, pretty ? 2 : undefined) + '\n';
  }
  return text;
}

// Lua: makes the values a chunk returned convertible (functions, userdata and threads
// become their tostring(); tables are copied, cycles kept). Defines `sanitize(v, memo)`.
const SANITIZE_LUA = String.raw`local function sanitize(v, memo)
  local t = type(v)
  if t == "table" then
    if memo[v] then return memo[v] end
    local c = {}
    memo[v] = c
    for k, x in next, v do c[sanitize(k, memo)] = sanitize(x, memo) end
    return c
  elseif t == "function" or t == "userdata" or t == "thread" then
    return tostring(v)
  end
  return v
end`;

function exitCodeFor(err) {
  switch (err && err.code) {
    case 'ERR_LUA': return EXIT.lua;
    case 'ERR_TIMEOUT': return EXIT.timeout;
    case 'ERR_MEMORY_LIMIT': return EXIT.memory;
    case 'ERR_MARSHAL': return EXIT.marshal;
    case 'ERR_CANCELLED': return EXIT.interrupted;
    default: return EXIT.internal;
  }
}

/** A luapool error that is not a Lua error, described in one line (no program name). */
function describeLuapoolError(err, o) {
  if (!err || typeof err !== 'object') return String(err);
  switch (err.code) {
    case 'ERR_TIMEOUT':
      return `TimeoutError: ${err.message}${o && o.timeoutMs ? ` (--timeout ${o.timeoutMs} ms)` : ''}`;
    case 'ERR_MEMORY_LIMIT':
      return `MemoryLimitError: ${err.message}${o && o.memoryLimit ? ` (--memory ${o.memoryLimit} bytes)` : ''}`;
    case 'ERR_CANCELLED': return `interrupted (${err.message})`;
    default:
      return `${err.name || 'Error'}${err.code ? ` [${err.code}]` : ''}: ${err.message}`;
  }
}

function logText(a) {
  return Buffer.isBuffer(a.message) ? a.message : Buffer.from(String(a.message));
}

function logLine(a) {
  const text = logText(a).toString('utf8');
  return a.level === 'info' ? text : `[${a.level}] ${text}`;
}

/** The ExitError class of the library, when it has one (os.exit in libs 'all'). */
function isExit(err) {
  return !!err && typeof err === 'object' && err.code === 'ERR_EXIT';
}

module.exports = {
  EXIT, UsageError, LIB_NAMES, parseTimeout, parseBytes, parseLibs, toJsonData, jsonLines,
  SANITIZE_LUA, exitCodeFor, describeLuapoolError, logText, logLine, isExit, utf8OrNull,
};
