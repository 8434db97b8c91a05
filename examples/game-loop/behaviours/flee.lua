-- flee: run straight away from the nearest hunter at full speed; calm down (back to
-- "wander") once no hunter is within SAFE.
local M = {}

local SAFE = 16

local function clamp(v, lo, hi)
  if v < lo then return lo elseif v > hi then return hi end
  return v
end

function M.update(e, sense, dt)
  local threat = sense.threat
  if not threat or threat.d > SAFE then
    return { x = e.x, y = e.y, vx = e.vx * 0.5, vy = e.vy * 0.5, behaviour = "wander", state = "calm" }
  end
  local dx, dy = e.x - threat.x, e.y - threat.y
  local d = math.sqrt(dx * dx + dy * dy)
  if d < 1e-6 then dx, dy, d = math.random() - 0.5, math.random() - 0.5, 1 end
  local vx, vy = dx / d * e.speed, dy / d * e.speed
  -- cornered against a wall: slide along it
  local x = clamp(e.x + vx * dt, 0, sense.w)
  local y = clamp(e.y + vy * dt, 0, sense.h)
  return { x = x, y = y, vx = vx, vy = vy, state = "fleeing" }
end

return M
