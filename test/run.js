#!/usr/bin/env node
// Runs every test file in its own Node process (a crash in one cannot hide the others),
// sums uvu's per-file counts and ends with the one line CI reads: "N passed, N failed".
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const dir = __dirname;
const filter = process.argv.slice(2);
const files = fs.readdirSync(dir)
  .filter((f) => /\.test\.(c|m)?js$/.test(f))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
const perFileTimeoutMs = Number(process.env.LUAPOOL_TEST_TIMEOUT_MS || 600000);

function strip(s) {
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--expose-gc', path.join(dir, file)], {
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; process.stdout.write(d); });
    child.stderr.on('data', (d) => { out += d; process.stderr.write(d); });
    const timer = setTimeout(() => { out += `\n[test/run] ${file} timed out\n`; child.kill('SIGKILL'); }, perFileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(out);
      const total = /Total:\s+(\d+)/.exec(text);
      const passed = /Passed:\s+(\d+)/.exec(text);
      const p = passed ? Number(passed[1]) : 0;
      const skipped = /Skipped:\s+(\d+)/.exec(text);
      const s = skipped ? Number(skipped[1]) : 0;
      // uvu's Total counts run tests only; skipped ones are reported apart
      let f = total ? Math.max(0, Number(total[1]) - p) : 0;
      if (code !== 0 || signal || !total) f = Math.max(f, 1); // a crash or exit failure counts
      resolve({ file, passed: p, failed: f, skipped: s, ms: Date.now() - started, code, signal });
    });
  });
}

(async () => {
  const results = [];
  for (const file of files) {
    process.stdout.write(`\n# ${file}\n`);
    results.push(await runFile(file));
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  console.log('\n# summary');
  for (const r of results) {
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
    const how = r.signal ? ` (killed by ${r.signal})` : r.code ? ` (exit ${r.code})` : '';
    const skip = r.skipped ? `, ${r.skipped} skipped` : '';
    console.log(`${r.failed ? 'FAIL' : 'ok  '} ${r.file}: ${r.passed} passed, ${r.failed} failed${skip}, ${(r.ms / 1000).toFixed(1)} s${how}`);
  }
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed === 0 && results.length > 0 ? 0 : 1);
})();
