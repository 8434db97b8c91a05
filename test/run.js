#!/usr/bin/env node
// Runs every test file in its own Node process (a crash in one cannot hide the others),
// one line per file as it finishes, sums uvu's per-file counts and ends with the one line
// CI reads: "N passed, N failed" (", N skipped" when some were).
//
// A file's own output is shown only when it fails (or with --verbose). A file still
// running after PROGRESS_MS (10 s) gets a note naming the test it is in, and again every
// 3 × PROGRESS_MS; the summary line of a slow file names its slowest tests.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawn } = require('child_process');

const dir = __dirname;
const args = process.argv.slice(2);
const verbose = args.includes('--verbose') || process.env.LUAPOOL_TEST_VERBOSE === '1';
const filter = args.filter((a) => a !== '--verbose');
const files = fs.readdirSync(dir)
  .filter((f) => /\.test\.(c|m)?js$/.test(f))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)))
  .sort();
const perFileTimeoutMs = Number(process.env.LUAPOOL_TEST_TIMEOUT_MS || 600000);
const PROGRESS_MS = Number(process.env.LUAPOOL_TEST_PROGRESS_MS || 10000);
const SLOW_TEST_MS = 5000;
const nameWidth = Math.max(0, ...files.map((f) => f.length));

function strip(s) {
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}

const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const short = (name) => (name.length > 70 ? `${name.slice(0, 67)}…` : name);

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--expose-gc', '-r', path.join(dir, 'progress-hook.js'), path.join(dir, file)], {
      env: { ...process.env, FORCE_COLOR: '0', LUAPOOL_TEST_PROGRESS_FD: '3' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    let out = '';
    const onOutput = (stream) => (d) => { out += d; if (verbose) stream.write(d); };
    child.stdout.on('data', onOutput(process.stdout));
    child.stderr.on('data', onOutput(process.stderr));
    // Which test runs, and how long each took (from the preloaded progress hook).
    const tests = [];
    let partial = '';
    child.stdio[3].on('data', (d) => {
      partial += d;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        let msg;
        try { msg = JSON.parse(line); } catch { continue; }
        const last = tests[tests.length - 1];
        if (last && last.ms === undefined) last.ms = msg.at - last.at;
        if (msg.test) tests.push({ name: msg.test, at: msg.at });
      }
    });
    child.stdio[3].on('error', () => {});
    // A note at PROGRESS_MS, then every 3 × PROGRESS_MS, naming the test that runs.
    let progress;
    const note = () => {
      const current = tests[tests.length - 1];
      const where = !current ? ', before its first test'
        : current.ms === undefined ? `, in "${short(current.name)}" for ${secs(Date.now() - current.at)}` : '';
      process.stdout.write(`      ${file} still running: ${secs(Date.now() - started)}${where}\n`);
      progress = setTimeout(note, 3 * PROGRESS_MS);
    };
    progress = setTimeout(note, PROGRESS_MS);
    const timer = setTimeout(() => { out += `\n[test/run] ${file} timed out\n`; child.kill('SIGKILL'); }, perFileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(progress);
      const text = strip(out);
      const total = /Total:\s+(\d+)/.exec(text);
      const passed = /Passed:\s+(\d+)/.exec(text);
      const p = passed ? Number(passed[1]) : 0;
      const skipped = /Skipped:\s+(\d+)/.exec(text);
      const s = skipped ? Number(skipped[1]) : 0;
      // uvu's Total counts run tests only; skipped ones are reported apart
      let f = total ? Math.max(0, Number(total[1]) - p) : 0;
      if (code !== 0 || signal || !total) f = Math.max(f, 1); // a crash or exit failure counts
      const slow = tests.filter((t) => t.ms >= SLOW_TEST_MS).sort((a, b) => b.ms - a.ms);
      resolve({ file, passed: p, failed: f, skipped: s, ms: Date.now() - started, code, signal, out: text, slow });
    });
  });
}

function line(r) {
  const how = r.signal ? ` (killed by ${r.signal})` : r.code ? ` (exit ${r.code})` : '';
  const counts = `${r.passed} passed${r.failed ? `, ${r.failed} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''}`;
  const slow = r.slow.length
    ? `  slowest: ${r.slow.slice(0, 2).map((t) => `"${short(t.name)}" ${secs(t.ms)}`).join(', ')}` : '';
  return `${r.failed ? 'FAIL' : 'ok  '}  ${r.file.padEnd(nameWidth)}  ${counts.padEnd(30)} ${secs(r.ms).padStart(7)}${how}${slow}`;
}

(async () => {
  const started = Date.now();
  console.log(`${files.length} test file${files.length === 1 ? '' : 's'}, one at a time (output of failing files is shown)`);
  const results = [];
  for (const file of files) {
    const r = await runFile(file);
    results.push(r);
    console.log(line(r));
    if (r.failed && !verbose) {
      console.log(`----- output of ${file} -----\n${r.out.replace(/\n*$/, '') || '(no output)'}\n----- end of ${file} -----`);
    }
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const r of results) {
    passed += r.passed;
    failed += r.failed;
    skipped += r.skipped;
  }
  const failedFiles = results.filter((r) => r.failed).map((r) => r.file);
  if (failedFiles.length) console.log(`failed: ${failedFiles.join(', ')}`);
  console.log(`all files: ${secs(Date.now() - started)}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed === 0 && results.length > 0 ? 0 : 1);
})();
