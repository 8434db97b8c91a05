// Each patch of deps/lua/patches has a test that fails on pristine Lua 5.4.7 and passes
// with the patch (test/lua-patches/run.js builds both interpreters and runs them).
const { test } = require('uvu');
const assert = require('uvu/assert');
const path = require('path');
const { spawnSync } = require('child_process');

test('every patch test fails without its patch and passes with it', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'lua-patches', 'run.js'), '--pristine'], {
    encoding: 'utf8', timeout: 300000,
  });
  const out = `${r.stdout}${r.stderr}`;
  const summary = /(\d+) passed, (\d+) failed/.exec(out);
  assert.ok(summary, out);
  assert.is(Number(summary[2]), 0, out);
  assert.ok(Number(summary[1]) >= 10, out);
});

test.run();
