-- luapool patch 0007 (lua/lua 934fdd48, 267ef461): constructor item counters.
-- The overflow itself needs ~2^30 items (a multi-gigabyte chunk) and cannot
-- be tested here (see docs/lua-patches.md); this checks that the new limit
-- checks do not reject ordinary or large constructors.
local parts = {}
for i = 1, 100000 do parts[#parts + 1] = "[" .. i .. "]=" .. i .. ", " .. i end
local f = assert(load("return {" .. table.concat(parts, ", ") .. "}"))
local t = f()
assert(t[100000] == 100000 and #t >= 100000)
local named = {}
for i = 1, 50000 do named[#named + 1] = "k" .. i .. " = " .. i end
local g = assert(load("return {" .. table.concat(named, "; ") .. "}"))
assert(g().k50000 == 50000)
print("0007-constructor-limits: ok")
