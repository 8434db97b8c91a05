-- luapool patch 0012 (Lua 5.4.7 bug, fixed in 5.4.8; 5.4.8's testes/errors.lua):
-- a field of the string constant '_ENV' was reported as a global (pristine
-- 5.4.7: "attempt to perform arithmetic on a nil value (global 'x')").
local function message(src)
  local f = assert(load(src))
  local ok, msg = pcall(f)
  assert(not ok, src .. " did not fail")
  return msg
end
local function check(src, expected)
  local msg = message(src)
  assert(string.find(msg, expected, 1, true), src .. ": " .. msg)
end
-- the upstream regression test
check("print(('_ENV').x + 1)", "field 'x'")
-- the same with a call and with a method-free index chain
check("return ('_ENV').x()", "field 'x'")
check("local s = ('_ENV').y .. 'z'", "field 'y'")
-- the real _ENV is still a global, as a local and as an upvalue
check("return undefinedglobal + 1", "global 'undefinedglobal'")
check("local _ENV = {}; return x + 1", "global 'x'")
check("local _ENV = {}; return (function() return x.y end)()", "global 'x'")
-- other tables keep their names (and the bug of 5.4.6 stays fixed)
check("local t = {}; return t.a.b", "field 'a'")
check("a = {_ENV = {}}; return a._ENV.x + 1", "field 'x'")
a = nil
print("0012-env-string-constant: ok")
