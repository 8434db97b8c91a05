-- luapool patch 0006 (lua/lua 1b0f943d): an all-weak table traversed during
-- the propagation phase and then given a new metatable must keep that
-- metatable alive. Pristine 5.4.7 frees the new metatable at the end of the
-- cycle although the table still uses it: the check below then reads freed
-- memory (wrong value / crash; AddressSanitizer: heap-use-after-free with
-- build/lua-pristine-asan/lua).
-- tiny incremental steps, so that a cycle takes many 'step' calls
collectgarbage("incremental", 200, 100, 4)
local ballast = {}                      -- something for the collector to traverse
for i = 1, 2000 do ballast[i] = {i} end
local deadline = os.clock() + 20
local bad = 0
for round = 1, 3000 do
  local t = setmetatable({}, {__mode = "kv"})
  collectgarbage()                      -- finish any cycle: t is now old news
  -- start a new cycle and advance it by small steps so that t gets traversed
  -- (into 'allweak') while the cycle is still propagating
  for _ = 1, round % 97 do collectgarbage("step", 0) end
  local mt = {__mode = "kv", marker = round}
  setmetatable(t, mt)
  mt = nil
  -- finish this same cycle with steps ('collectgarbage()' would restart it)
  repeat until collectgarbage("step", 0)
  -- reuse freed memory with other tables of the same shape
  local junk = {}
  for i = 1, 50 do junk[i] = {__mode = "kv", marker = -i} end
  local m = getmetatable(t)
  if type(m) ~= "table" or m.marker ~= round then bad = bad + 1 end
  if os.clock() > deadline then error("timeout") end
end
assert(bad == 0, "metatable of an all-weak table was collected while in use (" .. bad .. " times)")
print("0006-allweak-metatable: ok")
