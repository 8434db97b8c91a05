-- chase: hunters steer toward the nearest critter they can see (near_*) and eat it on
-- contact (e.eat = its id; the world applies the meal at the frame barrier if nobody was
-- faster). Hunting costs energy; a hunter that runs out starves (e.dead = 1).
local M = {}

-- the fields of `e` that update reads or writes: the world lends it only these columns
M.columns = { "id", "state", "x", "y", "vx", "vy", "speed", "energy", "near_x", "near_y", "near_d", "near_id",
  "eat", "dead" }

local REACH = 1.2
local HUNGER = 1.0    -- energy lost per second
local atan, cos, sin, random = math.atan, math.cos, math.sin, math.random

local function bounce(x, v, max)
  if x < 0 then return -x, -v end
  if x > max then return 2 * max - x, -v end
  return x, v
end

-- world: the world's size and the codes of names (the same table as engine.shared.world,
-- passed with each call: a plain table is cheaper to read for every row)
function M.update(e, dt, world)
  local energy = e.energy - HUNGER * dt
  if energy <= 0 then
    engine.log("info", string.format("hunter %d starved at (%.0f, %.0f)", e.id, e.x, e.y))
    e.energy, e.vx, e.vy, e.dead, e.state = 0, 0, 0, 1, world.state.starved
    return
  end
  local vx, vy
  if e.near_id ~= 0 then
    local d = math.max(e.near_d, 1e-6)
    vx, vy = (e.near_x - e.x) / d * e.speed, (e.near_y - e.y) / d * e.speed
    e.state = world.state.chasing
    if e.near_d < REACH then e.eat = e.near_id end
  else
    local heading = atan(e.vy, e.vx) + (random() - 0.5) * 3 * dt
    vx, vy = cos(heading) * e.speed * 0.5, sin(heading) * e.speed * 0.5
    e.state = world.state.prowling
  end
  e.x, e.vx = bounce(e.x + vx * dt, vx, world.w)
  e.y, e.vy = bounce(e.y + vy * dt, vy, world.h)
  e.energy = energy
end

return M
