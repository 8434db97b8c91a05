-- wander: critters drift on a slowly turning heading and switch to "flee" when a hunter
-- comes close. update(e, sense, dt) returns the entity's next position and state.
local M = {}

local ALARM = 10      -- a hunter closer than this makes a critter flee

local function bounce(x, v, max)
  if x < 0 then return -x, -v end
  if x > max then return 2 * max - x, -v end
  return x, v
end

function M.update(e, sense, dt)
  local threat = sense.threat
  if threat and threat.d < ALARM then
    return { x = e.x, y = e.y, vx = e.vx, vy = e.vy, behaviour = "flee", state = "alarmed" }
  end
  local heading = math.atan(e.vy, e.vx) + (math.random() - 0.5) * 6 * dt
  local speed = e.speed * 0.4
  local vx, vy = math.cos(heading) * speed, math.sin(heading) * speed
  local x, y
  x, vx = bounce(e.x + vx * dt, vx, sense.w)
  y, vy = bounce(e.y + vy * dt, vy, sense.h)
  return { x = x, y = y, vx = vx, vy = vy, state = "wandering" }
end

return M
