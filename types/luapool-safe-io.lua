---@meta _
-- luapool's sandbox (`libs: 'safe'`): the restricted `io` and the read-only `debug` subset,
-- for the Lua Language Server. `luapool types` puts this file into the definition file it
-- writes for 'safe'; to use it by hand, list it with luapool-engine.lua and luapool-safe.lua
-- and disable LuaLS's own `io` and `debug` too:
--
--   "runtime": { "version": "Lua 5.4", "builtin": { "os": "disable", "io": "disable", "debug": "disable" } }
--
-- What each function does in the sandbox: docs/api.md, "`io` in the sandbox" and
-- "`debug` in the sandbox".

---A standard stream of the sandbox: `io.stdout`, `io.stderr` (writes become log actions)
---or `io.stdin` (always at end of file).
---@class luapool.file
local file = {}

---Writes strings and numbers; returns the file. Written lines arrive as log actions
---(level `'info'` for `io.stdout`, `'warn'` for `io.stderr`).
---@param ... string|number
---@return luapool.file
function file:write(...) end

---The standard input is empty: `nil` (end of file) for `"n"`, `"l"`, `"L"` and counts, `""` for `"a"`.
---@param ... "n"|"a"|"l"|"L"|integer
---@return string|number|nil
function file:read(...) end

---An iterator over the empty input: a `for` loop runs zero times.
---@param ... "n"|"a"|"l"|"L"|integer
---@return fun(): string|number|nil
function file:lines(...) end

---Sends the unfinished line; returns `true`.
---@return true
function file:flush() end

---The standard streams cannot be closed: returns `nil, "cannot close standard file"`.
---@return nil
---@return string
function file:close() end

---The streams are not seekable: returns `nil, "Illegal seek", 29`.
---@param whence? "set"|"cur"|"end"
---@param offset? integer
---@return nil
---@return string
---@return integer
function file:seek(whence, offset) end

---Checks `mode` and returns `true`; buffering stays per line.
---@param mode "no"|"full"|"line"
---@param size? integer
---@return true
function file:setvbuf(mode, size) end

---The sandbox's `io`: the standard streams, no files, no processes.
---@class luapool.io
---@field stdout luapool.file writes become log actions of level 'info'
---@field stderr luapool.file writes become log actions of level 'warn'
---@field stdin luapool.file always at end of file
io = {}

---Writes to the default output (`io.stdout` unless `io.output` changed it); returns it.
---@param ... string|number
---@return luapool.file
function io.write(...) end

---Reads the default input, which is empty: `nil` (end of file), `""` for `"a"`.
---@param ... "n"|"a"|"l"|"L"|integer
---@return string|number|nil
function io.read(...) end

---An iterator over the empty default input; with a file name, `nil` and
---"io.lines is not available in the sandbox".
---@param filename? nil
---@param ... "n"|"a"|"l"|"L"|integer
---@return fun(): string|number|nil
function io.lines(filename, ...) end

---Sends the unfinished line of the default output; returns `true`.
---@return true
function io.flush() end

---The standard streams cannot be closed: returns `nil, "cannot close standard file"`.
---@param f? luapool.file
---@return nil
---@return string
function io.close(f) end

---Gets or sets the default input: one of the three streams (a file name returns `nil`
---and "io.input is not available in the sandbox").
---@param f? luapool.file
---@return luapool.file
function io.input(f) end

---Gets or sets the default output: one of the three streams (a file name returns `nil`
---and "io.output is not available in the sandbox").
---@param f? luapool.file
---@return luapool.file
function io.output(f) end

---`"file"` for the three streams, else `nil`.
---@param x any
---@return "file"|nil
function io.type(x) end

---Not available in the sandbox: returns `nil, "io.open is not available in the sandbox"`.
---@deprecated
---@return nil
---@return string
function io.open(filename, mode) end

---Not available in the sandbox: returns `nil, "io.popen is not available in the sandbox"`.
---@deprecated
---@return nil
---@return string
function io.popen(prog, mode) end

---Not available in the sandbox: returns `nil, "io.tmpfile is not available in the sandbox"`.
---@deprecated
---@return nil
---@return string
function io.tmpfile() end

---The sandbox's `debug`: read-only, only what describes functions and the job's own stack.
---Every other function of Lua's `debug` is absent (`nil`).
---@class luapool.debug
debug = {}

---@class luapool.debuginfo
---@field source? string
---@field short_src? string
---@field what? "Lua"|"C"|"main"
---@field currentline? integer
---@field linedefined? integer
---@field lastlinedefined? integer
---@field name? string
---@field namewhat? string
---@field nups? integer
---@field nparams? integer
---@field isvararg? boolean
---@field istailcall? boolean
---@field activelines? table<integer, boolean>
---@field func? function

---Returns a traceback of the job's stack (or a coroutine's), after `message`.
---@overload fun(message?: any, level?: integer): string
---@param thread thread
---@param message? any
---@param level? integer
---@return string
function debug.traceback(thread, message, level) end

---Describes a function, or a level of the job's own stack (or a coroutine's).
---@overload fun(f: integer|function, what?: string): luapool.debuginfo|nil
---@param thread thread
---@param f integer|function
---@param what? string
---@return luapool.debuginfo|nil
function debug.getinfo(thread, f, what) end

-- The base functions the sandbox leaves out. LuaLS cannot take a built-in function away;
-- these declarations mark them deprecated, so a call is flagged.

---Not available in the sandbox: raises "dofile is not available in the sandbox".
---@deprecated
function dofile(filename) end

---Not available in the sandbox: returns `nil, "loadfile is not available in the sandbox"`.
---@deprecated
---@return nil
---@return string
function loadfile(filename, mode, env) end

---Not available in the sandbox: raises "string.dump is not available in the sandbox".
---@deprecated
function string.dump(f, strip) end
