---@meta _
-- luapool's sandbox (`libs: 'safe'`, the default), for the Lua Language Server. Use it with
-- luapool-engine.lua and with these settings in .luarc.json, which take away the full `os`;
-- this file gives it back with the four functions the sandbox keeps, and the others as
-- stand-ins that raise "<name> is not available in the sandbox". `io`, `debug` and
-- `package`/`require` exist in the sandbox as restricted subsets (docs/api.md, "The 'safe'
-- profile"); LuaLS shows them in full:
--
--   "runtime": { "version": "Lua 5.4", "builtin": { "os": "disable" } }
--
-- LuaLS cannot take single functions away: it still offers `dofile`, `loadfile` and
-- `string.dump`, which the sandbox does not have. Also different in the sandbox (see
-- docs/api.md, "The 'safe' profile"): `load` compiles text only; `setmetatable` refuses a
-- metatable with `__gc`; `collectgarbage` takes only "collect", "count", "step" and
-- "isrunning"; `print` and `warn` send log actions; the library tables are read-only;
-- each job has its own globals and its own `math.random` generator.

---The sandbox's `os`: time and date only.
---@class luapool.os
os = {}

---@class luapool.osdate
---@field year integer
---@field month integer
---@field day integer
---@field hour? integer
---@field min? integer
---@field sec? integer
---@field wday? integer
---@field yday? integer
---@field isdst? boolean

---Returns the CPU time the program has used, in seconds.
---@return number
function os.clock() end

---Returns the date and time as a string or, with format `"*t"` or `"!*t"`, a table.
---@param format? string
---@param time? integer
---@return string|luapool.osdate
function os.date(format, time) end

---Returns `t2 - t1` in seconds.
---@param t2 integer
---@param t1? integer
---@return number
function os.difftime(t2, t1) end

---Returns the current time, or the time the table `date` describes.
---@param date? luapool.osdate
---@return integer
function os.time(date) end

---Not available in the sandbox: raises "os.execute is not available in the sandbox".
---@deprecated
function os.execute(command) end

---Not available in the sandbox: raises "os.exit is not available in the sandbox".
---@deprecated
function os.exit(code, close) end

---Not available in the sandbox: raises "os.getenv is not available in the sandbox".
---@deprecated
function os.getenv(varname) end

---Not available in the sandbox: raises "os.remove is not available in the sandbox".
---@deprecated
function os.remove(filename) end

---Not available in the sandbox: raises "os.rename is not available in the sandbox".
---@deprecated
function os.rename(oldname, newname) end

---Not available in the sandbox: raises "os.setlocale is not available in the sandbox".
---@deprecated
function os.setlocale(locale, category) end

---Not available in the sandbox: raises "os.tmpname is not available in the sandbox".
---@deprecated
function os.tmpname() end
