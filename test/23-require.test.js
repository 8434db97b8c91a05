// require in the sandbox (define() and `modules` sources, package.*), the restricted io and
// debug of 'safe', and require with libs 'all' and with 'package' in an explicit list.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ScriptRunner, ActionQueue, LuaError, TimeoutError } = require('luapool');

async function fails(r, source, message) {
  try {
    const v = await r.run(source, { multret: true });
    assert.unreachable(`expected a LuaError, the job returned ${JSON.stringify(v)}`);
  } catch (e) {
    if (e.name === 'Assertion') throw e;
    assert.instance(e, LuaError, `expected a LuaError, got ${e && e.name}: ${e && e.message}`);
    if (message) assert.match(e.message, message);
    return e;
  }
}

async function withRunner(options, fn) {
  const r = new ScriptRunner({ states: 1, timeoutMs: 10000, ...options });
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

const SOURCES = {
  'pl.util': 'local name, origin = ... return { name = name, origin = origin, n = 0, upper = string.upper }',
  counter: 'local M = { n = 0 } function M.bump() M.n = M.n + 1 return M.n end return M',
  globals: 'leaked_from_module = true  local M = {} function M.env() return _ENV, _G end function M.eval(s) return load(s)() end return M',
  nothing: 'x = 1',
  selfset: 'package.loaded[...] = "set by the module" return nil',
  broken: 'return {',
  failing: 'local x = nil\nreturn x.field',
  chain: 'local util = require("pl.util") return { util = util, same = util == require("pl.util") }',
};

// ---------------------------------------------------------------------------- modules
test('modules object: require returns the chunk\'s value and the origin; the chunk gets (name, origin)', () => withRunner({ modules: SOURCES }, async (r) => {
  assert.equal(await r.run('local m, origin = require("pl.util") return { m.name, m.origin, origin, m.upper("x") }'),
    ['pl.util', ':modules:', ':modules:', 'X']);
  assert.equal(await r.run('local a = require("pl.util") return { a == require("pl.util"), a == package.loaded["pl.util"], select("#", require("pl.util")) }'),
    [true, true, 1], 'loaded once per job; a loaded module returns one value');
  assert.equal(await r.run('return require("chain").same'), true);
  assert.equal(await r.run('return { require("nothing"), x, (require("selfset")) }'), { 1: true, 3: 'set by the module' });
}));

test('each job has its own package.loaded: a module changed by one job is fresh in the next', () => withRunner({ modules: SOURCES }, async (r) => {
  assert.is(await r.run('local c = require("counter") c.bump() c.bump() c.injected = 1 return c.n'), 2);
  assert.equal(await r.run('local c = require("counter") return { c.bump(), c.injected }'), [1]);
  await r.run('package.loaded["pl.util"] = "replaced" string_backup = require("string")');
  assert.is(await r.run('return type(require("pl.util"))'), 'table');
  assert.is(await r.run('return require("string") == string and require("_G") == _G and package.loaded.package == package'), true);
}));

test('a module runs in an environment of its own over the base: its globals stay in it, load sees it', () => withRunner({ modules: SOURCES }, async (r) => {
  assert.equal(await r.run(`
    job_global = "job's"
    local m = require("globals")
    local env, G = m.env()
    return { leaked_from_module, env == _ENV, env == G, env.leaked_from_module, m.eval("return job_global"),
             m.eval("return leaked_from_module"), rawget(env, "string") == nil, env.string == string }`),
  { 2: false, 3: true, 4: true, 6: true, 7: true, 8: true });
}));

test('contexts keep one package.loaded for all their jobs, until reset()', () => withRunner({ modules: SOURCES }, async (r) => {
  const ctx = r.context('c');
  assert.is(await ctx.run('return require("counter").bump()'), 1);
  assert.is(await ctx.run('return require("counter").bump()'), 2);
  assert.is(await r.run('return require("counter").bump()'), 1, 'a plain job on the same state');
  const other = r.context('other');
  assert.is(await other.run('return require("counter").bump()'), 1);
  assert.is(await ctx.run('return require("_G") == _G and package.loaded._G == _G'), true);
  await ctx.reset();
  assert.is(await ctx.run('return require("counter").bump()'), 1);
  await ctx.close();
  await other.close();
}));

test('not found: the message lists every place looked at, like Lua\'s', () => withRunner({ modules: SOURCES }, async (r) => {
  const e = await fails(r, 'require("nope")');
  assert.is(e.message, "[string \"require(\"nope\")\"]:1: module 'nope' not found:\n"
    + "\tno field package.preload['nope']\n"
    + "\tno module 'nope' defined with runner.define()\n"
    + "\tno module 'nope' in the modules option");
  await fails(r, 'require()', /bad argument #1 to 'require' \(string expected, got no value\)/);
}));

test('a module that does not compile or fails names itself', () => withRunner({ modules: SOURCES }, async (r) => {
  await fails(r, 'require("broken")', /error loading module 'broken' from the modules option:\n\tbroken:1: unexpected symbol near <eof>/);
  const e = await fails(r, 'require("failing")', /^failing:2: attempt to index a nil value \(local 'x'\)/);
  assert.match(e.traceback, /\[C\]: in (global|function) 'require'/);
}));

test('modules: only strings and Buffers; a Buffer is bytes', async () => {
  assert.throws(() => new ScriptRunner({ modules: { a: 1 } }), /options\.modules\['a'\] must be a string or a Buffer, got number 1/);
  assert.throws(() => new ScriptRunner({ modules: [] }), /options\.modules must be an object of module sources or a function/);
  const bytes = Buffer.concat([Buffer.from('return "'), Buffer.from([0xff, 0xfe]), Buffer.from('ok"')]);
  await withRunner({ modules: { bin: bytes, u8: new TextEncoder().encode('return 8') } }, async (r) => {
    assert.equal(await r.run('return { #require("bin"), (require("u8")) }'), [4, 8]);
  });
});

// ---------------------------------------------------------------------------- define
test('define() modules come first; require runs the chunk in the job, call() keeps its own per-state instance', () => withRunner({ modules: { counter: 'return "from modules"' } }, async (r) => {
  r.define('counter', SOURCES.counter);
  assert.equal(await r.run('local c, origin = require("counter") c.bump() return { c.bump(), origin }'), [2, ':define:']);
  assert.is(await r.call('counter', 'bump'), 1);
  assert.is(await r.call('counter', 'bump'), 2, 'call() uses the state\'s instance');
  assert.is(await r.run('return require("counter").bump()'), 1, 'require gives the job its own instance');
  r.define('counter', 'return { bump = function() return "v2" end }');
  assert.is(await r.run('return require("counter").bump()'), 'v2', 'a redefinition is what later requires see');
  assert.is(await r.call('counter', 'bump'), 'v2');
  r.define('args', 'local name, origin = ... return { get = function() return name, origin end }');
  assert.equal(await r.call('args', 'get', [], { multret: true }), ['args', ':define:'], 'call() loads a module with (name, ":define:") too');
}));

test('defined modules used through call() and callMany() can require', () => withRunner({ states: 2, modules: SOURCES }, async (r) => {
  r.define('helper', 'return { twice = function(x) return 2 * x end }');
  r.define('user', `
    local util = require("pl.util")     -- at load time
    local M = {}
    function M.go(x) return require("helper").twice(x) .. util.name end
    return M`);
  assert.is(await r.call('user', 'go', [21]), '42pl.util');
  assert.equal(await r.callMany('user', 'go', [[1], [2], [3]]), ['2pl.util', '4pl.util', '6pl.util']);
  assert.is(await r.context('k').call('user', 'go', [5]), '10pl.util');
}));

// ------------------------------------------------------------------ the modules function
test('modules function: asked once per name per runner (misses too), on the main thread, until invalidated', async () => {
  const asked = [];
  const modules = (name) => {
    asked.push(name);
    return name === 'fx' ? `return { v = ${asked.length} }` : undefined;
  };
  await withRunner({ states: 3, modules }, async (r) => {
    assert.is(await r.run('return require("fx").v'), 1);
    const all = await Promise.all(Array.from({ length: 12 }, () => r.run('return { require("fx").v, (pcall(require, "nope")) }')));
    for (const v of all) assert.equal(v, [1, false]);
    assert.equal(asked, ['fx', 'nope']);
    r.invalidateModules('nope');
    await r.run('return pcall(require, "nope")');
    assert.equal(asked, ['fx', 'nope', 'nope']);
    assert.is(await r.run('return require("fx").v'), 1);
    r.invalidateModules();
    assert.is(await r.run('return require("fx").v'), 4);
    r.define('fx', 'return { v = "defined" }');
    assert.is(await r.run('return require("fx").v'), 'defined');
    assert.equal(asked, ['fx', 'nope', 'nope', 'fx']);
    assert.throws(() => r.invalidateModules(3), /invalidateModules\(names\[0\]\) must be a string/);
  });
});

test('modules function: a script asking for ever new names cannot grow the cache without bound', async () => {
  let n = 0;
  await withRunner({ modules: (name) => { n++; return name === 'real' ? 'return "real"' : undefined; } }, async (r) => {
    await r.run('for i = 1, 4200 do pcall(require, "x" .. i) end return require("real")');
    assert.is(n, 4201);
    await r.run('for i = 4150, 4200 do pcall(require, "x" .. i) end return require("real")');
    assert.is(n, 4201, 'the latest misses and the answers stay cached');
    await r.run('pcall(require, "x1")');
    assert.is(n, 4202, 'the oldest misses were forgotten (4096 at most are kept)');
  });
});

test('a module that requires itself ends in an error, as in Lua', () => withRunner({ modules: { loop: 'return require("loop")' } }, async (r) => {
  assert.equal(await r.run('return { pcall(require, "loop") }'), [false, 'C stack overflow']);
  assert.is(await r.run('return 1'), 1);
}));

test('modules function: concurrent requires of one name wait for one answer (a Promise)', async () => {
  let calls = 0;
  let release;
  const gate = new Promise((res) => { release = res; });
  const modules = async (name) => {
    calls++;
    await gate;
    return `return "${name} loaded"`;
  };
  await withRunner({ states: 4, threads: 2, modules }, async (r) => {
    const jobs = Array.from({ length: 4 }, () => r.run('return require("slow")'));
    await new Promise((res) => setTimeout(res, 50));
    assert.is(r.stats().suspended, 4, 'the jobs wait without holding a thread');
    release();
    assert.equal(await Promise.all(jobs), Array(4).fill('slow loaded'));
    assert.is(calls, 1);
  });
});

test('modules function: a throw, a rejection or a wrong answer raises in the script and is not cached', async () => {
  let n = 0;
  const modules = (name) => {
    n++;
    if (name === 'throws') throw new Error('disk on fire');
    if (name === 'rejects') return Promise.reject(new Error('later'));
    if (name === 'number') return 42;
    return n > 3 ? 'return "recovered"' : undefined;
  };
  await withRunner({ modules }, async (r) => {
    assert.equal(await r.run('return { pcall(require, "throws") }'), [false, "options.modules('throws'): disk on fire"]);
    assert.equal(await r.run('return { pcall(require, "rejects") }'), [false, "options.modules('rejects'): later"]);
    assert.equal(await r.run('return { pcall(require, "number") }'),
      [false, "options.modules('number'): must return a string, a Buffer or undefined, got number 42"]);
    assert.is(n, 3);
    await fails(r, 'require("throws")', /disk on fire/);
    assert.is(n, 4, 'a failure is asked again');
  });
});

test('modules function: where Lua cannot yield (a metamethod, a script\'s coroutine) the lookup blocks and works', async () => {
  const modules = (name) => `return "${name}"`;
  await withRunner({ modules }, async (r) => {
    assert.equal(await r.run(`
      local t = setmetatable({}, { __index = function(_, k) return require(k) end })
      local co = coroutine.wrap(function() return require("in-coroutine") end)
      return { t["in-metamethod"], co(), pcall(require, "in-pcall") }`), ['in-metamethod', 'in-coroutine', true, 'in-pcall', ':modules:']);
  });
});

test('modules function: the job\'s budget runs while it waits; a timeout or cancel ends the job', async () => {
  const modules = () => new Promise(() => {});
  await withRunner({ modules }, async (r) => {
    const e = await r.run('require("never")', { timeoutMs: 100 }).catch((x) => x);
    assert.instance(e, TimeoutError);
    const ac = new AbortController();
    const p = r.run('require("never2")', { signal: ac.signal });
    setTimeout(() => ac.abort(), 30);
    assert.is((await p.catch((x) => x)).code, 'ERR_CANCELLED');
    assert.is(await r.run('return 1'), 1);
  });
});

test('a module\'s chunk can call host functions, which suspend the job', async () => {
  const host = { fetch: async (k) => { await new Promise((res) => setTimeout(res, 10)); return k * 2; } };
  await withRunner({ host, modules: { h: 'return { v = engine.fetch(21) }' } }, async (r) => {
    const job = r.run('return require("h").v');
    await new Promise((res) => setTimeout(res, 3));
    assert.is(r.stats().suspended, 1);
    assert.is(await job, 42);
  });
});

// ---------------------------------------------------------------------------- package
test('package.preload: its functions are loaders, called with (name, ":preload:")', () => withRunner({ modules: SOURCES }, async (r) => {
  assert.equal(await r.run(`
    package.preload["pl.util"] = function(...) return { ... } end
    return require("pl.util")`), ['pl.util', ':preload:']);
  assert.is(await r.run('return require("pl.util").origin'), ':modules:', 'preload is per job');
}));

test('package.searchers: a searcher added by the script is used; a non-table is refused like Lua', () => withRunner({}, async (r) => {
  assert.equal(await r.run(`
    table.insert(package.searchers, function(name)
      if name:match("^virtual%.") then return function(n, extra) return { n, extra } end, "made" end
      return "\\n\\tnot virtual"
    end)
    return require("virtual.x")`), ['virtual.x', 'made']);
  const e = await fails(r, 'table.insert(package.searchers, function() return "no luck" end) require("y")');
  assert.match(e.message, /no module 'y' in the modules option\n\tno luck$/);
  await fails(r, 'package.searchers = 3 require("x")', /'package\.searchers' must be a table/);
  assert.is(await r.run('return #package.searchers'), 3);
}));

test('package.path and cpath are writable and inert; config is Lua\'s', () => withRunner({}, async (r) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-req-'));
  fs.writeFileSync(path.join(dir, 'onfile.lua'), 'return "read from a file"');
  assert.equal(await r.run(`
    package.path = ${JSON.stringify(dir + '/?.lua')} .. ";" .. package.path
    package.cpath = "./?.so"
    return { package.path:sub(-6), package.cpath, package.config, (pcall(require, "onfile")) }`),
  ['?.lua;', './?.so', '/\n;\n?\n!\n-\n', false]);
  assert.equal(await r.run('return { package.path, package.cpath }'), ['', '']);
  const keys = await r.run('local k = {} for name in pairs(package) do k[#k + 1] = name end table.sort(k) return k');
  assert.equal(keys, ['config', 'cpath', 'loaded', 'loadlib', 'path', 'preload', 'searchers', 'searchpath']);
  fs.rmSync(dir, { recursive: true });
}));

test("libs: ['base', ...]: require comes with the base functions", () => withRunner({ libs: ['base', 'string'], modules: SOURCES }, async (r) => {
  assert.equal(await r.run('return { require("pl.util").upper("a"), package.loaded.string == string, package.loaded.table }'), ['A', true]);
  await withRunner({ libs: ['string'] }, async (bare) => {
    assert.equal(await bare.run('return { require == nil, package == nil, string ~= nil }'), [true, true, true]);
  });
}));

test("libs: [..., 'package']: Lua files along package.path, run in the job's environment; package is writable", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-pkg-'));
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'mod.lua'), 'local name, file = ... seen_by_job = name return { name = name, file = file, str = string.rep("a", 2) }');
  fs.writeFileSync(path.join(dir, 'bad.lua'), 'return {');
  try {
    await withRunner({ libs: ['base', 'string', 'table', 'package'], modules: SOURCES }, async (r) => {
      assert.equal(await r.run(`
        package.path = ${JSON.stringify(dir + '/?.lua')}
        local m, file = require("sub.mod")
        return { m.name, m.file == file, file:sub(-11), seen_by_job, m.str, require("pl.util").origin }`),
      ['sub.mod', true, 'sub/mod.lua', 'sub.mod', 'aa', ':modules:']);
      assert.is(await r.run('return seen_by_job'), undefined, 'the next job has a fresh environment');
      const e = await fails(r, `package.path = ${JSON.stringify(dir + '/?.lua')} require("nope")`);
      assert.match(e.message, `no file '${dir}/nope.lua'`);
      await fails(r, `package.path = ${JSON.stringify(dir + '/?.lua')} require("bad")`, /error loading module 'bad' from file '.*bad\.lua':\n\t.*bad\.lua:1:/);
      await fails(r, 'package.path = 1 require("zz")', /'package\.path' must be a string/);
    });
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});

test("libs: 'all': require finds define() and modules sources in the global table, then files; plain Lua's message", async () => {
  await withRunner({ libs: 'all', modules: { m: 'mglobal = ... return { ... }' } }, async (r) => {
    r.define('d', 'return { origin = select(2, ...) }');
    assert.equal(await r.run('return { require("m"), mglobal, require("d").origin }'), [['m', ':modules:'], 'm', ':define:']);
    const e = await fails(r, 'require("absent_module")');
    assert.match(e.message, "module 'absent_module' not found:\n\tno field package.preload['absent_module']\n\tno file '");
    assert.not.match(e.message, 'runner.define');
  });
});

// ------------------------------------------------------------------------------- io
test('io.write and io.stdout:write are log actions, one per line; stderr at warn; an unfinished line is sent at the end', async () => {
  const actions = new ActionQueue();
  await withRunner({ actions }, async (r) => {
    await r.run(`
      io.write("a", 1, " ", 2.0, " ", 1.5, " ", math.mininteger, "\\n")
      io.write("x"):write("y\\nz")
      print("p")
      io.stdout:write("two\\nlines\\n")
      io.stderr:write("careful\\n", "half")
      io.write("end")`);
    const logs = actions.drain().filter((a) => a.type === 'log').map((a) => [a.level, a.message]);
    assert.equal(logs, [['info', 'a1 2 1.5 -9223372036854775808'], ['info', 'xy'], ['info', 'zp'], ['info', 'two'], ['info', 'lines'],
      ['warn', 'careful'], ['info', 'end'], ['warn', 'half']]);
    await r.run('io.write("flushed") io.flush() io.write("more") io.stdout:flush() io.stderr:write("e") io.stderr:flush() print("after")');
    assert.equal(actions.drain().map((a) => a.message), ['flushed', 'more', 'e', 'after']);
    await r.run('io.output(io.stderr) io.write("to stderr\\n") assert(io.output() == io.stderr) io.output(io.stdout) io.write("back\\n")');
    assert.equal(actions.drain().map((a) => [a.level, a.message]), [['warn', 'to stderr'], ['info', 'back']]);
    await r.run('io.write("an unfinished line is the job\'s own")');
    await r.run('io.write(" into the next job\\n")');
    assert.equal(actions.drain().map((a) => a.message), ['an unfinished line is the job\'s own', ' into the next job']);
    await r.run(`io.write(("x"):rep(100000))`);
    assert.equal(actions.drain().map((a) => a.message.length), [65536, 100000 - 65536]);
  });
});

test('io.write checks its arguments like Lua; writing to stdin and reading stdout fail like a closed descriptor', () => withRunner({}, async (r) => {
  await fails(r, 'io.write({})', /bad argument #1 to 'write' \(string expected, got table\)/);
  await fails(r, 'io.stdout.write(1)', /bad argument #1 to 'write' \(FILE\* expected, got number\)/);
  assert.equal(await r.run('return { io.stdin:write("x") }'), { 2: 'Bad file descriptor', 3: 9 });
  assert.equal(await r.run('return { io.stdout:read() }'), { 2: 'Bad file descriptor', 3: 9 });
}));

test('io.read and io.lines() see an empty standard input', () => withRunner({}, async (r) => {
  assert.equal(await r.run(`
    local n = 0 for l in io.lines() do n = n + 1 end
    local m = 0 for l in io.stdin:lines("n") do m = m + 1 end
    return { io.read(), io.read("l"), io.read("n"), io.read("a"), io.read("a", "l"), select("#", io.read("a", "a", "n", "l")), io.stdin:read("L"), n, m }`),
  { 4: '', 5: '', 6: 3, 8: 0, 9: 0 });
  await fails(r, 'io.read("x")', /bad argument #1 to 'read' \(invalid format\)/);
}));

test('io: file handles, io.type, close, seek, setvbuf, tostring, <close>', () => withRunner({}, async (r) => {
  assert.equal(await r.run(`
    local f <close> = io.stdout
    local mt = getmetatable(io.stdout)
    return { io.type(io.stdout), io.type(io.stderr), io.type(io.stdin), io.type({}), io.type(1),
             type(io.stdout), tostring(io.stdout):match("^file %(0x%x+%)$") ~= nil, mt == getmetatable(io.stdin), mt.__name,
             io.input() == io.stdin, io.output() == io.stdout, io.stdout:setvbuf("no"), io.stdout:setvbuf("full", 1024) }`),
  { 1: 'file', 2: 'file', 3: 'file', 6: 'userdata', 7: true, 8: true, 9: 'FILE*', 10: true, 11: true, 12: true, 13: true });
  assert.equal(await r.run('return { io.close() }'), { 2: 'cannot close standard file' });
  assert.equal(await r.run('return { io.stdout:close() }'), { 2: 'cannot close standard file' });
  assert.equal(await r.run('return { io.stdout:seek("set", 0) }'), { 2: 'Illegal seek', 3: 29 });
  await fails(r, 'io.stdout:setvbuf("sometimes")', /invalid option 'sometimes'/);
  await fails(r, 'getmetatable(io.stdout).__index.write = nil', /read-only/);
  await fails(r, 'getmetatable(io.stdout).extra = 1', /read-only/);
  await fails(r, 'io.input({})', /bad argument #1 to 'input' \(FILE\* expected, got table\)/);
  assert.is(await r.run('return io.stdout:write("x") == io.stdout'), true);
}));

// ---------------------------------------------------------------------------- debug
test('debug.traceback and debug.getinfo describe the job\'s own stack and functions', () => withRunner({}, async (r) => {
  const [tb, info, fn, lines, nope, coTb] = await r.run(`
    local function inner() return debug.traceback("msg", 1) end
    local function f(a, b, ...) local i = debug.getinfo(1, "nSlutf") return i end
    local i = f()
    local co = coroutine.create(function() coroutine.yield() end)
    coroutine.resume(co)
    local fi = debug.getinfo(print)
    return inner(), { i.currentline, i.what, i.nparams, i.isvararg, i.nups, i.istailcall, i.func == f, i.short_src, i.name },
      { fi.what, fi.short_src, fi.source }, debug.getinfo(f, "L").activelines[3], debug.getinfo(50), debug.traceback(co)`,
  { name: 'dbg.lua', multret: true });
  assert.is(tb.split('\n')[0], 'msg');
  assert.match(tb, 'dbg.lua:2: in local \'inner\'');
  assert.match(tb, 'dbg.lua:8: in main chunk');
  assert.equal(info, [3, 'Lua', 2, true, 1, false, true, 'dbg.lua', 'f']);
  assert.equal(fn, ['C', '[C]', '=[C]']);
  assert.is(lines, true);
  assert.is(nope, undefined);
  assert.match(coTb, /^stack traceback:\n\t\[C\]: in function 'coroutine\.yield'/);
  assert.equal(await r.run('return { type(debug.traceback({})), debug.traceback(nil):match("^stack traceback:") }'), ['table', 'stack traceback:']);
}));

test.run();
