-- chase: hunters steer toward the nearest critter they can see and eat it on contact
-- (the world applies the meal at the frame barrier if nobody was faster). Hunting costs
-- energy; a hunter that runs out starves.
local M = {}

local REACH = 1.2
local HUNGER = 1.0    -- energy lost per second

local function bounce(x, v, max)
  if x < 0 then return -x, -v end
  if x > max then return 2 * max - x, -v end
  return x, v
end

function M.update(e, sense, dt)
  local energy = e.energy - HUNGER * dt
  if energy <= 0 then
    engine.log("info", string.format("hunter %d starved at (%.0f, %.0f)", e.id, e.x, e.y))
    return { x = e.x, y = e.y, vx = 0, vy = 0, energy = 0, dead = true, state = "starved" }
  end
  local prey = sense.prey
  local vx, vy, state, eat
  if prey then
    local dx, dy = prey.x - e.x, prey.y - e.y
    local d = math.max(prey.d, 1e-6)
    vx, vy = dx / d * e.speed, dy / d * e.speed
    state = "chasing"
    if prey.d < REACH then eat = prey.id end
  else
    local heading = math.atan(e.vy, e.vx) + (math.random() - 0.5) * 3 * dt
    vx, vy = math.cos(heading) * e.speed * 0.5, math.sin(heading) * e.speed * 0.5
    state = "prowling"
  end
  local x, y
  x, vx = bounce(e.x + vx * dt, vx, sense.w)
  y, vy = bounce(e.y + vy * dt, vy, sense.h)
  return { x = x, y = y, vx = vx, vy = vy, energy = energy, eat = eat, state = state }
end

return M
