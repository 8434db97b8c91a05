// The official Lua test suites (testes/ of Lua 5.4.7 and 5.4.8) through runner.run() in
// trusted mode, one fresh runner per file, as scripts/lua-testsuite.js runs them. The
// tarballs are third-party files outside the repository (../shared/lua-tests, or the folder
// named by LUA_TESTS; LUA_TESTS_DIR names one unpacked testes/ folder instead): a suite
// that is not there is reported as a skipped test, never as a pass.
const { test } = require('uvu');
const assert = require('uvu/assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const script = path.join(root, 'scripts', 'lua-testsuite.js');
const pin = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'lua', 'lua.json'), 'utf8'));
const from = path.resolve(process.env.LUA_TESTS || path.join(root, '..', 'shared', 'lua-tests'));

function runSuite(args) {
  const r = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', timeout: 1800000 });
  const out = `${r.stdout}${r.stderr}`;
  // the per-file lines, without the files' own output
  process.stdout.write(out.split('\n').filter((l) => /^(\[lua-testsuite\]|lua-testsuite:)/.test(l)).join('\n') + '\n');
  const summary = /lua-testsuite: (\d+) passed, (\d+) failed, (\d+) excluded/.exec(out);
  assert.ok(summary, out.slice(-4000));
  assert.is(Number(summary[2]), 0, out.slice(-6000));
  assert.is(r.status, 0, out.slice(-4000));
  return { passed: Number(summary[1]), excluded: Number(summary[3]) };
}

if (process.env.LUA_TESTS_DIR) {
  test(`the Lua test suite in ${process.env.LUA_TESTS_DIR} passes through runner.run()`, () => {
    const { passed } = runSuite(['--dir', process.env.LUA_TESTS_DIR]);
    assert.ok(passed >= 20, `only ${passed} files passed`);
  });
} else {
  for (const [version, t] of Object.entries(pin.tests)) {
    const available = fs.existsSync(path.join(from, t.tarball));
    (available ? test : test.skip)(`the official Lua ${version} test suite passes through runner.run()`, () => {
      const { passed, excluded } = runSuite(['--version', version]);
      // 29 files in all.lua's list: main.lua, code.lua and api.lua are excluded (see the script)
      assert.is(passed + excluded, 29);
      assert.is(passed, 26);
    });
    if (!available) console.log(`[13-lua-testsuite] skipped: no ${t.tarball} in ${from} (set LUA_TESTS)`);
  }
}

test.run();
