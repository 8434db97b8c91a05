-- luapool patch 0003 (lua/lua 782ef85b): indices that are comparisons, on an
-- upvalue table (pristine 5.4.7: the table register is not loaded on the
-- "true" path -> "attempt to index a number value" or wrong results).
local t = {[true] = "yes", [false] = "no"}
local function get(a, b) return t[a < b] end
local function getk() return t[1 < 2] end
local function geteq(x) return t[x == 1] end
assert(getk() == "yes")
assert(get(1, 2) == "yes" and get(2, 1) == "no")
assert(geteq(1) == "yes" and geteq(2) == "no")
local u = {}
local function set(a, b, v) u[a < b] = v end
set(1, 2, 10); set(3, 2, 20)
assert(u[true] == 10 and u[false] == 20)
local function setk() u[1 <= 2] = "k" end
setk()
assert(u[true] == "k")
-- inside a method-call chain and nested
local obj = {data = t}
local function nested(a) return obj.data[a > 0] end
assert(nested(1) == "yes" and nested(-1) == "no")
print("0003-index-comparison: ok")
