#!/usr/bin/env node
// Sanitizer runs (`npm run test:asan`): the native unit tests under ThreadSanitizer and
// under AddressSanitizer+UBSan, then the JavaScript suite against an ASan+UBSan addon.
//
//   node scripts/sanitize.js                  all three steps
//   node scripts/sanitize.js --only=tsan      native unit tests under TSan     (build-tsan/)
//   node scripts/sanitize.js --only=asan      native unit tests under ASan+UBSan (build-asan/)
//   node scripts/sanitize.js --only=js        ASan+UBSan addon + `node test/run.js` (build-asan/)
//   node scripts/sanitize.js --only=js --filter=02-marshal,10-hostile
//                                             ... only the test files whose name contains one
//
// --only takes a comma-separated list; so does --filter (passed to test/run.js, which runs
// the files whose name contains one of them). UBSan includes float-cast-overflow (see
// CMakeLists.txt). Exits non-zero if any step fails.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const jobs = String(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
const STEPS = ['tsan', 'asan', 'js'];

function log(msg) { process.stderr.write(`[luapool:sanitize] ${msg}\n`); }

class StepError extends Error {}

// Runs a command with its output streamed through; keeps the tail of the output so that
// callers can recognise known failure modes. Rejects with StepError on a non-zero exit.
function run(cmd, args, { cwd = root, env = process.env } = {}) {
  log(`$ ${[cmd, ...args].join(' ')}${cwd !== root ? `   (in ${path.relative(root, cwd) || '.'})` : ''}`);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['inherit', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (stream) => (chunk) => {
      stream.write(chunk);
      tail = (tail + chunk.toString()).slice(-65536);
    };
    child.stdout.on('data', keep(process.stdout));
    child.stderr.on('data', keep(process.stderr));
    child.on('error', (err) => reject(new StepError(`${cmd}: ${err.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve(tail);
      else {
        const err = new StepError(`${cmd} ${args[0] || ''} failed (${signal ? `signal ${signal}` : `exit code ${code}`})`);
        err.output = tail;
        reject(err);
      }
    });
  });
}

function fetchLua() {
  return run(process.execPath, [path.join(root, 'deps/lua/fetch.js')]);
}

function configure(buildDir, defines) {
  const args = ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Debug'];
  for (const [k, v] of Object.entries(defines)) args.push(`-D${k}=${v}`);
  return run('cmake', args);
}

function build(buildDir, target) {
  return run('cmake', ['--build', buildDir, '--target', target, '--parallel', jobs]);
}

// ctest runs native_tests. GCC 12's TSan cannot cope with the high mmap randomisation of
// some recent kernels ("unexpected memory mapping"); then the run is repeated with address
// randomisation turned off for that process only (setarch -R).
async function ctest(buildDir, env) {
  const args = ['--output-on-failure', '--timeout', '900'];
  try {
    await run('ctest', args, { cwd: buildDir, env });
  } catch (err) {
    if (!/unexpected memory mapping/.test(err.output || '')) throw err;
    log('sanitizer runtime rejected the memory layout; retrying with ASLR disabled (setarch -R)');
    await run('setarch', [os.arch() === 'x64' ? 'x86_64' : os.arch(), '-R', 'ctest', ...args], { cwd: buildDir, env });
  }
}

const UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';

async function stepTsan() {
  await fetchLua();
  const dir = path.join(root, 'build-tsan');
  await configure(dir, { LUAPOOL_SANITIZE: 'thread', LUAPOOL_NATIVE_TESTS: 'ON', LUAPOOL_ADDON: 'OFF' });
  await build(dir, 'native_tests');
  await ctest(dir, { ...process.env, TSAN_OPTIONS: 'halt_on_error=1:second_deadlock_stack=1' });
}

async function stepAsan() {
  await fetchLua();
  const dir = path.join(root, 'build-asan');
  await configure(dir, { LUAPOOL_SANITIZE: 'address', LUAPOOL_NATIVE_TESTS: 'ON', LUAPOOL_ADDON: 'OFF' });
  await build(dir, 'native_tests');
  // Our own test binary must not leak, so leak detection stays on here.
  await ctest(dir, { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1', UBSAN_OPTIONS });
}

function cmakeCacheValue(buildDir, name) {
  const cache = fs.readFileSync(path.join(buildDir, 'CMakeCache.txt'), 'utf8');
  const m = cache.match(new RegExp(`^${name}:[A-Z]+=(.*)$`, 'm'));
  return m ? m[1].trim() : '';
}

// The sanitizer runtimes the addon was built against, resolved by its own compiler.
function sanitizerRuntimes(buildDir) {
  const cxx = cmakeCacheValue(buildDir, 'CMAKE_CXX_COMPILER') || 'gcc';
  return ['libasan.so', 'libubsan.so'].map((lib) => {
    const p = execFileSync(cxx, [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
    if (!path.isAbsolute(p) || !fs.existsSync(p)) {
      throw new StepError(`${cxx} does not know where ${lib} is (build with GCC, or preload the runtimes yourself)`);
    }
    return fs.realpathSync(p);
  });
}

// Node-API headers for a plain cmake build: node-api-headers (what cmake-js uses), else
// the headers of the installed Node (`npm config get nodedir`).
function nodeIncludeDefines() {
  try {
    require.resolve('node-api-headers', { paths: [root] });
    return {};
  } catch {
    let nodedir = '';
    try {
      nodedir = execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch { /* fall through */ }
    const inc = nodedir && nodedir !== 'undefined' ? path.join(nodedir, 'include', 'node') : '';
    if (!inc || !fs.existsSync(path.join(inc, 'node_api.h'))) {
      throw new StepError('no Node-API headers: run `npm install` (node-api-headers) or set npm config nodedir');
    }
    return { NODE_INCLUDE_DIR: inc };
  }
}

async function stepJs(filter) {
  await fetchLua();
  const dir = path.join(root, 'build-asan');
  await configure(dir, { LUAPOOL_SANITIZE: 'address', LUAPOOL_ADDON: 'ON', ...nodeIncludeDefines() });
  await build(dir, 'luapool');
  const binding = path.join(dir, 'luapool.node');
  if (!fs.existsSync(binding)) throw new StepError(`build did not produce ${binding}`);
  const runner = path.join(root, 'test', 'run.js');
  if (!fs.existsSync(runner)) throw new StepError('test/run.js not found');
  const env = {
    ...process.env,
    LUAPOOL_BINDING: binding,
    // node is not built with ASan, so the runtimes must be loaded before anything else.
    LD_PRELOAD: [...sanitizerRuntimes(dir), process.env.LD_PRELOAD].filter(Boolean).join(':'),
    // Leak detection is off: node itself leaks benignly at exit (V8 and libuv allocations it
    // never frees), which would drown out or fail every run. Leaks in our native code are
    // checked by the native tests above, which run with detect_leaks=1.
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1',
    UBSAN_OPTIONS,
  };
  log(`LUAPOOL_BINDING=${env.LUAPOOL_BINDING}`);
  log(`LD_PRELOAD=${env.LD_PRELOAD}`);
  await run(process.execPath, [runner, ...filter], { env });
}

let testFilters = [];  // after `--`: passed on to test/run.js

function parseArgs(argv) {
  let only = STEPS;
  let filter = [];
  for (const arg of argv) {
    const m = arg.match(/^--only=(.+)$/);
    const f = arg.match(/^--filter=(.+)$/);
    if (f) {
      filter = f[1].split(',').map((s) => s.trim()).filter(Boolean);
    } else if (m) {
      only = m[1].split(',').map((s) => s.trim()).filter(Boolean);
      const bad = only.filter((s) => !STEPS.includes(s));
      if (bad.length || !only.length) {
        throw new StepError(`--only must be one or more of ${STEPS.join(', ')} (got "${m[1]}")`);
      }
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write('usage: node scripts/sanitize.js [--only=tsan|asan|js[,...]] [--filter=test-file-substring[,...]]\n');
      process.exit(0);
    } else {
      throw new StepError(`unknown argument "${arg}"`);
    }
  }
  return { only, filter };
}

async function main() {
  let only;
  let filter;
  try {
    ({ only, filter } = parseArgs(process.argv.slice(2)));
  } catch (err) {
    log(err.message);
    process.exitCode = 2;
    return;
  }
  const titles = {
    tsan: 'native unit tests under ThreadSanitizer (build-tsan/)',
    asan: 'native unit tests under AddressSanitizer + UBSan (build-asan/)',
    js: 'JavaScript suite against the ASan + UBSan addon (build-asan/luapool.node)',
  };
  const impl = { tsan: stepTsan, asan: stepAsan, js: stepJs };
  const results = [];
  for (const step of STEPS.filter((s) => only.includes(s))) {
    log(`=== ${step}: ${titles[step]}`);
    const start = Date.now();
    try {
      await impl[step](filter);
      results.push({ step, ok: true, ms: Date.now() - start });
    } catch (err) {
      if (!(err instanceof StepError)) throw err;
      log(`${step} FAILED: ${err.message}`);
      results.push({ step, ok: false, ms: Date.now() - start, why: err.message });
    }
  }
  log('=== summary');
  for (const r of results) {
    log(`  ${r.ok ? 'PASS' : 'FAIL'}  ${r.step.padEnd(4)}  ${titles[r.step]}  (${(r.ms / 1000).toFixed(1)} s)${r.ok ? '' : `: ${r.why}`}`);
  }
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((err) => {
  log(err.stack || String(err));
  process.exitCode = 1;
});
