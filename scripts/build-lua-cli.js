#!/usr/bin/env node
// Builds the standalone `lua` interpreter the way Lua's own Makefile does
// (gcc -std=gnu99 -O2 -Wall -Wextra -DLUA_COMPAT_5_3 -DLUA_USE_LINUX ... -lm -ldl).
//
//   node scripts/build-lua-cli.js              patched sources (deps/lua/src) -> build-lua/lua-cli/lua
//   node scripts/build-lua-cli.js --pristine   unpatched 5.4.7 from the cached, verified tarball
//                                              -> build-lua/lua-pristine/lua (sources in build-lua/lua-pristine-src)
//   --ubsan   add -fsanitize=undefined (no recovery)   -> build-lua/lua-cli-ubsan, build-lua/lua-pristine-ubsan
//   --asan    add -fsanitize=address,undefined         -> build-lua/lua-cli-asan,  build-lua/lua-pristine-asan
//   --force   rebuild even if nothing changed
//   --quiet   no progress output
//
// The patched interpreter is the benchmark's "floor"; the pristine one shows that each
// test in test/lua-patches/ fails without its patch. Nothing is rebuilt when the sources
// and flags are unchanged (a stamp file holds their hash). The object files (without
// lua.o/luac.o) are kept in <out>/obj so that C test drivers can link against them
// (see test/lua-patches/run.js); <out>/liblua.a is built too.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { execFileSync, spawn } = require('child_process');

const root = path.resolve(__dirname, '..');
const luaDir = path.join(root, 'deps', 'lua');

// src/Makefile of Lua 5.4.7: CFLAGS= -O2 -Wall -Wextra -DLUA_COMPAT_5_3 $(SYSCFLAGS), and the
// linux target's SYSCFLAGS="-DLUA_USE_LINUX" (plus -std=gnu99 from CC). binding.gyp and
// CMakeLists.txt define the same macros for the addon (test/build-files.test.js checks).
const MAKEFILE_CFLAGS = ['-std=gnu99', '-O2', '-Wall', '-Wextra', '-DLUA_COMPAT_5_3', '-DLUA_USE_LINUX'];
const LUA_DEFINES = MAKEFILE_CFLAGS.filter((f) => f.startsWith('-D')).map((f) => f.slice(2));

const CORE = ['lapi', 'lcode', 'lctype', 'ldebug', 'ldo', 'ldump', 'lfunc', 'lgc', 'llex',
  'lmem', 'lobject', 'lopcodes', 'lparser', 'lstate', 'lstring', 'ltable', 'ltm',
  'lundump', 'lvm', 'lzio'];
const LIB = ['lauxlib', 'lbaselib', 'lcorolib', 'ldblib', 'liolib', 'lmathlib', 'loadlib',
  'loslib', 'lstrlib', 'ltablib', 'lutf8lib', 'linit'];

function parseArgs(argv) {
  const o = { pristine: false, sanitize: null, force: false, quiet: false };
  for (const a of argv) {
    if (a === '--pristine') o.pristine = true;
    else if (a === '--ubsan') o.sanitize = 'ubsan';
    else if (a === '--asan') o.sanitize = 'asan';
    else if (a === '--force') o.force = true;
    else if (a === '--quiet') o.quiet = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 18)
        .map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${a}`);
  }
  return o;
}

function sha256(buf) { return crypto.createHash('sha256').update(buf).digest('hex'); }

// Unpacks the pinned tarball (checksum verified) without any patch, into build-lua/lua-pristine/src.
function pristineSources(log) {
  const pin = JSON.parse(fs.readFileSync(path.join(luaDir, 'lua.json'), 'utf8'));
  const tarball = process.env.LUA_TARBALL
    ? path.resolve(process.env.LUA_TARBALL) : path.join(luaDir, 'cache', pin.tarball);
  if (!fs.existsSync(tarball)) {
    // fetch.js leaves the verified tarball in deps/lua/cache when it had to download it
    execFileSync(process.execPath, [path.join(luaDir, 'fetch.js')], { stdio: 'inherit' });
  }
  if (!fs.existsSync(tarball)) {
    throw new Error(`no cached tarball ${tarball}: remove deps/lua/src and run ` +
      'node deps/lua/fetch.js (it caches the tarball), or set LUA_TARBALL');
  }
  const actual = sha256(fs.readFileSync(tarball));
  if (actual !== pin.sha256) throw new Error(`${tarball}: SHA-256 ${actual}, expected ${pin.sha256}`);
  const dest = path.join(root, 'build-lua', 'lua-pristine-src');
  const stamp = path.join(dest, '.tarball-sha256');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === pin.sha256) return dest;
  log(`unpacking pristine Lua ${pin.version} from ${path.relative(root, tarball)}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'luapool-pristine-'));
  try {
    execFileSync('tar', ['xzf', tarball, '-C', tmp]);
    fs.rmSync(dest, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.cpSync(path.join(tmp, `lua-${pin.version}`, 'src'), dest, { recursive: true });
    fs.writeFileSync(stamp, pin.sha256);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dest;
}

function run(cmd, args, cwd) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code, sig) => (code === 0 ? resolve()
      : reject(new Error(`${cmd} ${args.join(' ')} failed (${sig || code})`))));
  });
}

async function build(opts = {}) {
  const log = opts.quiet ? () => {} : (m) => process.stderr.write(`[build-lua-cli] ${m}\n`);
  let srcDir;
  if (opts.pristine) srcDir = pristineSources(log);
  else {
    execFileSync(process.execPath, [path.join(luaDir, 'fetch.js')],
      { stdio: ['ignore', 'ignore', opts.quiet ? 'ignore' : 'inherit'] });
    srcDir = path.join(luaDir, 'src');
  }
  const name = (opts.pristine ? 'lua-pristine' : 'lua-cli') + (opts.sanitize ? `-${opts.sanitize}` : '');
  const outDir = path.join(root, 'build-lua', name);
  const objDir = path.join(outDir, 'obj');
  const exe = path.join(outDir, 'lua');

  const cc = process.env.CC || 'gcc';
  let cflags = [...MAKEFILE_CFLAGS];
  let ldflags = ['-Wl,-E'];
  if (opts.sanitize === 'ubsan') {
    cflags = cflags.concat(['-g', '-fsanitize=undefined', '-fno-sanitize-recover=undefined']);
    ldflags = ldflags.concat(['-fsanitize=undefined']);
  } else if (opts.sanitize === 'asan') {
    cflags = cflags.concat(['-g', '-O1', '-fno-omit-frame-pointer',
      '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined']);
    ldflags = ldflags.concat(['-fsanitize=address,undefined']);
  }
  const libs = ['-lm', '-ldl'];

  // stamp: compiler, flags and every source file
  const h = crypto.createHash('sha256');
  h.update(JSON.stringify([cc, cflags, ldflags, libs]));
  for (const f of fs.readdirSync(srcDir).filter((x) => /\.[ch]$/.test(x)).sort()) {
    h.update(f); h.update(fs.readFileSync(path.join(srcDir, f)));
  }
  const digest = h.digest('hex');
  const stampFile = path.join(outDir, '.stamp');
  if (!opts.force && fs.existsSync(exe) && fs.existsSync(stampFile) &&
      fs.readFileSync(stampFile, 'utf8') === digest) {
    log(`${path.relative(root, exe)} is up to date`);
    return exe;
  }

  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(objDir, { recursive: true });
  const units = [...CORE, ...LIB, 'lua'];
  log(`compiling ${units.length} files from ${path.relative(root, srcDir)} into ${path.relative(root, outDir)}`);
  const jobs = units.slice();
  const width = Math.max(1, Math.min(os.cpus().length, 8));
  await Promise.all(Array.from({ length: width }, async () => {
    while (jobs.length) {
      const u = jobs.shift();
      const obj = path.join(u === 'lua' ? outDir : objDir, `${u}.o`);
      await run(cc, [...cflags, '-c', '-o', obj, path.join(srcDir, `${u}.c`)], srcDir);
    }
  }));
  const objs = [...CORE, ...LIB].map((u) => path.join(objDir, `${u}.o`));
  await run('ar', ['rcs', path.join(outDir, 'liblua.a'), ...objs], outDir);
  await run(cc, [...ldflags, '-o', exe, path.join(outDir, 'lua.o'), ...objs, ...libs], outDir);
  fs.writeFileSync(path.join(outDir, 'build-flags.json'),
    JSON.stringify({ cc, cflags, ldflags, libs, src: path.relative(root, srcDir) }, null, 1));
  fs.writeFileSync(stampFile, digest);
  log(`built ${path.relative(root, exe)}`);
  return exe;
}

if (require.main === module) {
  let opts;
  try { opts = parseArgs(process.argv.slice(2)); } catch (e) {
    process.stderr.write(`[build-lua-cli] ${e.message}\n`); process.exit(2);
  }
  build(opts).catch((e) => { process.stderr.write(`[build-lua-cli] error: ${e.message}\n`); process.exit(1); });
}

module.exports = { build, MAKEFILE_CFLAGS, LUA_DEFINES };
