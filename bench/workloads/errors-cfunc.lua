-- errors-cfunc: an argument error raised inside a C library function (setmetatable; in
-- luapool's sandbox also crossing the sandbox's own setmetatable wrapper) called from a
-- Lua frame. Argument: n. Returns how many were caught.
local n = tonumber((...)) or 10000
local pcall, setmetatable = pcall, setmetatable
local mt = {}
local function f(i) local t = setmetatable(i, mt) return t end
local caught = 0
for i = 1, n do
  if not pcall(f, i) then caught = caught + 1 end
end
return caught
