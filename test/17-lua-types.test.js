// The LuaLS definition files (types/*.lua) say what scripts really see: they compile as
// Lua, declare exactly the engine functions and the sandbox's os, the math functions they
// add exist, and the .luarc.json of docs/api.md takes away exactly what the sandbox lacks.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const path = require('path');
const { ScriptRunner } = require('..');

const root = path.join(__dirname, '..');
const read = (f) => fs.readFileSync(path.join(root, f), 'utf8');
const ENGINE = 'types/luapool-engine.lua';
const SAFE = 'types/luapool-safe.lua';

// `function lib.name(` and `lib.name = ` declarations of a definition file, per table.
function declared(text, lib) {
  return [...text.matchAll(new RegExp(`^(?:function ${lib}\\.([A-Za-z_][A-Za-z0-9_]*)\\(|${lib}\\.([A-Za-z_][A-Za-z0-9_]*) = )`, 'gm'))]
    .map((m) => m[1] || m[2]).sort();
}

async function inSandbox(libs, source, args = []) {
  const r = new ScriptRunner({ states: 1, libs });
  try { return await r.run(source, { args }); } finally { await r.close(); }
}
const KEYS = 'local t = ... local k = {} for n in pairs(t) do k[#k + 1] = n end table.sort(k) return k';

test('both files are LuaLS meta files that compile as Lua and are packed', async () => {
  for (const f of [ENGINE, SAFE]) {
    const text = read(f);
    assert.match(text, /^---@meta _\n/, `${f} starts with ---@meta _ (not requireable)`);
    const err = await inSandbox('all', 'local f, err = load(..., "=definitions", "t") return err or "ok"', [text])
      .catch((e) => e.message);
    assert.is(err, 'ok', f);
  }
  assert.ok(JSON.parse(read('package.json')).files.includes('types/'), 'package.json files has types/');
});

test('engine: every function and table scripts see is declared, and nothing else', async () => {
  for (const libs of ['safe', 'all']) {
    const keys = await inSandbox(libs, KEYS.replace('local t = ...', 'local t = engine'));
    assert.equal(declared(read(ENGINE), 'engine'), keys, `libs ${libs}`);
  }
});

test('math: the functions the engine file adds exist in every profile', async () => {
  const added = declared(read(ENGINE), 'math');
  assert.ok(added.includes('pow') && added.length >= 5);
  for (const libs of ['safe', 'all']) {
    const keys = await inSandbox(libs, KEYS.replace('local t = ...', 'local t = math'));
    for (const f of added) assert.ok(keys.includes(f), `math.${f} (libs ${libs})`);
  }
});

test("safe: the file's os is the sandbox's os", async () => {
  assert.equal(declared(read(SAFE), 'os'), await inSandbox('safe', KEYS.replace('local t = ...', 'local t = os')));
  assert.equal(declared(read(SAFE), 'os'), await inSandbox(['base', 'os', 'table'], KEYS.replace('local t = ...', 'local t = os')),
    'an explicit list gets the same os');
});

test("docs/api.md's .luarc.json disables exactly the libraries the sandbox lacks and lists the packed files", async () => {
  const doc = read('docs/api.md');
  const section = doc.slice(doc.indexOf('### Editor support for script authors'), doc.indexOf('## Fair sharing'));
  const json = /```json\n([\s\S]*?)```/.exec(section);
  assert.ok(json, 'the section has a .luarc.json');
  const luarc = JSON.parse(json[1]);
  assert.is(luarc.runtime.version, 'Lua 5.4');
  const disabled = Object.keys(luarc.runtime.builtin).filter((k) => luarc.runtime.builtin[k] === 'disable').sort();
  // LuaLS's builtin libraries that exist in Lua 5.4, and what a sandboxed script has of each
  const libs = ['coroutine', 'debug', 'io', 'math', 'os', 'package', 'string', 'table', 'utf8'];
  const have = await inSandbox('safe', `local out = {} for _, n in ipairs(...) do out[n] = type(_G[n]) end
    out.require = type(require) out.execute = type(os.execute) return out`.replace('(...)', `({ "${libs.join('", "')}" })`));
  const missing = libs.filter((l) => have[l] === 'nil');
  assert.equal(missing, [], 'io, debug and package exist as restricted subsets');
  assert.is(have.require, 'function');
  assert.is(have.execute, 'function', 'os.execute is a stand-in that raises: the file declares it');
  assert.equal(disabled, [...missing, 'os'].sort());
  const packed = luarc.workspace.library.filter((p) => p.startsWith('node_modules/luapool/'));
  assert.equal(packed, [`node_modules/luapool/${ENGINE}`, `node_modules/luapool/${SAFE}`]);
  for (const p of packed) assert.ok(fs.existsSync(path.join(root, p.slice('node_modules/luapool/'.length))), p);
  // the host-function example declares functions of the engine table
  const lua = /```lua\n(---@meta _[\s\S]*?)```/.exec(section);
  assert.ok(lua && declared(lua[1], 'engine').includes('spawn_entity'), 'a host-function example');
});

test.run();
