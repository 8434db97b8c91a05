-- strings: string.format, concatenation, gsub, gmatch, find, rep, upper. Argument: n (lines).
local n = tonumber((...)) or 20000
local names = { "orc", "goblin", "knight", "wizard", "dragon", "slime", "archer", "troll" }
local parts = {}
for i = 1, n do
  local name = names[i % #names + 1]
  parts[#parts + 1] = string.format("%06d:%s:%d.%02d;hp=%d", i, name, i // 7, i % 100, (i * 37) % 1000)
end
local text = table.concat(parts, "\n")
-- gsub with a pattern and a function replacement
local replaced, count = text:gsub("hp=(%d+)", function(hp) return "HP<" .. (tonumber(hp) * 2) .. ">" end)
-- gmatch over words and numbers
local words, digits = 0, 0
for w in replaced:gmatch("%a+") do words = words + #w end
for d in replaced:gmatch("%d+") do digits = (digits + #d) % 1000003 end
-- plain concatenation in a loop (string building)
local s = ""
for i = 1, n // 20 do s = s .. names[i % #names + 1]:upper() .. "," end
local found = 0
local init = 1
while true do
  local a, b = string.find(s, "ORC,", init, true)
  if not a then break end
  found = found + 1
  init = b + 1
end
local rep = string.rep("ab", 1000, "-")
return (#text + count * 3 + words + digits + #s + found + #rep) % 1000003
