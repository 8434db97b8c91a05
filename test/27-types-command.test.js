// `luapool types` and luaTypes(): the Lua Language Server definition file for script
// authors declares exactly what scripts see (engine with the host functions of a host
// module, the sandbox's os, io and debug), compiles as Lua, and bad input is named.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const { ScriptRunner, luaTypes, writeLuaTypes } = require('..');

const BIN = path.join(__dirname, '..', 'bin', 'luapool.js');
const HOST = path.join(__dirname, 'fixtures', 'host-module.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-types-cmd-'));

function cli(args) {
  const r = spawnSync(process.execPath, [BIN, 'types', ...args], { cwd: tmp, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

// `function lib.name(params)` declarations, per table: name -> parameter list.
function declared(text, lib) {
  const out = {};
  for (const m of text.matchAll(new RegExp(`^function ${lib}\\.([A-Za-z_][A-Za-z0-9_]*)\\(([^)]*)\\)`, 'gm'))) out[m[1]] = m[2];
  return out;
}
// `---@field name` lines of the class `cls`.
function fields(text, cls) {
  const block = text.slice(text.indexOf(`---@class ${cls}\n`)).split('\n').slice(1);
  const out = [];
  for (const l of block) { const m = /^---@field (\w+)/.exec(l); if (!m) break; out.push(m[1]); }
  return out;
}

async function inRunner(options, source, args = []) {
  const r = new ScriptRunner({ states: 1, ...options });
  try { return await r.run(source, { args }); } finally { await r.close(); }
}
const KEYS = 'local t = ... local k = {} for n in pairs(t) do k[#k + 1] = n end table.sort(k) return k';
const keysOf = (options, expr) => inRunner(options, KEYS.replace('local t = ...', `local t = ${expr}`));

test('luapool types --host: every host function with its parameter names; the file compiles as Lua', async () => {
  const r = cli(['--host', HOST]);
  assert.is(r.code, 0, r.err);
  const text = r.out;
  assert.match(text, /^---@meta _\n/);
  assert.match(text, 'host-module.js');
  assert.match(text, '"builtin": { "debug": "disable", "io": "disable", "os": "disable" }');
  const err = await inRunner({ libs: 'all' }, 'local f, err = load(..., "=types", "t") return err or "ok"', [text]);
  assert.is(err, 'ok');
  const engine = declared(text, 'engine');
  assert.equal(engine, {
    count: '', keyword: 'end_, _cost', load_level: 'name', log: 'level, ...', log_all: '...', move: 'arg1, dt',
    post: 'name, data', post_to_main_thread: 'fn_id, data', query_nearby: 'x, y, radius', spawn_entity: 'template, options',
  });
  // what a runner with this host really has in engine (shared is a table, not a function)
  const host = require(HOST);
  for (const libs of ['safe', 'all']) {
    const keys = await keysOf({ libs, host }, 'engine');
    assert.equal([...Object.keys(engine), 'shared'].sort(), keys, `libs ${libs}`);
  }
  assert.match(text, /---@param options\? any\n---@return any\nfunction engine\.spawn_entity/, 'a default value makes it optional');
  assert.match(text, /---Host function `load_level` \(async[^\n]*\n---@param name any/);
  assert.match(text, /^---@type luapool.shared\nengine.shared = \{\}$/m);
});

test("luapool types: 'safe' declares the sandbox's os, io and debug exactly; absent functions are deprecated", async () => {
  const text = cli([]).out;
  assert.equal(Object.keys(declared(text, 'os')).sort(), await keysOf({}, 'os'));
  const io = await keysOf({}, 'io');
  assert.equal([...Object.keys(declared(text, 'io')), ...fields(text, 'luapool.io')].sort(), io);
  assert.equal(Object.keys(declared(text, 'debug')).sort(), await keysOf({}, 'debug'));
  const methods = await inRunner({}, KEYS.replace('local t = ...', 'local t = getmetatable(io.stdout).__index'));
  assert.equal([...text.matchAll(/^function file:(\w+)\(/gm)].map((m) => m[1]).sort(), methods);
  for (const f of ['io.open', 'io.popen', 'io.tmpfile', 'os.exit', 'dofile', 'loadfile', 'string.dump']) {
    assert.match(text, new RegExp(`---@deprecated\\n(?:---@return [^\\n]*\\n)*function ${f.replace('.', '\\.')}\\(`), f);
  }
  assert.is(declared(text, 'engine').spawn_entity, undefined, 'no host module: only the built-ins');
});

test("luapool types --libs all | list: no sandbox libraries for 'all'; a list gets the sandbox's os", () => {
  const all = cli(['--libs', 'all']);
  assert.is(all.code, 0, all.err);
  assert.not.match(all.out, 'function os.');
  assert.not.match(all.out, '"builtin"');
  const list = cli(['--libs', 'base,string,os']);
  assert.match(list.out, 'function os.clock(');
  assert.not.match(list.out, 'function io.write(');
  assert.match(list.out, '"builtin": { "coroutine": "disable", "debug": "disable", "io": "disable", "math": "disable", "os": "disable", "package": "disable", "table": "disable", "utf8": "disable" }');
  const noBase = cli(['--libs', 'string']);
  assert.match(noBase.out, '"builtin": { "basic": "disable", "coroutine": "disable"');
  assert.not.match(noBase.out, 'function os.clock(', 'no os listed: none declared');
});

test('luapool types -o file; ES modules and a named export `host`; bad input exits with 2', () => {
  const out = path.join(tmp, 'engine.lua');
  const r = cli(['--host', HOST, '-o', out]);
  assert.is(r.code, 0, r.err);
  assert.is(r.out, '');
  assert.equal(Object.keys(declared(fs.readFileSync(out, 'utf8'), 'engine')).length, 10);

  fs.writeFileSync(path.join(tmp, 'esm.mjs'), 'export default { jump(height, times) {} };\n');
  assert.is(declared(cli(['--host', 'esm.mjs']).out, 'engine').jump, 'height, times');
  fs.writeFileSync(path.join(tmp, 'named.js'), 'exports.host = { fly: (to) => to }; exports.other = 1;\n');
  assert.is(declared(cli(['--host', 'named.js']).out, 'engine').fly, 'to');

  fs.writeFileSync(path.join(tmp, 'bad.js'), 'module.exports = { ok() {}, nope: 42 };\n');
  const bad = cli(['--host', 'bad.js']);
  assert.is(bad.code, 2);
  assert.match(bad.err, 'luapool types: --host bad.js: host.nope must be a function, got number 42');
  assert.is(cli(['--host', 'missing.js']).code, 2);
  assert.match(cli(['--bogus']).err, "unknown option '--bogus'");
  assert.is(cli(['--libs', 'nothing']).code, 2);
  assert.is(cli(['-o']).code, 2);
  const help = cli(['--help']);
  assert.is(help.code, 0);
  assert.match(help.out, 'usage: luapool types');
});

test('luaTypes() / writeLuaTypes(): validated options; parameter names from any function form', () => {
  assert.throws(() => luaTypes(1), (e) => e instanceof TypeError && /^options must be an object/.test(e.message));
  assert.throws(() => luaTypes({ hots: {} }), (e) => e instanceof TypeError && e.message === 'options.hots is not a known option');
  assert.throws(() => luaTypes({ host: { f: 1 } }), (e) => e instanceof TypeError && e.message === 'options.host.f must be a function, got number 1');
  assert.throws(() => luaTypes({ host: { log() {} } }), (e) => e instanceof TypeError && /would replace the built-in engine.log/.test(e.message));
  assert.throws(() => luaTypes({ host: { 'a-b'() {} } }), (e) => e instanceof TypeError && /not a valid Lua name/.test(e.message));
  assert.throws(() => luaTypes({ libs: 'none' }), (e) => e instanceof TypeError && /^options.libs must be/.test(e.message));
  assert.throws(() => luaTypes({ libs: ['base', 'net'] }), (e) => e instanceof TypeError && /^options.libs\[1\] must be one of/.test(e.message));
  assert.throws(() => luaTypes({ source: 3 }), (e) => e instanceof TypeError && /^options.source must be a string/.test(e.message));
  assert.throws(() => writeLuaTypes(''), (e) => e instanceof TypeError && /^file must be a non-empty string/.test(e.message));

  function plain(a, b) { return a + b; }
  const host = {
    plain,
    bound: plain.bind(null),                       // no source: arg1, arg2 from its length
    arrow: async x => x,                           // eslint-disable-line arrow-parens
    defaults: (a = (1, 2), { b } = {}, [c] = [], d = 'x,y') => [a, b, c, d],
    native: Math.max,                              // length 2
    generator: function* gen(first, second) { yield first + second; },
  };
  const text = luaTypes({ host, libs: 'all' });
  assert.equal(declared(text, 'engine'), {
    arrow: 'x', bound: 'arg1, arg2', defaults: 'a, arg2, arg3, d', generator: 'first, second', log: 'level, ...',
    native: 'arg1, arg2', plain: 'a, b', post: 'name, data', post_to_main_thread: 'fn_id, data',
  });
  const file = path.join(tmp, 'api.lua');
  assert.is(writeLuaTypes(file, { host }), fs.readFileSync(file, 'utf8'));
});

test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
test.run();
