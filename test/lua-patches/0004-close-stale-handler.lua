-- luapool patch 0004 (lua/lua 3fe7be95): closing a coroutine suspended inside
-- an xpcall must not pass __close errors through that (abandoned) message
-- handler (pristine 5.4.7: the handler rewrites the error).
local handlercalls = 0
local co = coroutine.create(function()
  xpcall(function()
    local x <close> = setmetatable({}, {__close = function() error("in close", 0) end})
    coroutine.yield()
  end, function(m) handlercalls = handlercalls + 1; return "handler: " .. tostring(m) end)
end)
assert(coroutine.resume(co))
local ok, err = coroutine.close(co)
assert(ok == false)
assert(err == "in close", "error rewritten by a stale message handler: " .. tostring(err))
assert(handlercalls == 0)
-- a handler that is still active keeps working
local ok2, err2 = xpcall(function()
  local y <close> = setmetatable({}, {__close = function() end})
  error("boom", 0)
end, function(m) return "handled " .. m end)
assert(not ok2 and err2 == "handled boom")
print("0004-close-stale-handler: ok")
