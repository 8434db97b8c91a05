-- luapool patch 0001 (lua/lua efddc230): string.gmatch retried after
-- "pattern too complex" must fail again with the same error, not recurse
-- without limit (pristine 5.4.7: SIGSEGV on the second call).
local n = 1000000
local subject = string.rep("a", n)
local pattern = string.rep("a?", n)     -- every 'a?' adds a level of 'match' recursion
local it = string.gmatch(subject, pattern)
for round = 1, 3 do
  local ok, err = pcall(it)
  assert(not ok, "round " .. round .. ": expected an error")
  assert(string.find(err, "pattern too complex", 1, true), err)
end
-- the same for a fresh iterator after a failed one, and for gsub/find
assert(not pcall(string.find, subject, pattern))
assert(select(2, pcall(string.gsub, subject, pattern, "")):find("too complex"))
-- normal gmatch still works
local t = {}
for w in string.gmatch("one two three", "%a+") do t[#t + 1] = w end
assert(#t == 3 and t[3] == "three")
print("0001-gmatch-recursion-counter: ok")
