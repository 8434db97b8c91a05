// The two build files agree: binding.gyp (node-gyp, the release path) and CMakeLists.txt
// (cmake-js: dev, sanitizer and native-test builds) list the same addon sources, every
// listed file exists, every native/*.cpp is built, and both state NAPI_VERSION=9. Lua itself
// is compiled with the luaconf options of its own Makefile in all three builds (these two
// and the standalone interpreter of scripts/build-lua-cli.js).
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
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

// The -D options of Lua's src/Makefile for the linux target: CFLAGS plus SYSCFLAGS of
// linux-noreadline (what `make linux` runs). From deps/lua/src, else the cached tarball.
function makefileDefines() {
  let text = null;
  const unpacked = path.join(root, 'deps', 'lua', 'src', 'Makefile');
  if (fs.existsSync(unpacked)) text = fs.readFileSync(unpacked, 'utf8');
  else {
    const pin = JSON.parse(read('deps/lua/lua.json'));
    const tarball = path.join(root, 'deps', 'lua', 'cache', pin.tarball);
    if (fs.existsSync(tarball)) {
      text = String(execFileSync('tar', ['xzOf', tarball, `lua-${pin.version}/src/Makefile`]));
    }
  }
  if (text === null) return null;
  const defs = (s) => [...s.matchAll(/-D(\w+(?:=\S*)?)/g)].map((m) => m[1]);
  const cflags = /^CFLAGS\s*=(.*)$/m.exec(text);
  const linux = /^linux-noreadline:\s*\n\t.*SYSCFLAGS="([^"]*)"/m.exec(text);
  assert.ok(cflags && linux, 'Lua\'s Makefile has CFLAGS= and a linux-noreadline target');
  return [...defs(cflags[1]), ...defs(linux[1])];
}

// target_compile_definitions(lua <scope> ...) in CMakeLists.txt.
function cmakeLuaDefines(text) {
  const noComments = text.replace(/#.*$/gm, '');
  const all = [...noComments.matchAll(/\btarget_compile_definitions\s*\(\s*lua\s+([^)]*)\)/g)];
  assert.is(all.length, 1, 'CMakeLists.txt sets the lua target\'s definitions in one place');
  const words = all[0][1].split(/\s+/).filter(Boolean);
  return { scope: words[0], defines: words.slice(1) };
}

const sorted = (list) => [...list].sort();

test('Lua is compiled with the defines of its own Makefile in every build', () => {
  const { LUA_DEFINES, MAKEFILE_CFLAGS } = require('../scripts/build-lua-cli.js');
  const expected = sorted(LUA_DEFINES);
  assert.ok(expected.includes('LUA_COMPAT_5_3') && expected.includes('LUA_USE_LINUX'),
    'scripts/build-lua-cli.js defines LUA_COMPAT_5_3 and LUA_USE_LINUX');
  assert.ok(MAKEFILE_CFLAGS.includes('-O2'), 'the standalone build uses the Makefile\'s -O2');
  const fromMakefile = makefileDefines();
  if (fromMakefile) assert.equal(expected, sorted(fromMakefile), 'scripts/build-lua-cli.js vs Lua\'s src/Makefile (linux)');
  else console.log('[build-files] no Lua Makefile here (deps/lua/src, cache): checked the build files against each other only');

  const lua = (gyp.targets || []).find((t) => t.target_name === 'lua');
  assert.ok(lua, 'binding.gyp has a lua target');
  assert.equal(sorted(lua.defines || []), expected, 'binding.gyp lua target defines');
  const dependents = (lua.direct_dependent_settings || {}).defines || [];
  assert.equal(sorted(dependents), expected, 'binding.gyp lua direct_dependent_settings defines (code including Lua\'s headers)');
  assert.ok(!((addonTarget.defines || []).some((d) => /^LUA_/.test(d))), 'the luapool target takes Lua\'s defines from the lua target only');

  const cm = cmakeLuaDefines(cmake);
  assert.is(cm.scope, 'PUBLIC', 'CMake: the lua target\'s definitions are PUBLIC');
  assert.equal(sorted(cm.defines), expected, 'CMakeLists.txt lua target definitions');
});

test('the release binary has no test hooks: LUAPOOL_TEST_HOOKS only on request, by scripts/build.js in a checkout', () => {
  assert.is(gyp.variables['luapool_test_hooks%'], '0', 'binding.gyp: the hooks are off by default (prebuildify, node-gyp rebuild)');
  assert.not.ok((addonTarget.defines || []).includes('LUAPOOL_TEST_HOOKS'));
  assert.equal(addonTarget.conditions, [['luapool_test_hooks==1', { defines: ['LUAPOOL_TEST_HOOKS'] }]]);
  const addon = read('native/addon.cpp');
  assert.match(addon, /#ifdef LUAPOOL_TEST_HOOKS\n(?:\s*\/\/[^\n]*\n)*\s*exports\.Set\("testing", testing::Init\(env\)\);\n#endif/);
  const build = read('scripts/build.js');
  assert.match(build, "--luapool_test_hooks=${testHooks ? 1 : 0}");
  assert.match(build, "fs.existsSync(path.join(root, 'test'))", 'hooks only where the tests are (a published package has no test/)');
  assert.not.ok(JSON.parse(read('package.json')).files.some((f) => f.startsWith('test')), 'test/ is not published');
});

test.run();
