// The two build files agree: binding.gyp (node-gyp, the release path) and CMakeLists.txt
// (cmake-js: dev, sanitizer and native-test builds) list the same addon sources, every
// listed file exists, every native/*.cpp is built, and both state NAPI_VERSION=9.
'use strict';

const fs = require('fs');
const path = require('path');
const { test } = require('uvu');
const assert = require('uvu/assert');

const root = path.resolve(__dirname, '..');
const read = (rel) => fs.readFileSync(path.join(root, rel), 'utf8');

// binding.gyp is a Python literal; ours is plain JSON. Tolerate what gyp allows beyond
// JSON (# comments, single-quoted strings, trailing commas) in case someone adds them.
function parseGyp(text) {
  try {
    return JSON.parse(text);
  } catch {
    let out = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === '#') {
        while (i < text.length && text[i] !== '\n') i++;
        out += '\n';
      } else if (c === '"' || c === "'") {
        let str = '';
        for (i++; i < text.length && text[i] !== c; i++) {
          if (text[i] === '\\') str += text[i++];
          str += text[i];
        }
        out += JSON.stringify(c === '"' ? JSON.parse(`"${str}"`) : str.replace(/\\'/g, "'"));
      } else {
        out += c;
      }
    }
    return JSON.parse(out.replace(/,(\s*[\]}])/g, '$1'));
  }
}

// The entries of `set(LUAPOOL_SOURCES ...)` in CMakeLists.txt.
function cmakeSources(text) {
  const noComments = text.replace(/#.*$/gm, '');
  const m = noComments.match(/\bset\s*\(\s*LUAPOOL_SOURCES\s+([^)]*)\)/);
  assert.ok(m, 'CMakeLists.txt has a set(LUAPOOL_SOURCES ...) block');
  return m[1].split(/\s+/).filter(Boolean).map((s) => s.replace(/^"(.*)"$/, '$1'));
}

const gyp = parseGyp(read('binding.gyp'));
const cmake = read('CMakeLists.txt');
const gypSources = (gyp.variables && gyp.variables.luapool_sources) || [];
const cmakeList = cmakeSources(cmake);
const addonTarget = (gyp.targets || []).find((t) => t.target_name === 'luapool');

const duplicates = (list) => list.filter((s, i) => list.indexOf(s) !== i);

test('binding.gyp builds luapool from the luapool_sources variable', () => {
  assert.ok(Array.isArray(gypSources) && gypSources.length > 0, 'variables.luapool_sources is a non-empty list');
  assert.ok(addonTarget, 'binding.gyp has a target named luapool');
  assert.equal(addonTarget.sources, ['<@(luapool_sources)'], 'the luapool target takes exactly <@(luapool_sources)');
});

test('CMakeLists.txt builds luapool from LUAPOOL_SOURCES', () => {
  assert.ok(cmakeList.length > 0, 'LUAPOOL_SOURCES is not empty');
  assert.match(cmake, /add_library\s*\(\s*luapool\s+(MODULE|SHARED)\s+\$\{LUAPOOL_SOURCES\}/);
});

test('binding.gyp luapool_sources and CMake LUAPOOL_SOURCES list the same files', () => {
  assert.equal(duplicates(gypSources), [], 'no duplicates in binding.gyp');
  assert.equal(duplicates(cmakeList), [], 'no duplicates in CMakeLists.txt');
  const onlyGyp = gypSources.filter((s) => !cmakeList.includes(s));
  const onlyCmake = cmakeList.filter((s) => !gypSources.includes(s));
  assert.equal(onlyGyp, [], 'listed in binding.gyp but not in CMakeLists.txt');
  assert.equal(onlyCmake, [], 'listed in CMakeLists.txt but not in binding.gyp');
});

test('every listed source exists', () => {
  const missing = [...new Set([...gypSources, ...cmakeList])].filter((s) => !fs.existsSync(path.join(root, s)));
  assert.equal(missing, [], 'listed sources that do not exist');
});

test('every native/*.cpp is listed', () => {
  const cpp = fs.readdirSync(path.join(root, 'native'))
    .filter((f) => f.endsWith('.cpp'))
    .map((f) => `native/${f}`);
  assert.ok(cpp.length > 0, 'native/ has .cpp files');
  assert.equal(cpp.filter((f) => !gypSources.includes(f)), [], 'native/*.cpp missing from binding.gyp');
  assert.equal(cpp.filter((f) => !cmakeList.includes(f)), [], 'native/*.cpp missing from CMakeLists.txt');
});

test('both build files state NAPI_VERSION=9, and only that', () => {
  const defines = (addonTarget && addonTarget.defines) || [];
  assert.ok(defines.includes('NAPI_VERSION=9'), 'binding.gyp luapool defines NAPI_VERSION=9');
  assert.match(cmake, /\bNAPI_VERSION=9\b/, 'CMakeLists.txt defines NAPI_VERSION=9');
  const versions = (text) => [...text.matchAll(/NAPI_VERSION=(\w+)/g)].map((m) => m[1]);
  assert.equal([...new Set(versions(read('binding.gyp')))], ['9'], 'binding.gyp names no other NAPI_VERSION');
  assert.equal([...new Set(versions(cmake))], ['9'], 'CMakeLists.txt names no other NAPI_VERSION');
  const pkg = JSON.parse(read('package.json'));
  assert.ok(pkg.binary && Array.isArray(pkg.binary.napi_versions) && pkg.binary.napi_versions.includes(9),
    'package.json binary.napi_versions includes 9 (cmake-js then uses node-api-headers)');
});

test('both build files compile Lua from the one unity file', () => {
  const lua = (gyp.targets || []).find((t) => t.target_name === 'lua');
  assert.ok(lua, 'binding.gyp has a lua target');
  assert.equal(lua.sources, ['deps/lua/lua-all.cpp']);
  assert.match(cmake, /add_library\s*\(\s*lua\s+STATIC\s+deps\/lua\/lua-all\.cpp\s*\)/);
  assert.ok(fs.existsSync(path.join(root, 'deps/lua/lua-all.cpp')), 'deps/lua/lua-all.cpp exists');
});

test.run();
