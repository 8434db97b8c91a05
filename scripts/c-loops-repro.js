#!/usr/bin/env node
// The workloads of issue 12 ("C loops that no check reaches"), one job each, timed from
// run() to settlement. Used for the before/after table in docs/lua-patches.md.
//
//   node scripts/c-loops-repro.js [scenario ...] [--timeout=1000] [--memory=256] [--kill=60]
//
// Each scenario runs in a child process (a job that never settles keeps its libuv thread,
// and the process then cannot exit): the child is killed after --kill seconds and the
// scenario reported as "never". LUAPOOL=<dir> measures another build of the package.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');

const HUGE_LEN = '__len = function() return math.maxinteger // 2 end';
const SCENARIOS = {
  'insert-fn': `local t = setmetatable({}, { ${HUGE_LEN},
    __index = function(t, k) return k end, __newindex = function() end }) table.insert(t, 1, 0)`,
  'remove-fn': `local t = setmetatable({}, { ${HUGE_LEN},
    __index = function(t, k) return k end, __newindex = function() end }) table.remove(t, 1)`,
  'insert-table': `local t = setmetatable({}, { ${HUGE_LEN}, __index = {}, __newindex = {} })
    table.insert(t, 1, 0)`,
  'remove-cfn': `local t = setmetatable({}, { ${HUGE_LEN}, __index = rawlen, __newindex = rawequal })
    table.remove(t, 1)`,
  'load-reader': 'return load(function() return " " end)',
  'sort-comparator': `local t = setmetatable({}, { __len = function() return 1 << 30 end,
    __index = function(t, i) return i end, __newindex = function() end })
    table.sort(t, function(a, b) return true end)`,
  'find-plain': `local s = ("a"):rep(1 << 20) local n = ("a"):rep(500 * 1024) .. "b"
    return string.find(s, n, 1, true)`,
  'balance': 'local s = ("("):rep(8 << 20) return string.find(s, "%b()")',
  'long-set': `local set = "[" .. ("b"):rep(1 << 20) .. "a]"
    return string.find(("a"):rep(1 << 20), set .. "*x")`,
  'frontier': `local set = "%f[" .. ("b"):rep(1 << 20) .. "]"
    return string.find(("a"):rep(1 << 20), set)`,
  'gsub-empty': 'return #string.gsub(("b"):rep(1 << 20), "(a*)", ("%1"):rep(1 << 19))',
  'ephemeron': `local n = 200000 local keys = {} for i = 1, n do keys[i] = {} end
    for i = n, 2, -1 do local j = math.random(i) keys[i], keys[j] = keys[j], keys[i] end
    local e = setmetatable({}, { __mode = "k" }) for i = 1, n - 1 do e[keys[i]] = keys[i + 1] end
    local head = keys[1] keys = nil
    while true do collectgarbage() end`,
  'emergency-gc': `local heap = {} for i = 1, 1500000 do heap[i] = { i } end
    local function level(n)
      if n == 0 then while true do end end
      local co = coroutine.create(level)
      while true do
        coroutine.resume(co, n - 1)
        local t = { n }
      end
    end
    level(150)`,
};

const args = process.argv.slice(2);
const opt = (name, def) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : def;
};
const timeoutMs = opt('timeout', 1000);
const memoryMiB = opt('memory', 256);
const killS = opt('kill', 60);
const names = args.filter((a) => !a.startsWith('--'));
const pkg = path.resolve(process.env.LUAPOOL || path.join(__dirname, '..'));

if (process.env.C_LOOPS_CHILD) {
  const { ScriptRunner } = require(pkg);
  const runner = new ScriptRunner({ states: 1, timeoutMs, memoryLimit: memoryMiB << 20 });
  const started = Date.now();
  runner.run(SCENARIOS[process.env.C_LOOPS_CHILD]).then(
    () => `succeeded after ${Date.now() - started} ms`,
    (e) => `${e.name} after ${Date.now() - started} ms`)
    .then((what) => { console.log(what); process.exit(0); });
} else {
  for (const name of names.length ? names : Object.keys(SCENARIOS)) {
    if (!SCENARIOS[name]) { console.error(`unknown scenario ${name}`); process.exit(2); }
    const r = spawnSync(process.execPath, [__filename, ...args], {
      env: { ...process.env, C_LOOPS_CHILD: name }, encoding: 'utf8', timeout: killS * 1000, killSignal: 'SIGKILL',
    });
    const out = (r.stdout || '').trim();
    console.log(`${name.padEnd(16)} ${out || `never (killed after ${killS} s)`}`);
  }
}
