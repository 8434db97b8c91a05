// The official Lua 5.4.7 test suite through runner.run() in trusted mode, when it is
// available (LUA_TESTS_DIR or deps/lua/tests/). It cannot be downloaded on every machine:
// without it this file reports a skipped test instead of pretending to pass.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const dir = process.env.LUA_TESTS_DIR || path.join(__dirname, '..', 'deps', 'lua', 'tests');
const available = fs.existsSync(path.join(dir, 'all.lua'));

(available ? test : test.skip)('the official Lua 5.4.7 test suite passes through runner.run()', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'lua-testsuite.js'), dir], {
    encoding: 'utf8', timeout: 1800000,
  });
  assert.is(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, 'final OK');
});

if (!available) console.log(`[13-lua-testsuite] skipped: no official test suite in ${dir} (set LUA_TESTS_DIR)`);
test.run();
