-- wander: critters drift on a slowly turning heading and switch to "flee" when a hunter
-- comes close. update(e, dt) changes the entity in place: `e` is a row of the world's
-- columns (runner.callColumns), read and written as a table; near_* is the nearest hunter.
local M = {}

-- the fields of `e` that update reads or writes: the world lends it only these columns
M.columns = { "behaviour", "state", "x", "y", "vx", "vy", "speed", "near_d" }

local ALARM = 10      -- a hunter closer than this makes a critter flee

local function bounce(x, v, max)
  if x < 0 then return -x, -v end
  if x > max then return 2 * max - x, -v end
  return x, v
end

function M.update(e, dt)
  local world = engine.shared.world   -- the world's size and the codes of names (runner.share)
  if e.near_d < ALARM then
    e.behaviour, e.state = world.behaviour.flee, world.state.alarmed
    return
  end
  local heading = math.atan(e.vy, e.vx) + (math.random() - 0.5) * 6 * dt
  local speed = e.speed * 0.4
  local vx, vy = math.cos(heading) * speed, math.sin(heading) * speed
  e.x, e.vx = bounce(e.x + vx * dt, vx, world.w)
  e.y, e.vy = bounce(e.y + vy * dt, vy, world.h)
  e.state = world.state.wandering
end

return M
