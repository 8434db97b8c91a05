-- luapool patch 0008 (lua/lua 10eb89d1): lead bytes 0xFE/0xFF must be rejected
-- without a 35-bit shift. The results were already right; the undefined
-- behaviour is only visible with -fsanitize=undefined: run this with
-- build/lua-cli-ubsan/lua (passes) vs build/lua-pristine-ubsan/lua (aborts:
-- "shift exponent 35 is too large"), both built by
-- `node scripts/build-lua-cli.js --ubsan [--pristine]`.
local cont = string.rep("\x80", 7)
for _, lead in ipairs{"\xFE", "\xFF"} do
  local s = lead .. cont
  assert(utf8.len(s) == nil)
  assert(utf8.len(s, 1, -1, true) == nil)            -- lax mode too
  assert(not pcall(utf8.codepoint, s, 1, 1, true))
  assert(not pcall(function() for _ in utf8.codes(s, true) do end end))
end
-- valid long sequences still decode (lax mode accepts up to 2^31)
assert(utf8.codepoint("\xFD\xBF\xBF\xBF\xBF\xBF", 1, 1, true) == 0x7FFFFFFF)
assert(utf8.len("\u{10FFFF}héllo") == 6)
print("0008-utf8-shift: ok")
