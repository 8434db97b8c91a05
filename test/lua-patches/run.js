#!/usr/bin/env node
// Runs the tests of our Lua patch series (deps/lua/patches/) with the standalone
// interpreters built by scripts/build-lua-cli.js, plus the C driver memfail.c for the
// bugs that need a failing allocator.
//
//   node test/lua-patches/run.js              patched builds: every test must pass
//   node test/lua-patches/run.js --pristine   also run on unpatched 5.4.7: every test
//                                             that can show its bug must FAIL there
//   --sanitizers   also use the --ubsan/--asan builds (needed for 0008, and to see the
//                  use-after-free of 0002/0006 as AddressSanitizer reports)
//
// Ends with the line "N passed, N failed".
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..', '..');
const here = __dirname;
const args = process.argv.slice(2);
const pristine = args.includes('--pristine');
const sanitizers = args.includes('--sanitizers');
// the drivers include Lua's headers: same luaconf options as the library they link
const luaDefines = require(path.join(root, 'scripts', 'build-lua-cli.js')).LUA_DEFINES.map((d) => `-D${d}`);

// build/ is shared with node-gyp, whose 'rebuild' deletes it: copy what we need to a
// private temporary directory right after building (retrying once if it vanished).
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-patch-tests-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
function build(flags) {
  const name = (flags.includes('--pristine') ? 'lua-pristine' : 'lua-cli') +
    (flags.includes('--ubsan') ? '-ubsan' : flags.includes('--asan') ? '-asan' : '');
  const dest = path.join(work, name);
  for (let attempt = 0; ; attempt++) {
    try {
      execFileSync(process.execPath, [path.join(root, 'scripts', 'build-lua-cli.js'), '--quiet', ...flags],
        { stdio: 'inherit' });
      fs.mkdirSync(dest, { recursive: true });
      for (const f of ['lua', 'liblua.a']) fs.copyFileSync(path.join(root, 'build-lua', name, f), path.join(dest, f));
      fs.chmodSync(path.join(dest, 'lua'), 0o755);
      return dest;
    } catch (e) {
      if (attempt >= 2) throw e;
    }
  }
}

// Which interpreter variants each test is meaningful on (its bug's symptom).
const luaTests = {
  '0001-gmatch-recursion-counter.lua': ['plain'],
  '0003-index-comparison.lua': ['plain'],
  '0004-close-stale-handler.lua': ['plain'],
  '0006-allweak-metatable.lua': ['plain', 'asan'],
  '0007-constructor-limits.lua': ['plain'],   // sanity only: passes on 5.4.7 too
  '0008-utf8-shift.lua': ['ubsan'],
  '0012-env-string-constant.lua': ['plain'],
  '0023-ephemeron-chain.lua': ['plain'],
};
const noBugShown = new Set(['0007-constructor-limits.lua']);
const driverTests = { finishset: ['plain', 'asan'], errerr: ['plain', 'asan'] };

const variants = ['plain', ...(sanitizers ? ['ubsan', 'asan'] : [])];
const flagsOf = { plain: [], ubsan: ['--ubsan'], asan: ['--asan'] };
let passed = 0; let failed = 0;

function report(ok, label, detail) {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}${ok ? '' : `\n     ${detail}`}`);
}

function driver(dir, srcDir, sanitize) {
  const exe = path.join(dir, 'memfail');
  const san = sanitize === 'asan' ? ['-g', '-fsanitize=address,undefined']
    : sanitize === 'ubsan' ? ['-g', '-fsanitize=undefined'] : [];
  execFileSync(process.env.CC || 'gcc', ['-std=gnu99', '-O1', ...san, ...luaDefines,
    `-I${srcDir}`, '-o', exe, path.join(here, 'memfail.c'), path.join(dir, 'liblua.a'), '-lm', '-ldl'],
  { stdio: 'inherit' });
  return exe;
}

for (const v of variants) {
  for (const kind of pristine ? ['patched', 'pristine'] : ['patched']) {
    const flags = [...flagsOf[v], ...(kind === 'pristine' ? ['--pristine'] : [])];
    const dir = build(flags);
    const srcDir = kind === 'pristine' ? path.join(root, 'build-lua', 'lua-pristine-src')
      : path.join(root, 'deps', 'lua', 'src');
    const expectPass = kind === 'patched';
    const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' };
    for (const [file, on] of Object.entries(luaTests)) {
      if (!on.includes(v)) continue;
      if (!expectPass && noBugShown.has(file)) continue;
      const r = spawnSync(path.join(dir, 'lua'), [path.join(here, file)],
        { encoding: 'utf8', timeout: 120000, env });
      const ok = r.status === 0;
      const detail = `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ` +
        `${(r.stderr || r.stdout || '').trim().split('\n').slice(0, 3).join(' | ')}`;
      report(ok === expectPass, `${file} [${kind}${v === 'plain' ? '' : `, ${v}`}] ` +
        `${expectPass ? 'passes' : 'fails without the patch'}`, detail);
    }
    const exe = driver(dir, srcDir, v);
    for (const [scenario, on] of Object.entries(driverTests)) {
      if (!on.includes(v)) continue;
      const r = spawnSync(exe, [scenario], { encoding: 'utf8', timeout: 120000, env });
      const ok = r.status === 0;
      const detail = `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ` +
        `${(r.stderr || r.stdout || '').trim().split('\n').slice(0, 3).join(' | ')}`;
      report(ok === expectPass, `memfail ${scenario} [${kind}${v === 'plain' ? '' : `, ${v}`}] ` +
        `${expectPass ? 'passes' : 'fails without the patch'}`, detail);
    }
  }
}
// patch 0009: the interrupt API (patched build only; the API does not exist in 5.4.7), and
// the patches that extend its checks (0010, 0020-0023); a script that is not interrupted
// is reported as hung after 20 s
{
  const dir = build([]);
  const exe = path.join(dir, 'interrupt');
  execFileSync(process.env.CC || 'gcc', ['-std=gnu99', '-O2', ...luaDefines, `-I${path.join(root, 'deps', 'lua', 'src')}`,
    '-o', exe, path.join(here, 'interrupt.c'), path.join(dir, 'liblua.a'), '-lm', '-ldl', '-lpthread'],
  { stdio: 'inherit' });
  const r = spawnSync(exe, [], { encoding: 'utf8', timeout: 120000 });
  const out = (r.stdout || '').trim().split('\n');
  report(r.status === 0, `interrupt.c [patched] every endless script is interrupted (${out[out.length - 1]})`,
    out.filter((l) => l.startsWith('FAIL')).join(' | ') || `exit ${r.status} ${r.signal || ''}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
