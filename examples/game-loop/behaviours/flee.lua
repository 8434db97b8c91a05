-- flee: run straight away from the nearest hunter (near_*) at full speed; calm down (back
-- to "wander") once no hunter is within SAFE.
local M = {}

-- the fields of `e` that update reads or writes: the world lends it only these columns
M.columns = { "behaviour", "state", "x", "y", "vx", "vy", "speed", "near_x", "near_y", "near_d" }

local SAFE = 16
local random = math.random

local function clamp(v, lo, hi)
  if v < lo then return lo elseif v > hi then return hi end
  return v
end

-- world: the world's size and the codes of names (the same table as engine.shared.world,
-- passed with each call: a plain table is cheaper to read for every row)
function M.update(e, dt, world)
  if e.near_d > SAFE then
    e.vx, e.vy = e.vx * 0.5, e.vy * 0.5
    e.behaviour, e.state = world.behaviour.wander, world.state.calm
    return
  end
  local dx, dy, d = e.x - e.near_x, e.y - e.near_y, e.near_d   -- away from it, its distance
  if d < 1e-6 then dx, dy, d = random() - 0.5, random() - 0.5, 1 end
  local vx, vy = dx / d * e.speed, dy / d * e.speed
  -- cornered against a wall: slide along it
  e.x = clamp(e.x + vx * dt, 0, world.w)
  e.y = clamp(e.y + vy * dt, 0, world.h)
  e.vx, e.vy, e.state = vx, vy, world.state.fleeing
end

return M
