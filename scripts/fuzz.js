#!/usr/bin/env node
// `npm run fuzz`: the marshaling fuzzer and the Lua-source fuzzer (fuzz/, docs/fuzzing.md),
// run long, in a child process (a crash is reported with the seed it happened on).
//
//   npm run fuzz -- --minutes 10                    both fuzzers, 10 minutes in total
//   npm run fuzz -- --minutes 5 --only lua          one of them
//   npm run fuzz -- --only marshal --seed 123456    replay one input (prints it)
//   npm run fuzz -- --minutes 5 --base 42           the same run again (same seeds)
//   npm run fuzz -- --minutes 5 --known             known, reported bugs count as failures
//   npm run fuzz -- --minutes 5 --asan              against the ASan+UBSan addon
//   npm run fuzz -- --minutes 5 --memory-every 10   check state memory every 10 rounds of the Lua fuzzer
//
// --asan builds and loads the sanitizer addon exactly as `npm run test:asan` does: it runs
// `scripts/sanitize.js --only=js --filter=18-fuzz`, and test/18-fuzz.test.js takes its run
// length and options from the LUAPOOL_FUZZ_* variables set here.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const { parseArgs } = require('../fuzz/run');

const root = path.resolve(__dirname, '..');

function main() {
  const argv = process.argv.slice(2);
  const asan = argv.includes('--asan');
  const rest = argv.filter((a) => a !== '--asan');
  let options;
  try {
    options = parseArgs(rest);
  } catch (e) {
    process.stderr.write(`fuzz: ${e.message}\n`);
    process.exit(2);
  }
  const seconds = options.seconds ?? 60;
  const trace = options.trace || path.join(os.tmpdir(), `luapool-fuzz-${process.pid}.txt`);
  let child;
  if (asan) {
    const env = {
      ...process.env,
      LUAPOOL_FUZZ_SECONDS: String(seconds),
      LUAPOOL_FUZZ_TRACE: trace,
      // the per-file limit of test/run.js: the run plus time to build, set up and close
      LUAPOOL_TEST_TIMEOUT_MS: String(Math.max(600000, (seconds + 600) * 1000)),
    };
    if (options.only) env.LUAPOOL_FUZZ_ONLY = options.only;
    if (options.seed !== undefined) env.LUAPOOL_FUZZ_SEED = [].concat(options.seed).join(',');
    if (options.base !== undefined) env.LUAPOOL_FUZZ_BASE = String(options.base);
    if (options.known) env.LUAPOOL_FUZZ_KNOWN = '1';
    if (options.strictTime) env.LUAPOOL_FUZZ_STRICT_TIME = '1';
    if (options.memoryEvery) env.LUAPOOL_FUZZ_MEMORY_EVERY = String(options.memoryEvery);
    child = spawn(process.execPath, [path.join(root, 'scripts', 'sanitize.js'), '--only=js', '--filter=18-fuzz'], { cwd: root, env, stdio: 'inherit' });
  } else {
    const args = [...rest];
    if (!options.trace) args.push('--trace', trace);
    if (options.seconds === undefined) args.push('--seconds', String(seconds));
    child = spawn(process.execPath, ['--expose-gc', path.join(root, 'fuzz', 'run.js'), ...args], { cwd: root, stdio: 'inherit' });
  }
  child.on('close', (code, signal) => {
    let last = '';
    try { last = fs.readFileSync(trace, 'utf8').trim(); } catch { /* no input ran */ }
    if (code !== 0) {
      const [which, ...seeds] = last.split(' ');
      if (signal || (code !== 1 && code !== 2) || asan) {
        process.stderr.write(`fuzz: the run ended with ${signal ? `signal ${signal}` : `exit code ${code}`}`
          + `${last ? `; the last input started was ${which} seed ${seeds.join(',')} (replay: npm run fuzz -- --only ${which} --seed ${seeds.join(',')}${asan ? ' --asan' : ''})` : ''}\n`);
      }
    }
    if (!options.trace) fs.rmSync(trace, { force: true });
    process.exit(code === null ? 1 : code);
  });
}

main();
