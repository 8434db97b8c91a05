#!/usr/bin/env node
// Builds what is missing or stale: the Lua sources (fetch + verify + patch), the addon
// (node-gyp, Release) and the TypeScript layer. `--if-needed` skips up-to-date parts.
//
// Quiet on success: one line per step (and a note before the long native build); the
// tools' own output is kept in a log and printed in full only when a step fails.
// `--verbose`, LUAPOOL_VERBOSE=1 or npm's --loglevel verbose show it as it happens.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.join(__dirname, '..');
const ifNeeded = process.argv.includes('--if-needed');
const verbose = process.argv.includes('--verbose') || process.env.LUAPOOL_VERBOSE === '1' ||
  /^(verbose|silly)$/.test(process.env.npm_config_loglevel || '');

function newest(dirOrFiles) {
  let t = 0;
  for (const p of dirOrFiles) {
    if (!fs.existsSync(p)) continue;
    const st = fs.statSync(p);
    if (st.isDirectory()) {
      for (const f of fs.readdirSync(p)) t = Math.max(t, newest([path.join(p, f)]));
    } else {
      t = Math.max(t, st.mtimeMs);
    }
  }
  return t;
}

function mtime(p) {
  return fs.existsSync(p) ? fs.statSync(p).mtimeMs : 0;
}

function say(line) {
  process.stderr.write(`luapool: ${line}\n`);
}

const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;

// Runs one step with its output (stdout and stderr, in order) in a log file; returns that
// output. A failing step prints the whole log, what it needs, and exits with its status.
function step(what, cmd, args, hint) {
  const started = Date.now();
  if (verbose) {
    say(`${what}: ${[path.basename(cmd), ...args.map((a) => path.relative(root, a) || a)].join(' ')}`);
    const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0 || r.error) fail(what, r, '', hint);
    return { output: '', took: seconds(started) };
  }
  const logFile = path.join(os.tmpdir(), `luapool-build-${process.pid}-${Date.now()}.log`);
  const fd = fs.openSync(logFile, 'w');
  let r;
  try {
    r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
  const output = fs.readFileSync(logFile, 'utf8');
  fs.rmSync(logFile, { force: true });
  if (r.status !== 0 || r.error) fail(what, r, output, hint);
  return { output, took: seconds(started) };
}

function fail(what, r, output, hint) {
  if (output) process.stderr.write(`${output}${output.endsWith('\n') ? '' : '\n'}`);
  const how = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
  say(`${what} failed (${how})${output ? '; its full output is above' : ''}.`);
  if (hint) say(hint);
  process.exit(r.status || 1);
}

function nodeGyp() {
  // npm sets npm_config_node_gyp while running scripts; otherwise use our devDependency.
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return fromNpm;
  return require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
}

// Build offline against the headers of the running Node when it ships them (no download).
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [`--nodedir=${process.env.npm_config_nodedir}`];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return [`--nodedir=${prefix}`];
  return [];
}

let built = 0;

// 1. Lua: fetch.js prints a line per action; its last line says what it did.
const lua = step('getting the Lua sources', process.execPath, [path.join(root, 'deps', 'lua', 'fetch.js')],
  'Set LUA_TARBALL to a copy of the pinned tarball (deps/lua/lua.json) to build without a download.');
const luaLines = lua.output.split('\n').map((l) => l.replace(/^\[luapool:lua\]\s*/, '').trim()).filter(Boolean);
const luaDone = luaLines[luaLines.length - 1] || 'Lua sources ready';
const luaFresh = !/are verified$/.test(luaDone);
if (!verbose && (luaFresh || !ifNeeded)) say(luaDone);

// 2. The native addon. The addon's test hooks (binding.testing) are built in only for the
// test suite: in a checkout that has test/ (a published package has none, and prebuilds
// are made by prebuildify without them); LUAPOOL_TEST_HOOKS=0 or 1 decides otherwise.
const addon = path.join(root, 'build', 'Release', 'luapool.node');
const testHooks = process.env.LUAPOOL_TEST_HOOKS !== undefined ? process.env.LUAPOOL_TEST_HOOKS === '1'
  : fs.existsSync(path.join(root, 'test'));
const nativeInputs = ['native', 'deps/lua/src', 'deps/lua/lua-all.cpp', 'deps/lua/luapool-ext.c', 'binding.gyp']
  .map((p) => path.join(root, p));
if (!ifNeeded || mtime(addon) < newest(nativeInputs)) {
  const jobs = String(Math.max(1, os.availableParallelism()));
  if (!verbose) say("building the native addon with node-gyp (about 30 s on 2 cores)…");
  const r = step('building the native addon', process.execPath,
    [nodeGyp(), 'rebuild', '--release', '-j', jobs, ...nodedirArgs(), `--luapool_test_hooks=${testHooks ? 1 : 0}`],
    'Building from source needs Python 3, make and a C++17 compiler (Debian/Ubuntu: ' +
    'apt-get install python3 make g++; macOS: xcode-select --install).');
  if (!verbose) say(`native addon built in ${r.took} (build/Release/luapool.node)`);
  built++;
}

// 3. The TypeScript layer. A published package ships dist/ and no lib/: nothing to compile.
const entry = path.join(root, 'dist', 'cjs', 'index.js');
const tsInputs = ['lib', 'tsconfig.json'].map((p) => path.join(root, p));
const hasSources = fs.existsSync(path.join(root, 'lib'));
if (hasSources && (!ifNeeded || mtime(entry) < newest(tsInputs) ||
    !fs.existsSync(path.join(root, 'dist', 'esm', 'index.mjs')))) {
  const r = step('compiling the TypeScript layer', process.execPath, [path.join(__dirname, 'build-ts.js')]);
  if (!verbose) say(`TypeScript compiled in ${r.took} (lib/ → dist/)`);
  built++;
}

if (ifNeeded && !verbose && built === 0 && !luaFresh) say('build is up to date (Lua sources verified, addon and dist/ current)');
