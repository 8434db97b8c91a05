-- The gameloop floor in the standalone interpreter: the frame loop runs inside Lua over a
-- sequence of entity tables (bench/workloads/entity.lua's M.frame), timed with os.clock().
-- usage: lua entity-frame.lua <entity.lua> <n> <warmup> <frames> <maxMs>
-- Prints one JSON line: frame times (ms), frames run in all, checksum.
local path, n, warm, frames, maxMs = arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])
local M = assert(loadfile(path))()
local list = {}
for i = 0, n - 1 do  -- the formulas of bench/lib/entities.js makeEntities()
  list[#list + 1] = { id = i, x = (i * 37) % 160, y = (i * 11) % 60, vx = 0, vy = 0, tx = (i * 53) % 160,
    ty = (i * 7) % 60, speed = 2 + i % 5, energy = 10 + i % 7, state = 1, kind = i % 2, age = 0 }
end
local dt = 1 / 60
local w0, warmed = os.clock(), 0
while warmed < warm and (warmed == 0 or (os.clock() - w0) * 1000 < maxMs) do
  M.frame(list, dt)
  warmed = warmed + 1
end
local times, t0 = {}, os.clock()
while #times < frames and (#times < 3 or (os.clock() - t0) * 1000 < maxMs) do
  local s = os.clock()
  M.frame(list, dt)
  times[#times + 1] = string.format("%.6f", (os.clock() - s) * 1000)
end
local sum = 0.0  -- the order of bench/lib/entities.js checksumOf()
for i = 1, n do
  local e = list[i]
  sum = sum + e.x + e.y + e.vx + e.vy + e.energy + e.state
end
io.write(string.format('{"ms":[%s],"framesRun":%d,"checksum":%.17g}\n', table.concat(times, ","), warmed + #times, sum))
