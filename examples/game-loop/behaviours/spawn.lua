-- spawn: nests stay put and hatch a new entity every INTERVAL seconds through
-- engine.spawn_entity (a host function; the world adds it at the frame barrier). Every
-- fourth hatchling is a hunter. Each nest's timer and count live here, in the module:
-- the world calls update through runner.callMany with keys = nest ids, so a nest runs on
-- the same lua_State every frame and finds its own entry again. update(nest, dt,
-- population) returns how many the nest has hatched.
local M = {}

local INTERVAL = 1.5
local nests = {}      -- nest id -> { timer = seconds to the next hatch, hatched = count }

function M.update(e, dt, population)
  local nest = nests[e.id]
  if not nest then
    nest = { timer = math.random() * INTERVAL, hatched = 0 }
    nests[e.id] = nest
  end
  nest.timer = nest.timer - dt
  if nest.timer <= 0 then
    nest.timer = nest.timer + INTERVAL
    if population < engine.shared.world.cap then
      local kind = (nest.hatched % 4 == 3) and "hunter" or "critter"
      local angle = math.random() * 2 * math.pi
      local id = engine.spawn_entity({
        kind = kind,
        x = e.x + math.cos(angle) * 2,
        y = e.y + math.sin(angle) * 2,
      })
      if id then
        nest.hatched = nest.hatched + 1
        engine.log("debug", string.format("nest %d hatched %s %d", e.id, kind, id))
      end
    end
  end
  return nest.hatched
end

return M
