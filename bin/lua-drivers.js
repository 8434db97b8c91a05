// The Lua halves of the lua-compatible command line (bin/lua-mode.js).
'use strict';
const { SANITIZE_LUA } = require('./common');

// libs 'all': a module (runner.define) whose functions are the steps of lua.c's pmain, one
// job each. The module is loaded on a state's first call, before any user code runs, so it
// keeps the functions it needs even if a script replaces the globals later (lua.c calls
// the C API, which no script can change). Its message handler and traceback are lua.c's
// msghandler and luaL_traceback written in Lua, over the stack above the driver, so
// errors read exactly as with `lua`.
const ALL_DRIVER = String.raw`local M = {}
local debug_getinfo, debug_getmetatable = debug.getinfo, debug.getmetatable
local registry = debug.getregistry()
local G = registry[2]  -- LUA_RIDX_GLOBALS
local xpcall, pcall, load, loadfile, error, select = xpcall, pcall, load, loadfile, error, select
local type, rawget, rawequal, next, tostring, warn = type, rawget, rawequal, next, tostring, warn
local tointeger = math.tointeger
local sub = string.sub
local pack, unpack, concat = table.pack, table.unpack, table.concat
local stdin, stdout, stderr = io.stdin, io.stdout, io.stderr
local read, write, flush = stdin.read, stdout.write, stdout.flush
local getenv = os.getenv
${SANITIZE_LUA}
local docall, msghandler, user_traceback
local debug_table, c_traceback = debug, debug.traceback

-- lauxlib.c: findfield, pushglobalfuncname, pushfuncname
local function findfield(t, f, level)
  if level == 0 or type(t) ~= "table" then return nil end
  for k, v in next, t do
    if type(k) == "string" then
      if rawequal(v, f) then return k end
      local name = findfield(v, f, level - 1)
      if name then return k .. "." .. name end
    end
  end
  return nil
end

local function funcname(ar, c_caller)
  local name = findfield(rawget(registry, "_LOADED"), ar.func, 2)
  if name then
    if sub(name, 1, 3) == "_G." then name = sub(name, 4) end
    return "function '" .. name .. "'"
  elseif ar.namewhat ~= "" and not c_caller then
    return ar.namewhat .. " '" .. ar.name .. "'"
  elseif ar.what == "main" then
    return "main chunk"
  elseif ar.what ~= "C" then
    return "function <" .. ar.short_src .. ":" .. ar.linedefined .. ">"
  end
  return "?"
end

-- luaL_traceback(L, L, msg, level) over the stack above the driver. Seen from here, level
-- 1 is this function and 2 its caller (the message handler, or debug.traceback), which
-- stands for lua.c's level 0 (its C message handler, db_traceback): lua.c's level k is our
-- level k + 2. At the bottom, xpcall stands for pmain ("[C]: in ?"), and docall and the
-- job are not shown. A failing __tostring inside the handler shows the outer handler as
-- lua.c's C function. Returns nil when the driver is not on the stack. 'tail': our caller
-- was tail-called, so lua.c's level 1 (the frame it replaced) is gone: level k >= 2 is
-- our level k + 1, and level 1 is not shown.
local function traceback_at(msg, lv, tail)
  local li, le = 1, 1
  while debug_getinfo(le, "l") do li = le; le = le * 2 end
  while li < le do
    local m = (li + le) // 2
    if debug_getinfo(m, "l") then li = m + 1 else le = m end
  end
  local base = le - 1
  while base > 3 and debug_getinfo(base, "f").func ~= docall do base = base - 1 end
  if base <= 3 then return nil end
  local shift = tail and 1 or 2
  local last = base - 1 - shift
  local out = {}
  if msg then out[1] = msg .. "\n" end
  out[#out + 1] = "stack traceback:"
  if lv < 0 then return concat(out) end
  local limit2show = (last - lv > 21) and 10 or -1
  local level = lv
  while level <= last do
    local cur = level
    level = level + 1
    local show = limit2show
    limit2show = limit2show - 1
    if show == 0 then
      local n = last - level - 11 + 1
      out[#out + 1] = "\n\t...\t(skipping " .. n .. " levels)"
      level = level + n
    elseif cur == last then
      out[#out + 1] = "\n\t[C]: in ?"
    elseif tail and cur == 1 then
      -- the frame the tail call replaced: nothing left to show
    else
      local ar = debug_getinfo(cur == 0 and 2 or cur + shift, "Slntf")
      if ar.func == msghandler then
        out[#out + 1] = "\n\t[C]: in ?"
      elseif ar.func == user_traceback then
        out[#out + 1] = "\n\t[C]: in " .. funcname(ar)
      else
        if ar.currentline <= 0 then
          out[#out + 1] = "\n\t" .. ar.short_src .. ": in "
        else
          out[#out + 1] = "\n\t" .. ar.short_src .. ":" .. ar.currentline .. ": in "
        end
        local caller = debug_getinfo(cur + shift + 1, "f")
        out[#out + 1] = funcname(ar, caller ~= nil and caller.func == msghandler)
      end
      if ar.istailcall and ar.func ~= user_traceback then out[#out + 1] = "\n\t(...tail calls...)" end
    end
  end
  return concat(out)
end

-- debug.traceback for scripts: the driver's frames are not theirs. Other threads, and
-- calls when no chunk of the driver runs, go to Lua's own function.
user_traceback = function(...)
  local msg, level = ...
  if type(msg) == "thread" then return c_traceback(...) end
  local t = type(msg)
  if msg ~= nil and t ~= "string" and t ~= "number" then return msg end
  if t == "number" then msg = msg .. "" end
  local lv = 1
  if level ~= nil then
    lv = tointeger(level)
    if lv == nil then return c_traceback(msg, level) end  -- Lua's own argument error
  end
  local tail = debug_getinfo(1, "t").istailcall
  local tb = traceback_at(msg, lv, tail)
  if tb == nil then  -- a coroutine, a finalizer at exit: Lua's own, past this frame
    tb = c_traceback(msg, (tail and lv >= 1) and (lv == 1 and 2 or lv) or lv + 1)
  end
  return tb
end

-- lua.c: msghandler
msghandler = function(msg)
  local t = type(msg)
  if t == "number" then
    msg = msg .. ""
  elseif t ~= "string" then
    local mt = debug_getmetatable(msg)
    local h = mt and rawget(mt, "__tostring")
    if h ~= nil then
      local s = h(msg)
      if type(s) == "string" then return s end
    end
    msg = "(error object is a " .. t .. " value)"
  end
  local tb = traceback_at(msg, 1)
  return tb
end

-- lua.c: docall (no tail call: the traceback looks for this frame)
docall = function(f, ...)
  local r = pack(xpcall(f, msghandler, ...))
  return r
end

-- lua.c: report's lua_tostring
local function errmsg(m)
  if type(m) == "string" then return m end
  if type(m) == "number" then return m .. "" end
  return "(error message not a string)"
end

local pending, pending_err  -- a loaded chunk waiting for M.call / M.repl_eval

local function loaded(f, err)
  pending, pending_err = f, err
  if f then return true end
  return false, errmsg(err)
end

function M.init(argv, script, noenv, json)
  local t = {}
  for i = 1, #argv do t[i - 1 - script] = argv[i] end
  G.arg = t
  if noenv then registry.LUA_NOENV = true end
  debug_table.traceback = user_traceback
  if json then  -- stdout is for the JSON results: print writes to stderr
    G.print = function(...)
      local n = select("#", ...)
      for i = 1, n do
        if i > 1 then write(stderr, "\t") end
        write(stderr, tostring((select(i, ...))))
      end
      write(stderr, "\n")
    end
  end
  return true
end

-- the chunk of LUA_INIT_5_4 or LUA_INIT ("none" if neither is set)
function M.load_init()
  local name, init = "=LUA_INIT_5_4", getenv("LUA_INIT_5_4")
  if init == nil then name, init = "=LUA_INIT", getenv("LUA_INIT") end
  if init == nil then return "none" end
  if sub(init, 1, 1) == "@" then return loaded(loadfile(sub(init, 2))) end
  return loaded(load(init, name))
end

function M.load_string(s, name) return loaded(load(s, name)) end
function M.load_file(name) return loaded(loadfile(name)) end  -- name nil: stdin

-- runs the loaded chunk; with_args: the script's arguments from the global 'arg'
function M.call(with_args, json)
  local f = pending
  pending = nil
  local r
  if with_args then
    local a = G.arg
    if type(a) ~= "table" then error("'arg' is not a table", 0) end
    local n = tointeger(#a)
    if n == nil then error("object length is not an integer", 0) end
    local args = {}
    for i = 1, n do args[i] = rawget(a, i) end
    r = docall(f, unpack(args, 1, n))
  else
    r = docall(f)
  end
  if not r[1] then return false, errmsg(r[2]) end
  if json then
    local memo, out = {}, {}
    for i = 2, r.n do out[i - 1] = sanitize(r[i], memo) end
    return true, r.n - 1, out
  end
  return true
end

-- lua.c: dolibrary (globname = require(modname))
function M.library(glob, mod)
  local r = docall(G.require, mod)
  if not r[1] then return false, errmsg(r[2]) end
  G[glob] = r[2]
  return true
end

function M.warn_on() warn("@on") return true end

-- lua.c's REPL: get_prompt, pushline, addreturn, multiline, loadline, l_print
local buffer

local function get_prompt(first)
  local p = G[first and "_PROMPT" or "_PROMPT2"]
  if p == nil then return first and "> " or ">> ", nil end
  p = tostring(p)
  return p, p
end

local function pushline(first)
  local p, left = get_prompt(first)
  write(stdout, p)
  flush(stdout)
  local b = read(stdin, "L")
  if b == nil then return nil, left end
  if sub(b, -1) == "\n" then b = sub(b, 1, -2) end
  if first and sub(b, 1, 1) == "=" then b = "return " .. sub(b, 2) end
  return b
end

local function try_buffer()
  local f, err = load(buffer, "=stdin")
  if not f and type(err) == "string" and sub(err, -5) == "<eof>" then return "more" end
  pending, pending_err = f, err
  return "ready"
end

-- "eof" (no more input), "more" (incomplete: call repl_more) or "ready" (call repl_eval)
function M.repl_read()
  pending, pending_err = nil, nil
  local line = pushline(true)
  if line == nil then return "eof" end
  local f = load("return " .. line .. ";", "=stdin")
  if f then pending = f return "ready" end
  buffer = line
  return try_buffer()
end

function M.repl_more()
  local line, left = pushline(false)
  if line == nil then  -- end of input inside a statement: lua.c reports what is left on its stack
    pending, pending_err = nil, left
    return "ready"
  end
  buffer = buffer .. "\n" .. line
  return try_buffer()
end

function M.repl_eval()
  local f = pending
  pending = nil
  if f == nil then return false, errmsg(pending_err) end
  local r = docall(f)
  if not r[1] then return false, errmsg(r[2]) end
  if r.n > 1 then
    local ok, e = pcall(G.print, unpack(r, 2, r.n))
    if not ok then
      local s = type(e) == "string" and e or type(e) == "number" and e .. "" or "(null)"
      return false, "error calling 'print' (" .. s .. ")"
    end
  end
  return true
end

function M.writeline() write(stdout, "\n") flush(stdout) return true end
function M.flush() flush(stdout) return true end

return M`;

// The sandbox ('safe' or a list of libraries): one chunk, run in the CLI's context for each
// step; it has no debug library, so errors come back as the job's LuaError and
// bin/lua-mode.js removes this chunk's frames from the traceback.
const SANDBOX_NAME = 'luapool-cli';
const SANDBOX_DRIVER = String.raw`local op, a, b, c, d = ...
local function pack_(...) return select("#", ...), { ... } end
local function unpack_(t, i, n) if i <= n then return rawget(t, i), unpack_(t, i + 1, n) end end
if op == "init" then
  local t = {}
  for i = 1, #a do t[i - 1 - b] = a[i] end
  arg = t
  -- warn as in lua (off until "@on"); the CLI prints level 'lua-warning' as "Lua warning: "
  local log, type, select, tostring, pcall, error = engine.log, type, select, tostring, pcall, error
  local on = false
  warn = function(...)
    local n = select("#", ...)
    local msg = ""
    for i = 1, (n > 0 and n or 1) do
      local v = select(i, ...)
      local tv = type(v)
      if tv == "number" then
        v = tostring(v)
      elseif tv ~= "string" then
        error("bad argument #" .. i .. " to 'warn' (string expected, got " .. (i > n and "no value" or tv) .. ")", 2)
      end
      msg = msg .. v
    end
    if n == 1 then
      if msg == "@on" then on = true return end
      if msg == "@off" then on = false return end
      local ok, first = pcall(function() return msg:sub(1, 1) end)
      if ok and first == "@" then return end
    end
    if on then log("lua-warning", msg) end
  end
  return true
elseif op == "check" then
  local f, err = load(a, b, "t")
  if not f then return false, err end
  return true
elseif op == "run" then
  local __main, err = load(a, b, "t")
  if not __main then return false, err end
  local n, results
  if c then
    local args = arg
    if type(args) ~= "table" then error("'arg' is not a table", 0) end
    local nargs = #args
    n, results = pack_(__main(unpack_(args, 1, nargs)))
  else
    n, results = pack_(__main())
  end
  if d then
    ${SANITIZE_LUA.replace(/\n/g, '\n    ')}
    local memo, out = {}, {}
    for i = 1, n do out[i] = sanitize(results[i], memo) end
    return true, n, out
  end
  return true
elseif op == "library" then
  if require == nil then
    return false, "module '" .. b .. "' not found: require is not available (add package to --libs)"
  end
  local v = require(b)
  _ENV[a] = v
  return true
elseif op == "warn_on" then
  warn("@on")
  return true
elseif op == "prompt" then
  local p
  if a then p = _PROMPT else p = _PROMPT2 end
  if p == nil then return nil end
  return tostring(p)
elseif op == "repl" then
  local __main, err
  if b then __main = load("return " .. a .. ";", "=stdin", "t") end
  if not __main then
    __main, err = load(a, "=stdin", "t")
    if not __main then return false, err end
  end
  local n, results = pack_(__main())
  if n > 0 then
    local ok, e = pcall(print, unpack_(results, 1, n))
    if not ok then
      local s = type(e) == "string" and e or type(e) == "number" and tostring(e) or "(null)"
      return true, "error calling 'print' (" .. s .. ")"
    end
  end
  return true
end`;

module.exports = { ALL_DRIVER, SANDBOX_DRIVER, SANDBOX_NAME };
