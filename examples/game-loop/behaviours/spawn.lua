-- spawn: nests stay put and hatch a new entity every `interval` seconds through
-- engine.spawn_entity (a host function; the spawn is applied at the frame barrier).
-- Every fourth hatchling is a hunter.
local M = {}

local INTERVAL = 1.5

function M.update(e, sense, dt)
  local timer = e.timer - dt
  local hatched = e.hatched
  if timer <= 0 then
    timer = timer + INTERVAL
    if sense.population < sense.cap then
      local kind = (hatched % 4 == 3) and "hunter" or "critter"
      local angle = math.random() * 2 * math.pi
      local id = engine.spawn_entity({
        kind = kind,
        x = e.x + math.cos(angle) * 2,
        y = e.y + math.sin(angle) * 2,
      })
      if id then
        hatched = hatched + 1
        engine.log("debug", string.format("nest %d hatched %s %d", e.id, kind, id))
      end
    end
  end
  return { x = e.x, y = e.y, vx = 0, vy = 0, timer = timer, hatched = hatched, state = "nesting" }
end

return M
