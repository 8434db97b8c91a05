-- errors-deep: error raised three Lua frames below the pcall (error adds the position, as
-- a script's error usually does). Argument: n. Returns how many were caught.
local n = tonumber((...)) or 10000
local pcall, error = pcall, error
local function f3(i) error("x") end
local function f2(i) f3(i) return i end  -- not tail calls: three frames on the stack
local function f1(i) f2(i) return i end
local caught = 0
for i = 1, n do
  if not pcall(f1, i) then caught = caught + 1 end
end
return caught
