-- payloads: the functions the calls section's realistic payloads go through
-- (bench/lib/payloads.js puts bench/workloads/entity.lua, as a function call, in place of the marker below).
local entity = --[[entity]]
local M = {}
local update = entity.update
function M.update(e) return update(e, 1 / 60) end   -- 12 fields in, 6 back
function M.echo(v) return v end   -- a 1 KB string, a 50-element array
return M
