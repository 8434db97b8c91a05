// Preloaded by test/run.js into each test file's process (node -r): tells the runner,
// through the file descriptor in LUAPOOL_TEST_PROGRESS_FD, which uvu test has started, so
// that a slow file's progress notes and summary line can name its tests.
'use strict';
const fs = require('fs');

const fd = Number(process.env.LUAPOOL_TEST_PROGRESS_FD);
if (Number.isInteger(fd) && fd > 2) {
  delete process.env.LUAPOOL_TEST_PROGRESS_FD; // not for the processes the tests start
  const send = (name) => {
    try { fs.writeSync(fd, `${JSON.stringify({ test: name, at: Date.now() })}\n`); } catch { /* runner gone */ }
  };
  // uvu keeps the running test's name in the suite state (state.__test__).
  const { test } = require('uvu');
  test.before.each((state) => send(state.__test__));
  process.on('exit', () => send(null));
}
