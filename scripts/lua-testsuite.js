#!/usr/bin/env node
// Runs the official Lua test suites (testes/ of the Lua repository, tags v5.4.7 and v5.4.8)
// through runner.run() in trusted mode (libs: 'all', no timeout, no memory limit), file by
// file in the order and the manner of their all.lua, one fresh runner per file.
//
//   node scripts/lua-testsuite.js                  every pinned suite (deps/lua/lua.json "tests")
//                                                  found in $LUA_TESTS or ../shared/lua-tests
//   node scripts/lua-testsuite.js --version 5.4.8  only that suite
//   node scripts/lua-testsuite.js --only errors,gc only these files (names with or without .lua)
//   node scripts/lua-testsuite.js --dir DIR        an unpacked testes/ folder ($LUA_TESTS_DIR)
//   --soft     _soft = true: skip the long and memory-hungry parts (about 3 s a suite, not 15)
//   --port     _port = true for every file: skip all non-portable tests (Linux-only bits)
//   --verbose  show every file's output, not only a failing one's
//
// The suites are third-party files and are never committed: the tarballs are verified
// against the SHA-256 pinned in deps/lua/lua.json and unpacked afresh, at every run, into
// deps/lua/tests/<version>/ (ignored by git). Exit status: 0 all passed, 1 a file failed,
// 2 no suite found (the caller reports "skipped"). Ends with the line
// "lua-testsuite: N passed, N failed, N excluded".
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawn, execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const pin = JSON.parse(fs.readFileSync(path.join(root, 'deps', 'lua', 'lua.json'), 'utf8'));

// all.lua's defaults are for Linux and test everything (_soft = false, _port = false); so
// do we, with _nomsg = true and T = nil (T is the C API test library of a debug build of
// Lua, ltests.c, not in a release build). Two files run with _port = true (`port` below),
// because their non-portable parts assume things of the standalone interpreter that the
// addon does not and should not have. --soft and --port give all.lua's _U ("user tests")
// settings.
//
// The files, in all.lua's order and run the way all.lua runs them:
//   dump      all.lua's own dofile: loadfile, string.dump (stripped if `strip`), load, call
//   loadfile  loadfile and call (gc.lua)
//   dofile    the real dofile (strings.lua, literals.lua)
//   coroutine loadfile, then called twice through coroutine.wrap (big.lua)
// `expect`: the value all.lua asserts the file returns.
const FILES = [
  { file: 'main.lua', exclude: 'tests the standalone interpreter lua.c (runs it by its arg[-1] name); ' +
      'all.lua skips it too ("if _port then return end")' },
  { file: 'gc.lua', how: 'loadfile' },
  { file: 'db.lua' },
  { file: 'calls.lua', expect: 'deep' },
  { file: 'strings.lua', how: 'dofile' },
  { file: 'literals.lua', how: 'dofile' },
  { file: 'tpack.lua' },
  { file: 'attrib.lua', expect: 27, port: 'its require tests load C modules (libs/*.so, built by its ' +
      'makefile) that link against the Lua API the interpreter exports; the addon hides its Lua symbols ' +
      '(-fvisibility=hidden, --exclude-libs) so that it cannot clash with another Lua in the process' },
  { file: 'gengc.lua' },
  { file: 'locals.lua', expect: 5 },
  { file: 'constructs.lua' },
  { file: 'code.lua', strip: true, exclude: 'opcode tests only, written against T (the C API test ' +
      'library); without T the file returns at once' },
  { file: 'big.lua', how: 'coroutine', soft: 'all.lua runs it only when _soft is false' },
  { file: 'cstack.lua' },
  { file: 'nextvar.lua' },
  { file: 'pm.lua' },
  { file: 'utf8.lua' },
  { file: 'api.lua', exclude: 'C API tests only, written against T (the C API test library); ' +
      'without T the file returns at once' },
  { file: 'events.lua', expect: 12 },
  { file: 'vararg.lua' },
  { file: 'closure.lua' },
  { file: 'coroutine.lua' },
  { file: 'goto.lua', strip: true },
  { file: 'errors.lua' },
  { file: 'math.lua' },
  { file: 'sort.lua', strip: true },
  { file: 'bitwise.lua' },
  { file: 'verybig.lua', strip: true, expect: 10 },
  { file: 'files.lua', port: 'its popen/execute tests run the interpreter itself (found through arg, ' +
      'which a job has not) and its invalid-seek test needs stdin to be a terminal or a pipe' },
];

// The job each file runs as: the set-up of all.lua, then the file, then all.lua's checks.
// The file runs one local (`job`) above the chunk's base, as close to the bottom of the
// stack as all.lua's own calls: some checks depend on the stack the file starts with.
// gc.lua's "everything collected" (memory back within 1 KB of what it was) fails when the
// stack has to grow while the file runs (tracegc's finalizer calls stderr:write near the
// top); the standalone interpreter fails it too, run from a chunk with 7 to 10 locals.
const DRIVER = `
local job = ...
T = nil                 -- no C API test library in a release build
debug = nil             -- all.lua: "tests should require debug when needed"
assert(os.setlocale"C")
job.skipped = {}        -- all.lua's Message: notes about tests not performed
function Message (m) job.skipped[#job.skipped + 1] = string.match(m, ">>>%s*(.-)%s*<<<") or m end
require"tracegc".start()  -- all.lua traces GC cycles from gc.lua on
if job.how == "dofile" then
  job.result = dofile(job.file)
elseif job.how == "loadfile" then
  job.result = assert(loadfile(job.file))()
elseif job.how == "coroutine" then
  job.f = coroutine.wrap(assert(loadfile(job.file)))
  assert(job.f() == 'b')
  assert(job.f() == 'a')
else
  job.result = assert(load(string.dump(assert(loadfile(job.file)), job.strip)))()
end
if job.expect == "deep" then
  assert(job.result == deep and deep, job.file .. " did not return 'deep'")
elseif job.expect then
  assert(job.result == job.expect, job.file .. " returned " .. tostring(job.result) .. ", not " .. tostring(job.expect))
end
assert(debug == nil, job.file .. " defined the global 'debug'")  -- all.lua: no test module should
return table.concat(job.skipped, "; ")
`;

// One file in a child process: a crash cannot take the others with it, and the working
// directory (the suite folder: the files read and write there) is the child's own.
const CHILD = `
const { ScriptRunner } = require(process.argv[1]);
const { soft, port, ...job } = JSON.parse(process.argv[2]);
const runner = new ScriptRunner({ states: 1, libs: 'all' });
const started = Date.now();
runner.run(process.argv[3], { name: '=all.lua', args: [job],
  env: { _soft: soft, _port: port, _nomsg: true } })
  .then((skipped) => {
    process.stdout.write('\\n[lua-testsuite] ' + JSON.stringify({ ok: true, ms: Date.now() - started, skipped }) + '\\n');
    return runner.close();
  }, (e) => {
    process.stdout.write('\\n[lua-testsuite] ' + JSON.stringify({ ok: false, ms: Date.now() - started,
      error: String(e.traceback || e.message) }) + '\\n');
    process.exitCode = 1;
    return runner.close();
  });`;

function parseArgs(argv) {
  const o = { version: null, only: null, dir: null, soft: false, port: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version') o.version = argv[++i];
    else if (a === '--only') o.only = argv[++i].split(',').map((f) => (f.endsWith('.lua') ? f : `${f}.lua`));
    else if (a === '--dir') o.dir = path.resolve(argv[++i]);
    else if (a === '--soft') o.soft = true;
    else if (a === '--port') o.port = true;
    else if (a === '--verbose') o.verbose = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 19)
        .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

const sha256 = (file) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

// Where the tarballs are: $LUA_TESTS, else ../shared/lua-tests next to the project.
function tarballDir() {
  return path.resolve(process.env.LUA_TESTS || path.join(root, '..', 'shared', 'lua-tests'));
}

// The suites to run: [{ version, dir }], unpacked and verified. [] when none is available.
function suites(opts, log) {
  const dir = opts.dir || (process.env.LUA_TESTS_DIR ? path.resolve(process.env.LUA_TESTS_DIR) : null);
  if (dir) {
    if (!fs.existsSync(path.join(dir, 'all.lua'))) throw new Error(`no all.lua in ${dir}`);
    return [{ version: path.basename(dir), dir }];
  }
  const from = tarballDir();
  const out = [];
  for (const [version, t] of Object.entries(pin.tests)) {
    if (opts.version && opts.version !== version) continue;
    const tarball = path.join(from, t.tarball);
    if (!fs.existsSync(tarball)) {
      log(`no ${t.tarball} in ${from}`);
      continue;
    }
    const actual = sha256(tarball);
    if (actual !== t.sha256) throw new Error(`${tarball}: SHA-256 ${actual}, expected ${t.sha256}`);
    const dest = path.join(root, 'deps', 'lua', 'tests', version);
    fs.rmSync(dest, { recursive: true, force: true });  // afresh: the files write next to themselves
    fs.mkdirSync(dest, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', dest]);
    const testes = path.join(dest, t.folder);
    if (!fs.existsSync(path.join(testes, 'all.lua'))) throw new Error(`${tarball} has no ${t.folder}/all.lua`);
    out.push({ version, dir: testes });
  }
  if (opts.version && out.length === 0 && !pin.tests[opts.version]) {
    throw new Error(`no pinned suite ${opts.version} (deps/lua/lua.json: ${Object.keys(pin.tests).join(', ')})`);
  }
  return out;
}

function runFile(suite, entry, opts) {
  return new Promise((resolve) => {
    const args = { file: entry.file, how: entry.how || 'dump', strip: Boolean(entry.strip), expect: entry.expect,
      soft: opts.soft, port: opts.port || Boolean(entry.port) };
    const child = spawn(process.execPath, ['-e', CHILD, root, JSON.stringify(args), DRIVER],
      { cwd: suite.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const collect = (d) => { out += d; if (opts.verbose) process.stdout.write(d); };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('close', (code, signal) => {
      const m = /\n\[lua-testsuite\] (\{.*\})\n/.exec(out);
      const res = m ? JSON.parse(m[1]) : { ok: false, error: `no result (exit ${signal || code})` };
      if (res.ok && (code !== 0 || signal)) { res.ok = false; res.error = `exit ${signal || code} after the job`; }
      res.output = out;
      resolve(res);
    });
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (m) => process.stdout.write(`[lua-testsuite] ${m}\n`);
  const list = suites(opts, log);
  if (list.length === 0) {
    log(`no test suite found (looked for ${Object.values(pin.tests).map((t) => t.tarball).join(', ')} in ${tarballDir()})`);
    return 2;
  }
  let passed = 0; let failed = 0; let excluded = 0;
  const t0 = Date.now();
  for (const suite of list) {
    log(`Lua ${pin.version} (patched) against the ${suite.version} suite in ${path.relative(root, suite.dir) || suite.dir}` +
      `, _soft = ${opts.soft}, _port = ${opts.port ? 'true' : 'false (true for ' +
        FILES.filter((f) => f.port).map((f) => f.file).join(', ') + ')'}`);
    const ts = Date.now();
    const present = new Set(fs.readdirSync(suite.dir));
    for (const entry of FILES) {
      if (opts.only && !opts.only.includes(entry.file)) continue;
      const why = entry.exclude || (opts.soft && entry.soft) || (!present.has(entry.file) && 'not in this suite');
      if (why) {
        excluded++;
        log(`  skip ${entry.file}: ${why}`);
        continue;
      }
      const res = await runFile(suite, entry, opts);
      const note = res.skipped ? ` (not performed: ${res.skipped})` : '';
      if (res.ok) {
        passed++;
        log(`  ok   ${entry.file} ${(res.ms / 1000).toFixed(1)} s${note}`);
      } else {
        failed++;
        log(`  FAIL ${entry.file}: ${res.error}`);
        if (!opts.verbose) {
          const tail = res.output.trimEnd().split('\n').slice(-25).join('\n');
          process.stdout.write(`${tail.replace(/^/gm, '       | ')}\n`);
        }
      }
    }
    log(`${suite.version}: ${((Date.now() - ts) / 1000).toFixed(1)} s`);
  }
  log(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(`lua-testsuite: ${passed} passed, ${failed} failed, ${excluded} excluded\n`);
  return failed ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => { process.exitCode = code; },
    (e) => { process.stderr.write(`[lua-testsuite] error: ${e.message}\n`); process.exitCode = 1; });
}

module.exports = { FILES };
