#!/usr/bin/env node
// Runs the official Lua 5.4.7 test suite (lua-5.4.7-tests) through runner.run() in trusted
// mode (libs: 'all', no timeout, no memory limit), the way `lua -e"_U=true" all.lua` runs it.
//
//   node scripts/lua-testsuite.js [dir]      dir: the unpacked `lua-5.4.7-tests` folder
//                                            (default: $LUA_TESTS_DIR, then deps/lua/tests)
//
// The suite is third-party code and is not committed; it is not on the Lua tarball nor in
// Debian's lua5.4 source package, so it must be provided (see docs/lua-patches.md).
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const dir = path.resolve(process.argv[2] || process.env.LUA_TESTS_DIR || path.join(root, 'deps', 'lua', 'tests'));
if (!fs.existsSync(path.join(dir, 'all.lua'))) {
  console.error(`lua-testsuite: no all.lua in ${dir}; set LUA_TESTS_DIR to the unpacked lua-5.4.7-tests folder`);
  process.exit(2);
}

// The suite changes the working directory's files and expects to be the whole process:
// run it in a child whose cwd is the suite folder.
const child = `
  const fs = require('fs');
  const { ScriptRunner } = require(${JSON.stringify(root)});
  const runner = new ScriptRunner({ states: 1, libs: 'all' });
  runner.run(fs.readFileSync('all.lua', 'latin1'), { name: 'all.lua', env: { _U: true } })
    .then(() => runner.close())
    .then(() => { console.log('[lua-testsuite] all.lua finished'); },
          (e) => { console.error('[lua-testsuite] failed: ' + (e.traceback || e.message)); process.exitCode = 1; return runner.close(); });`;
const r = spawnSync(process.execPath, ['-e', child], { cwd: dir, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
