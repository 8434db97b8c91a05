-- Runs one workload in the standalone interpreter and prints one JSON line.
-- usage: lua lua-harness.lua <workload.lua> <n> <iters> <warmup> [warmupMs]
-- Warm-up: at least <warmup> untimed calls and, if <warmup> > 0, until warmupMs of CPU time.
local path, n, iters, warm = arg[1], arg[2], tonumber(arg[3]) or 1, tonumber(arg[4]) or 0
local warmMs = tonumber(arg[5]) or 0
local f = assert(io.open(path, "rb"))
local src = f:read("a")
f:close()
local times, last = {}, nil
local w0 = os.clock()
local i = 0
while i < warm or (warm > 0 and (os.clock() - w0) * 1000 < warmMs) do
  last = assert(load(src, "=" .. path))(n)
  i = i + 1
end
local warmSpent = (os.clock() - w0) * 1000
for _ = 1, iters do
  local fn = assert(load(src, "=" .. path))
  local t0 = os.clock()
  last = fn(n)
  local t1 = os.clock()
  times[#times + 1] = string.format("%.6f", (t1 - t0) * 1000)
end
io.write(string.format('{"checksum":"%s","cpuMs":[%s],"heapKB":%.3f,"warmupMs":%.3f}\n',
  tostring(last), table.concat(times, ","), collectgarbage("count"), warmSpent))
