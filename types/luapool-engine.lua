---@meta _
-- luapool: what a script sees beyond standard Lua 5.4, for the Lua Language Server (LuaLS:
-- VS Code's "Lua" extension, lua_ls in Neovim and others). Definitions only: nothing here
-- runs. How to point LuaLS at this file, and at luapool-safe.lua for sandboxed scripts:
-- docs/api.md, "Editor support for script authors".

---The bridge to the host program (JavaScript). Read-only in the sandbox (`libs: 'safe'` or
---a list of libraries); a plain global table with `libs: 'all'`.
---
---The runner's host functions (its `host` option) are fields of this table too:
---`engine.spawn_entity(...)`. `luapool types --host host.js` writes a definition file with
---them (docs/api.md), so that LuaLS completes them and flags typos. A host function runs on
---the main thread; the script waits for its answer, a Lua error if it throws.
---@class luapool.engine
engine = {}

---Sends a log action to JavaScript: an `ActionQueue` entry `{ type: 'log', level, message }`,
---or the runner's `'log'` event. The other arguments are converted as `tostring` does and
---joined by single spaces; the message is capped at 64 KiB. Returns nothing.
---
---```lua
---engine.log("info", "orc", id, "spawned at", x, y)   --> message "orc 7 spawned at 1 2"
---```
---@param level string|number `"debug"`, `"info"`, `"warn"`, `"error"` by convention; a number arrives as a string
---@param ... any
function engine.log(level, ...) end

---Sends a post action to JavaScript: an `ActionQueue` entry `{ type: 'post', name, data }`,
---or the runner's `'post'` event. `data` is one value, copied like a result: nil, booleans,
---numbers, strings and tables of them. A function, coroutine or userdata in it raises an
---error here. Returns nothing.
---
---```lua
---engine.post("moved", { id = id, x = x, y = y })
---```
---@param name string|number a number arrives as a string
---@param data? any
function engine.post(name, data) end

---The same function as `engine.post`, under a longer name.
---@param fn_id string|number the post's name
---@param data? any
function engine.post_to_main_thread(fn_id, data) end

---The values the host published with `runner.share(name, value)`, as `engine.shared.<name>`:
---read-only (assigning, `rawset`, `setmetatable` or `table.insert` on them raise an error),
---converted into each state once per version rather than once per call. `#`, `pairs`,
---`ipairs` work; `next`, `rawget` and `rawlen` do not see the contents. Declare what your
---program shares in a file of your own, as fields of the class `luapool.shared`:
---
---```lua
------@class luapool.shared
------@field world { w: integer, h: integer, nests: { x: number, y: number }[] }
---```
---@class luapool.shared
---@type luapool.shared
engine.shared = {}

-- luapool's Lua is built as the reference `lua` is (LUA_COMPAT_5_3), so `math` still has
-- these functions of earlier versions, which LuaLS would otherwise report as missing in 5.4.

---Returns `x ^ y` (Lua 5.3 compatibility).
---@param x number
---@param y number
---@return number
function math.pow(x, y) end

---Returns `m * 2 ^ e` (Lua 5.3 compatibility).
---@param m number
---@param e integer
---@return number
function math.ldexp(m, e) end

---Returns `m` and `e` such that `x = m * 2 ^ e` (Lua 5.3 compatibility).
---@param x number
---@return number m
---@return integer e
function math.frexp(x) end

---Returns the base-10 logarithm of `x` (Lua 5.3 compatibility).
---@param x number
---@return number
function math.log10(x) end

---Returns the hyperbolic cosine of `x` (Lua 5.3 compatibility).
---@param x number
---@return number
function math.cosh(x) end

---Returns the hyperbolic sine of `x` (Lua 5.3 compatibility).
---@param x number
---@return number
function math.sinh(x) end

---Returns the hyperbolic tangent of `x` (Lua 5.3 compatibility).
---@param x number
---@return number
function math.tanh(x) end
