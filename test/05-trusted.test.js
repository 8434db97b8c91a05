// libs: 'all' is plain Lua: the global table, every library, binary chunks, require from
// the working directory, print to stdout — what the standalone interpreter gives a script.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { ScriptRunner } = require('luapool');

const runner = new ScriptRunner({ states: 1, libs: 'all' });

test('every standard library is there, and _ENV is the global table', async () => {
  assert.equal(await runner.run(`
    local names = {}
    for _, n in ipairs({ "io", "os", "debug", "package", "string", "table", "math", "utf8", "coroutine" }) do
      names[#names + 1] = type(_G[n])
    end
    return names`), Array(9).fill('table'));
  assert.is(await runner.run('return _ENV == _G and _G == debug.getregistry()[2]'), true);
  assert.is(await runner.run('return type(os.getenv) .. type(io.open) .. type(string.dump) .. type(dofile)'), 'functionfunctionfunctionfunction');
});

test('globals persist on the state, as in one interpreter session', async () => {
  await runner.run('persisted = 41');
  assert.is(await runner.run('return persisted + 1'), 42);
});

test('no hook is visible and the main chunk runs on the main thread', async () => {
  assert.equal(await runner.run('return { debug.gethook() }'), {});
  assert.equal(await runner.run('local co, main = coroutine.running() return { main, coroutine.isyieldable() }'), [true, false]);
});

test('binary chunks load', async () => {
  assert.is(await runner.run('local f = load(string.dump(function(a) return a * 3 end)) return f(5)'), 15);
});

test('require and dofile work relative to the working directory', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-req-'));
  fs.writeFileSync(path.join(dir, 'mymod.lua'), 'return { answer = 42 }');
  const script = `
    const { ScriptRunner } = require(${JSON.stringify(path.join(__dirname, '..'))});
    const r = new ScriptRunner({ states: 1, libs: 'all' });
    r.run('print("from lua") io.write("io.write\\\\n") return require("mymod").answer + dofile("mymod.lua").answer')
      .then((v) => { console.log('result', v); return r.close(); });`;
  const out = String(execFileSync(process.execPath, ['-e', script], { cwd: dir }));
  fs.rmSync(dir, { recursive: true, force: true });
  assert.match(out, 'from lua\n');
  assert.match(out, 'io.write\n');
  assert.match(out, 'result 84');
});

test('close() closes the states, running pending finalizers', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-gc-'));
  const marker = path.join(dir, 'finalized');
  const r = new ScriptRunner({ states: 1, libs: 'all' });
  await r.run(`keep = setmetatable({}, { __gc = function() local f = io.open(${JSON.stringify(marker)}, "w") f:write("yes") f:close() end })`);
  assert.not.ok(fs.existsSync(marker));
  await r.close();
  assert.is(fs.readFileSync(marker, 'utf8'), 'yes');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a list of libraries opens exactly those (plus the engine bridge)', async () => {
  const r = new ScriptRunner({ states: 1, libs: ['base', 'math'] });
  assert.equal(await r.run('return { type(math), type(string), type(table), type(io), type(engine) }'),
    ['table', 'nil', 'nil', 'nil', 'table']);
  await r.close();
});

// luaconf.h and the -D options of the build (LUA_COMPAT_5_3, LUA_USE_LINUX) as a script
// sees them: the addon must agree with the standalone interpreter built with the options of
// Lua's own Makefile (scripts/build-lua-cli.js).
test('the luaconf view matches the standalone lua built like Lua\'s Makefile', async () => {
  const root = path.join(__dirname, '..');
  const probe = path.join(__dirname, 'fixtures', 'luaconf-probe.lua');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build-lua-cli.js'), '--quiet'], { stdio: 'inherit' });
  const env = { ...process.env };
  delete env.LUA_INIT; delete env.LUA_INIT_5_4;
  const standalone = String(execFileSync(path.join(root, 'build-lua', 'lua-cli', 'lua'),
    ['-e', `io.write(dofile(${JSON.stringify(probe)}))`], { env }));
  const r = new ScriptRunner({ states: 1, libs: 'all' });
  const addon = await r.run(fs.readFileSync(probe, 'utf8'), { name: 'luaconf-probe.lua' });
  await r.close();
  assert.match(standalone, 'math.pow = function');
  assert.equal(addon.split('\n'), standalone.split('\n'));
});

test('the Lua 5.3 compatibility math functions are in the sandbox too', async () => {
  const r = new ScriptRunner({ states: 1 });
  assert.equal(await r.run(`
    return { math.pow(2, 10), math.ldexp(0.5, 3), select(2, math.frexp(8)), math.log10(100),
             math.cosh(0), math.sinh(0), math.tanh(0) }`), [1024, 4, 4, 2, 1, 0, 0]);
  await r.close();
});

test.after(() => runner.close());
test.run();
