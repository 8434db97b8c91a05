-- wander: critters drift on a slowly turning heading and switch to "flee" when a hunter
-- comes close. update(e, dt) changes the entity in place: `e` is a row of the world's
-- columns (runner.callColumns), read and written as a table; near_* is the nearest hunter.
local M = {}

-- the fields of `e` that update reads or writes: the world lends it only these columns
M.columns = { "behaviour", "state", "x", "y", "vx", "vy", "speed", "near_d" }

local ALARM = 10      -- a hunter closer than this makes a critter flee
local atan, cos, sin, random = math.atan, math.cos, math.sin, math.random

local function bounce(x, v, max)
  if x < 0 then return -x, -v end
  if x > max then return 2 * max - x, -v end
  return x, v
end

-- world: the world's size and the codes of names (the same table as engine.shared.world,
-- passed with each call: a plain table is cheaper to read for every row)
function M.update(e, dt, world)
  if e.near_d < ALARM then
    e.behaviour, e.state = world.behaviour.flee, world.state.alarmed
    return
  end
  local heading = atan(e.vy, e.vx) + (random() - 0.5) * 6 * dt
  local speed = e.speed * 0.4
  local vx, vy = cos(heading) * speed, sin(heading) * speed
  e.x, e.vx = bounce(e.x + vx * dt, vx, world.w)
  e.y, e.vy = bounce(e.y + vy * dt, vy, world.h)
  e.state = world.state.wandering
end

return M
