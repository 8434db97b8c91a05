// The error path (Lua errors are longjmps, native/lua-error.hpp): errors raised through
// every class of C function that does C++ work -- engine.log/print/warn (a __tostring that
// raises), engine.post (a value that cannot be converted), io.write, host calls (yielding
// and blocking), require (missing modules, syntax errors, the modules function), the
// sandbox's wrappers, engine.shared, settled batches, the memory limit -- many times in a
// loop, then a normal job on the same state. Under ASan/LSan (scripts/sanitize.js) a
// skipped destructor shows as a leak, a skipped unlock as a deadlock here.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { ScriptRunner, ActionQueue, LuaError, MemoryLimitError } = require('luapool');
const { lint } = require('../scripts/lint-error-path.js');

const N = 300;  // errors per class and job

// Runs `body` (Lua, with `i` the iteration) N times under pcall; returns the last message.
const loop = (body) => `
  local last
  for i = 1, ${N} do
    local ok, e = pcall(function() ${body} end)
    assert(not ok, 'expected an error at iteration ' .. i)
    last = tostring(e)
  end
  return last`;

async function thenNormal(runner) {
  assert.is(await runner.run('return 40 + 2'), 42);
}

test('the lint finds no C++ object a Lua error could skip in native/', () => {
  assert.equal(lint(), []);
});

test('the lint flags a std::string local and a lock in a lua_CFunction, not one in a cppIsland', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-lint-'));
  const file = path.join(dir, 'bad.cpp');
  fs.writeFileSync(file, [
    'int bad(lua_State* L) {',
    '  std::string text = luaL_checkstring(L, 1);',
    '  std::lock_guard<std::mutex> lock(m);',
    '  return luaL_error(L, "%s", text.c_str());',
    '}',
    'int good(lua_State* L) {',
    '  bool ok = cppIsland([&] { std::string s = "x"; lua_pushstring(L, s.c_str()); });',
    '  return ok ? 0 : raiseNoMemory(L);',
    '}',
  ].join('\n'));
  const found = lint([file]).map((f) => `${f.line}: ${f.message.split(':')[0]}`);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.equal(found, ['2: bad', '3: bad', '7: lua_pushstring can raise']);
});

test('print, engine.log and warn with a __tostring that raises; then a normal job', async () => {
  const runner = new ScriptRunner({ states: 1 });
  const t = 'setmetatable({}, { __tostring = function() error("no text " .. i) end })';
  for (const fn of ['print', 'engine.log', 'warn']) {
    const args = fn === 'engine.log' ? `"info", ${t}` : fn === 'warn' ? `"w", ${t}` : `"a", ${t}`;
    const msg = await runner.run(loop(`${fn}(${args})`));
    assert.match(msg, `no text ${N}`);
  }
  await thenNormal(runner);
  await runner.close();
});

test('engine.post and host calls with values that cannot be converted; a throwing host function', async () => {
  const runner = new ScriptRunner({ states: 1, host: { f: () => 1, boom: () => { throw new Error('host says no'); } } });
  assert.match(await runner.run(loop('engine.post("p", { x = print })')), 'engine.post: data[0].x: cannot convert a Lua function');
  assert.match(await runner.run(loop('engine.f({ [i] = coroutine.create(print) })')), 'engine.f: args[0]');
  assert.match(await runner.run(loop('engine.boom(i)')), 'host says no');
  // blocking host calls (inside a metamethod, where Lua cannot yield), failing
  const meta = 'local t = setmetatable({}, { __index = function(_, k) return engine.boom(k) end }) return t[i]';
  assert.match(await runner.run(loop(meta)), 'host says no');
  assert.is(await runner.run('return engine.f()'), 1);
  await thenNormal(runner);
  await runner.close();
});

test('io.write with a bad argument, and the sandbox wrappers raising through C', async () => {
  const runner = new ScriptRunner({ states: 1, actions: new ActionQueue() });  // the log goes there
  assert.match(await runner.run(loop('io.write("partial ", i, {})')), "bad argument #3 to 'write'");
  assert.match(await runner.run(loop('setmetatable({}, { __gc = print })')), '__gc metamethods are not allowed');
  assert.match(await runner.run(loop('setmetatable(i, {})')), "bad argument #1 to 'setmetatable'");
  assert.match(await runner.run(loop('collectgarbage("stop")')), "collectgarbage('stop') is not allowed");
  assert.match(await runner.run(loop('rawset(string, "x", i)')), 'read-only');
  assert.match(await runner.run(loop('math.random(i + 1, i)')), 'interval is empty');
  assert.match(await runner.run(loop('load({})')), "bad argument #1 to 'load'");
  await thenNormal(runner);
  await runner.close();
});

test('require: missing modules, syntax errors, a modules function; engine.shared writes', async () => {
  let asked = 0;
  const runner = new ScriptRunner({
    states: 1,
    modules: (name) => { asked++; return name === 'broken' ? 'return {' : name === 'raising' ? 'error("loading " .. ...)' : undefined; },
  });
  runner.define('bad', 'error("defined but raising")');
  runner.share('cfg', { a: { b: 1 } });
  assert.match(await runner.run(loop('require("nowhere" .. i)')), `module 'nowhere${N}' not found`);
  assert.match(await runner.run(loop('require("bad")')), 'defined but raising');
  assert.match(await runner.run(loop('require("broken")')), "error loading module 'broken'");
  assert.match(await runner.run(loop('require("raising")')), 'loading raising');
  assert.match(await runner.run(loop('engine.shared.cfg.a.b = i')), 'read-only');
  assert.ok(asked > 0);
  await thenNormal(runner);
  await runner.close();
});

test('settled batches: failing calls and results that cannot be converted, many times', async () => {
  const runner = new ScriptRunner({ states: 1 });
  runner.define('m', 'return { f = function(i) if i % 2 == 0 then error("even " .. i) end return i end, g = function(i) return print end }');
  const args = Array.from({ length: N }, (_, i) => [i]);
  const out = await runner.callMany('m', 'f', args, { settled: true });
  assert.is(out.filter((o) => o.status === 'rejected').length, N / 2);
  assert.match(out[0].reason.message, 'even 0');
  const bad = await runner.callMany('m', 'g', args.slice(0, 50), { settled: true });
  assert.ok(bad.every((o) => o.status === 'rejected' && /result\[\d+\]/.test(o.reason.message)));
  await thenNormal(runner);
  await runner.close();
});

test('memory-limit errors raised inside C functions (tostring, print, post); the state is reused', async () => {
  const runner = new ScriptRunner({ states: 1, memoryLimit: 8 * 1024 * 1024 });
  const big = 'local s = ("x"):rep(1024) while true do s = s .. s end';
  for (const src of [
    `print(setmetatable({}, { __tostring = function() ${big} end }))`,
    `engine.post("p", (function() ${big} end)())`,
    `local t = {} for i = 1, 1e9 do t[i] = ("y"):rep(100) .. i end`,
  ]) {
    const err = await runner.run(src).catch((e) => e);
    assert.instance(err, MemoryLimitError, src);
  }
  await thenNormal(runner);
  await runner.close();
});

test('errors inside coroutines, across pcall and yields, and in to-be-closed variables', async () => {
  const runner = new ScriptRunner({ states: 1 });
  const src = `
    local n = 0
    for i = 1, ${N} do
      local co = coroutine.wrap(function()
        local ok = pcall(error, "x")
        coroutine.yield(ok)
        local c <close> = setmetatable({}, { __close = function() n = n + 1 end })
        error("in coroutine " .. i)
      end)
      assert(co() == false)
      local ok, e = pcall(co)
      assert(not ok and e:find("in coroutine"))
    end
    return n`;
  assert.is(await runner.run(src), N);
  const err = await runner.run('local c <close> = setmetatable({}, { __close = function() error("closing") end }) error("first")').catch((e) => e);
  assert.instance(err, LuaError);
  assert.match(err.message, 'closing');
  await thenNormal(runner);
  await runner.close();
});

test('trusted mode: the same error loops, then a normal job', async () => {
  const runner = new ScriptRunner({ states: 1, libs: 'all' });
  assert.match(await runner.run(loop('error("t" .. i)')), `t${N}`);
  assert.match(await runner.run(loop('require("nowhere" .. i)')), 'not found');
  assert.match(await runner.run(loop('engine.post("p", print)')), 'cannot convert');
  await thenNormal(runner);
  await runner.close();
});

test.run();
