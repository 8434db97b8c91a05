-- tables: build arrays and hash tables, sort, sum. Argument: n (elements per pass).
-- Integer math stays below 2^31 (fengari uses 32-bit integers).
local n = tonumber((...)) or 100000
local x = 12345
local function rnd()
  x = (x * 75 + 74) % 65537
  return x
end
local check = 0
for pass = 1, 3 do
  -- array build
  local a = {}
  for i = 1, n do a[i] = rnd() end
  table.sort(a)
  local s = 0
  for i = 1, #a do s = (s + a[i] * (i % 1000)) % 1000003 end
  -- hash part: string and integer keys, reads and updates
  local h = {}
  for i = 1, n do
    local k = a[i] % 4099
    h[k] = (h[k] or 0) + 1
  end
  local distinct = 0
  for k, v in pairs(h) do distinct = distinct + v * (k % 7 + 1) end
  -- records: array of small tables, sorted by field with a comparator
  local recs = {}
  for i = 1, n // 4 do recs[i] = { id = i, w = rnd() % 997 } end
  table.sort(recs, function(p, q) if p.w ~= q.w then return p.w < q.w end return p.id < q.id end)
  local r = 0
  for i = 1, #recs, 7 do r = (r + recs[i].id * (i % 100)) % 1000003 end
  -- insert/remove
  local q = {}
  for i = 1, 1000 do table.insert(q, i) end
  for i = 1, 500 do table.remove(q, 1) end
  check = (check + s + distinct + r + #q + pass) % 1000003
end
return check
