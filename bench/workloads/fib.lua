-- fib: recursive function calls. Argument: n. Returns fib(n).
-- Portable across Lua 5.3/5.4 (fengari is 5.3 with 32-bit integers: keep values < 2^31).
local n = tonumber((...)) or 27
local function fib(k)
  if k < 2 then return k end
  return fib(k - 1) + fib(k - 2)
end
return fib(n)
