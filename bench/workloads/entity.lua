-- The issue-10 entity behaviour, written once against e.x so that `e` may be a table
-- (callMany, wasmoon, fengari, the standalone lua) or a callColumns row view.
-- 12 fields in: id, x, y, vx, vy, tx, ty, speed, energy, state, kind, age; step() writes
-- x, y, vx, vy, energy, state in place; update() also returns those 6 as a new table.
local M = {}
local sqrt = math.sqrt
local SEEK, WANDER, TIRED = 1, 2, 3
function M.step(e, dt)
  local dx, dy = e.tx - e.x, e.ty - e.y
  local d = sqrt(dx * dx + dy * dy)
  local speed = e.speed
  if e.energy < 1 then speed = speed * 0.5 end
  local vx, vy
  if d > 1e-6 then vx, vy = dx / d * speed, dy / d * speed else vx, vy = 0, 0 end
  e.vx = e.vx + (vx - e.vx) * 0.2
  e.vy = e.vy + (vy - e.vy) * 0.2
  e.x = e.x + e.vx * dt
  e.y = e.y + e.vy * dt
  e.energy = e.energy - dt * (e.kind == 1 and 0.5 or 0.25)
  e.state = d < 1 and WANDER or (e.energy < 1 and TIRED or SEEK)
end
local step = M.step
function M.update(e, dt)
  step(e, dt)
  return { x = e.x, y = e.y, vx = e.vx, vy = e.vy, energy = e.energy, state = e.state }
end
-- The whole frame inside Lua, over a sequence of entity tables (the standalone floor).
function M.frame(list, dt)
  for i = 1, #list do step(list[i], dt) end
end
return M
