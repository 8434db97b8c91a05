// Without a usable native addon, require('luapool') says what happened and what to run
// (npm rebuild luapool, or a C++ toolchain), and keeps the loader's own error as `cause`.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');

// Loads luapool from `dir` in a fresh process and reports how it failed.
function loadIn(dir, env = {}) {
  const script = `try { require(${JSON.stringify(dir)}); console.log(JSON.stringify({ loaded: true })); }
    catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code, cause: e.cause && e.cause.message })); }`;
  const r = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8', timeout: 60000, env: { ...process.env, LUAPOOL_BINDING: '', ...env },
  });
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('no prebuild and no build: the error names the platform and says to run npm rebuild luapool', () => {
  // A copy of the package with its JavaScript and nothing native: no build/, no prebuilds/.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-nobuild-'));
  try {
    fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    const r = loadIn(dir);
    assert.is(r.code, 'ERR_LUAPOOL_NO_ADDON');
    assert.match(r.message, `luapool: no native addon for ${process.platform}-${process.arch} (Node ${process.versions.node})`);
    assert.match(r.message, 'no prebuilt binary fits and none was built from source');
    assert.match(r.message, 'Build it with `npm rebuild luapool`');
    assert.match(r.message, 'C++17 compiler');
    assert.match(r.cause, 'No native build was found', 'the loader error is the cause');
    assert.match(r.message, `Cause: ${r.cause.split('\n')[0]}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an addon that cannot be loaded, and a LUAPOOL_BINDING that names a missing file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-badbuild-'));
  try {
    fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
    fs.cpSync(path.join(root, 'dist'), path.join(dir, 'dist'), { recursive: true });
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'build', 'Release', 'luapool.node'), 'not a shared object');
    const bad = loadIn(dir);
    assert.is(bad.code, 'ERR_LUAPOOL_NO_ADDON');
    assert.match(bad.message, 'luapool: the native addon cannot be loaded');
    assert.match(bad.message, 'npm rebuild luapool');
    assert.ok(bad.cause, 'the dlopen error is the cause');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const missing = path.join(os.tmpdir(), 'luapool-no-such-addon.node');
  const r = loadIn(root, { LUAPOOL_BINDING: missing });
  assert.is(r.code, 'ERR_LUAPOOL_NO_ADDON');
  assert.match(r.message, `luapool: LUAPOOL_BINDING=${missing} cannot be loaded (unset it`);
  assert.match(r.cause, 'Cannot find module');
});

test('the normal load still works', () => {
  assert.equal(loadIn(root), { loaded: true });
});

test.run();
