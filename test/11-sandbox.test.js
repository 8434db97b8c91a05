// Sandbox escape attempts (libs: 'safe', the default). One test per attempt; every test
// runs on a single-state runner, so whatever one job breaks, the next job sees.
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { spawnSync } = require('child_process');
const { ScriptRunner, ActionQueue, LuaError } = require('luapool');

const actions = new ActionQueue();
const runner = new ScriptRunner({ states: 1, timeoutMs: 5000, memoryLimit: 64 << 20, actions });

async function fails(source, message, r = runner) {
  let value;
  try {
    value = await r.run(source, { multret: true });
  } catch (e) {
    assert.instance(e, LuaError, `expected a LuaError, got ${e && e.name}: ${e && e.message}`);
    assert.is(e.code, 'ERR_LUA');
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.unreachable(`expected a LuaError, the job returned ${JSON.stringify(value)}`);
}

// The state still works as a fresh job expects: libraries intact, no leaked globals.
async function stateIsIntact(r = runner) {
  const v = await r.run(`
    return { up = ("abc"):upper(), up2 = string.upper("x"), rep = ("ab"):rep(2), fmt = ("%d-%s"):format(7, "z"),
             ins = type(table.insert), pi = math.pi, co = type(coroutine.wrap), t = type(os.time),
             log = type(engine.log), leaked = leaked, mt = getmetatable("") }`);
  assert.equal(v, {
    up: 'ABC', up2: 'X', rep: 'abab', fmt: '7-z', ins: 'function', pi: Math.PI, co: 'function', t: 'function',
    log: 'function', mt: false,
  });
}

// Escapes that, when they work, break the state for every later job run on a runner of
// their own, so that one hole does not turn every following test red.
async function isolated(fn) {
  const r = new ScriptRunner({ states: 1, timeoutMs: 5000, memoryLimit: 64 << 20 });
  try {
    await fn(r);
  } finally {
    await r.close();
  }
}

// ---------------------------------------------------------------------------- io, os
// The restricted io of 'safe' (its whole behaviour is in test/23-require.test.js): every
// file or process operation fails as Lua's own failures do, nothing reaches a file.
test('io has no route to files or processes', async () => {
  assert.is(await runner.run('return type(io)'), 'table');
  for (const [call, name] of [['io.open("/etc/passwd")', 'io.open'], ['io.open("/tmp/x", "w")', 'io.open'],
    ['io.popen("id")', 'io.popen'], ['io.tmpfile()', 'io.tmpfile'], ['io.lines("/etc/passwd")', 'io.lines'],
    ['io.input("/etc/passwd")', 'io.input'], ['io.output("/tmp/x")', 'io.output']]) {
    assert.equal(await runner.run(`return { ${call} }`), { 2: `${name} is not available in the sandbox` }, call);
  }
  await fails('return io.open("/etc/passwd"):read("a")', /attempt to index a nil value/);
  assert.is(await runner.run('return io.read("a") .. tostring(io.read("l"))'), 'nil');
  await stateIsIntact();
});

test('os.exit, os.execute and os.tmpname raise a clear error', async () => {
  await fails('os.exit(3)', /os\.exit is not available in the sandbox/);
  await fails('os.exit(true, true)', /os\.exit is not available in the sandbox/);
  await fails('os.execute("id")', /os\.execute is not available in the sandbox/);
  await fails('os.tmpname()', /os\.tmpname is not available in the sandbox/);
  assert.is(await runner.run('return os.execute()'), false); // "is a shell available?"
  await stateIsIntact();
});

test('os.remove and os.rename fail like Lua\'s own failures; getenv and setlocale answer for an empty environment', async () => {
  assert.equal(await runner.run('return { os.remove("/tmp/luapool-nope") }'), { 2: 'os.remove is not available in the sandbox' });
  assert.equal(await runner.run('return { os.rename("/a", "/b") }'), { 2: 'os.rename is not available in the sandbox' });
  assert.equal(await runner.run('return { os.getenv("HOME"), os.getenv("PATH"), os.setlocale(), os.setlocale("C"), os.setlocale("fr_FR") }'),
    { 3: 'C', 4: 'C' });
  await fails('os.getenv()', /bad argument #1 to 'getenv'/);
  await fails('os.setlocale(nil, "bogus")', /invalid option 'bogus'/);
});

test('os keeps time, clock, date and difftime', async () => {
  const v = await runner.run('return { type(os.time()), type(os.clock()), type(os.date("%Y")), os.difftime(5, 3) }');
  assert.equal(v, ['number', 'number', 'string', 2]);
});

test('os.exit() cannot end the process', async () => {
  await fails('os.exit(3)');
  await fails('os.exit(true, true)');
  await fails('pcall(os.exit, 0) os.exit(0)');
  await stateIsIntact();
});

// ------------------------------------------------------------------------------ debug
test('debug is a read-only subset: getregistry, sethook, getupvalue, setmetatable are absent', async () => {
  assert.is(await runner.run('return type(debug)'), 'table');
  assert.equal(await runner.run('local k = {} for name in pairs(debug) do k[#k + 1] = name end table.sort(k) return k'), ['getinfo', 'traceback']);
  await fails('return debug.getregistry()', /attempt to call a nil value \(field 'getregistry'\)/);
  await fails('debug.sethook(function() end, "", 1)', /attempt to call a nil value/);
  await fails('return debug.getupvalue(engine.log, 1)', /attempt to call a nil value/);
  await fails('return debug.getupvalue(load, 1)', /attempt to call a nil value/);
  await fails('return debug.setmetatable("", nil)', /attempt to call a nil value/);
  await fails('return debug.getlocal(1, 1)', /attempt to call a nil value/);
  await fails('debug.getregistry = function() end', /read-only table 'debug'/);
  await stateIsIntact();
});

test('no other route to debug: it is not in the env, the base or any library', async () => {
  const v = await runner.run(`
    local seen = {}
    local function walk(t, depth)
      if depth > 3 or type(t) ~= "table" or seen[t] then return end
      seen[t] = true
      for k, v in pairs(t) do
        if v == nil then return end
        if type(v) == "table" then
          if rawget(v, "getregistry") or rawget(v, "sethook") or rawget(v, "loadlib") or rawget(v, "execute") then
            return k
          end
          local found = walk(v, depth + 1)
          if found then return found end
        end
      end
    end
    return walk(_ENV, 0) or walk(_G, 0)`);
  assert.is(v, undefined);
});

// -------------------------------------------------------------- package, files, load
test('package.loadlib and package.searchpath reach no file', async () => {
  assert.equal(await runner.run('return { type(package), type(require) }'), ['table', 'function']);
  assert.equal(await runner.run('return { package.loadlib("libc.so.6", "system") }'),
    { 2: 'package.loadlib is not available in the sandbox', 3: 'absent' });
  assert.equal(await runner.run('return { package.searchpath("x", "/etc/?") }'), { 2: 'package.searchpath is not available in the sandbox' });
  await fails('package.path = "/etc/?" return require("passwd")', /module 'passwd' not found/);
  await fails('return require("os").execute("id")', /os\.execute is not available/);
  await stateIsIntact();
});

test('dofile raises a clear error, loadfile fails like Lua', async () => {
  await fails('return dofile("/etc/passwd")', /dofile is not available in the sandbox/);
  assert.equal(await runner.run('return { loadfile("/etc/passwd") }'), { 2: 'loadfile is not available in the sandbox' });
});

test('string.dump raises a clear error, also through the string metatable', async () => {
  await fails('return string.dump(function() end)', /string\.dump is not available in the sandbox/);
  await fails('return ("").dump(print)', /string\.dump is not available in the sandbox/);
});

// Crafted bytes of a Lua 5.4 binary chunk header (ESC "Lua" 0x54 ...).
const BINARY = '"\\27Lua\\84\\0\\25\\147\\13\\10\\26\\10\\4\\8\\8\\120\\86\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\40\\119\\64"';

test('load refuses a crafted binary chunk (string form)', async () => {
  const [f, err] = await runner.run(`return load(${BINARY})`, { multret: true });
  assert.is(f, undefined);
  assert.match(err, /attempt to load a binary chunk/);
});

test('load refuses a binary chunk even when asked for mode "b" or "bt"', async () => {
  for (const mode of ['b', 'bt']) {
    const [f, err] = await runner.run(`return load(${BINARY}, "x", "${mode}")`, { multret: true });
    assert.is(f, undefined);
    assert.match(err, /attempt to load a binary chunk/);
  }
});

test('load refuses a binary chunk (reader-function form)', async () => {
  const [f, err] = await runner.run(`
    local parts = { (${BINARY}):sub(1, 3), (${BINARY}):sub(4) }
    local i = 0
    return load(function() i = i + 1 return parts[i] end, "reader", "b")`, { multret: true });
  assert.is(f, undefined);
  assert.match(err, /attempt to load a binary chunk/);
});

test('a binary chunk as the job source is refused with a clear error', async () => {
  const e = await fails('\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08', /binary chunk/);
  assert.ok(e.message.length < 500);
});

test('load of text still works and defaults to the job environment', async () => {
  assert.is(await runner.run('x = 5 return load("return x")()'), 5);
  assert.is(await runner.run('local f = load("y = 9") f() return y'), 9);
  assert.is(await runner.run('return x or y'), undefined);  // neither leaked
  assert.is(await runner.run('return load("return string ~= nil", "n", "t", {})()'), false);
});

test('load without env binds the caller\'s environment: a module function gets the module\'s', () => isolated(async (r) => {
  r.define('m', `
    module_global = "module's own"
    local M = {}
    function M.read(src) return load(src)() end
    function M.write(src) load(src)() return seen end
    return M`);
  const ctx = r.context('victim');
  await ctx.run('secret = "context secret"; seen = "context seen"');
  // the module runs after a context job on the same (only) state
  assert.is(await r.call('m', 'read', ['return secret']), undefined);
  assert.is(await r.call('m', 'read', ['return module_global']), "module's own");
  assert.is(await r.call('m', 'write', ['seen = "written by the module"']), 'written by the module');
  assert.equal(await ctx.run('return { secret, seen, module_global }'), ['context secret', 'context seen']);
  // and after a plain job with env values
  await r.run('return 1', { env: { secret: 'job secret' } });
  assert.is(await r.call('m', 'read', ['return secret']), undefined);
  assert.is(await ctx.call('m', 'read', ['return secret']), undefined);
  await ctx.close();
}));

test('load without env, in jobs and contexts: the chunk\'s environment, however load is reached', async () => {
  assert.equal(await runner.run(`
    local load = load
    local function compile(s) return load(s) end      -- no _ENV of its own: the chunk's
    compile("a = 1")()
    pcall(load("b = 2"))                               -- through a C function
    local ok, f = pcall(load, "c = 3") f()
    coroutine.wrap(function() load("d = 4")() end)()
    local e = select(2, pcall(string.gsub, "x", "x", function() load("e = 5")() end))
    return { a, b, c, d, e and 5 }`), [1, 2, 3, 4, 5]);
  assert.is(await runner.run('return a or b or c or d'), undefined);
  const ctx = runner.context('load-ctx');
  await ctx.run('function later(s) return load(s)() end  persistent = "p"');
  assert.is(await ctx.run('return later("return persistent")'), 'p');
  assert.is(await runner.run('return persistent'), undefined);
  assert.is(await runner.run('return load("return persistent")()'), undefined);
  await ctx.close();
  // an explicit env (even nil) is used as given; never the state's private globals
  assert.equal(await runner.run('return { load("return x", "n", "t", { x = 7 })(), select(2, pcall(load("return tostring", "n", "t", nil))) }'),
    [7, '[string "n"]:1: attempt to index a nil value (upvalue \'_ENV\')']);
  assert.is(await runner.run('return load("return rawget(_ENV, \\"collectgarbage\\")")()'), undefined);
});

test('math.random: each job has its own generator; randomseed in one job fixes no other', async () => {
  const trusted = new ScriptRunner({ states: 1, libs: 'all' });
  try {
    // plain Lua's numbers for seed 42 (trusted states keep plain Lua's shared generator)
    const plain = await trusted.run('math.randomseed(42) return { math.random(0), math.random(1, 100), math.random() }');
    assert.equal(await runner.run('math.randomseed(42) return { math.random(0), math.random(1, 100), math.random() }'), plain);
    await runner.run('math.randomseed(42)');
    const next = await runner.run('return math.random(0)');
    assert.is.not(next, plain[0], 'a seed set by the previous job fixed this job\'s draws');
    assert.is.not(await runner.run('return math.random(0)'), await runner.run('return math.random(0)'));
    // plain Lua: the generator is the state's, shared by every job
    await trusted.run('math.randomseed(42)');
    assert.is(await trusted.run('return math.random(0)'), plain[0]);
  } finally {
    await trusted.close();
  }
  // Lua's argument rules
  assert.equal(await runner.run('return { math.random(3, 3), math.type(math.random(0)), select("#", math.randomseed()) }'), [3, 'integer', 2]);
  await fails('math.random(2, 1)', /interval is empty/);
  await fails('math.random(1, 2, 3)', /wrong number of arguments/);
  await fails('math.random(1.5)', /number has no integer representation/);
  const draws = await runner.run('local t = {} for i = 1, 1000 do local v = math.random(1, 6) t[v] = (t[v] or 0) + 1 end return t');
  assert.is(draws.length, 6);
  assert.ok(draws.every((n) => n > 100 && n < 250), JSON.stringify(draws));
});

test('math.random: a context keeps its own generator across its jobs; module calls get their own', async () => {
  const seeded = await runner.run('math.randomseed(7) return { math.random(0), math.random(0) }');
  const a = runner.context('rng-a');
  const b = runner.context('rng-b');
  await a.run('math.randomseed(7)');
  await b.run('math.randomseed(99)');
  assert.is.not(await runner.run('return math.random(0)'), seeded[0]);
  assert.is(await a.run('return math.random(0)'), seeded[0]);
  assert.is.not(await b.run('return math.random(0)'), seeded[1]);
  assert.is(await a.run('return math.random(0)'), seeded[1]);
  await a.reset();
  assert.is.not(await a.run('return math.random(0)'), await runner.run('math.randomseed(7) math.random(0) return math.random(0)'));
  runner.define('rng', 'return { seed = function(n) math.randomseed(n) end, draw = function() return math.random(0) end }');
  await runner.call('rng', 'seed', [7]);
  assert.is.not(await runner.call('rng', 'draw'), seeded[0]);
  await a.close();
  await b.close();
});

test('jobs open on one state at once keep their own generator and their own load environment', async () => {
  let release;
  const gate = new Promise((res) => { release = res; });
  let waiting;
  const called = new Promise((res) => { waiting = res; });
  const r = new ScriptRunner({ states: 1, threads: 1, host: { wait: () => { waiting(); return gate; } } });
  try {
    const seeded = await r.run('math.randomseed(42) return { math.random(0), math.random(0) }');
    // A seeds, draws once and waits for the host (it stays open on the only state) ...
    const a = r.run(`math.randomseed(42) local first = math.random(0) mine = "A"
      local load = load
      engine.wait()
      return { first, math.random(0), coroutine.wrap(function() return load("return mine")() end)() }`);
    await called;
    // ... while B runs on the same state, reseeds its own generator and sets its own globals
    assert.equal(await r.run('math.randomseed(7) mine = "B" return load("return mine")()'), 'B');
    release();
    assert.equal(await a, [seeded[0], seeded[1], 'A']);
  } finally {
    await r.close();
  }
});

// ------------------------------------------------------------------ string metatable
test('getmetatable("") does not expose the string table or the metatable', async () => {
  assert.is(await runner.run('return getmetatable("")'), false);
  assert.is(await runner.run('return getmetatable("abc") == getmetatable(string)'), true); // both false
  await fails('return getmetatable("").__index', /attempt to index a boolean value/);
});

test('the string metatable cannot be changed', async () => {
  await fails('getmetatable("").__index = { upper = function() return "pwned" end }', /attempt to index a boolean value/);
  await fails('setmetatable("", {})', /table expected/);
  await fails('rawset(getmetatable(""), "__index", {})', /table expected/);
  assert.is(await runner.run('return ("x"):upper()'), 'X');
});

test('string methods still work: ("").rep, :upper, :format, :gsub, #', async () => {
  const v = await runner.run('local s = "ab" return { s:rep(3), ("").rep("x", 2), s:upper(), ("%03d"):format(7), (s:gsub("a", "z")), #s, s:byte(1) }');
  assert.equal(v, ['ababab', 'xx', 'AB', '007', 'zb', 2, 97]);
});

// ------------------------------------------------------------------ read-only libraries
test('string.upper = nil fails, and the next job still has string.upper', async () => {
  await fails('string.upper = nil', /read-only/);
  assert.equal(await runner.run('local ok = pcall(function() string.upper = nil end) return { ok, string.upper("a"), ("b"):upper() }'), [false, 'A', 'B']);
  assert.is(await runner.run('return string.upper("next")'), 'NEXT');
});

for (const lib of ['string', 'table', 'math', 'coroutine', 'utf8', 'os', 'engine', 'io', 'debug']) {
  test(`rawset on the ${lib} proxy is refused`, async () => {
    await fails(`rawset(${lib}, "injected", 1)`, /read-only/);
    await fails(`${lib}.injected = 1`, /read-only/);
    await fails(`setmetatable(${lib}, nil)`);
    assert.is(await runner.run(`return rawget(${lib}, "injected") or ${lib}.injected`), undefined);
    await stateIsIntact();
  });
}

for (const lib of ['string', 'table', 'math', 'coroutine', 'utf8', 'os', 'engine', 'io', 'debug']) {
  test(`pairs(${lib}) does not hand out the real ${lib} table for writing`, () => isolated(async (r) => {
    // __pairs may return (next, t, nil): t must not be the library table itself.
    await r.run(`
      local it, state = pairs(${lib})
      local victims = {}
      for _, v in ipairs({ state, select(2, next, state) }) do
        if type(v) == "table" then victims[#victims + 1] = v end
      end
      for _, t in ipairs(victims) do
        pcall(function()
          for k in next, t do t[k] = nil end
          t.injected = "pwned"
        end)
        pcall(rawset, t, "injected", "pwned")
      end`).catch(() => {});
    assert.is(await r.run(`return ${lib}.injected`), undefined, `the real ${lib} table was modified`);
    await stateIsIntact(r);
  }));
}

test('package is writable, per job: rawset and setmetatable refuse the shared proxy', async () => {
  await fails('rawset(package, "injected", 1)', /read-only/);
  await fails('setmetatable(package, nil)');
  assert.is(await runner.run('package.injected = 1 package.path = "x" package.loaded.string = nil return package.injected'), 1);
  assert.equal(await runner.run('return { package.injected, rawget(package, "injected"), package.path, package.loaded.string == string }'),
    { 3: '', 4: true });
  await stateIsIntact();
});

test('pairs(string) still lists the library functions', async () => {
  const keys = await runner.run('local k = {} for name, f in pairs(string) do if type(f) == "function" then k[#k + 1] = name end end table.sort(k) return k');
  for (const name of ['byte', 'char', 'find', 'format', 'gmatch', 'gsub', 'len', 'lower', 'match', 'rep', 'reverse', 'sub', 'upper', 'pack', 'unpack']) {
    assert.ok(keys.includes(name), `pairs(string) lists ${name}`);
  }
});

// ----------------------------------------------------------------------------- __gc
test('setmetatable with __gc is refused', async () => {
  await fails('setmetatable({}, { __gc = function() while true do end end })', /__gc/);
  await fails('setmetatable({}, { __gc = true })', /__gc/);
  await stateIsIntact();
});

test('a __gc added after setmetatable never runs as a finalizer (no hang in later jobs)', async () => {
  assert.is(await runner.run(`
    local mt = {}
    for i = 1, 100 do setmetatable({}, mt) end
    mt.__gc = function() while true do end end
    collectgarbage() collectgarbage()
    return "ok"`), 'ok');
  await runner.run('local t = {} for i = 1, 1e5 do t[i] = {} end collectgarbage() return 1');
  await stateIsIntact();
});

// -------------------------------------------------------------------- collectgarbage
for (const opt of ['stop', 'restart', 'incremental', 'generational', 'setpause', 'setstepmul']) {
  test(`collectgarbage("${opt}") is refused`, async () => {
    await fails(`collectgarbage("${opt}", 1)`, /not allowed/);
  });
}

test('collectgarbage count/step/collect/isrunning still work', async () => {
  const v = await runner.run('return { type(collectgarbage("count")), collectgarbage("isrunning"), collectgarbage() }');
  assert.equal(v, ['number', true, 0]);
});

// ---------------------------------------------------------------------- job isolation
test('_G / _ENV writes do not leak to the next job', async () => {
  await runner.run('x = 1 _G.y = 2 _ENV.z = 3 rawset(_G, "w", 4) rawset(_ENV, "v", 5) leaked = true');
  assert.equal(await runner.run('return { x == nil, y == nil, z == nil, w == nil, v == nil, leaked == nil }'),
    [true, true, true, true, true, true]);
  assert.is(await runner.run('return rawget(_G, "x")'), undefined);
});

test('getmetatable(_ENV) hides the base; the env metatable cannot be replaced', async () => {
  assert.is(await runner.run('return getmetatable(_ENV)'), false);
  assert.is(await runner.run('return getmetatable(_G)'), false);
  await fails('setmetatable(_ENV, nil)', /protected metatable/);
  assert.is(await runner.run('return rawget(_ENV, "string")'), undefined); // base values come through __index only
  await stateIsIntact();
});

test('shadowing a library in one job does not affect the next', async () => {
  assert.is(await runner.run('string = { upper = function() return "fake" end } return string.upper("a")'), 'fake');
  assert.is(await runner.run('return string.upper("a")'), 'A');
  assert.is(await runner.run('print = nil pcall = nil return 1'), 1);
  assert.is(await runner.run('return type(print) .. type(pcall)'), 'functionfunction');
});

test("coroutine-created functions cannot reach other jobs' environments", () => isolated(async (runner) => {
  // Job A: a coroutine and closures capturing a secret in A's env, stashed everywhere a
  // script can write to something shared.
  await runner.run(`
    secret = "job-A-secret"
    local co = coroutine.wrap(function() while true do coroutine.yield(secret, _ENV) end end)
    local function leak() return secret, _ENV end
    local stash = { co = co, leak = leak, env = _ENV }
    local targets = { string, table, math, coroutine, utf8, os, engine, _G }
    for _, lib in ipairs({ string, table, math, coroutine, utf8, os, engine }) do
      local _, real = pairs(lib)
      targets[#targets + 1] = real
    end
    for _, t in ipairs(targets) do
      pcall(function() t.stash = stash end)
      pcall(rawset, t, "stash", stash)
    end
    pcall(function() getmetatable("").stash = stash end)
    pcall(function() getmetatable(_ENV).stash = stash end)`).catch(() => {});
  // Job B: looks for the stash in every shared place.
  const found = await runner.run(`
    local places = { string = string, table = table, math = math, coroutine = coroutine, utf8 = utf8,
                     os = os, engine = engine, G = _G }
    for name, t in pairs(places) do
      local ok, s = pcall(function() return t.stash end)
      if ok and s ~= nil then
        local ok2, v = pcall(s.co or s.leak or function() return s.env and s.env.secret end)
        return name .. ":" .. tostring(ok2 and v or (s.env and s.env.secret))
      end
    end
    local ok, s = pcall(function() return ("").stash end)
    if ok and s ~= nil then return "string metatable" end
    return secret`);
  assert.is(found, undefined, `job B reached job A's environment through ${found}`);
}));

test('contexts keep their own env, invisible to plain jobs and to other contexts', async () => {
  const a = runner.context('sandbox-a');
  const b = runner.context('sandbox-b');
  await a.run('mine = "a"');
  await b.run('mine = "b"');
  assert.is(await a.run('return mine'), 'a');
  assert.is(await b.run('return mine'), 'b');
  assert.is(await runner.run('return mine'), undefined);
  await a.close();
  await b.close();
});

// -------------------------------------------------------------------- print and warn
test('print and warn go to the ActionQueue as log actions', async () => {
  actions.drain();
  await runner.run('print("hello", 42, nil) warn("careful", "!") engine.log("debug", "x", 1)');
  const logs = actions.drain().filter((a) => a.type === 'log');
  assert.equal(logs.map((a) => [a.level, a.message]), [['info', 'hello\t42\tnil'], ['warn', 'careful!'], ['debug', 'x 1']]);
});

test('print writes nothing to the process stdout', () => {
  const script = `
    const { ScriptRunner, ActionQueue } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const actions = new ActionQueue();
    const r = new ScriptRunner({ states: 1, actions });
    r.run('print("from lua") io = nil return 1').then(async () => {
      await r.close();
      process.stderr.write(JSON.stringify(actions.drain()));
    });`;
  const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
  assert.is(res.status, 0, res.stderr);
  assert.is(res.stdout, '');
  const logged = JSON.parse(res.stderr);
  assert.ok(logged.some((a) => a.type === 'log' && a.message === 'from lua'), res.stderr);
});

test('a huge print is capped, not a memory hazard for the host', async () => {
  actions.drain();
  await runner.run('print(("x"):rep(1 << 20))');
  const [log] = actions.drain();
  assert.is(log.type, 'log');
  assert.ok(log.message.length < 1 << 20, `message of ${log.message.length} bytes`);
});

// -------------------------------------------------------------------------- profiles
test("libs: 'all' (trusted) sees io, os, debug, package", async () => {
  const all = new ScriptRunner({ states: 1, libs: 'all' });
  const v = await all.run('return { type(io), type(os.execute), type(os.getenv), type(debug.getregistry), type(package), type(require), type(string.dump), type(dofile) }');
  assert.equal(v, ['table', 'function', 'function', 'function', 'table', 'function', 'function', 'function']);
  await all.close();
});

test("libs: ['base', 'string'] sees only those", async () => {
  const some = new ScriptRunner({ states: 1, libs: ['base', 'string'] });
  const v = await some.run(`return { string = type(string), print = type(print), pcall = type(pcall),
    table = type(table), math = type(math), os = type(os), io = type(io), coroutine = type(coroutine),
    utf8 = type(utf8), debug = type(debug), package = type(package), require = type(require),
    dofile = type(dofile), loadfile = type(loadfile), up = ("a"):upper() }`);
  // require (and package) come with the base functions; it finds define() and modules sources
  assert.equal(v, {
    string: 'table', print: 'function', pcall: 'function', table: 'nil', math: 'nil', os: 'nil', io: 'nil',
    coroutine: 'nil', utf8: 'nil', debug: 'nil', package: 'table', require: 'function', dofile: 'function',
    loadfile: 'function', up: 'A',
  });
  await some.close();
});

test('the state is intact after every escape attempt', async () => {
  await stateIsIntact();
});

test('module names that differ only in lone surrogates or U+FFFD never select the same module', async () => {
  const r = new ScriptRunner({ states: 1, modules: (name) => (name === 'b\ufffd' ? 'return "fffd module"' : undefined) });
  try {
    assert.throws(() => r.define('a\ud800', 'return {}'), (e) => e instanceof TypeError && /well-formed/.test(e.message));
    r.define('a\ufffd', 'return { f = function() return "fffd" end }');
    assert.is(await r.call('a\ufffd', 'f'), 'fffd');
    // a lone surrogate is not U+FFFD: no module of that name
    const e = await r.call('a\ud800', 'f').catch((x) => x);
    assert.instance(e, TypeError);
    // from Lua, names are bytes: the UTF-8 of U+FFFD is found, the bytes of a lone surrogate (CESU) are not
    assert.is(await r.run('return require("b\\u{FFFD}")'), 'fffd module');
    const miss = await r.run('return require(...)', { args: [Buffer.from([0x62, 0xed, 0xa0, 0x80])] }).catch((x) => x);
    assert.instance(miss, LuaError);
    assert.match(miss.message, 'not found');
    // contexts: the same rule
    assert.throws(() => r.context('c\udc00'), (x) => x instanceof TypeError && /lone surrogate/.test(x.message));
    await r.context('c\ufffd').run('x = 1');
    assert.is(await r.context('c').run('return x'), undefined);
  } finally {
    await r.close();
  }
});

test.after(async () => {
  await runner.close();
});

test.run();
