// The published package: prebuilt binary, compiled JS and verified Lua sources inside;
// installed with scripts disabled and no compiler reachable, it runs scripts from CJS and ESM.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let tmp;
let tarball;

test.before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-pack-'));
  execFileSync(process.execPath, [path.join(root, 'scripts', 'prebuild.js')], { cwd: root, stdio: 'ignore' });
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', tmp], { cwd: root, encoding: 'utf8' });
  const info = JSON.parse(out.slice(out.indexOf('[')))[0];
  tarball = path.join(tmp, info.filename);
  fs.writeFileSync(path.join(tmp, 'files.json'), JSON.stringify(info.files.map((f) => f.path)));
});

test.after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the prebuild, dist, types and verified Lua sources, and no tests', () => {
  const files = JSON.parse(fs.readFileSync(path.join(tmp, 'files.json'), 'utf8'));
  for (const f of ['dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/esm/index.mjs', 'deps/lua/src/lvm.c',
    'deps/lua/src/.luapool-manifest.json', 'deps/lua/fetch.js', 'deps/lua/patch.js', 'deps/lua/lua-all.cpp',
    'deps/lua/luapool-ext.c', 'native/runner.cpp', 'scripts/install.js', 'scripts/build.js', 'binding.gyp', 'README.md',
    'LICENSE', 'package.json', 'types/luapool-engine.lua', 'types/luapool-safe.lua']) {
    assert.ok(files.includes(f), `${f} is packed`);
  }
  assert.ok(files.some((f) => /^prebuilds\/[^/]+\/luapool\.node$/.test(f)), 'a prebuilt binary is packed');
  assert.ok(files.some((f) => f.startsWith('deps/lua/patches/')), 'the patch series is packed');
  assert.not.ok(files.some((f) => f.startsWith('test/') || f.startsWith('build/') || f.startsWith('bench/')));
});

test('installs with scripts disabled and no compiler, and runs from CJS and ESM', () => {
  const project = path.join(tmp, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  execFileSync(npm, ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball], { cwd: project, stdio: 'ignore' });
  // A PATH with node and nothing else: no compiler, no make, no python.
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  const env = { PATH: bin, HOME: tmp };
  assert.throws(() => execFileSync('g++', ['--version'], { env, stdio: 'ignore' }));
  fs.writeFileSync(path.join(project, 'cjs.js'), `
    const { ScriptRunner, luaVersion } = require('luapool');
    const r = new ScriptRunner({ states: 1 });
    r.run('return select("#", ...) + 40', { args: [1, 2] }).then((v) => { console.log(luaVersion, v); return r.close(); });`);
  fs.writeFileSync(path.join(project, 'esm.mjs'), `
    import { ScriptRunner, LuaError } from 'luapool';
    const r = new ScriptRunner({ states: 1 });
    const e = await r.run('error("x")').catch((e) => e);
    console.log(e instanceof LuaError, await r.run('return "esm"'));
    await r.close();`);
  assert.is(execFileSync(path.join(bin, 'node'), ['cjs.js'], { cwd: project, env, encoding: 'utf8' }).trim(), 'Lua 5.4.7 42');
  assert.is(execFileSync(path.join(bin, 'node'), ['esm.mjs'], { cwd: project, env, encoding: 'utf8' }).trim(), 'true esm');
  // the prebuilt binary has no test hooks, and the package exports none
  fs.writeFileSync(path.join(project, 'hooks.js'), `
    const native = require(require('path').join(require('path').dirname(require.resolve('luapool')), 'native'));
    console.log(typeof native.binding.testing, Object.keys(require('luapool')).filter((k) => k.startsWith('_')).length);`);
  assert.is(execFileSync(path.join(bin, 'node'), ['hooks.js'], { cwd: project, env, encoding: 'utf8' }).trim(), 'undefined 0');
  // the command-line tool, as npx would run it
  fs.writeFileSync(path.join(project, 'hello.lua'), 'local a, b = ... return tonumber(a) + tonumber(b)');
  const cli = path.join(project, 'node_modules', '.bin', 'luapool');
  assert.ok(fs.existsSync(cli), 'the luapool command is installed');
  assert.is(execFileSync(path.join(bin, 'node'), [cli, 'run', 'hello.lua', '40', '2'], { cwd: project, env, encoding: 'utf8' }).trim(), '42');
});

test('without a matching prebuild, install builds from the packed sources (no download)', () => {
  const project = path.join(tmp, 'app');
  const pkg = path.join(project, 'node_modules', 'luapool');
  fs.rmSync(path.join(pkg, 'prebuilds'), { recursive: true, force: true });
  // installed with --ignore-scripts, so now there is no binary at all: the error says what to run
  const noAddon = spawnSync(process.execPath, ['cjs.js'], { cwd: project, encoding: 'utf8' });
  assert.is.not(noAddon.status, 0);
  assert.match(noAddon.stderr, 'luapool: no native addon for');
  assert.match(noAddon.stderr, 'Build it with `npm rebuild luapool`');
  // npm runs the package's install script: fetch.js finds the packed, verified sources
  const out = execFileSync(npm, ['rebuild', 'luapool', '--foreground-scripts'], { cwd: project, encoding: 'utf8', stdio: 'pipe' });
  assert.ok(fs.existsSync(path.join(pkg, 'build', 'Release', 'luapool.node')), out);
  assert.is(execFileSync(process.execPath, ['cjs.js'], { cwd: project, encoding: 'utf8' }).trim(), 'Lua 5.4.7 42');
  assert.is(execFileSync(process.execPath, ['hooks.js'], { cwd: project, encoding: 'utf8' }).trim(), 'undefined 0',
    'built from the packed sources (no test/): no test hooks');
});

test.run();
